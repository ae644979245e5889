"""Multi-scale inputs with max fusion (DeepLab v2, TPAMI 2017, §3.2 and §4.1 "MSC").

The same network (shared weights) runs on the image at scales s ∈ {1, 0.75, 0.5}; each
score map is bilinearly resized to the scale-1 score map's size, and the maps are fused by
taking, at every position and class, the **maximum** over scales:

    f(x) = max_s  resize( f_θ( resize(x, s) ) ).

During training the paper applies the loss to every scale's output and to the fused one;
``training_outputs`` returns them all. ``check_scales`` is the one rule for input scales, here and
at inference (``engine.inference``, ``--scales``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from deeplab_edu.models.base import ModelWrapper, SegmentationModel, TrainingOutput, upsample

V2_SCALES = (1.0, 0.75, 0.5)
# The papers use 0.5 … 2; far outside, an image shrinks to a few pixels or grows past any GPU's memory.
SCALE_RANGE = (0.25, 4.0)


def check_scales(scales: Sequence[float]) -> tuple[float, ...]:
    """The scales as floats, each in ``SCALE_RANGE``; ``ValueError`` naming the bad one otherwise."""
    try:
        scales = tuple(float(s) for s in scales)
    except (TypeError, ValueError) as err:
        raise ValueError(f"scales must be numbers, got {scales!r}") from err
    low, high = SCALE_RANGE
    if not scales or any(not low <= s <= high for s in scales):
        raise ValueError(f"scales must be a non-empty sequence of numbers in [{low:g}, {high:g}], got {scales!r}")
    return scales


class MultiScale(ModelWrapper):
    """Wrap ``model``; its scores at several input scales are fused by a per-pixel maximum."""

    def __init__(self, model: SegmentationModel, scales: Sequence[float] = V2_SCALES) -> None:
        super().__init__(model)
        self.scales = check_scales(scales)

    def forward_all_scales(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Score maps of every scale, resized to the first scale's, followed by their maximum."""
        outputs = []
        for scale in self.scales:
            scaled = x if scale == 1.0 else F.interpolate(x, scale_factor=scale, mode="bilinear",
                                                         align_corners=False)
            scores = self.base.forward_scores(scaled)
            outputs.append(scores if not outputs else upsample(scores, outputs[0].shape[-2:]))
        return outputs + [torch.stack(outputs).amax(dim=0)]

    def forward_scores(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_all_scales(x)[-1]

    def training_outputs(self, x: torch.Tensor) -> TrainingOutput:
        """The fusion as ``out``, every scale's scores as ``scales`` (v2 §4.1: the loss sums them all)."""
        *per_scale, fused = self.forward_all_scales(x)
        return TrainingOutput(fused, scales=per_scale)

    def receptive_field(self) -> int:
        """The base model's field; at scale s a score sees 1/s as many original pixels."""
        return self.base.receptive_field()
