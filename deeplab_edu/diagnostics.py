"""Checks for a training run that does not learn, each isolating one suspect.

1. ``overfit_one_batch`` — the code: a correct forward pass, loss and backward pass drive one
   fixed batch's loss towards zero within a few hundred steps.
2. ``linear_probe`` — what the network can see: a 1×1 convolution trained per pixel on the frozen
   backbone's features says how much of each class is readable from them at all.
3. ``lr_range_test`` — the optimiser (Smith 2017, "Cyclical learning rates", §3.3): the rate rises
   geometrically, one step each; the useful rates lie below where the loss turns upward.
4. ``gradient_norm`` — one batch's gradient per parameter group: shows when a layer on top
   (CRF-as-RNN's unrolled mean-field) multiplies the gradient that reaches the network.

Every check starts from a copy, so the model passed in is left as it was.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from deeplab_edu.engine.losses import upsampled_loss
from deeplab_edu.engine.loop import batch_loss
from deeplab_edu.engine.outputs import TrainingScores
from deeplab_edu.metrics import ConfusionMatrix
from deeplab_edu.schedules import make_optimizer


def _sgd_step(model: torch.nn.Module, optimizer, images: torch.Tensor, labels: torch.Tensor, loss: str) -> float:
    """One SGD step on the batch's loss, returned; no step where the loss is not finite."""
    optimizer.zero_grad(set_to_none=True)
    value = batch_loss(TrainingScores(model), images, labels, loss)
    if torch.isfinite(value):
        value.backward()
        optimizer.step()
    return value.item()


def overfit_one_batch(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, steps: int = 100,
                      lr: float = 0.01, loss: str = "upsampled", head_lr_mult: float = 10.0) -> list[float]:
    """The training loss of ``steps`` SGD steps on one fixed batch (the book's two-group SGD)."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    model = copy.deepcopy(model).train()
    optimizer = make_optimizer(model, lr, head_lr_mult=head_lr_mult)
    return [_sgd_step(model, optimizer, images, labels, loss) for _ in range(steps)]


def gradient_norm(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor,
                  loss: str = "upsampled") -> dict[str, float]:
    """The L2 norm of one batch's loss gradient, per group of ``model.parameter_groups()``
    (backbone, head and, for CRF-as-RNN, crf) and over all parameters (``"all"``), in train mode."""
    model = copy.deepcopy(model).train()
    batch_loss(TrainingScores(model), images, labels, loss).backward()
    groups = model.parameter_groups() if hasattr(model, "parameter_groups") else {"all": list(model.parameters())}
    groups = {**groups, "all": list(model.parameters())}
    return {name: math.sqrt(sum(float(p.grad.pow(2).sum()) for p in params if p.grad is not None))
            for name, params in groups.items()}


@dataclass
class ProbeResult:
    """``linear_probe``'s answer: validation mIoU and per-class IoU of a 1×1 classifier."""

    miou: float
    per_class_iou: np.ndarray
    feature_channels: int
    losses: list[float]


@torch.no_grad()
def _features(backbone: torch.nn.Module, images: Iterable[torch.Tensor]) -> list[torch.Tensor]:
    backbone.eval()
    return [backbone(x[None])["out"][0] for x in images]


def linear_probe(backbone: torch.nn.Module, train_set, val_set, num_classes: int, steps: int = 300,
                 lr: float = 0.05, max_images: int = 64) -> ProbeResult:
    """Validation mIoU of a per-pixel linear classifier on the frozen ``backbone``'s features.

    A 1×1 convolution on ``backbone(x)["out"]`` is fitted with Adam on ``max_images`` whole
    training images (the upsampled loss) and scored on ``val_set`` with one confusion matrix.
    """
    backbone = copy.deepcopy(backbone)
    train_items = [train_set[i] for i in range(min(max_images, len(train_set)))]
    feats = _features(backbone, (x for x, _ in train_items))
    labels = [y for _, y in train_items]
    channels = feats[0].shape[0]
    probe = torch.nn.Conv2d(channels, num_classes, 1)
    optimizer = torch.optim.Adam(probe.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(steps):
        pick = torch.randint(len(feats), (8,), generator=generator).tolist()
        loss = sum(upsampled_loss(probe(feats[i][None]), labels[i][None]) for i in pick) / len(pick)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    confusion = ConfusionMatrix(num_classes)
    with torch.no_grad():
        for (x, y), f in zip(val_set, _features(backbone, (x for x, _ in val_set))):
            scores = F.interpolate(probe(f[None]), size=y.shape[-2:], mode="bilinear", align_corners=False)
            confusion.update(scores.argmax(1)[0].numpy(), y.numpy())
    return ProbeResult(confusion.miou(), confusion.per_class_iou(), channels, losses)


def lr_range_test(model: torch.nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
                  lrs: Sequence[float], loss: str = "upsampled", head_lr_mult: float = 10.0) -> list[float]:
    """The loss of one SGD step at each rate of ``lrs`` in turn (rising), from a copy of ``model``;
    ``nan`` from the first rate whose loss is not finite."""
    if len(lrs) < 2 or any(not b > a for a, b in zip(lrs, lrs[1:])) or not lrs[0] > 0:
        raise ValueError(f"lrs must be positive and rising, got {list(lrs)}")
    model = copy.deepcopy(model).train()
    optimizer = make_optimizer(model, lrs[0], head_lr_mult=head_lr_mult)
    losses: list[float] = []
    for lr, (images, labels) in zip(lrs, batches):
        for group in optimizer.param_groups:
            group["lr"] = lr * (head_lr_mult if group["name"] == "head" else 1.0)
        value = _sgd_step(model, optimizer, images, labels, loss)
        if not math.isfinite(value):
            break
        losses.append(value)
    if len(losses) < 2:
        raise ValueError("lr_range_test needs at least two batches with a finite loss")
    return losses + [math.nan] * (len(lrs) - len(losses))


def geometric_rates(low: float, high: float, steps: int) -> list[float]:
    """``steps`` rates from ``low`` to ``high``, evenly spaced on a log scale."""
    return np.geomspace(low, high, steps).tolist()


__all__ = ["ProbeResult", "geometric_rates", "linear_probe", "lr_range_test", "overfit_one_batch"]
