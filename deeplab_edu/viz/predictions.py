"""What a trained network predicts: image | truth | network | network + CRF, with a legend."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from deeplab_edu.datasets.palette import IGNORE_INDEX, colorize
from deeplab_edu.viz.datasets import legend


def _check_maps(image: np.ndarray, maps: Mapping[str, np.ndarray], index: int) -> None:
    for name, m in maps.items():
        if np.asarray(m).shape != image.shape[:2]:
            raise ValueError(f"image {index}: {name!r} has shape {np.asarray(m).shape}, "
                             f"expected the image's {image.shape[:2]}")


def plot_predictions(images: Sequence[np.ndarray], columns: Mapping[str, Sequence[np.ndarray]],
                     class_names: Sequence[str], title: str = "") -> plt.Figure:
    """One row per image: the image, then one label map per entry of ``columns``
    (e.g. ``{"truth": ..., "network": ..., "network + CRF": ...}``), in VOC colours, with a
    legend of the classes that appear (255 = ignore drawn as VOC does)."""
    if not images:
        raise ValueError("images is empty: pass at least one (H, W, 3) uint8 image")
    for name, maps in columns.items():
        if len(maps) != len(images):
            raise ValueError(f"column {name!r} has {len(maps)} maps for {len(images)} images")
    rows, cols = len(images), 1 + len(columns)
    figure, axes = plt.subplots(rows, cols, figsize=(2.3 * cols + 1.6, 2.3 * rows), squeeze=False)
    present: set[int] = set()
    for i, image in enumerate(images):
        _check_maps(image, {n: m[i] for n, m in columns.items()}, i)
        axes[i, 0].imshow(image)
        for j, (name, maps) in enumerate(columns.items(), start=1):
            m = np.asarray(maps[i])
            present |= set(np.unique(m).tolist())
            axes[i, j].imshow(colorize(m.astype(np.uint8)), interpolation="nearest")
        for j, name in enumerate(["image", *columns], start=0):
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
            if i == 0:
                axes[i, j].set_title(name, fontsize=10)
    legend(axes[0, -1], class_names, present=sorted(present), ignore=IGNORE_INDEX in present)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure
