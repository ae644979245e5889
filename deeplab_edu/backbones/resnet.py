"""ResNet-50/101 as a dense feature extractor: output stride 32, 16 or 8, and multi-grid.

A classification ResNet (He et al., 2016) halves the resolution five times: output stride 32.
DeepLab keeps the last features denser by the hole algorithm (v2, TPAMI 2017, §3.1; v3, arXiv
1706.05587, §3.1): output stride 16 turns ``layer4``'s stride into rate r = 2, output stride 8
also ``layer3``'s (r = 2, ``layer4`` r = 4). **Multi-grid** (v3 §4.1) multiplies ``layer4``'s
units by (g1, g2, g3): (1, 2, 4) at output stride 16 gives rates (2, 4, 8). Each unit's stride
and rate come from ``layouts.stage_geometry`` (which says why the first unit of a changed stage
keeps the previous rate); ``tests/test_backbones.py`` checks that the dense network computes
the sparse one's values.

Parameter names follow torchvision's ``resnet50`` / ``resnet101`` (``conv1``, ``bn1``,
``layer1.0.conv2``, ``layer1.0.downsample.0`` …), so their ImageNet checkpoints load
unchanged (``deeplab_edu.weights``). ``width`` scales every channel count (minimum 8) and
``blocks`` sets the units per stage: the small models of the CPU profiles run the same code.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from deeplab_edu import receptive_field as rf
from deeplab_edu.layouts import RESNET_DEPTHS, RESNET_STAGE_PLANES, scaled, stage_geometry


class Bottleneck(nn.Module):
    """1×1 reduce → 3×3 (stride s, rate r) → 1×1 expand, plus the identity (or projected) input.

    The stride sits on the 3×3 convolution (torchvision's "ResNet v1.5"), so removing it and
    dilating that same convolution is the whole change DeepLab needs.
    """

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        out_channels = planes * self.expansion
        self.conv1 = nn.Conv2d(in_channels, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        # padding = rate keeps the size: the dilated 3×3 spans 2r + 1 pixels.
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=dilation,
                               dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)

    def layer_specs(self, prefix: str) -> list[rf.Layer]:
        """The main path for the receptive-field calculator; the shortcut never sees further."""
        return [rf.conv(f"{prefix}.conv1", kernel=1, bias=False),
                rf.conv(f"{prefix}.conv2", kernel=3, stride=self.conv2.stride[0],
                        dilation=self.conv2.dilation[0], bias=False),
                rf.conv(f"{prefix}.conv3", kernel=1, bias=False)]


class ResNet(nn.Module):
    """ResNet-50/101 returning ``{"low_level": stride-4, "aux": layer3, "out": layer4}`` features;
    each unit's stride and rate from ``layouts.stage_geometry``."""

    def __init__(self, depth: int = 101, output_stride: int = 32, multi_grid: Sequence[int] | None = None,
                 width: float = 1.0, blocks: Sequence[int] | None = None) -> None:
        super().__init__()
        if blocks is None:
            if depth not in RESNET_DEPTHS:
                raise ValueError(f"depth must be one of {sorted(RESNET_DEPTHS)}, got {depth!r}")
            blocks = RESNET_DEPTHS[depth]
        if len(blocks) != 4 or any(not isinstance(b, int) or b < 1 for b in blocks):
            raise ValueError(f"blocks must be four positive unit counts, got {tuple(blocks)!r}")
        if not width > 0:
            raise ValueError(f"width must be positive, got {width!r}")
        self.output_stride = output_stride
        self.blocks = tuple(blocks)
        geometry = stage_geometry(output_stride, blocks, multi_grid)

        stem = scaled(64, width)
        self.conv1 = nn.Conv2d(3, stem, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_channels = stem
        for index, (planes, units) in enumerate(zip(RESNET_STAGE_PLANES, geometry), start=1):
            planes = scaled(planes, width)
            layer = []
            for stride, rate in units:
                downsample = None
                if stride != 1 or in_channels != planes * Bottleneck.expansion:
                    downsample = nn.Sequential(
                        nn.Conv2d(in_channels, planes * Bottleneck.expansion, 1, stride=stride, bias=False),
                        nn.BatchNorm2d(planes * Bottleneck.expansion))
                layer.append(Bottleneck(in_channels, planes, stride, rate, downsample))
                in_channels = planes * Bottleneck.expansion
            setattr(self, f"layer{index}", nn.Sequential(*layer))
        self.low_level_channels = self.layer1[-1].conv3.out_channels
        self.aux_channels = self.layer3[-1].conv3.out_channels
        self.out_channels = in_channels
        self._init_weights()

    def _init_weights(self) -> None:
        # torchvision's initialisation, so a model trained from scratch starts the same way.
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        low_level = self.layer1(x)
        aux = self.layer3(self.layer2(low_level))
        return {"low_level": low_level, "aux": aux, "out": self.layer4(aux)}

    def layer_specs(self) -> list[rf.Layer]:
        """The longest path (stem, then every unit's 1×1 → 3×3 → 1×1) for the calculator."""
        specs = [rf.conv("conv1", kernel=7, stride=2, bias=False), rf.pool("maxpool", 3, 2, padding=1)]
        for index in range(1, 5):
            for unit, block in enumerate(getattr(self, f"layer{index}")):
                specs += block.layer_specs(f"layer{index}.{unit}")
        return specs
