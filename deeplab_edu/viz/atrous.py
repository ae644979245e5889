"""Figures for atrous convolution and the hole algorithm (chapters 01 and 03): each draws what
``atrous`` or ``hole`` computed and returns its figure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from deeplab_edu import atrous
from deeplab_edu.hole import SparseDense

TAP = "#d62728"  # an input the output reads
OUT = "#1f77b4"  # the output being explained
IDLE = "#dddddd"


def _cells(ax, y: float, values: Sequence[float] | None, n: int, colours: Sequence[str],
           offset: int = 0) -> None:
    """A row of n unit squares at height y, labelled with values (or left blank)."""
    for i in range(n):
        ax.add_patch(Rectangle((i + offset - 0.45, y - 0.4), 0.9, 0.8, facecolor=colours[i],
                               edgecolor="#555555", lw=0.8))
        if values is not None:
            ax.text(i + offset, y, f"{values[i]:g}", ha="center", va="center", fontsize=8)


def plot_atrous_1d(x: Sequence[float], weight: Sequence[float], rate: int, output_index: int) -> Figure:
    """Eq. 1 drawn for one output: the input row, the taps y[i] reads (arrows labelled w[k]), the output row."""
    x_t = torch.as_tensor(np.asarray(x, dtype=np.float64))
    w_t = torch.as_tensor(np.asarray(weight, dtype=np.float64))
    y = atrous.atrous_conv1d(x_t, w_t, rate=rate).numpy()
    if not 0 <= output_index < len(y):
        raise ValueError(f"output_index must be in [0, {len(y) - 1}] for this input, got {output_index}")
    taps = atrous.tap_positions(output_index, len(w_t), rate)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.5 * len(x_t)), 2.6))
    _cells(ax, 1.0, x_t.tolist(), len(x_t), [TAP if i in taps else IDLE for i in range(len(x_t))])
    _cells(ax, -1.0, y.tolist(), len(y), [OUT if i == output_index else "white" for i in range(len(y))])
    for k, t in enumerate(taps):
        ax.annotate("", xy=(output_index, -0.6), xytext=(t, 0.6),
                    arrowprops=dict(arrowstyle="->", color=TAP, lw=1.2))
        # each label at its own height, so that adjacent taps (rate 1) do not overprint
        height = 0.35 - 0.7 * k / max(len(taps) - 1, 1)
        along = t + (output_index - t) * (0.6 - height) / 1.2
        ax.text(along, height, f"w[{k}]={w_t[k].item():g}", fontsize=7, color=TAP, ha="center", va="center",
                bbox=dict(facecolor="white", edgecolor="none", pad=0.5))
    ax.text(-0.9, 1.0, "x", ha="right", va="center", fontsize=11)
    ax.text(-0.9, -1.0, "y", ha="right", va="center", fontsize=11)
    ax.set_xlim(-1.5, len(x_t))
    ax.set_ylim(-1.6, 1.6)
    ax.axis("off")
    ax.set_title(f"y[{output_index}] = " + " + ".join(f"x[{t}]·w[{k}]" for k, t in enumerate(taps))
                 + f" = {y[output_index]:g}   (rate r = {rate})", fontsize=9)
    fig.tight_layout()
    return fig


def plot_rates_1d(length: int, kernel_size: int, rates: Sequence[int], output_index: int = 0) -> Figure:
    """One row per rate: the inputs a K-tap filter reads for one output. The rate is the sampling stride."""
    fig, axes = plt.subplots(len(rates), 1, figsize=(max(6.0, 0.35 * length), 0.75 * len(rates) + 0.4),
                             squeeze=False)
    for ax, rate in zip(axes[:, 0], rates):
        taps = atrous.tap_positions(output_index, kernel_size, rate)
        if taps[-1] >= length:
            raise ValueError(f"length {length} is too short for kernel_size {kernel_size} at rate {rate}")
        _cells(ax, 0, None, length, [TAP if i in taps else IDLE for i in range(length)])
        span = atrous.effective_kernel_size(kernel_size, rate)
        ax.text(length + 0.2, 0, f"r = {rate}: taps {taps}, span {span}", va="center", fontsize=8)
        ax.set_xlim(-0.6, length + 9)
        ax.set_ylim(-0.6, 0.6)
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_dilated_kernel(kernel: np.ndarray | torch.Tensor, rate: int) -> Figure:
    """A filter next to its zero-inserted ("upsampled") version at rate r."""
    kernel = torch.as_tensor(np.asarray(kernel, dtype=np.float64))
    dilated = atrous.dilate_kernel(kernel, rate).numpy()
    fig, axes = plt.subplots(1, 2, figsize=(6, 3), gridspec_kw={"width_ratios": [kernel.shape[-1], dilated.shape[-1]]})
    for ax, array, title in [(axes[0], kernel.numpy(), f"{kernel.shape[0]}×{kernel.shape[1]} filter"),
                             (axes[1], dilated, f"rate {rate}: {dilated.shape[0]}×{dilated.shape[1]}, "
                                                f"{np.count_nonzero(dilated)} non-zero")]:
        limit = np.abs(array).max() or 1.0
        ax.imshow(array, cmap="coolwarm", vmin=-limit, vmax=limit)
        ax.set_xticks(range(array.shape[1]))
        ax.set_yticks(range(array.shape[0]))
        ax.tick_params(labelsize=6)
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_hole_methods(image: np.ndarray, outputs: Mapping[str, np.ndarray], reference: str = "native") -> Figure:
    """The input and every method's output side by side; titles give the largest |difference| to ``reference``."""
    fig, axes = plt.subplots(1, len(outputs) + 1, figsize=(2.6 * (len(outputs) + 1), 2.8))
    axes[0].imshow(image, cmap="gray")
    axes[0].set_title("input", fontsize=9)
    low = min(float(o.min()) for o in outputs.values())
    high = max(float(o.max()) for o in outputs.values())
    for ax, (name, out) in zip(axes[1:], outputs.items()):
        ax.imshow(out, cmap="magma", vmin=low, vmax=high)
        gap = float(np.abs(out - outputs[reference]).max())
        ax.set_title(f"{name}\nmax |Δ| = {gap:.1e}", fontsize=9)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_phases(phases: np.ndarray, rate: int) -> Figure:
    """The r × r phase-shifted sub-images of space-to-batch, placed where their phase (a, b) is."""
    fig, axes = plt.subplots(rate, rate, figsize=(1.6 * rate, 1.6 * rate), squeeze=False)
    for a in range(rate):
        for b in range(rate):
            axes[a, b].imshow(phases[a * rate + b], cmap="gray")
            axes[a, b].set_title(f"x[{a}::{rate}, {b}::{rate}]", fontsize=7)
            axes[a, b].axis("off")
    fig.tight_layout()
    return fig


