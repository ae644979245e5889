"""Atrous depthwise-separable convolution (DeepLab v3+, ECCV 2018, §3.2; Xception, Chollet 2017).

A standard k×k convolution from C to C' channels mixes space and channels at once:
k²·C·C' weights. The separable one factorises it:

* **depthwise**: one k×k filter per input channel, applied to that channel alone (rate r,
  so atrous at no extra cost): k²·C weights;
* **pointwise**: a 1×1 convolution mixing the channels: C·C' weights.

For k = 3, C = C' = 256: 2 304 + 65 536 weights instead of 589 824, about 8.7× fewer (chapter
06 counts them). v3+ puts BatchNorm and ReLU after each step, as here. ``depthwise_conv2d_loop``
is the readable definition (a loop over channels); the module uses ``groups=C``, the fast form,
held equal by a test.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from deeplab_edu import validate


def depthwise_conv2d_loop(x: torch.Tensor, weight: torch.Tensor, rate: int = 1) -> torch.Tensor:
    """Depthwise convolution as written: output channel c = input channel c ⋆ filter c (rate r).

    ``x`` (N, C, H, W), ``weight`` (C, 1, k, k); 'same' padding r·(k − 1)/2 for odd k."""
    rate = validate.integer(rate, "rate", minimum=1)
    if x.ndim != 4 or weight.ndim != 4 or weight.shape[1] != 1 or weight.shape[0] != x.shape[1]:
        raise ValueError(f"expected x (N, C, H, W) and weight (C, 1, k, k) with the same C, "
                         f"got x {tuple(x.shape)} and weight {tuple(weight.shape)}")
    padding = rate * (weight.shape[-1] - 1) // 2
    channels = [F.conv2d(x[:, c : c + 1], weight[c : c + 1], padding=padding, dilation=rate)
                for c in range(x.shape[1])]
    return torch.cat(channels, dim=1)


class SeparableConv2d(nn.Module):
    """depthwise k×k at rate r → BN → ReLU → pointwise 1×1 (the conv that the caller's BN follows)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, rate: int = 1) -> None:
        super().__init__()
        rate = validate.integer(rate, "rate", minimum=1)
        kernel_size = validate.integer(kernel_size, "kernel_size", minimum=1)
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, padding=rate * (kernel_size - 1) // 2,
                                   dilation=rate, groups=in_channels, bias=False)
        self.depthwise_bn = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU(inplace=True)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.relu(self.depthwise_bn(self.depthwise(x))))


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int = 3, rate: int = 1,
                 separable: bool = False) -> nn.Sequential:
    """k×k convolution (plain or separable) → BatchNorm → ReLU: the unit v3 and v3+ are built of."""
    if separable and kernel_size > 1:
        conv: nn.Module = SeparableConv2d(in_channels, out_channels, kernel_size, rate)
    else:
        conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=rate * (kernel_size - 1) // 2,
                         dilation=rate, bias=False)
    return nn.Sequential(conv, nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))
