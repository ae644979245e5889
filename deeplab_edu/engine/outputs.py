"""What a model gives the training loss: any module that returns logits trains.

The engine asks a model for its training output in this order:

1. ``forward_all_scales(x)`` — v2's multi-scale wrapper: every scale's scores and their fusion;
2. ``forward_with_aux(x)`` with an auxiliary head built (v3's ``aux_classifier`` on ``layer3``):
   ``{"out", "aux"}`` logits;
3. ``forward_scores(x)`` — the coarse scores at the score stride (v1/v2 train on these);
4. ``model(x)`` — anything else that returns logits: CRF-as-RNN (``CRFRNNSegmenter``), whose
   output is the CRF's, or a user's model. A ``dict`` (``"out"``, optional ``"aux"``) or a
   ``(out, aux)`` tuple is read as logits plus auxiliary logits.

``TrainingScores`` wraps the model so that DistributedDataParallel's forward hooks see the call.
"""

from __future__ import annotations

import dataclasses

import torch


@dataclasses.dataclass
class TrainingOutput:
    """Score maps the loss sums over (one, or several for MSC) and optional auxiliary logits."""

    scores: list[torch.Tensor]
    aux: torch.Tensor | None = None


def as_training_output(value) -> TrainingOutput:
    """Read a model's return value: a tensor, ``{"out", "aux"}``, ``(out, aux)`` or ``TrainingOutput``."""
    if isinstance(value, TrainingOutput):
        return value
    if isinstance(value, torch.Tensor):
        if value.ndim == 5:  # stacked MSC scales
            return TrainingOutput(list(value.unbind(0)))
        return TrainingOutput([value])
    if isinstance(value, dict) and "out" in value:
        return TrainingOutput([value["out"]], value.get("aux"))
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, torch.Tensor) for v in value):
        return TrainingOutput([value[0]], value[1])
    raise TypeError(f"a model must return logits (a tensor), {{'out': ..., 'aux': ...}} or (out, aux) "
                    f"for training; got {type(value).__name__}")


def _defines(model: torch.nn.Module, method: str) -> bool:
    # Looked up on the class: a wrapper such as CRFRNNSegmenter forwards unknown attributes to
    # the model inside, whose score methods would skip the wrapper's own layers.
    return callable(getattr(type(model), method, None))


def training_forward(model: torch.nn.Module, images: torch.Tensor):
    """The model's training output (see the module docstring), as tensors DDP can follow."""
    if _defines(model, "forward_all_scales"):
        return torch.stack(model.forward_all_scales(images))
    if _defines(model, "forward_with_aux") and getattr(model, "aux_classifier", None) is not None:
        out = model.forward_with_aux(images)
        return out["out"], out["aux"]
    if _defines(model, "forward_scores"):
        return model.forward_scores(images)
    return model(images)


class TrainingScores(torch.nn.Module):
    """Makes ``forward`` return the training output, so DDP's forward hooks see the call."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor):
        return training_forward(self.model, images)


ScoresOnly = TrainingScores  # the old name (benchmarks/bench_train.py)
