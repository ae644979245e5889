"""DeepLab v3+ (Chen et al., "Encoder-Decoder with Atrous Separable Convolution", ECCV 2018).

What changed from v3 (§3.1–3.2, Fig. 2): the v3 network becomes the **encoder**, and a light
**decoder** recovers boundaries: the encoder's output (stride 16) is upsampled 4× and
concatenated with low-level features from the backbone's stride-4 stage, first reduced by a
1×1 convolution to 48 channels (few, so they do not drown the 256 semantic channels); two 3×3
convolutions (256 channels) refine the concatenation; a 1×1 gives the classes at stride 4,
upsampled 4× to the image. ASPP and decoder use **depthwise-separable** convolutions
(``deeplab_edu.separable``), which cut their cost several times (chapter 06 counts it).

``output_stride`` is the encoder's (16 or 8, as in the paper); ``forward_scores`` returns the
decoder's stride-4 scores (``score_stride = 4``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from deeplab_edu import receptive_field as rf
from deeplab_edu.aspp import ASPP, v3_rates
from deeplab_edu.backbones.resnet import ResNet
from deeplab_edu.backbones.xception import Xception65
from deeplab_edu.models.base import SegmentationModel, prefixed, scaled, upsample
from deeplab_edu.separable import conv_bn_relu


class Decoder(nn.Module):
    """low-level 1×1 → 48 ch; concat with upsampled encoder; two 3×3 (separable); 1×1 to classes."""

    def __init__(self, low_level_channels: int, encoder_channels: int, num_classes: int,
                 reduced: int = 48, channels: int = 256, separable: bool = True) -> None:
        super().__init__()
        self.reduce = conv_bn_relu(low_level_channels, reduced, 1)
        self.fuse = nn.Sequential(conv_bn_relu(encoder_channels + reduced, channels, 3, separable=separable),
                                  conv_bn_relu(channels, channels, 3, separable=separable))
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, encoded: torch.Tensor, low_level: torch.Tensor) -> torch.Tensor:
        encoded = upsample(encoded, low_level.shape[-2:])
        return self.classifier(self.fuse(torch.cat([encoded, self.reduce(low_level)], dim=1)))


class DeepLabV3Plus(SegmentationModel):
    """ResNet or aligned Xception-65 + separable ASPP (encoder) + the decoder on stride-4 features.

    For ``backbone="xception65"`` (the paper's, §3.2) ``multi_grid`` applies to exit_flow/block2
    and ``middle_units`` sets the middle flow's length (16).
    """

    score_stride = 4

    def __init__(self, num_classes: int, backbone: str = "resnet101", output_stride: int = 16,
                 multi_grid: Sequence[int] | None = None, rates: Sequence[int] | None = None,
                 width: float = 1.0, blocks: Sequence[int] | None = None, separable: bool = True,
                 image_pooling: bool = True, middle_units: int | None = None) -> None:
        super().__init__()
        if backbone not in ("resnet50", "resnet101", "xception65"):
            raise ValueError(f"backbone must be 'resnet50', 'resnet101' or 'xception65' for DeepLab v3+, "
                             f"got {backbone!r}")
        self.num_classes = num_classes
        if backbone == "xception65":
            if blocks is not None:
                raise ValueError("blocks sets ResNet units per stage; for xception65 pass middle_units "
                                 "(the middle flow's length, 16 in the paper)")
            self.backbone = Xception65(output_stride, multi_grid, width,
                                       16 if middle_units is None else middle_units)
        else:
            if middle_units is not None:
                raise ValueError("middle_units applies to the xception65 backbone only")
            self.backbone = ResNet(int(backbone[6:]), output_stride, multi_grid, width, blocks)
        self.output_stride = output_stride
        self.global_context = image_pooling
        rates = v3_rates(output_stride) if rates is None else rates
        channels = scaled(256, width)
        self.aspp = ASPP(self.backbone.out_channels, rates, channels, separable, image_pooling, dropout=0.1)
        self.decoder = Decoder(self.backbone.low_level_channels, channels, num_classes,
                               scaled(48, width), channels, separable)

    def forward_scores(self, x: torch.Tensor) -> torch.Tensor:
        features = self.backbone(x)
        return self.decoder(self.aspp(features["out"]), features["low_level"])

    def layer_specs(self) -> list[rf.Layer]:
        """Backbone + ASPP, to one encoder output: the calculator's layers only subsample, so the
        decoder after the 4× upsampling is not among them (``receptive_field`` adds it)."""
        return prefixed(self.backbone.layer_specs(), "backbone") + prefixed(self.aspp.layer_specs(), "aspp")

    def receptive_field(self) -> int:
        """Encoder field + what the upsampling and the decoder add, in input pixels.

        Bilinear upsampling reads two neighbouring encoder outputs (+ output_stride pixels), the
        decoder's two 3×3 convolutions at stride 4 add 2 · (3 − 1) · 4 = 16. An upper bound: the
        measured field can be up to one output stride smaller (``tests/test_models.py``).
        """
        return rf.receptive_field(self.layer_specs()) + self.output_stride + 2 * (3 - 1) * 4
