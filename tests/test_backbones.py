import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from _torchvision_reference import references, shapes
from deeplab_edu.backbones import VGG16, ResNet, build_backbone
from deeplab_edu.layouts import stage_geometry
from deeplab_edu import receptive_field as rf
from deeplab_edu.runtime import seed_everything

SMALL = dict(width=0.125, blocks=(1, 1, 2, 2))


# --- key compatibility with torchvision -------------------------------------------------------

@pytest.mark.parametrize("depth", [50, 101])
def test_resnet_keys_shapes_and_parameter_count_equal_torchvision(depth):
    with torch.device("meta"):
        ours = ResNet(depth)
    for source, archs in references():
        reference = archs[f"resnet{depth}"]
        # DeepLab drops the ImageNet classifier (avgpool + fc); every other key must match.
        features = {k: v for k, v in reference["state_dict"].items() if not k.startswith("fc.")}
        assert shapes(ours) == features, source
        fc = sum(math.prod(v) for k, v in reference["state_dict"].items() if k.startswith("fc."))
        assert sum(p.numel() for p in ours.parameters()) == reference["parameters"] - fc, source


def test_vgg16_features_equal_torchvision_features():
    with torch.device("meta"):
        ours = VGG16()
    for source, archs in references():
        reference = {k: v for k, v in archs["vgg16"]["state_dict"].items() if k.startswith("features.")}
        assert shapes(ours) == reference, source


@pytest.mark.slow
def test_imagenet_resnet_checkpoint_loads_into_the_dilated_backbone(tmp_path):
    from deeplab_edu import weights

    seed_everything(0)
    reference = references()[0][1]["resnet50"]["state_dict"]
    state = {k: (torch.rand(s) if s else torch.tensor(3)) for k, s in reference.items()}
    torch.save(state, tmp_path / "resnet50.pth")
    backbone = ResNet(50, output_stride=8)  # dilation changes no parameter
    weights.load_backbone(backbone, tmp_path / "resnet50.pth")
    assert torch.equal(backbone.layer4[2].conv2.weight, state["layer4.2.conv2.weight"])


# --- geometry ----------------------------------------------------------------------------------

@settings(max_examples=30, deadline=None)
@given(height=st.integers(33, 90), width=st.integers(33, 90), output_stride=st.sampled_from([8, 16, 32]))
def test_resnet_feature_strides(height, width, output_stride):
    backbone = ResNet(output_stride=output_stride, **SMALL).eval()
    with torch.no_grad():
        features = backbone(torch.zeros(1, 3, height, width))
    # every stride-2 layer pads so that the size becomes ceil(n / 2)
    assert features["low_level"].shape[-2:] == (math.ceil(height / 4), math.ceil(width / 4))
    assert features["out"].shape[-2:] == (math.ceil(height / output_stride), math.ceil(width / output_stride))
    assert features["out"].shape[1] == backbone.out_channels


@settings(max_examples=20, deadline=None)
@given(height=st.integers(17, 70), width=st.integers(17, 70))
def test_vgg16_has_output_stride_8(height, width):
    with torch.no_grad():
        out = VGG16(width=0.125)(torch.zeros(1, 3, height, width))["out"]
    assert out.shape[-2:] == (math.ceil(height / 8), math.ceil(width / 8))


@pytest.mark.parametrize("dense, subsample", [(16, 2), (8, 4)])
def test_hole_algorithm_is_exact(dense, subsample):
    """The dilated network computes the stride-32 network's values at every subsample-th position."""
    seed_everything(0)
    sparse_net = ResNet(output_stride=32, **SMALL).eval()
    dense_net = ResNet(output_stride=dense, **SMALL).eval()
    dense_net.load_state_dict(sparse_net.state_dict())
    x = torch.randn(1, 3, 97, 75)
    with torch.no_grad():
        sparse_out, dense_out = sparse_net(x)["out"], dense_net(x)["out"]
    torch.testing.assert_close(dense_out[..., ::subsample, ::subsample], sparse_out, rtol=1e-4, atol=1e-5)


def test_stage_rates_follow_the_papers():
    # torchvision/hole-algorithm convention: a changed stage's first unit keeps the previous rate
    assert stage_geometry(8, (3, 4, 23, 3))[2][:2] == [(1, 1), (1, 2)]
    assert stage_geometry(8, (3, 4, 23, 3))[3] == [(1, 2), (1, 4), (1, 4)]
    assert stage_geometry(16, (3, 4, 23, 3))[2][0] == (2, 1)
    # DeepLab v3 §4.1: Multi_Grid (1, 2, 4) at output stride 16 → rates 2·(1, 2, 4)
    assert [rate for _, rate in stage_geometry(16, (3, 4, 23, 3), (1, 2, 4))[3]] == [2, 4, 8]
    assert [rate for _, rate in stage_geometry(8, (3, 4, 23, 3), (1, 2, 4))[3]] == [4, 8, 16]


def test_model_rates_are_the_geometry():
    backbone = ResNet(output_stride=16, multi_grid=(1, 2, 4), width=0.125)
    assert [unit.conv2.dilation[0] for unit in backbone.layer4] == [2, 4, 8]
    assert all(unit.conv2.stride[0] == 1 for unit in backbone.layer4)


def test_width_multiplier_scales_channels_with_a_floor_of_8():
    assert ResNet(width=0.25, blocks=(1, 1, 1, 1)).out_channels == 2048 // 4
    assert ResNet(width=0.01, blocks=(1, 1, 1, 1)).conv1.out_channels == 8
    assert VGG16(width=0.5).out_channels == 256


# --- bad arguments ------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    (dict(output_stride=12), "output_stride"), (dict(output_stride=4), "output_stride"),
    (dict(depth=34), "depth"), (dict(blocks=(1, 1, 1)), "blocks"), (dict(blocks=(1, 0, 1, 1)), "blocks"),
    (dict(multi_grid=(1, 0, 4)), "multi_grid"), (dict(multi_grid=(1, 2.5, 4)), "multi_grid"),
    (dict(width=0), "width")])
def test_resnet_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ResNet(**kwargs)


def test_build_backbone_errors_name_the_choices():
    with pytest.raises(ValueError, match="unknown backbone 'resnet18'"):
        build_backbone("resnet18")
    with pytest.raises(ValueError, match="output_stride must be 8"):
        build_backbone("vgg16", output_stride=16)


def test_vgg16_backbone_is_the_calculators_deeplab_v1_up_to_pool5():
    # DeepLab v1 §3.1 (pool4 and pool5 at stride 1, conv5_x at rate 2): the module's layers must
    # have the geometry of the lesson's spec, and the paper's rates written out here.
    def geometry(layers):
        return [(layer.kind, layer.kernel, layer.stride, layer.dilation, layer.padding) for layer in layers]

    paper = [layer for layer in rf.deeplab_v1("largefov") if not layer.name.startswith("fc")]
    assert geometry(VGG16(width=0.125).layer_specs()) == geometry(paper)
    assert [layer.dilation for layer in paper if layer.name.startswith("conv5")] == [2, 2, 2]
