"""Figures for invariance against localisation (chapter 03): score maps of a shifted object at two strides."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from deeplab_edu.localisation import ShiftStudy, place_object


def plot_shift_study(study: ShiftStudy, image: np.ndarray, show: Sequence[int], canvas: int,
                     class_name: str = "") -> Figure:
    """A column per shift in ``show``: the input, then the class score map at each output stride over
    the input's extent, peak cell in red, the object's centre dashed; last, each shift's peak
    displacement against the object's shift (the diagonal: perfect localisation)."""
    strides = list(study.maps)
    rows = 1 + len(strides)
    figure = plt.figure(figsize=(2.1 * len(show) + 4.2, 2.0 * rows + 0.4))
    grid = figure.add_gridspec(rows, len(show) + 2, width_ratios=[1] * len(show) + [0.08, 2.0])
    low = {s: float(study.maps[s].min()) for s in strides}
    high = {s: float(study.maps[s].max()) for s in strides}
    for column, shift in enumerate(show):
        index = int(np.flatnonzero(study.shifts == shift)[0])
        ax = figure.add_subplot(grid[0, column])
        ax.imshow(place_object(image, canvas, shift))
        ax.set_title(f"shift {shift} px", fontsize=9)
        centre = canvas / 2 + shift  # place_object centres the image, then moves it by shift
        for row, stride in enumerate(strides, start=1):
            ax = figure.add_subplot(grid[row, column])
            score = study.maps[stride][index]
            # extent: each cell drawn over the s × s input pixels it stands for.
            im = ax.imshow(score, cmap="viridis", vmin=low[stride], vmax=high[stride], interpolation="nearest",
                           extent=(0, stride * score.shape[1], stride * score.shape[0], 0))
            peak = study.peaks[stride][index]
            top = stride * np.unravel_index(int(np.argmax(score)), score.shape)[0]
            ax.add_patch(plt.Rectangle((peak - (stride - 1) / 2, top), stride, stride, fill=False,
                                       ec="red", lw=1.5))
            ax.axvline(centre, color="white", ls="--", lw=0.8)
            if column == 0:
                ax.set_ylabel(f"output stride {stride}\n{score.shape[0]}×{score.shape[1]} map", fontsize=9)
            if column == len(show) - 1:
                figure.colorbar(im, cax=figure.add_subplot(grid[row, len(show)]), label="class score")
    for ax in figure.axes:
        if ax.get_label() != "<colorbar>":
            ax.set_xticks([])
            ax.set_yticks([])
    curve = figure.add_subplot(grid[:, -1])
    moved = study.shifts - study.shifts[0]
    curve.plot(moved, moved, color="grey", ls="--", lw=1, label="the object's shift")
    for stride in strides:
        curve.plot(moved, study.displacement(stride), marker="o", drawstyle="steps-mid",
                   label=f"peak, output stride {stride}")
    curve.set_xlabel("object shift (input px)")
    curve.set_ylabel("peak displacement (input px)")
    curve.set_title(f"where the {class_name + ' ' if class_name else ''}score peaks", fontsize=9)
    curve.legend(fontsize=8)
    figure.suptitle("red square: the highest-scoring cell; dashed line: the centre of the object image",
                    fontsize=9)
    figure.tight_layout()
    return figure
