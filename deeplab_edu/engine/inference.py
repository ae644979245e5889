"""Whole-image inference, as the papers score: padded at the bottom/right to output_stride·k + 1 (the
mean colour, 0 after normalisation) so the image's and the score map's corners align, and cropped
back (a centre crop would drop pixels the benchmark counts); multi-scale + flip (v2 §4.1 "MSC",
v3 §4.3, v3+ §4) averages the softmax over scales and mirrored images.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from deeplab_edu import validate
from deeplab_edu.models.multiscale import check_scales


def pad_to_stride(images: torch.Tensor, output_stride: int) -> torch.Tensor:
    """Pad (N, 3, H, W) at the bottom and right to output_stride·k + 1 in each dimension."""
    validate.integer(output_stride, "output_stride", minimum=1)
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, 3, H, W), got {tuple(images.shape)}")
    H, W = images.shape[-2:]
    Hp = math.ceil((H - 1) / output_stride) * output_stride + 1
    Wp = math.ceil((W - 1) / output_stride) * output_stride + 1
    return F.pad(images, (0, Wp - W, 0, Hp - H), value=0.0)


@torch.no_grad()
def predict_probs(model: torch.nn.Module, images: torch.Tensor, scales: Sequence[float] = (1.0,),
                  flip: bool = False) -> torch.Tensor:
    """Class probabilities (N, C, H, W) of whole padded images, averaged over ``scales`` and flips."""
    scales = check_scales(scales)
    if images.ndim != 4 or images.shape[-1] < 1 or images.shape[-2] < 1:
        raise ValueError(f"images must be (N, 3, H, W) with H, W >= 1, got {tuple(images.shape)}")
    H, W = images.shape[-2:]
    stride = getattr(model, "output_stride", 8)
    total, count = None, 0
    for s in scales:
        x = images if s == 1.0 else F.interpolate(images, scale_factor=s, mode="bilinear", align_corners=False)
        h, w = x.shape[-2:]
        for mirrored in ((False, True) if flip else (False,)):
            xi = x.flip(-1) if mirrored else x
            logits = model(pad_to_stride(xi, stride))[..., :h, :w].float()
            if mirrored:
                logits = logits.flip(-1)
            if (h, w) != (H, W):
                logits = F.interpolate(logits, size=(H, W), mode="bilinear", align_corners=False)
            probs = logits.softmax(1)
            total = probs if total is None else total + probs
            count += 1
    return total / count

