"""Cross-validating the CRF's parameters on held-out images, as DeepLab v1 did.

DeepLab v1 (Chen et al., ICLR 2015, §4.3, "Mean field inference ... cross-validation"): with
the network fixed, hold w2 = 3 and σγ = 3, and search w1, σα, σβ on a small held-out set for
the best mean IoU (the paper searched w1 ∈ [5, 10], σα ∈ [50 : 10 : 100], σβ ∈ [3 : 1 : 10]
on 100 validation images). Scores come from one confusion matrix over the whole held-out set
(``metrics.ConfusionMatrix``), and the trimap accuracy shows where the gain is: at boundaries.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Sequence

import numpy as np
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
                 method: str = "pydensecrf") -> CRFScore:
    """Score argmax(CRF(P)) — or argmax(P) when ``params`` is None — over the whole set."""
    if not (len(images) == len(probs) == len(labels)) or not images:
        raise ValueError(f"images, probs and labels must be equally long and non-empty, got "
                         f"{len(images)}, {len(probs)} and {len(labels)}")
    widths = list(widths)
    matrix = ConfusionMatrix(num_classes)
    trimap = TrimapConfusion(num_classes, widths)
    for image, p, label in zip(images, probs, labels):
        refined = p if params is None else dense_crf(image, p, params, method=method)
        pred = np.asarray(refined).argmax(0)
        matrix.update(pred, label)
        trimap.update(pred, label)
    return CRFScore(params, matrix.miou(), matrix.pixel_accuracy(), trimap.accuracy())


def grid_search(images: Sequence[np.ndarray], probs: Sequence[np.ndarray], labels: Sequence[np.ndarray],
                num_classes: int, w1: Iterable[float], sigma_alpha: Iterable[float],
                sigma_beta: Iterable[float], base: CRFParams = CRFParams(w2=3, sigma_gamma=3),
                widths: Iterable[int] = (2, 4, 8), method: str = "pydensecrf") -> list[CRFScore]:
    """Every (w1, σα, σβ) combination on top of ``base``, best mean IoU first."""
    widths = list(widths)
    grid = list(itertools.product(w1, sigma_alpha, sigma_beta))
    scores = [evaluate_crf(images, probs, labels, num_classes,
                           base.replace(w1=a, sigma_alpha=b, sigma_beta=c), widths, method)
              for a, b, c in tqdm(grid, desc="CRF grid", leave=False)]
    return sorted(scores, key=lambda s: -s.miou)
