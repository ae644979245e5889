"""Pictures of a model's forward pass: the image, the coarse score grid, the upsampled labels."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch


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
