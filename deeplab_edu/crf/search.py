"""Cross-validating the CRF's parameters on held-out images, as DeepLab v1 did.

DeepLab v1 (Chen et al., ICLR 2015, §4.3, "Mean field inference ... cross-validation"): with
the network fixed, hold w2 = 3 and σγ = 3, and search w1, σα, σβ on a small held-out set for
the best mean IoU (the paper searched w1 ∈ [5, 10], σα ∈ [50 : 10 : 100], σβ ∈ [3 : 1 : 10]
on 100 validation images). Scores come from one confusion matrix over the whole held-out set
(``metrics.ConfusionMatrix``), and the trimap accuracy shows where the gain is: at boundaries.

A grid multiplies the CRF's cost by its size, so the search defaults to the fast path, the
permutohedral lattice in PyTorch (``method="lattice"``), which runs on a GPU when ``device``
names one.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from ..metrics import ConfusionMatrix, TrimapConfusion
from . import dense_crf
from .params import CRFParams


@dataclasses.dataclass(frozen=True)
class CRFScore:
    """The held-out scores of one setting (``params=None``: the network alone, no CRF)."""

    params: CRFParams | None
    miou: float
    pixel_accuracy: float
    trimap_accuracy: dict[int, float]


def evaluate_crf(images: Sequence[np.ndarray], probs: Sequence[np.ndarray], labels: Sequence[np.ndarray],
                 num_classes: int, params: CRFParams | None, widths: Iterable[int] = (2, 4, 8),
                 method: str = "lattice", device: str | torch.device | None = None) -> CRFScore:
    """Score argmax(CRF(P)) — or argmax(P) when ``params`` is None — over the whole set."""
    if not (len(images) == len(probs) == len(labels)) or not images:
        raise ValueError(f"images, probs and labels must be equally long and non-empty, got "
                         f"{len(images)}, {len(probs)} and {len(labels)}")
    widths = list(widths)
    matrix = ConfusionMatrix(num_classes)
    trimap = TrimapConfusion(num_classes, widths)
    for image, p, label in zip(images, probs, labels):
        pred = (p if params is None else _refine(image, p, params, method, device)).argmax(0)
        matrix.update(pred, label)
        trimap.update(pred, label)
    return CRFScore(params, matrix.miou(), matrix.pixel_accuracy(), trimap.accuracy())


def grid_search(images: Sequence[np.ndarray], probs: Sequence[np.ndarray], labels: Sequence[np.ndarray],
                num_classes: int, w1: Iterable[float], sigma_alpha: Iterable[float],
                sigma_beta: Iterable[float], base: CRFParams = CRFParams(w2=3, sigma_gamma=3),
                widths: Iterable[int] = (2, 4, 8), method: str = "lattice",
                device: str | torch.device | None = None) -> list[CRFScore]:
    """Every (w1, σα, σβ) combination on top of ``base``, best mean IoU first."""
    widths = list(widths)
    grid = list(itertools.product(w1, sigma_alpha, sigma_beta))
    scores = [evaluate_crf(images, probs, labels, num_classes,
                           base.replace(w1=a, sigma_alpha=b, sigma_beta=c), widths, method, device)
              for a, b, c in tqdm(grid, desc="CRF grid", leave=False)]
    return sorted(scores, key=lambda s: -s.miou)


def _refine(image: np.ndarray, probs: np.ndarray, params: CRFParams, method: str,
            device: str | torch.device | None) -> np.ndarray:
    if device is None:  # NumPy in and out, on the CPU
        return np.asarray(dense_crf(image, probs, params, method=method))
    refined = dense_crf(torch.as_tensor(image, device=device), torch.as_tensor(probs, device=device),
                        params, method=method)
    return refined.cpu().numpy()
