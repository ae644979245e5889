"""DeepLab v1 (Chen et al., ICLR 2015): VGG-16 made dense + fc6/fc7 as atrous convolutions.

The backbone is ``backbones.VGG16`` (output stride 8); the head is VGG's fully connected layers
as convolutions (§3.1): fc6 → ReLU → dropout → fc7 (1×1) → ReLU → dropout → fc8 (1×1, the
classes). The paper's fc6 designs (Table 2) are ``layouts.FC6_VARIANTS``:

=============  ======  ======  ========  ===========================================
variant        kernel  rate r  channels  note
=============  ======  ======  ========  ===========================================
``7x7``        7×7     4       4 096     VGG's fc6 reshaped, both lost strides made up
``4x4``        4×4     4       4 096     fc6 subsampled to 4×4 (the paper's "DeepLab")
``4x4-rate8``  4×4     8       4 096     the same, larger field
``largefov``   3×3     12      1 024     DeepLab-LargeFOV: 6.5× fewer parameters, as good
=============  ======  ======  ========  ===========================================

v1 trains the stride-8 scores against labels subsampled 8×; at test time they are interpolated
bilinearly to the image and refined by the dense CRF (``deeplab_edu.crf``).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from deeplab_edu import receptive_field as rf
from deeplab_edu import validate
from deeplab_edu.backbones.vgg import VGG16
from deeplab_edu.layouts import FC6_VARIANTS
from deeplab_edu.models.base import SegmentationModel, prefixed, scaled


class DeepLabV1(SegmentationModel):
    """DeepLab v1 with the chosen fc6 variant (LargeFOV by default); ``fc6_rate`` replaces the
    variant's rate r (e.g. scaled to a smaller score map than the paper's 41 × 41), ``fc6_channels``
    its channels at full width (e.g. LargeFOV with the 4 096 of the 4×4 head, to compare fields of
    view at equal width)."""

    def __init__(self, num_classes: int, fc6: str = "largefov", width: float = 1.0,
                 dropout: float = 0.5, fc6_rate: int | None = None, fc6_channels: int | None = None) -> None:
        super().__init__()
        if fc6 not in FC6_VARIANTS:
            raise ValueError(f"fc6 must be one of {sorted(FC6_VARIANTS)}, got {fc6!r}")
        variant = FC6_VARIANTS[fc6]
        self.fc6_variant = fc6
        self.num_classes = num_classes
        self.output_stride = self.score_stride = VGG16.output_stride
        self.backbone = VGG16(width=width)
        k, r = variant.kernel, variant.rate if fc6_rate is None else fc6_rate
        r = validate.integer(r, "fc6_rate", minimum=1)
        channels = scaled(variant.channels if fc6_channels is None else
                          validate.integer(fc6_channels, "fc6_channels", minimum=1), width)
        if r * (k - 1) % 2:
            raise validate.ArgumentError(f"fc6_rate must make r·(k − 1) even for the {k}×{k} fc6 (so that "
                                         f"padding r(k−1)/2 keeps the size), got {fc6_rate!r}")
        # Dropout as Caffe's "Dropout" layer in DeepLab's prototxt: each activation on its own,
        # not whole channels (Dropout2d would silence half of a 256-channel head at a time).
        self.classifier = nn.Sequential(OrderedDict(
            fc6=nn.Conv2d(self.backbone.out_channels, channels, k, padding=r * (k - 1) // 2, dilation=r),
            relu6=nn.ReLU(inplace=True), drop6=nn.Dropout(dropout),
            fc7=nn.Conv2d(channels, channels, 1),
            relu7=nn.ReLU(inplace=True), drop7=nn.Dropout(dropout),
            fc8=nn.Conv2d(channels, num_classes, 1)))
        # DeepLab's prototxt: the new classifier starts from N(0, 0.01²), bias 0.
        nn.init.normal_(self.classifier.fc8.weight, std=0.01)
        nn.init.zeros_(self.classifier.fc8.bias)

    def forward_scores(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.backbone(x)["out"])

    def layer_specs(self) -> list[rf.Layer]:
        fc6 = self.classifier.fc6
        return prefixed(self.backbone.layer_specs(), "backbone") + [
            rf.conv("classifier.fc6", kernel=fc6.kernel_size[0], dilation=fc6.dilation[0]),
            rf.conv("classifier.fc7", kernel=1), rf.conv("classifier.fc8", kernel=1)]
