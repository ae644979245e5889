"""Pictures of a model's forward pass: the image, the coarse score grid, the upsampled labels."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from deeplab_edu.atrous import effective_kernel_size


def plot_forward(image: np.ndarray, scores: torch.Tensor, logits: torch.Tensor, title: str = "") -> plt.Figure:
    """Image | arg-max of the scores at the output stride | arg-max of the logits at the input size.

    ``scores`` and ``logits`` are (1, C, h, w) and (1, C, H, W); the middle panel shows how coarse
    the grid is that DeepLab actually computes before bilinear upsampling.
    """
    figure, axes = plt.subplots(1, 3, figsize=(11, 3.6))
    coarse, fine = scores[0].argmax(0).cpu().numpy(), logits[0].argmax(0).cpu().numpy()
    panels = [(image, "input"), (coarse, f"scores: {coarse.shape[0]}×{coarse.shape[1]} grid"),
              (fine, f"logits: {fine.shape[0]}×{fine.shape[1]}")]
    for ax, (data, label) in zip(axes, panels):
        ax.imshow(data, cmap=None if data.ndim == 3 else "tab20", interpolation="nearest",
                  vmin=None if data.ndim == 3 else 0, vmax=None if data.ndim == 3 else scores.shape[1] - 1)
        ax.set_title(label)
        ax.axis("off")
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def aspp_footprints(rates: tuple[int, ...], kernel_size: int = 3) -> np.ndarray:
    """Which feature-map positions each ASPP branch reads around one output: (R, S, S) booleans.

    Branch r is a ``kernel_size`` × ``kernel_size`` convolution at rate r: its taps, the kernel
    dilated with r − 1 zeros between them (``atrous.dilate_kernel``), centred on a grid of side
    S that fits the widest branch.
    """
    from deeplab_edu.atrous import dilate_kernel

    if not rates or any(isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in rates):
        raise ValueError(f"rates must be positive integers, got {rates!r}")
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
