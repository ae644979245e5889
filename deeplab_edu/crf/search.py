"""Cross-validating the CRF's parameters on held-out images, as DeepLab v1 and v2 did.

With the network fixed, w2 and σγ are held at their defaults (w2 = 3, σγ = 3; the release's
grid script: "We did not cross-validate for pos_w and pos_xy_std") and w1, σα, σβ are searched
for the best mean IoU on a small held-out set (100 PASCAL VOC val images), with 10 mean-field
iterations, by a **coarse-to-fine** scheme. The papers' initial ranges, kept in ``PAPER_RANGES``:

* v1 (ICLR 2015, §5 "Training", read in the paper's text): "w1 ∈ [5, 10], σα ∈ [50 : 10 : 100]
  and σβ ∈ [3 : 1 : 10] (MATLAB notation), and then we refine the search step sizes around the
  first round's best values" (w1's step is not given; here 1);
* v2 (TPAMI 2017, §4.1.1, as quoted with line references by a summary in the code index, not
  read in the paper itself): w1 ∈ [3 : 6], σα ∈ [30 : 10 : 100], σβ ∈ [3 : 6].

``coarse_to_fine`` runs the v2 scheme: a coarse grid, then finer grids centred on the best
setting so far; when the best lies on the edge of the grid the grid is moved outwards first, so
the optimum lies *inside* what was searched (``CRFSearch.on_edge`` names the parameters where it
does not). Score the chosen setting on *other* images (``score_crf``), never on the fitting set;
the trimap accuracy shows where the gain is: at boundaries.

Cost. The lattices depend on the bandwidths (σα, σβ, σγ), not on w1, so on the fast path
(``method="lattice"``, on ``device``) each image's lattices are built once per bandwidth group
and every w1 runs on them.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
import torch

from ..metrics import ConfusionMatrix, TrimapConfusion
from ..progress import tqdm
from . import dense_crf
from .lattice_meanfield import CRFKernels, batch_inputs, lattice_mean_field
from .params import CRFParams

PARAMETERS = ("w1", "sigma_alpha", "sigma_beta")

# The papers' ranges (see the module docstring); each a tuple of values per parameter.
PAPER_RANGES: dict[str, dict[str, tuple[float, ...]]] = {
    "v1": {"w1": tuple(float(v) for v in range(5, 11)),
           "sigma_alpha": tuple(float(v) for v in range(50, 101, 10)),
           "sigma_beta": tuple(float(v) for v in range(3, 11))},
    "v2": {"w1": (3.0, 4.0, 5.0, 6.0),
           "sigma_alpha": tuple(float(v) for v in range(30, 101, 10)),
           "sigma_beta": (3.0, 4.0, 5.0, 6.0)},
}


@dataclasses.dataclass(frozen=True)
class CRFScore:
    """The held-out scores of one setting (``params=None``: the network alone, no CRF)."""

    params: CRFParams | None
    miou: float
    pixel_accuracy: float
    trimap_accuracy: dict[int, float]


@dataclasses.dataclass(frozen=True)
class CRFSearch:
    """What ``coarse_to_fine`` found: every setting it scored (best first), the grids of each
    round, and the parameters whose optimum still lies on the searched range's edge."""

    scores: list[CRFScore]
    rounds: list[dict[str, tuple[float, ...]]]
    on_edge: tuple[str, ...]

    @property
    def best(self) -> CRFScore:
        return self.scores[0]


