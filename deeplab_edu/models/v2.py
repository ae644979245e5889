"""DeepLab v2 (Chen et al., TPAMI 2017): ASPP heads on VGG-16 or ResNet-101.

What changed from v1 (§3.1–3.3, §4): fc6 becomes **ASPP** (``aspp.ASPPv2``), branches at
rates ASPP-L or ASPP-S whose scores are summed; ResNet-101 (output stride 8) replaces VGG-16;
multi-scale inputs with max fusion (``models.multiscale``); the "poly" learning rate.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from deeplab_edu import receptive_field as rf
from deeplab_edu.aspp import ASPP_L, ASPPv2
from deeplab_edu.backbones import build_backbone
from deeplab_edu.models.base import SegmentationModel, prefixed, scaled


class DeepLabV2(SegmentationModel):
    """Backbone (``vgg16`` or ``resnet50``/``resnet101``) + v2 ASPP summing class scores."""

    def __init__(self, num_classes: int, backbone: str = "resnet101", rates: Sequence[int] = ASPP_L,
                 output_stride: int = 8, width: float = 1.0, blocks: Sequence[int] | None = None,
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.backbone = build_backbone(backbone, output_stride=output_stride, width=width, blocks=blocks)
        self.output_stride = self.score_stride = output_stride
        # VGG: each branch is a LargeFOV head (fc6 1024 → fc7 → fc8); ResNet: one 3×3 conv per rate.
        hidden = scaled(1024, width) if backbone == "vgg16" else None
        self.classifier = ASPPv2(self.backbone.out_channels, num_classes, rates, hidden, dropout)

    def forward_scores(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.backbone(x)["out"])

    def layer_specs(self) -> list[rf.Layer]:
        return prefixed(self.backbone.layer_specs(), "backbone") + prefixed(self.classifier.layer_specs(), "classifier")
