"""Aligned Xception-65 (DeepLab v3+'s backbone) against the authors' TF layer specification."""

import pytest
import torch

from deeplab_edu.backbones import build_backbone
from deeplab_edu.backbones.xception import Xception65, unit_plan
from deeplab_edu.models import build_model
from deeplab_edu import receptive_field as rf

# tensorflow/models research/deeplab/core/xception.py, xception_65_factory and xception(): the
# stem (conv2d_same 32 /2, 64) and the blocks as (depth_list, skip_connection_type, num_units).
# Copied from that file, not from the module under test.
TF_STEM = ((3, 32), (32, 64))
TF_BLOCKS = (([128, 128, 128], "conv", 1), ([256, 256, 256], "conv", 1), ([728, 728, 728], "conv", 1),
             ([728, 728, 728], "sum", 16), ([728, 1024, 1024], "conv", 1), ([1536, 1536, 2048], "none", 1))


def tf_xception65_parameters() -> int:
    """Trainable parameters of TF's xception_65 without logits: every conv has no bias
    (normalizer_fn = batch_norm) and every BN has gamma and beta (batch_norm_scale=True)."""
    total = sum(9 * cin * cout + 2 * cout for cin, cout in TF_STEM)
    cin = 64
    for depths, skip, units in TF_BLOCKS:
        for _ in range(units):
            c = cin
            for d in depths:  # separable_conv{1,2,3}: depthwise 3×3 + BN, pointwise 1×1 + BN
                total += 9 * c + 2 * c + c * d + 2 * d
                c = d
            if skip == "conv":  # shortcut: 1×1 conv + BN
                total += cin * depths[-1] + 2 * depths[-1]
            cin = depths[-1]
    return total


def test_parameter_count_equals_the_tf_reference():
    with torch.device("meta"):
        model = Xception65(output_stride=16)
    assert sum(p.numel() for p in model.parameters()) == tf_xception65_parameters()
    assert tf_xception65_parameters() == 37_867_312  # the spec above, summed once by hand-checked code


@pytest.mark.parametrize("output_stride", [8, 16, 32])
def test_output_stride_and_low_level_stride(output_stride):
    model = Xception65(output_stride=output_stride, width=0.125, middle_units=2).eval()
    x = torch.randn(1, 3, 65, 65)
    with torch.no_grad():
        out = model(x)
    assert out["out"].shape[-1] == (65 - 1) // output_stride + 1
    assert out["low_level"].shape[-1] == (65 - 1) // 4 + 1
    assert out["low_level"].shape[1] == model.low_level_channels
    assert rf.output_stride(model.layer_specs()) == output_stride


def test_rates_follow_the_tf_rule():
    plan = dict((name, (stride, rates)) for name, stride, rates in unit_plan(16))
    assert plan["entry_flow.block3.0"] == (2, (1, 1, 1))
    assert plan["middle_flow.block1.15"] == (1, (1, 1, 1))
    assert plan["exit_flow.block1.0"] == (1, (1, 1, 1))  # stride given up: rate 1 → 2 after it
    assert plan["exit_flow.block2.0"] == (1, (2, 2, 2))
    plan8 = dict((name, (stride, rates)) for name, stride, rates in unit_plan(8, multi_grid=(1, 2, 4)))
    assert plan8["entry_flow.block3.0"] == (1, (1, 1, 1))
    assert plan8["middle_flow.block1.0"] == (1, (2, 2, 2))
    assert plan8["exit_flow.block1.0"] == (1, (2, 2, 2))
    assert plan8["exit_flow.block2.0"] == (1, (4, 8, 16))


def test_dense_equals_sparse_on_the_subsampled_grid():
    torch.manual_seed(0)
    sparse = Xception65(output_stride=32, width=0.125, middle_units=1).eval()
    dense = Xception65(output_stride=16, width=0.125, middle_units=1).eval()
    dense.load_state_dict(sparse.state_dict())
    x = torch.randn(1, 3, 97, 97)
    with torch.no_grad():
        a, b = sparse(x)["out"], dense(x)["out"]
    assert torch.allclose(b[..., ::2, ::2], a, atol=1e-4)


def test_v3plus_with_xception65():
    model = build_model("deeplabv3plus", 3, backbone="xception65", width=0.125, middle_units=1).eval()
    with torch.no_grad():
        y = model(torch.randn(1, 3, 65, 65))
    assert y.shape == (1, 3, 65, 65)
    assert model.backbone.plan[-1][2] == (2, 2, 2)  # default multi-grid (1, 1, 1) at output stride 16
    with pytest.raises(ValueError, match="middle_units"):
        build_model("deeplabv3plus", 3, backbone="xception65", blocks=(1, 1, 1, 1))
    assert isinstance(build_backbone("xception65", 16, width=0.125), Xception65)


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="multi_grid"):
        Xception65(multi_grid=(1, 2))
    with pytest.raises(ValueError, match="middle_units"):
        Xception65(middle_units=0)
    with pytest.raises(ValueError, match="output_stride"):
        Xception65(output_stride=4)
