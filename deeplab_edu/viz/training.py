"""Training curves from the CSV log that ``train.train`` writes (``<out>/log.csv``)."""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from deeplab_edu.engine.log import LOG_FIELDS


def read_log(path: str | Path) -> dict[str, np.ndarray]:
    """The log's columns as float arrays: step, loss, lr_backbone, lr_head, images_per_s, elapsed_s."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"training log {path} does not exist; train with out_dir= first")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = set(LOG_FIELDS) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"training log {path} lacks the columns {sorted(missing)}; expected {LOG_FIELDS}")
        rows = list(reader)
    return {k: np.array([float(r[k]) for r in rows]) for k in LOG_FIELDS}


def plot_training_curves(logs: dict[str, dict[str, np.ndarray] | str | Path], title: str = "") -> plt.Figure:
    """Loss (left) and the backbone's learning rate (right) against the step, one line per run."""
    figure, (ax_loss, ax_lr) = plt.subplots(1, 2, figsize=(10, 3.4))
    for name, log in logs.items():
        log = read_log(log) if isinstance(log, (str, Path)) else log
        ax_loss.plot(log["step"], log["loss"], marker="." if len(log["step"]) < 20 else None, label=name)
        ax_lr.plot(log["step"], log["lr_backbone"], label=name)
    ax_loss.set(xlabel="iteration", ylabel="training loss (cross-entropy)", title="loss")
    ax_lr.set(xlabel="iteration", ylabel="learning rate (backbone; head ×10)", title="schedule")
    for ax in (ax_loss, ax_lr):
        ax.grid(alpha=0.3)
        ax.legend()
    figure.suptitle(title)
    figure.tight_layout()
    return figure
