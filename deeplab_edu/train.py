"""Training, the public face: ``TrainConfig``, ``train``, ``TrainResult``.

The engine lives in ``deeplab_edu.engine``, one idea per file: the config and its recipe
(``engine.config``), the starting weights (``engine.pretrained``), the losses
(``engine.losses``), what a model returns in training (``engine.outputs``), the reproducible
sampler (``engine.sampling``), the run directory's resume rule (``engine.run_dir``), the CSV log
(``engine.log``), the clean stop on a signal (``engine.stop``) and the loop (``engine.loop``).
The command line (``deeplab_edu.cli.train``) builds on this face; this module re-exports the
engine's public names only.
"""

from __future__ import annotations

from deeplab_edu.engine.config import BATCHNORM, EXECUTION_FIELDS, LOSSES, SCHEDULES, TrainConfig
from deeplab_edu.engine.log import LOG_FIELDS
from deeplab_edu.engine.losses import downsampled_loss, subsample_labels, training_loss, upsampled_loss
from deeplab_edu.engine.loop import (TrainResult, batch_loss, finite_weights, forward_backward, open_dataset,
                                     train)
from deeplab_edu.engine.outputs import TrainingScores
from deeplab_edu.engine.pretrained import default_pretrained
from deeplab_edu.engine.sampling import DrawSampler, SeededAugmentation
from deeplab_edu.models.base import TrainingOutput

__all__ = ["BATCHNORM", "DrawSampler", "EXECUTION_FIELDS", "LOG_FIELDS", "LOSSES", "SCHEDULES",
           "SeededAugmentation", "TrainConfig", "TrainResult", "TrainingOutput", "TrainingScores", "batch_loss",
           "default_pretrained", "downsampled_loss", "finite_weights", "forward_backward", "open_dataset",
           "subsample_labels", "train", "training_loss", "upsampled_loss"]
