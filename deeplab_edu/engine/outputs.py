"""What the engine asks a model in training: ``model.training_outputs(x)`` (``models.base``), nothing
else. ``TrainingScores`` makes it a ``forward``, so DDP's gradient hooks and ``torch.compile`` see it.
"""

from __future__ import annotations

import torch

from deeplab_edu.models.base import TrainingOutput


class TrainingScores(torch.nn.Module):
    """``forward(images)`` is ``model.training_outputs(images)``."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        if not callable(getattr(model, "training_outputs", None)):
            raise TypeError(f"{type(model).__name__} has no training_outputs(x): the engine trains models that "
                            "meet deeplab_edu.models.base's contract (subclass SegmentationModel)")
        self.model = model

    def forward(self, images: torch.Tensor) -> TrainingOutput:
        return self.model.training_outputs(images)
