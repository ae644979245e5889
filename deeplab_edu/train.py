"""Training, the public face: ``TrainConfig``, ``train``, ``TrainResult`` and the other public names
of ``deeplab_edu.engine``, re-exported; the command line (``deeplab_edu.cli.train``) builds on it.
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