def score_crf(images: Sequence[np.ndarray], probs: Sequence[np.ndarray], labels: Sequence[np.ndarray],
              num_classes: int, params: CRFParams | None, widths: Iterable[int] = (2, 4, 8),
              method: str = "lattice", device: str | torch.device | None = None) -> CRFScore:
    """Score argmax(CRF(P)), or argmax(P) when ``params`` is None, over the whole set in memory
    (``evaluate.crf_evaluate`` does it for a dataset's saved score files)."""
    _check_sets(images, probs, labels)
    widths = list(widths)
    if params is None:
        matrix, trimap = ConfusionMatrix(num_classes), TrimapConfusion(num_classes, widths)
        for p, label in zip(probs, labels):
            pred = p.argmax(0)
            matrix.update(pred, label)
            trimap.update(pred, label)
        return CRFScore(None, matrix.miou(), matrix.pixel_accuracy(), trimap.accuracy())
    # One setting over a validation set takes seconds: no bar (a recorded notebook would keep it at 0 %).
    return _evaluate_many(images, probs, labels, num_classes, [params], widths, method, device, progress=False)[0]


def on_edge(params: CRFParams, **grid: Iterable[float]) -> tuple[str, ...]:
    """The names of the parameters whose value in ``params`` is the smallest or largest of its
    range in ``grid`` (``w1=[…], sigma_alpha=[…], …``). A parameter searched at one value only
    is not counted: it was held, not searched."""
    edges = []
    for name, values in grid.items():
        values = sorted(set(float(v) for v in values))
        if len(values) > 1 and float(getattr(params, name)) in (values[0], values[-1]):
            edges.append(name)
    return tuple(edges)


def coarse_to_fine(images: Sequence[np.ndarray], probs: Sequence[np.ndarray], labels: Sequence[np.ndarray],
                   num_classes: int, w1: Sequence[float] = PAPER_RANGES["v2"]["w1"],
                   sigma_alpha: Sequence[float] = PAPER_RANGES["v2"]["sigma_alpha"],
                   sigma_beta: Sequence[float] = PAPER_RANGES["v2"]["sigma_beta"],
                   base: CRFParams = CRFParams(w2=3, sigma_gamma=3), refinements: int = 1,
                   max_extensions: int = 3, widths: Iterable[int] = (2, 4, 8), method: str = "lattice",
                   device: str | torch.device | None = None, progress: bool = True) -> CRFSearch:
    """The papers' coarse-to-fine search (v1 §5, v2 §4.1.1) on the images given (the fitting set).

    Score the coarse grid; while a parameter's best value is an end of its range (of more than one
    value), extend the range a step outwards (w1 ≥ 0, σ > 0), at most ``max_extensions`` times;
    then ``refinements`` times score three values per parameter around the best at half the
    spacing. No setting is scored twice.
    """
    widths = list(widths)
    ranges = {"w1": _values(w1, "w1"), "sigma_alpha": _values(sigma_alpha, "sigma_alpha"),
              "sigma_beta": _values(sigma_beta, "sigma_beta")}
    scored: dict[tuple[float, float, float], CRFScore] = {}
    rounds: list[dict[str, tuple[float, ...]]] = []

    def run(grid: dict[str, tuple[float, ...]]) -> CRFScore:
        rounds.append(grid)
        todo = [base.replace(w1=a, sigma_alpha=b, sigma_beta=c)
                for a, b, c in itertools.product(grid["w1"], grid["sigma_alpha"], grid["sigma_beta"])
                if (a, b, c) not in scored]
        for score in _evaluate_many(images, probs, labels, num_classes, todo, widths, method, device, progress):
            p = score.params
            scored[(p.w1, p.sigma_alpha, p.sigma_beta)] = score
        return max(scored.values(), key=lambda s: s.miou)

    best = run(ranges)
    for _ in range(max_extensions):
        edges = on_edge(best.params, **ranges)
        if not edges:
            break
        grown = dict(ranges)
        for name in edges:
            grown[name] = _extend(ranges[name], float(getattr(best.params, name)), name)
        if grown == ranges:  # pinned at w1 = 0 or σ ≈ 0: nowhere left to go
            break
        ranges = grown
        best = run(ranges)
    spacing = {name: _spacing(values) for name, values in ranges.items()}
    for _ in range(refinements):
        spacing = {name: step / 2 for name, step in spacing.items()}
        fine = {}
        for name in PARAMETERS:
            centre, step = float(getattr(best.params, name)), spacing[name]
            low = 0.0 if name == "w1" else 1e-3
            fine[name] = tuple(sorted({max(low, centre - step), centre, centre + step}))
        best = run(fine)
    searched = {name: tuple(sorted({k[i] for k in scored})) for i, name in enumerate(PARAMETERS)}
    return CRFSearch(sorted(scored.values(), key=lambda s: -s.miou), rounds, on_edge(best.params, **searched))


