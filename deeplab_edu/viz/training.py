"""Training curves from the CSV log that ``train.train`` writes (``<out>/log.csv``)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
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


def smooth(values: np.ndarray, weight: float = 0.9) -> np.ndarray:
    """Exponential moving average with bias correction (as TensorBoard smooths a curve):
    s_t = w·s_{t−1} + (1 − w)·x_t, divided by 1 − w^t so the start is not pulled to 0."""
    if not 0 <= weight < 1:
        raise ValueError(f"weight must lie in [0, 1), got {weight!r}")
    values = np.asarray(values, dtype=float)
    out, running = np.empty_like(values), 0.0
    for t, x in enumerate(values, start=1):
        running = weight * running + (1 - weight) * x
        out[t - 1] = running / (1 - weight ** t)
    return out


def plot_training_curves(logs: dict[str, dict[str, np.ndarray] | str | Path], title: str = "",
                         validation: dict[str, tuple[Sequence[int], Sequence[float]]] | None = None,
                         smoothing: float = 0.8) -> plt.Figure:
    """Loss (smoothed over the faint raw curve) against the step, a colour per run; ``validation``
    (``{name: (steps, mious)}``) on a right axis; the backbone's learning rate a panel only where
    the runs' schedules differ."""
    from matplotlib.lines import Line2D

    logs = {name: read_log(log) if isinstance(log, (str, Path)) else log for name, log in logs.items()}
    schedules = [(np.asarray(log["step"]), np.asarray(log["lr_backbone"])) for log in logs.values()]
    shared = all(len(s) == len(schedules[0][0]) and np.array_equal(s, schedules[0][0])
                 and np.allclose(lr, schedules[0][1]) for s, lr in schedules)
    if shared:
        figure, ax_loss = plt.subplots(1, 1, figsize=(10.5, 3.6))
        ax_lr = None
    else:
        figure, (ax_loss, ax_lr) = plt.subplots(1, 2, figsize=(10.5, 3.6))
    ax_val = ax_loss.twinx() if validation else None
    for k, (name, log) in enumerate(logs.items()):
        colour = f"C{k}"
        ax_loss.plot(log["step"], log["loss"], color=colour, alpha=0.25, linewidth=0.8)
        ax_loss.plot(log["step"], smooth(log["loss"], smoothing), color=colour)
        if ax_lr is not None:
            ax_lr.plot(log["step"], log["lr_backbone"], color=colour, label=name)
        if ax_val is not None and name in validation:
            steps, mious = validation[name]
            ax_val.plot(steps, mious, color=colour, marker="o", linestyle="--")
    ax_loss.set(xlabel="iteration", ylabel="training loss (cross-entropy)", title="loss (faint: raw)")
    ax_loss.set_ylim(bottom=0)
    styles = [Line2D([], [], color="grey", label="training loss, smoothed"),
              Line2D([], [], color="grey", alpha=0.35, linewidth=0.8, label="training loss, raw")]
    if ax_val is not None:
        ax_val.set(ylabel="validation mIoU", ylim=(0, 1))
        styles.append(Line2D([], [], color="grey", marker="o", linestyle="--", label="validation mIoU"))
    if ax_lr is None:  # the runs' colours join the one legend, beside the axes (off the curves and dots)
        styles += [Line2D([], [], color=f"C{k}", label=name) for k, name in enumerate(logs)]
        ax_loss.set_title("loss (faint: raw); every run on the same schedule")
        ax_loss.legend(handles=styles, fontsize=8, loc="upper left", bbox_to_anchor=(1.12 if ax_val else 1.02, 1.0))
    else:
        ax_loss.legend(handles=styles, fontsize=8, loc="upper right")
        ax_lr.set(xlabel="iteration", ylabel="learning rate (backbone)", title="schedule; colours name the runs")
        ax_lr.legend(fontsize=8)
        ax_lr.grid(alpha=0.3)
    ax_loss.grid(alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()
    return figure
