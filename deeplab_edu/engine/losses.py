"""The training losses: pixel-wise cross-entropy, skipping label 255 ("void").

* ``downsampled_loss`` — v1/v2 (ICLR 2015 §3.1; TPAMI 2017 §4.1): the scores at the output stride
  against the labels subsampled to their grid (every 8th pixel of an 8·k+1 crop); cheap, but the
  thin parts of objects fall between the samples;
* ``upsampled_loss`` — v3 (§4.1): the scores bilinearly upsampled to the crop, against every label
  pixel ("we find it important to keep the groundtruths intact").

``training_loss`` adds v2's multi-scale terms (the loss "is the sum over the scales and the
fusion", §4.1) and v3's auxiliary ``layer3`` head (``aux_weight``, as torchvision trains it). An
all-void crop has loss 0 with zero gradient, not the NaN of a mean over no pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from deeplab_edu.datasets.palette import IGNORE_INDEX
from deeplab_edu.models.base import TrainingOutput

LOSSES = ("upsampled", "downsampled")


def subsample_labels(labels: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Labels on the score grid: every s-th pixel when the crop is s·k+1 (corners aligned),
    nearest-neighbour otherwise. Never interpolated: class indices cannot be averaged."""
    (H, W), (h, w) = labels.shape[-2:], tuple(size)
    if h > 1 and w > 1 and (H - 1) % (h - 1) == 0 and (W - 1) % (w - 1) == 0 \
            and (H - 1) // (h - 1) == (W - 1) // (w - 1):
        s = (H - 1) // (h - 1)
        return labels[..., ::s, ::s]
    return F.interpolate(labels[:, None].float(), size=(h, w), mode="nearest")[:, 0].long()


def _cross_entropy(scores: torch.Tensor, labels: torch.Tensor, ignore_index: int) -> torch.Tensor:
    if not bool((labels != ignore_index).any()):
        return scores.sum() * 0.0  # nothing to learn from an all-void crop; keeps the graph
    return F.cross_entropy(scores, labels, ignore_index=ignore_index)


def downsampled_loss(scores: torch.Tensor, labels: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """v1/v2: cross-entropy of the stride-s scores against labels subsampled to their grid."""
    return _cross_entropy(scores.float(), subsample_labels(labels, scores.shape[-2:]), ignore_index)


def upsampled_loss(scores: torch.Tensor, labels: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """v3: cross-entropy of the scores upsampled (bilinearly) to the labels' full resolution."""
    up = F.interpolate(scores.float(), size=labels.shape[-2:], mode="bilinear", align_corners=False)
    return _cross_entropy(up, labels, ignore_index)


def training_loss(output: TrainingOutput, labels: torch.Tensor, kind: str, aux_weight: float = 0.0) -> torch.Tensor:
    """The loss of one batch: Σ over the score maps (one, or every MSC scale and the fusion),
    plus ``aux_weight`` × the auxiliary head's loss when the model has one."""
    if kind not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {kind!r}")
    loss_fn = downsampled_loss if kind == "downsampled" else upsampled_loss
    loss = sum(loss_fn(s, labels) for s in output.score_maps())
    if output.aux is not None and aux_weight:
        loss = loss + aux_weight * loss_fn(output.aux, labels)
    return loss
