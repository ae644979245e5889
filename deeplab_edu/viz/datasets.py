"""Figures for the datasets chapter: label files, example scenes, statistics, augmentations."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Patch, Rectangle

from deeplab_edu.datasets.palette import IGNORE_INDEX, VOC_PALETTE, colorize
from deeplab_edu.datasets.transforms import denormalize
from deeplab_edu.viz import off


def legend(ax, class_names: Sequence[str], present: Sequence[int] | None = None, ignore: bool = True) -> None:
    """A legend of VOC colours for ``class_names`` (only ``present`` ones if given), and 255."""
    idx = list(range(len(class_names))) if present is None else sorted(set(present) - {IGNORE_INDEX})
    handles = [Patch(color=VOC_PALETTE[i] / 255, label=f"{i} {class_names[i]}") for i in idx]
    if ignore:
        handles.append(Patch(color=VOC_PALETTE[IGNORE_INDEX] / 255, label=f"{IGNORE_INDEX} ignore"))
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)


def plot_label_anatomy(label: np.ndarray, window: tuple[int, int, int], class_names: Sequence[str]) -> plt.Figure:
    """The same label three ways: as a viewer shows it (palette colours), as the numbers it
    stores (a grey ramp, nearly black since 0..20 is dark), and a zoomed ``window`` =
    (row, col, side) with every pixel's value written in it."""
    r, c, s = window
    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    axes[0].imshow(colorize(label), interpolation="nearest")
    axes[0].add_patch(Rectangle((c - 0.5, r - 0.5), s, s, fill=False, ec="white", lw=1.5))
    off(axes[0], "what a viewer shows: palette colours")
    axes[1].imshow(label, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    off(axes[1], "what the file stores: indices as grey levels")
    patch = label[r:r + s, c:c + s]
    axes[2].imshow(colorize(patch), interpolation="nearest")
    for (y, x), v in np.ndenumerate(patch):
        axes[2].text(x, y, str(v), ha="center", va="center", fontsize=6,
                     color="white" if VOC_PALETTE[v].astype(int).sum() < 300 else "black")
    off(axes[2], f"zoom: rows {r}..{r + s - 1}, cols {c}..{c + s - 1}")
    legend(axes[2], class_names, present=np.unique(label).tolist(), ignore=IGNORE_INDEX in label)
    fig.tight_layout()
    return fig


def plot_pairs(pairs: Sequence[tuple[np.ndarray, np.ndarray]], class_names: Sequence[str],
               titles: Sequence[str] | None = None, columns: int = 6) -> plt.Figure:
    """Images over their colourised labels, ``columns`` pairs per row."""
    rows = -(-len(pairs) // columns)
    fig, axes = plt.subplots(2 * rows, columns, figsize=(1.9 * columns, 3.9 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    present = set()
    for k, (image, label) in enumerate(pairs):
        top, bottom = axes[2 * (k // columns), k % columns], axes[2 * (k // columns) + 1, k % columns]
        top.imshow(image)
        bottom.imshow(colorize(np.asarray(label)), interpolation="nearest")
        off(top, titles[k] if titles else "")
        top.axis("on"), bottom.axis("on")
        off(bottom)
        present |= set(np.unique(label).tolist())
    legend(axes[1, -1], class_names, present=sorted(present), ignore=IGNORE_INDEX in present)
    fig.tight_layout()
    return fig


def plot_statistics(pixel_fraction: np.ndarray, region_area: np.ndarray, region_class: np.ndarray,
                    class_names: Sequence[str], image_size: int) -> plt.Figure:
    """Left: share of pixels per class. Right: how large visible object regions are (log scale)."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.6))
    a.bar(range(len(class_names)), pixel_fraction, color=VOC_PALETTE[: len(class_names)] / 255, ec="k")
    a.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right", fontsize=8)
    a.set_ylabel("fraction of pixels")
    a.set_yscale("log")
    a.set_title("class frequency", fontsize=9)
    bins = np.logspace(0, np.log10(image_size * image_size), 30)
    for cls in range(1, len(class_names)):
        b.hist(region_area[region_class == cls], bins=bins, histtype="step", lw=1.5,
               color=VOC_PALETTE[cls] / 255, label=class_names[cls])
    b.set_xscale("log")
    b.axvline(image_size * image_size, color="gray", ls="--", lw=1)
    b.text(image_size * image_size, b.get_ylim()[1] * 0.9, " whole frame", fontsize=8, ha="right")
    b.set_xlabel("visible region area (pixels)")
    b.set_ylabel("regions")
    b.set_title("object sizes: from a few pixels to the whole frame", fontsize=9)
    b.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def plot_augmentations(image: np.ndarray, label: np.ndarray,
                       samples: Sequence[tuple[torch.Tensor, torch.Tensor]], class_names: Sequence[str]) -> plt.Figure:
    """The original pair, then transformed samples (image de-normalised, 255 drawn cream)."""
    n = len(samples) + 1
    fig, axes = plt.subplots(2, n, figsize=(1.9 * n, 4.0), squeeze=False)
    axes[0, 0].imshow(image)
    axes[1, 0].imshow(colorize(label), interpolation="nearest")
    off(axes[0, 0], f"original {image.shape[1]}×{image.shape[0]}")
    off(axes[1, 0])
    for k, (x, y) in enumerate(samples, start=1):
        axes[0, k].imshow(denormalize(x))
        axes[1, k].imshow(colorize(y.numpy().astype(np.int64)), interpolation="nearest")
        off(axes[0, k], f"sample {k}: {x.shape[-1]}×{x.shape[-2]}")
        off(axes[1, k], f"ignored: {(y == IGNORE_INDEX).float().mean().item():.0%}")
    legend(axes[1, -1], class_names, present=np.unique(label).tolist())
    fig.tight_layout()
    return fig
