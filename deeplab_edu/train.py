"""Training, the public face: ``TrainConfig``, ``train``, ``TrainResult``.

The engine lives in ``deeplab_edu.engine``, one idea per file: the config and its recipe
(``engine.config``), the starting weights (``engine.pretrained``), the losses
(``engine.losses``), what a model returns in training (``engine.outputs``), the reproducible
sampler (``engine.sampling``), the run directory's resume rule (``engine.run_dir``), the CSV log
(``engine.log``), the clean stop on a signal (``engine.stop``) and the loop (``engine.loop``).
The command line is ``deeplab_edu.cli.train``. This module re-exports their public names.
"""

from __future__ import annotations

from deeplab_edu.cli.train import add_arguments, config_from_args, run
from deeplab_edu.engine.config import BATCHNORM, EXECUTION_FIELDS, LOSSES, SCHEDULES, TrainConfig
from deeplab_edu.engine.log import LOG_FIELDS
from deeplab_edu.engine.losses import downsampled_loss, subsample_labels, training_loss, upsampled_loss
from deeplab_edu.engine.loop import (TrainResult, batch_loss, finite_weights, forward_backward, open_dataset,
                                     train)
from deeplab_edu.engine.outputs import ScoresOnly, TrainingOutput, TrainingScores
from deeplab_edu.engine.pretrained import default_pretrained
from deeplab_edu.engine.sampling import DrawSampler, SeededAugmentation

__all__ = ["BATCHNORM", "DrawSampler", "EXECUTION_FIELDS", "LOG_FIELDS", "LOSSES", "SCHEDULES", "ScoresOnly",
           "SeededAugmentation", "TrainConfig", "TrainResult", "TrainingOutput", "TrainingScores",
           "add_arguments", "batch_loss", "config_from_args", "default_pretrained", "downsampled_loss",
           "finite_weights", "forward_backward", "open_dataset", "run", "subsample_labels", "train",
           "training_loss", "upsampled_loss"]