def plot_sparse_dense(result: SparseDense, crop: int | None = None) -> Figure:
    """DeepLab v2 Fig. 3: sparse responses (computed at dots) against dense atrous responses, beside
    the full and the downsampled input; ``crop`` shows the top-left crop × crop pixels only."""
    window = (slice(0, crop), slice(0, crop))
    small = slice(0, None if crop is None else -(-crop // result.factor))
    panels = [("input, full resolution\n(what dense reads)", result.image[window], "gray"),
              (f"input downsampled by {result.factor}\n(what sparse reads)", result.downsampled[small, small], "gray"),
              ("sparse: conv, then upsample", result.sparse_upsampled[window], "magma"),
              (f"dense: atrous conv, r = {result.factor}", result.dense[window], "magma")]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.0 * len(panels) + 0.8, 3.4))
    low = min(result.sparse.min(), result.dense.min())
    high = max(result.sparse.max(), result.dense.max())
    for ax, (title, array, cmap) in zip(axes, panels):
        kwargs = dict(vmin=low, vmax=high) if cmap == "magma" else dict(vmin=0, vmax=max(1.0, float(array.max())))
        shown = ax.imshow(array, cmap=cmap, interpolation="nearest", **kwargs)
        if cmap == "magma":
            responses = shown
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    rows, cols = np.nonzero(result.computed[window])
    if crop is not None and crop <= 48:
        axes[-2].scatter(cols, rows, s=4, c="cyan")
        axes[-1].scatter(cols, rows, s=4, c="cyan")
    fig.tight_layout()
    fig.colorbar(responses, ax=list(axes[-2:]), shrink=0.85, label="filter response")
    return fig


def plot_gridding(footprints: Mapping[str, np.ndarray]) -> Figure:
    """The input footprint of one output of each stack of atrous layers; white = never read."""
    fig, axes = plt.subplots(1, len(footprints), figsize=(2.8 * len(footprints), 3), squeeze=False)
    for ax, (name, footprint) in zip(axes[0], footprints.items()):
        shown = np.ma.masked_equal(footprint, 0)
        ax.imshow(shown, cmap="viridis", interpolation="nearest")
        holes = int((footprint == 0).sum())
        ax.set_title(f"{name}\n{footprint.shape[0]}×{footprint.shape[1]}, {holes} never read", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def plot_valid_taps(feature_size: int, rates: Sequence[int], fractions: Sequence[float]) -> Figure:
    """DeepLab v3 Fig. 4's message: the share of a 3 × 3 filter's taps inside the map, against r."""
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(rates, fractions, marker=".")
    ax.axhline(1 / 9, color="grey", ls="--", lw=1)
    ax.text(rates[-1], 1 / 9 + 0.02, "1/9: only the centre tap", ha="right", fontsize=8)
    ax.set_xlabel("rate r")
    ax.set_ylabel("share of taps inside the map")
    ax.set_title(f"3×3 atrous filter on a {feature_size}×{feature_size} feature map", fontsize=9)
    ax.set_ylim(0, 1.05)
    fig.tight_layout()
    return fig
