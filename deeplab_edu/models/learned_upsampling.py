"""FCN's learned upsampling, to set beside DeepLab's fixed bilinear one.

FCN (Long, Shelhamer & Darrell, CVPR 2015, §3.3) brings its coarse class scores to the image
with a transposed convolution ("deconvolution") of stride s, *initialised* to bilinear
interpolation and then learned. DeepLab v1 (ICLR 2015, §3.1) keeps the interpolation fixed: its
stride-8 scores are smooth enough that learning it buys nothing. ``LearnedUpsampling`` wraps any
model with FCN's layer, to test the claim.

The layer is a C → C transposed convolution with kernel 2s, stride s and padding s/2 starting as
``bilinear_kernel``: class c to class c only, with the tent weights (1 − |x|/s)·(1 − |y|/s):
exactly bilinear interpolation with ``align_corners=False`` away from the border (tested). All its
C²·(2s)² weights are trained. Its output is at stride 1, so train it with ``loss="upsampled"``.
"""

from __future__ import annotations

import torch
from torch import nn

from deeplab_edu.models.base import ModelWrapper, SegmentationModel, upsample


def bilinear_kernel(channels: int, stride: int) -> torch.Tensor:
    """(channels, channels, 2s, 2s) weights of a transposed convolution that interpolates each
    channel bilinearly by ``stride`` (FCN's ``bilinear`` filler, one channel to itself)."""
    if stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride!r}")
    size = 2 * stride
    # Tap k lies (k + 0.5 − s)/s coarse cells from the cell's centre; the weight falls linearly to 0 one cell away.
    offsets = (torch.arange(size, dtype=torch.float64) + 0.5 - stride) / stride
    tent = (1 - offsets.abs()).clamp_min(0)
    weights = torch.zeros(channels, channels, size, size, dtype=torch.float64)
    weights[range(channels), range(channels)] = torch.outer(tent, tent)
    return weights.float()


class LearnedUpsampling(ModelWrapper):
    """``model``'s scores upsampled by a learned transposed convolution (FCN), not by bilinear."""

    def __init__(self, model: SegmentationModel) -> None:
        stride = model.score_stride
        if stride % 2 and stride != 1:
            raise ValueError(f"the score stride must be even (or 1) for a centred kernel, got {stride}")
        super().__init__(model)
        self.score_stride = 1
        self.deconvolution = nn.ConvTranspose2d(model.num_classes, model.num_classes, 2 * stride, stride=stride,
                                                padding=stride // 2, bias=False)
        with torch.no_grad():
            self.deconvolution.weight.copy_(bilinear_kernel(model.num_classes, stride))

    def forward_scores(self, x: torch.Tensor) -> torch.Tensor:
        # The transposed convolution gives s·h × s·w; an input that is not a multiple of s (a crop
        # of s·k + 1) is then matched the way the bilinear model matches it, by resizing.
        scores = self.deconvolution(self.base.forward_scores(x))
        return scores if scores.shape[-2:] == x.shape[-2:] else upsample(scores, x.shape[-2:])
