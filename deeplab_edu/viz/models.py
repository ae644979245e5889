"""Pictures of a model's forward pass: the image, the coarse score grid, the upsampled labels."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from deeplab_edu import validate
from deeplab_edu.atrous import dilate_kernel, effective_kernel_size


def most_varied_class(scores: torch.Tensor) -> int:
    """The class whose score map (1, C, h, w) varies most across the image (largest spatial std)."""
    return int(scores[0].flatten(1).std(dim=1).argmax())


def plot_forward(image: np.ndarray, scores: torch.Tensor, logits: torch.Tensor, title: str = "",
                 class_index: int | None = None, zoom: int = 12) -> plt.Figure:
    """One class's score through the forward pass: the image, the coarse grid DeepLab computes
    (``scores`` (1, C, h, w)), its bilinear upsampling (``logits`` (1, C, H, W)), and the top-left
    ``zoom``² cells of both. Class ``class_index`` defaults to :func:`most_varied_class`; the four
    score panels share the class's own range (an untrained network's arg-max map is one colour)."""
    c = most_varied_class(scores) if class_index is None else int(class_index)
    coarse, fine = scores[0, c].cpu().numpy(), logits[0, c].cpu().numpy()
    factor_y, factor_x = fine.shape[0] / coarse.shape[0], fine.shape[1] / coarse.shape[1]
    window = (slice(0, zoom), slice(0, zoom))
    fine_window = (slice(0, int(round(zoom * factor_y))), slice(0, int(round(zoom * factor_x))))
    low, high = float(min(coarse.min(), fine.min())), float(max(coarse.max(), fine.max()))
    figure, axes = plt.subplots(1, 5, figsize=(15, 3.6), gridspec_kw={"width_ratios": [1, 1, 1, 0.8, 0.8]})
    axes[0].imshow(image)
    axes[0].set_title("input", fontsize=9)
    panels = [(coarse, f"class {c} scores: {coarse.shape[0]}×{coarse.shape[1]} grid"),
              (fine, f"class {c} logits: {fine.shape[0]}×{fine.shape[1]}"),
              (coarse[window], f"zoom: {zoom}×{zoom} grid cells"),
              (fine[fine_window], "the same region, upsampled")]
    for ax, (data, label) in zip(axes[1:], panels):
        shown = ax.imshow(data, cmap="viridis", vmin=low, vmax=high, interpolation="nearest")
        ax.set_title(label, fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    figure.suptitle(title)
    figure.tight_layout()
    figure.colorbar(shown, ax=list(axes[1:]), shrink=0.8, label=f"score of class {c}")
    return figure


def aspp_footprints(rates: tuple[int, ...], kernel_size: int = 3) -> np.ndarray:
    """Which feature-map positions each ASPP branch (a ``kernel_size``² convolution at rate r, taps as
    ``atrous.dilate_kernel``) reads around one output: (R, S, S) booleans, S the widest span."""
    rates = validate.integers(rates, "rates", minimum=1)
    side = effective_kernel_size(kernel_size, max(rates))
    out = np.zeros((len(rates), side, side), dtype=bool)
    for i, rate in enumerate(rates):
        taps = dilate_kernel(torch.ones(kernel_size, kernel_size), rate).numpy() > 0
        start = (side - taps.shape[0]) // 2
        out[i, start:start + taps.shape[0], start:start + taps.shape[1]] = taps
    return out


def plot_aspp_footprints(rates: tuple[int, ...], title: str = "") -> plt.Figure:
    """One output position of ASPP and the feature-map positions each branch reads, one colour a rate."""
    footprints = aspp_footprints(rates)
    figure, ax = plt.subplots(figsize=(4.6, 4.9))
    colours = plt.get_cmap("viridis")(np.linspace(0.1, 0.9, len(rates)))
    for footprint, rate, colour in zip(footprints, rates, colours):
        rows, cols = np.nonzero(footprint)
        span = effective_kernel_size(3, rate)  # the 3×3 kernel's span at this rate
        ax.scatter(cols, rows, s=36, color=colour, label=f"rate {rate}: spans {span}×{span}")
    centre = footprints.shape[1] // 2
    ax.scatter([centre], [centre], s=90, marker="x", color="black", label="the output position")
    ax.set_xlim(-1, footprints.shape[2])
    ax.set_ylim(footprints.shape[1], -1)
    ax.set_aspect("equal")
    ax.set_title(title or f"ASPP branches on the feature map (rates {', '.join(map(str, rates))})", fontsize=9)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=2)
    figure.tight_layout()
    return figure
