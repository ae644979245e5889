"""Figures for the fully-connected CRF chapter: kernels, mean-field steps, before/after, trimap."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

from deeplab_edu.crf.energy import appearance_kernel, smoothness_kernel
from deeplab_edu.crf.params import CRFParams
from deeplab_edu.metrics import IGNORE_INDEX, trimap_band

# Label colours: black background, then distinct hues; "ignore" (255) is drawn white.
_COLOURS = ["#000000", "#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0",
            "#f032e6", "#bcf60c", "#fabebe", "#008080", "#e6beff", "#9a6324", "#fffac8", "#800000",
            "#aaffc3", "#808000", "#ffd8b1", "#000075", "#808080"]


def label_rgb(label: np.ndarray) -> np.ndarray:
    """An (H, W, 3) float image of a label map, one colour per class, white for ignore."""
    palette = np.array([plt.matplotlib.colors.to_rgb(c) for c in _COLOURS])
    label = np.asarray(label)
    out = palette[np.where(label == IGNORE_INDEX, 0, label) % len(palette)]
    out[label == IGNORE_INDEX] = 1.0
    return out


def _off(ax, title):
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_kernels(image: np.ndarray, params: CRFParams, pixel: tuple[int, int]) -> plt.Figure:
    """The image, and the appearance and smoothness affinities of every pixel to ``pixel``."""
    y, x = pixel
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))
    axes[0].imshow(image)
    _off(axes[0], f"image, chosen pixel {pixel}")
    maps = [(appearance_kernel(image, pixel, params.sigma_alpha, params.sigma_beta),
             f"appearance: σα={params.sigma_alpha:g}, σβ={params.sigma_beta:g}"),
            (smoothness_kernel(image.shape[:2], pixel, params.sigma_gamma),
             f"smoothness: σγ={params.sigma_gamma:g}")]
    for ax, (k, title) in zip(axes[1:], maps):
        im = ax.imshow(k, cmap="magma", vmin=0, vmax=1)
        _off(ax, title)
    for ax in axes:
        ax.plot(x, y, marker="+", color="cyan", markersize=12, mew=2)
    fig.colorbar(im, ax=axes[1:], shrink=0.8, label="k(i, j)")
    return fig


def plot_mean_field(steps: Sequence[tuple[int, np.ndarray, float]], show: Sequence[int] | None = None) -> plt.Figure:
    """Label maps argmax Q_t at a few iterations, and the objective F(Q_t) at every one."""
    show = list(show) if show is not None else sorted({0, 1, 2, len(steps) - 1})
    fig, axes = plt.subplots(1, len(show) + 1, figsize=(2.6 * (len(show) + 1), 2.8))
    for ax, t in zip(axes, show):
        ax.imshow(label_rgb(steps[t][1].argmax(0)), interpolation="nearest")
        _off(ax, f"argmax Q after {t} step{'s' * (t != 1)}")
    ts = [t for t, _, _ in steps]
    axes[-1].plot(ts, [f for _, _, f in steps], marker="o")
    axes[-1].set_xlabel("iteration t")
    axes[-1].set_title("F(Q) = KL(Q‖P) − log Z", fontsize=9)
    fig.tight_layout()
    return fig


def plot_refinement(image: np.ndarray, label: np.ndarray, before: np.ndarray, after: np.ndarray,
                    axes: Sequence[plt.Axes] | None = None) -> plt.Figure:
    """Image, truth, argmax of the coarse scores, argmax after the CRF (one row)."""
    if axes is None:
        fig, axes = plt.subplots(1, 4, figsize=(11, 3))
    fig = axes[0].figure
    panels = [(image, "image"), (label_rgb(label), "ground truth"),
              (label_rgb(np.asarray(before).argmax(0)), "coarse scores (argmax)"),
              (label_rgb(np.asarray(after).argmax(0)), "after the CRF")]
    for ax, (picture, title) in zip(axes, panels):
        ax.imshow(picture, interpolation="nearest")
        _off(ax, title)
    return fig


def plot_trimap(label: np.ndarray, widths: Sequence[int], curves: dict[str, dict[int, float]]) -> plt.Figure:
    """The band of the largest and smallest width on the labels, and accuracy against band width."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    shade = label_rgb(label) * 0.35
    shade[trimap_band(label, max(widths))] = (0.9, 0.9, 0.3)
    shade[trimap_band(label, min(widths))] = (1.0, 0.5, 0.0)
    axes[0].imshow(shade, interpolation="nearest")
    _off(axes[0], f"trimap bands: width {min(widths)} (orange), {max(widths)} (yellow)")
    for name, curve in curves.items():
        axes[1].plot(list(curve), list(curve.values()), marker="o", label=name)
    axes[1].set_xlabel("band width N (pixels each side of the boundary)")
    axes[1].set_ylabel("pixel accuracy inside the band")
    axes[1].legend()
    fig.tight_layout()
    return fig
