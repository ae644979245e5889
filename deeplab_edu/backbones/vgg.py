"""DeepLab's VGG-16: the classification net made dense (DeepLab v1, ICLR 2015, §3.1).

VGG-16 (Simonyan & Zisserman, 2015) halves the resolution at each of its five max-pools: output
stride 32. DeepLab v1 keeps output stride 8 by the hole algorithm (the layout is
``deeplab_edu.layouts``'): pool4 and pool5 get stride 1, conv5_x rate r = 2, and fc6 / fc7 become
convolutions in the head (``models.v1``). All pools are 3×3, stride 2, padding 1 as in DeepLab's
Caffe model (VGG's own are 2×2), so the sizes follow ⌈H/2⌉. Dense is an approximation here: the
exact rewrite would also dilate after pool5; DeepLab picks fc6's kernel and rate for speed (v1
Table 2, printed by chapter 06).

The ``features`` indices are torchvision's ``vgg16`` indices (convolutions at 0, 2, 5 … 28), so
an ImageNet ``vgg16`` checkpoint's ``features.*`` weights load unchanged; its classifier is
reshaped into fc6 / fc7 by ``deeplab_edu.weights.vgg16_fc_to_conv``.
"""

from __future__ import annotations

import torch
from torch import nn

from deeplab_edu import receptive_field as rf
from deeplab_edu.layouts import DEEPLAB_CONV_RATES, DEEPLAB_POOL_STRIDES, VGG16_STAGES, scaled


class VGG16(nn.Module):
    """conv1_1 … pool5 of DeepLab's VGG-16, output stride 8; ``forward`` returns ``{"out": …}``."""

    output_stride = 8

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        if not width > 0:
            raise ValueError(f"width must be positive, got {width!r}")
        layers: list[nn.Module] = []
        in_channels = 3
        for channels, pool_stride, rate in zip(VGG16_STAGES, DEEPLAB_POOL_STRIDES, DEEPLAB_CONV_RATES):
            for out_channels in channels:
                out_channels = scaled(out_channels, width)
                layers += [nn.Conv2d(in_channels, out_channels, 3, padding=rate, dilation=rate),
                           nn.ReLU(inplace=True)]
                in_channels = out_channels
            layers.append(nn.MaxPool2d(3, stride=pool_stride, padding=1))
        self.features = nn.Sequential(*layers)
        self.out_channels = in_channels

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"out": self.features(x)}

    def layer_specs(self) -> list[rf.Layer]:
        """Every convolution and pooling, for the receptive-field calculator."""
        specs = []
        for index, layer in enumerate(self.features):
            if isinstance(layer, nn.Conv2d):
                specs.append(rf.conv(f"features.{index}", kernel=3, dilation=layer.dilation[0]))
            elif isinstance(layer, nn.MaxPool2d):
                specs.append(rf.pool(f"features.{index}", 3, layer.stride, padding=1))
        return specs