def _values(values: Iterable[float], name: str) -> tuple[float, ...]:
    out = tuple(sorted({float(v) for v in values}))
    if not out:
        raise ValueError(f"{name} needs at least one value to search")
    return out


def _spacing(values: tuple[float, ...]) -> float:
    if len(values) < 2:
        return max(abs(values[0]) / 4, 1.0) if values else 1.0
    return min(b - a for a, b in zip(values, values[1:]))


def _extend(values: tuple[float, ...], best: float, name: str) -> tuple[float, ...]:
    step = _spacing(values)
    if best == values[0]:
        new = best - step
        if (name == "w1" and new < 0) or (name != "w1" and new <= 0):
            return values
        return (new, *values)
    return (*values, best + step)


def _check_sets(images, probs, labels) -> None:
    if not (len(images) == len(probs) == len(labels)) or not images:
        raise ValueError(f"images, probs and labels must be equally long and non-empty, got "
                         f"{len(images)}, {len(probs)} and {len(labels)}")


def _evaluate_many(images, probs, labels, num_classes: int, settings: list[CRFParams], widths: list[int],
                   method: str, device, progress: bool = True) -> list[CRFScore]:
    """Score every setting over the set; lattices built once per image and bandwidth group."""
    _check_sets(images, probs, labels)
    matrices = [ConfusionMatrix(num_classes) for _ in settings]
    trimaps = [TrimapConfusion(num_classes, widths) for _ in settings]
    groups: dict[tuple, list[int]] = defaultdict(list)
    for k, p in enumerate(settings):  # what the lattices depend on: the bandwidths alone
        groups[(p.sigma_alpha, p.sigma_beta, p.sigma_gamma)].append(k)
    with tqdm(total=len(settings) * len(images), desc="CRF grid", leave=False, disable=not progress) as bar:
        for image, p, label in zip(images, probs, labels):
            for members in groups.values():
                refined = _refine_group(image, p, [settings[k] for k in members], method, device)
                for k, q in zip(members, refined):
                    pred = q.argmax(0)
                    matrices[k].update(pred, label)
                    trimaps[k].update(pred, label)
                bar.update(len(members))
    return [CRFScore(s, m.miou(), m.pixel_accuracy(), t.accuracy())
            for s, m, t in zip(settings, matrices, trimaps)]


def _refine_group(image: np.ndarray, probs: np.ndarray, group: list[CRFParams], method: str,
                  device) -> list[np.ndarray]:
    """CRF(P) for settings that share σα, σβ, σγ: one pair of lattices on the fast path."""
    if method != "lattice":
        return [_refine(image, probs, params, method, device) for params in group]
    unary, img = batch_inputs(image, probs, device)
    with torch.no_grad():
        kernels = CRFKernels(img, group[0])  # depends on σα, σβ, σγ only
        return [lattice_mean_field(unary, img, params, kernels=kernels)[0].float().cpu().numpy()
                for params in group]


def _refine(image: np.ndarray, probs: np.ndarray, params: CRFParams, method: str,
            device: str | torch.device | None) -> np.ndarray:
    if device is None:  # NumPy in and out, on the CPU
        return np.asarray(dense_crf(image, probs, params, method=method))
    refined = dense_crf(torch.as_tensor(image, device=device), torch.as_tensor(probs, device=device),
                        params, method=method)
    return refined.cpu().numpy()


__all__ = ["CRFScore", "CRFSearch", "PAPER_RANGES", "coarse_to_fine", "on_edge", "score_crf"]
