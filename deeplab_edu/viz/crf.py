"""Figures for the fully-connected CRF chapter: kernels, mean-field steps, before/after, trimap."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from deeplab_edu.crf.energy import appearance_kernel, smoothness_kernel
from deeplab_edu.crf.params import CRFParams
from deeplab_edu.datasets.palette import colorize
from deeplab_edu.metrics import IGNORE_INDEX, trimap_band
from deeplab_edu.viz import off


def label_rgb(label: np.ndarray) -> np.ndarray:
    """An (H, W, 3) float image in [0, 1] of a label map in the book's one class palette (VOC's,
    ``datasets.palette.colorize``: ignore, 255, is cream), so a class looks the same in every chapter."""
    return colorize(np.asarray(label)).astype(np.float64) / 255


def label_legend(ax, class_names: Sequence[str], present: Sequence[int], **where) -> None:
    """A legend of :func:`label_rgb`'s colours for the ``present`` classes, right of ``ax`` (or ``where``)."""
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=label_rgb(np.array([[c]]))[0, 0], edgecolor="grey", label=f"{c} {class_names[c]}")
               for c in sorted(set(int(c) for c in present) - {IGNORE_INDEX})]
    where = where or {"loc": "center left", "bbox_to_anchor": (1.02, 0.5)}
    ax.legend(handles=handles, fontsize=8, frameon=False, **where)


def plot_kernels(image: np.ndarray, params: CRFParams, pixel: tuple[int, int]) -> plt.Figure:
    """The image, and the appearance and smoothness affinities of every pixel to ``pixel``."""
    y, x = pixel
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))
    axes[0].imshow(image)
    off(axes[0], f"image, chosen pixel {pixel}")
    maps = [(appearance_kernel(image, pixel, params.sigma_alpha, params.sigma_beta),
             f"appearance: σα={params.sigma_alpha:g}, σβ={params.sigma_beta:g}"),
            (smoothness_kernel(image.shape[:2], pixel, params.sigma_gamma),
             f"smoothness: σγ={params.sigma_gamma:g}")]
    for ax, (k, title) in zip(axes[1:], maps):
        im = ax.imshow(k, cmap="magma", vmin=0, vmax=1)
        off(ax, title)
    for ax in axes:
        ax.plot(x, y, marker="+", color="cyan", markersize=12, mew=2)
    fig.colorbar(im, ax=axes[1:], shrink=0.8, label="k(i, j)")
    return fig


def plot_mean_field(steps: Sequence[tuple[int, np.ndarray, float]], show: Sequence[int] | None = None,
                    image: np.ndarray | None = None, class_names: Sequence[str] | None = None) -> plt.Figure:
    """Mean-field step by step: ``image``, then argmax Q_t at the steps in ``show`` (top) and how
    sure Q_t is, max_l Q_t(l), the band along the boundaries narrowing (bottom); right, F(Q_t)."""
    show = list(show) if show is not None else sorted({0, 1, 2, len(steps) - 1})
    lead = 1 if image is not None else 0
    columns = lead + len(show) + 1
    fig = plt.figure(figsize=(2.4 * columns + 0.6, 5.0))
    grid = fig.add_gridspec(2, columns, width_ratios=[1] * (columns - 1) + [1.3])
    if image is not None:
        ax = fig.add_subplot(grid[0, 0])
        ax.imshow(image)
        off(ax, "image")
    present: set[int] = set()
    for k, t in enumerate(show):
        q = steps[t][1]
        labels = q.argmax(0)
        present |= set(np.unique(labels).tolist())
        top = fig.add_subplot(grid[0, lead + k])
        top.imshow(label_rgb(labels), interpolation="nearest")
        off(top, f"argmax Q after {t} step{'s' * (t != 1)}")
        bottom = fig.add_subplot(grid[1, lead + k])
        sure = bottom.imshow(q.max(0), cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        off(bottom, f"max_l Q(l) after {t}")
    # The colour bar hangs beside the last sureness panel, so the panels keep their size.
    fig.colorbar(sure, cax=bottom.inset_axes([1.06, 0.0, 0.08, 1.0]), label="how sure: max_l Q(l)")
    if class_names:
        if image is not None:  # the free cell under the image holds the legend
            holder = fig.add_subplot(grid[1, 0])
            holder.axis("off")
            label_legend(holder, class_names, present, loc="center")
        else:
            label_legend(top, class_names, sorted(present))
    curve = fig.add_subplot(grid[:, -1])
    ts = [t for t, _, _ in steps]
    curve.plot(ts, [f for _, _, f in steps], marker="o")
    curve.set_xlabel("iteration t")
    curve.set_title("F(Q) = KL(Q‖P) − log Z", fontsize=9)
    fig.tight_layout()
    return fig


def plot_refinement(image: np.ndarray, label: np.ndarray, before: np.ndarray, after: np.ndarray | None = None,
                    axes: Sequence[plt.Axes] | None = None, class_names: Sequence[str] | None = None) -> plt.Figure:
    """Image, truth, argmax of the coarse scores, and (if ``after`` is given) argmax after the CRF,
    in one row; with ``class_names``, a legend of the classes shown, right of the last panel."""
    panels = [(image, "image"), (label_rgb(label), "ground truth"),
              (label_rgb(np.asarray(before).argmax(0)), "network: coarse scores (argmax)")]
    if after is not None:
        panels.append((label_rgb(np.asarray(after).argmax(0)), "after the CRF (argmax)"))
    if axes is None:
        fig, axes = plt.subplots(1, len(panels), figsize=(2.75 * len(panels) + (1.4 if class_names else 0), 3))
    fig = axes[0].figure
    for ax, (picture, title) in zip(axes, panels):
        ax.imshow(picture, interpolation="nearest")
        off(ax, title)
    if class_names:
        present = set(np.unique(label).tolist()) | set(np.unique(np.asarray(before).argmax(0)).tolist())
        if after is not None:
            present |= set(np.unique(np.asarray(after).argmax(0)).tolist())
        label_legend(axes[len(panels) - 1], class_names, sorted(present))
    return fig


def plot_trimap(label: np.ndarray, widths: Sequence[int], curves: dict[str, dict[int, float]]) -> plt.Figure:
    """The band of the largest and smallest width on the labels, and accuracy against band width."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    shade = label_rgb(label) * 0.35
    shade[trimap_band(label, max(widths))] = (0.9, 0.9, 0.3)
    shade[trimap_band(label, min(widths))] = (1.0, 0.5, 0.0)
    axes[0].imshow(shade, interpolation="nearest")
    off(axes[0], f"trimap bands: width {min(widths)} (orange), {max(widths)} (yellow)")
    for name, curve in curves.items():
        axes[1].plot(list(curve), list(curve.values()), marker="o", label=name)
    axes[1].set_xlabel("band width N (pixels each side of the boundary)")
    axes[1].set_ylabel("pixel accuracy inside the band")
    axes[1].legend()
    fig.tight_layout()
    return fig
