"""Figures for the fast-CRF and CRF-as-RNN chapter: the lattice's kernel and a learned compatibility matrix."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from deeplab_edu.crf.permutohedral import (PermutohedralLattice, gaussian_filter_brute_force,
                                           spatial_features)


def lattice_impulse_response(sigma: float, size: int = 31) -> tuple[np.ndarray, np.ndarray]:
    """The lattice's and the exact Gaussian's response to one bright pixel in the middle of a
    size × size grid, both (size, size), for position features p/σ."""
    features = spatial_features(1, size, size, sigma).double()
    impulse = torch.zeros(1, size * size, 1, dtype=torch.float64)
    impulse[0, (size // 2) * size + size // 2] = 1.0
    lattice = PermutohedralLattice(features).filter(impulse)[0, :, 0].reshape(size, size)
    exact = gaussian_filter_brute_force(features[0], impulse[0])[:, 0].reshape(size, size)
    return lattice.numpy(), exact.numpy()


def plot_lattice_kernel(sigma: float = 4.0, size: int = 31) -> plt.Figure:
    """What the permutohedral lattice filters with: its impulse response next to the Gaussian's."""
    lattice, exact = lattice_impulse_response(sigma, size)
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    for ax, image, title in ((axes[0], exact, "exact Gaussian"), (axes[1], lattice, "permutohedral lattice")):
        ax.imshow(image, cmap="magma", vmin=0, vmax=exact.max())
        ax.set_title(f"{title}, σ = {sigma:g} px")
        ax.axis("off")
    offsets = np.arange(size) - size // 2
    axes[2].plot(offsets, exact[size // 2], label="exact exp(−x²/2σ²)")
    axes[2].plot(offsets, lattice[size // 2], label="lattice", linestyle="--")
    axes[2].plot(offsets, lattice[size // 2] * exact.sum() / lattice.sum(), label="lattice, same mass",
                 linestyle=":")
    axes[2].set_xlabel("offset from the bright pixel (px)")
    axes[2].set_title("one row through the middle")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_compatibility(matrix: np.ndarray, class_names: Sequence[str],
                       start: np.ndarray | None = None) -> plt.Figure:
    """A learned label compatibility μ(l, l') as a heat map (and how far it moved from ``start``)."""
    matrix = np.asarray(matrix)
    shown = [("learned μ(l, l')", matrix)]
    if start is not None:
        shown.append(("change from Potts", matrix - np.asarray(start)))
    fig, axes = plt.subplots(1, len(shown), figsize=(4.8 * len(shown), 4.2), squeeze=False)
    for ax, (title, values) in zip(axes[0], shown):
        limit = np.abs(values).max() or 1.0
        im = ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_xticks(range(len(class_names)), class_names, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(len(class_names)), class_names, fontsize=8)
        ax.set_xlabel("neighbour's label l'")
        ax.set_ylabel("pixel's label l")
        ax.set_title(title)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig
