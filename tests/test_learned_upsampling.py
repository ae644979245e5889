"""FCN's learned upsampling: it starts as bilinear interpolation, then it is a layer like any other."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from deeplab_edu.models import build_from_config
from deeplab_edu.models import LearnedUpsampling, build_model
from deeplab_edu.models.learned_upsampling import bilinear_kernel
from deeplab_edu.runtime import seed_everything
from deeplab_edu.schedules import make_optimizer


@settings(max_examples=20, deadline=None)
@given(stride=st.sampled_from([2, 4, 8, 16]), h=st.integers(2, 6), w=st.integers(2, 6), channels=st.integers(1, 3))
def test_the_bilinear_kernel_is_bilinear_interpolation_inside_the_border(stride, h, w, channels):
    scores = torch.randn(1, channels, h, w, generator=torch.Generator().manual_seed(h * 10 + w), dtype=torch.float64)
    deconv = F.conv_transpose2d(scores, bilinear_kernel(channels, stride).double(), stride=stride,
                                padding=stride // 2)
    bilinear = F.interpolate(scores, scale_factor=stride, mode="bilinear", align_corners=False)
    assert deconv.shape == bilinear.shape == (1, channels, h * stride, w * stride)
    inside = (..., slice(stride, -stride), slice(stride, -stride))  # the border differs: zero padding vs clamping
    torch.testing.assert_close(deconv[inside], bilinear[inside])


def test_the_kernel_keeps_each_class_to_itself():
    k = bilinear_kernel(3, 4)
    assert k.shape == (3, 3, 8, 8) and k[0, 1].abs().sum() == 0 and k[2, 2].max() < 1
    with pytest.raises(ValueError, match="stride"):
        bilinear_kernel(3, 0)


def test_a_model_with_learned_upsampling_starts_near_the_bilinear_one_and_learns_it():
    seed_everything(0)
    plain = build_model("deeplabv3", 4, width=0.125, blocks=(1, 1, 1, 1))
    learned = LearnedUpsampling(plain)
    assert learned.score_stride == 1 and learned.output_stride == 16 and learned.backbone is plain.backbone
    x = torch.randn(1, 3, 64, 64)
    plain.eval(), learned.eval()
    with torch.no_grad():
        a, b = plain(x), learned(x)
    assert b.shape == a.shape == (1, 4, 64, 64)
    inner = (..., slice(16, -16), slice(16, -16))
    torch.testing.assert_close(b[inner], a[inner], atol=1e-5, rtol=1e-4)
    groups = make_optimizer(learned, 0.01).param_groups
    head = {id(p) for g in groups if g["name"] == "head" for p in g["params"]}
    assert id(learned.deconvolution.weight) in head  # a new layer: the head's rate


def test_build_model_and_checkpoints_know_the_option():
    model = build_model("deeplabv3", 3, width=0.125, blocks=(1, 1, 1, 1), upsampling="deconvolution")
    assert isinstance(model, LearnedUpsampling) and model.deconvolution.kernel_size == (32, 32)
    config = {"model": "deeplabv3", "num_classes": 3, "backbone": "resnet101", "output_stride": 16, "width": 0.125,
              "options": {"blocks": (1, 1, 1, 1), "upsampling": "deconvolution"}}
    rebuilt = build_from_config(config)
    rebuilt.load_state_dict(model.state_dict())
    assert isinstance(build_model("deeplabv3", 3, width=0.125, blocks=(1, 1, 1, 1), upsampling="bilinear"),
                      torch.nn.Module)
    with pytest.raises(ValueError, match="upsampling"):
        build_model("deeplabv3", 3, upsampling="nearest")
