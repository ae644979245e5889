"""DeepLab v3 (Chen et al., "Rethinking Atrous Convolution", arXiv 1706.05587, 2017).

What changed from v2: the ASPP branches produce *features*, with BatchNorm, and are
concatenated and projected instead of summing class scores; **image pooling** adds global
context (§3.3); **multi-grid** rates (1, 2, 4) in the last ResNet stage (§3.2); training and
evaluation at **output stride** 16 or 8 (rates (6, 12, 18) doubled at 8); no CRF.

Two heads, chosen by ``head``: ``"paper"`` (the default; §3.3 and the authors' TF code,
``research/deeplab/model.py``) and ``"torchvision"`` (``deeplabv3_resnet101``'s, 590 336 more
parameters at 256 channels). With the latter and ``aux_loss`` torchvision's checkpoint loads
strictly into ``build_model("deeplabv3", 21, output_stride=8, multi_grid=None, head="torchvision",
aux_loss=True)`` (``deeplab_edu.weights.load_torchvision_deeplabv3``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from deeplab_edu import receptive_field as rf
from deeplab_edu.aspp import ASPP, v3_rates
from deeplab_edu.backbones.resnet import ResNet
from deeplab_edu.layouts import V3_MULTI_GRID
from deeplab_edu.models.base import SegmentationModel, TrainingOutput, prefixed, scaled


HEADS = ("paper", "torchvision")


class PaperHead(nn.Sequential):
    """ASPP (projection → BN → ReLU → dropout 0.1: TF's ``keep_prob=0.9``) → 1×1 conv to the classes."""

    def __init__(self, in_channels: int, num_classes: int, rates: Sequence[int], channels: int = 256,
                 image_pooling: bool = True) -> None:
        super().__init__(ASPP(in_channels, rates, channels, image_pooling=image_pooling, dropout=0.1),
                         nn.Conv2d(channels, num_classes, 1))

    def layer_specs(self) -> list[rf.Layer]:
        return prefixed(self[0].layer_specs(), "0") + [rf.conv("1", kernel=1)]


class DeepLabHead(nn.Sequential):
    """ASPP (dropout 0.5) → 3×3 conv → BN → ReLU → 1×1 conv to the classes (torchvision's layout)."""

    def __init__(self, in_channels: int, num_classes: int, rates: Sequence[int], channels: int = 256,
                 image_pooling: bool = True) -> None:
        super().__init__(ASPP(in_channels, rates, channels, image_pooling=image_pooling, dropout=0.5),
                         nn.Conv2d(channels, channels, 3, padding=1, bias=False),
                         nn.BatchNorm2d(channels), nn.ReLU(inplace=True),
                         nn.Conv2d(channels, num_classes, 1))

    def layer_specs(self) -> list[rf.Layer]:
        return prefixed(self[0].layer_specs(), "0") + [rf.conv("1", kernel=3, bias=False), rf.conv("4", kernel=1)]


class FCNHead(nn.Sequential):
    """The auxiliary head on ``layer3`` (torchvision's): 3×3 conv to C/4, BN, ReLU, dropout, 1×1."""

    def __init__(self, in_channels: int, num_classes: int) -> None:
        inter = in_channels // 4
        super().__init__(nn.Conv2d(in_channels, inter, 3, padding=1, bias=False), nn.BatchNorm2d(inter),
                         nn.ReLU(inplace=True), nn.Dropout(0.1), nn.Conv2d(inter, num_classes, 1))


class DeepLabV3(SegmentationModel):
    """ResNet (output stride 16 or 8, multi-grid) + v3 ASPP with image pooling."""

    def __init__(self, num_classes: int, backbone: str = "resnet101", output_stride: int = 16,
                 multi_grid: Sequence[int] | None = V3_MULTI_GRID, rates: Sequence[int] | None = None,
                 width: float = 1.0, blocks: Sequence[int] | None = None, aux_loss: bool = False,
                 image_pooling: bool = True, head: str = "paper") -> None:
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"head must be one of {HEADS} (the paper's, or torchvision's for its "
                             f"checkpoints), got {head!r}")
        if backbone not in ("resnet50", "resnet101"):
            raise ValueError(f"backbone must be 'resnet50' or 'resnet101' for DeepLab v3, got {backbone!r}")
        self.num_classes = num_classes
        self.backbone = ResNet(int(backbone[6:]), output_stride, multi_grid, width, blocks)
        self.output_stride = self.score_stride = output_stride
        self.global_context = image_pooling
        rates = v3_rates(output_stride) if rates is None else rates
        self.head_type = head
        head_cls = PaperHead if head == "paper" else DeepLabHead
        self.classifier = head_cls(self.backbone.out_channels, num_classes, rates, scaled(256, width),
                                   image_pooling)
        self.aux_classifier = FCNHead(self.backbone.aux_channels, num_classes) if aux_loss else None

    def forward_scores(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.backbone(x)["out"])

    def training_outputs(self, x: torch.Tensor) -> TrainingOutput:
        """The scores, plus the ``layer3`` head's (torchvision's ``"aux"``) when it is built."""
        features = self.backbone(x)
        aux = None if self.aux_classifier is None else self.aux_classifier(features["aux"])
        return TrainingOutput(self.classifier(features["out"]), aux)

    def layer_specs(self) -> list[rf.Layer]:
        return prefixed(self.backbone.layer_specs(), "backbone") + prefixed(self.classifier.layer_specs(),
                                                                             "classifier")
