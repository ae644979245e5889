"""Atrous Spatial Pyramid Pooling: look at every position with several fields of view at once.

**v2 ASPP** (DeepLab v2, TPAMI 2017, §3.1, Fig. 7). Parallel branches, each an atrous
convolution at its own rate r, whose class *scores* are summed:

    score = Σ_r  fc8_r( fc7_r( fc6_r(x) ) ),   fc6_r a 3×3 convolution at rate r.

ASPP-L uses r = (6, 12, 18, 24), ASPP-S r = (2, 4, 8, 12). With VGG-16 each branch is the
LargeFOV head (fc6 1024 channels, fc7 1×1, fc8 1×1); with ResNet-101 each branch is a single
3×3 convolution straight to the classes (``hidden_channels=None``).

**v3 ASPP** (DeepLab v3, arXiv 1706.05587, §3.3, Fig. 5). Feature branches, concatenated:
a 1×1 convolution, three 3×3 convolutions at r = (6, 12, 18) (doubled, (12, 24, 36), at
output stride 8), and **image pooling** (global average → 1×1 conv → broadcast back), each
with BatchNorm and ReLU; a 1×1 projection to 256 channels follows. Why image pooling: as the
rate nears the feature map's size, a 3×3 filter degenerates to a 1×1 one (v3, Fig. 4;
``hole.valid_tap_fraction``). The **separable** variant (v3+, §3.2) makes the three 3×3 branches
depthwise-separable (``deeplab_edu.separable``).

Module and parameter names are torchvision's (``convs.0`` … ``convs.4``, ``project``), so a
torchvision ``deeplabv3_resnet101`` checkpoint loads unchanged.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from deeplab_edu import receptive_field as rf
from deeplab_edu import validate
from deeplab_edu.separable import conv_bn_relu

ASPP_L = (6, 12, 18, 24)
ASPP_S = (2, 4, 8, 12)
V3_RATES = (6, 12, 18)  # at output stride 16


def check_rates(rates: Sequence[int], name: str = "rates") -> tuple[int, ...]:
    """Rates as a tuple of positive integers, or a ValueError/TypeError naming ``name``."""
    if isinstance(rates, (str, bytes)) or not isinstance(rates, Sequence) or len(rates) == 0:
        raise TypeError(f"{name} must be a non-empty sequence of integers, got {rates!r}")
    return tuple(validate.integer(r, f"{name}[{i}]", minimum=1, whole_floats=True) for i, r in enumerate(rates))


def v3_rates(output_stride: int) -> tuple[int, ...]:
    """(6, 12, 18) at output stride 16, doubled at 8: the same field of view in input pixels."""
    if output_stride not in (8, 16, 32):
        raise ValueError(f"output_stride must be one of (8, 16, 32), got {output_stride!r}")
    return tuple(r * 16 // output_stride for r in V3_RATES)


class ASPPv2(nn.Module):
    """v2 ASPP: one branch per rate, each producing class scores; the scores are summed."""

    def __init__(self, in_channels: int, num_classes: int, rates: Sequence[int] = ASPP_L,
                 hidden_channels: int | None = 1024, dropout: float = 0.5) -> None:
        super().__init__()
        self.rates = check_rates(rates)
        self.branches = nn.ModuleList()
        for rate in self.rates:
            if hidden_channels is None:  # ResNet-101: a 3×3 atrous conv straight to the classes
                layers = OrderedDict(fc8=nn.Conv2d(in_channels, num_classes, 3, padding=rate, dilation=rate))
            else:  # VGG-16: the LargeFOV head at this rate
                layers = OrderedDict(
                    fc6=nn.Conv2d(in_channels, hidden_channels, 3, padding=rate, dilation=rate),
                    relu6=nn.ReLU(inplace=True), drop6=nn.Dropout(dropout),
                    fc7=nn.Conv2d(hidden_channels, hidden_channels, 1),
                    relu7=nn.ReLU(inplace=True), drop7=nn.Dropout(dropout),
                    fc8=nn.Conv2d(hidden_channels, num_classes, 1))
            self.branches.append(nn.Sequential(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([branch(x) for branch in self.branches]).sum(dim=0)

    def layer_specs(self) -> list[rf.Layer]:
        """The widest branch, the one that sets the receptive field."""
        widest = max(range(len(self.rates)), key=lambda i: self.rates[i])
        names = [name for name, m in self.branches[widest].named_children() if isinstance(m, nn.Conv2d)]
        return [rf.conv(f"branches.{widest}.{name}", kernel=3 if i == 0 else 1,
                        dilation=self.rates[widest] if i == 0 else 1) for i, name in enumerate(names)]


class PoolingBatchNorm(nn.BatchNorm2d):
    """BatchNorm for the image-pooling branch, usable at batch size 1 in training.

    After global pooling a batch of one holds one value per channel: its variance is 0, the output
    would be β whatever the image, and PyTorch refuses (torchvision's ASPP has this trap; TF
    DeepLab trains with 8–16 images per step or freezes BN). Here one value per channel is
    normalised with the running statistics, as in eval mode, leaving them unchanged. Parameters and
    buffers are BatchNorm's, so checkpoints load either way; the test is on static shapes, which
    ``torch.compile`` specialises on.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.shape[0] * x.shape[2] * x.shape[3] == 1:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                training=False, eps=self.eps)
        return super().forward(x)


class ASPPPooling(nn.Sequential):
    """Image pooling: global average → 1×1 conv → BN → ReLU, broadcast back to H×W."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(nn.AdaptiveAvgPool2d(1), nn.Conv2d(in_channels, out_channels, 1, bias=False),
                         PoolingBatchNorm(out_channels), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Bilinear upsampling of a 1×1 map (what torchvision does) is a constant: expand it.
        return super().forward(x).expand(-1, -1, x.shape[-2], x.shape[-1])


class ASPP(nn.Module):
    """v3 ASPP: [1×1, 3×3 at each rate, image pooling] → concat → 1×1 projection (+ dropout)."""

    def __init__(self, in_channels: int, rates: Sequence[int] = V3_RATES, out_channels: int = 256,
                 separable: bool = False, image_pooling: bool = True, dropout: float = 0.5) -> None:
        super().__init__()
        self.rates = check_rates(rates)
        branches = [conv_bn_relu(in_channels, out_channels, 1)]
        branches += [conv_bn_relu(in_channels, out_channels, 3, rate, separable) for rate in self.rates]
        if image_pooling:
            branches.append(ASPPPooling(in_channels, out_channels))
        self.convs = nn.ModuleList(branches)
        self.project = nn.Sequential(
            nn.Conv2d(len(branches) * out_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True), nn.Dropout(dropout))
        self.out_channels = out_channels
        self.image_pooling = image_pooling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(torch.cat([branch(x) for branch in self.convs], dim=1))

    def layer_specs(self) -> list[rf.Layer]:
        """The widest atrous branch and the projection (image pooling's global field: ``global_context``)."""
        widest = 1 + max(range(len(self.rates)), key=lambda i: self.rates[i])
        return [rf.conv(f"convs.{widest}", kernel=3, dilation=max(self.rates), bias=False),
                rf.conv("project.0", kernel=1, bias=False)]
