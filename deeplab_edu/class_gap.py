"""Where a difference in mIoU comes from: the class that makes it, and where its pixels go.

mIoU is the mean of the C per-class IoUs (DeepLab v1 §5, after the VOC devkit),

    mIoU_B − mIoU_A = (1/C) Σ_c (IoU_c^B − IoU_c^A),

so one class that one arm labels badly can make the whole difference between two recipes while
the other C − 1 classes agree. Before a chapter explains a verdict by the recipe ("the pretrained
start is worse"), it asks which classes carry it (``class_gap``) and what the worse arm calls the
pixels of that class instead (``predicted_as``, a row of the confusion matrix).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence

import numpy as np

from deeplab_edu.engine.evaluation import EvalResult


def _class_index(result: EvalResult, name: str) -> int:
    names = list(result.class_names)
    if name not in names:
        raise ValueError(f"class {name!r} is not one of {names}")
    return names.index(name)


def _mean_per_class(results: Sequence[EvalResult], arm: str) -> dict[str, float]:
    if not results:
        raise ValueError(f"arm {arm!r} has no results: pass one EvalResult per seed")
    names = results[0].class_names
    if any(r.class_names != names for r in results):
        raise ValueError(f"arm {arm!r}: its results name different classes")
    tables = np.array([r.confusion.per_class_iou() for r in results])
    with warnings.catch_warnings():  # a class absent from every seed's images stays NaN, as in the devkit
        warnings.simplefilter("ignore", RuntimeWarning)
        means = np.nanmean(tables, axis=0)
    return dict(zip(names, means.tolist()))


@dataclasses.dataclass(frozen=True)
class ClassGap:
    """Arm B against arm A class by class: IoU per class, the mean over each arm's seeds."""

    a: str
    b: str
    iou_a: dict[str, float]
    iou_b: dict[str, float]

    @property
    def per_class(self) -> dict[str, float]:
        """IoU_c^B − IoU_c^A for every class scored in both arms (a class absent from the images has no IoU)."""
        return {name: self.iou_b[name] - self.iou_a[name] for name in self.iou_a
                if not (np.isnan(self.iou_a[name]) or np.isnan(self.iou_b[name]))}

    @property
    def delta(self) -> float:
        """mIoU_B − mIoU_A: the mean of the per-class differences."""
        return float(np.mean(list(self.per_class.values())))

    @property
    def largest(self) -> str:
        """The class whose IoU differs most between the arms (either way)."""
        return max(self.per_class, key=lambda name: abs(self.per_class[name]))

    def share(self, name: str | None = None) -> float:
        """The part of ``delta`` that class ``name`` (default: ``largest``) makes: (ΔIoU_c / C) / ΔmIoU."""
        name = self.largest if name is None else name
        if self.delta == 0:
            return float("nan")
        return self.per_class[name] / len(self.per_class) / self.delta

    def without(self, name: str | None = None) -> tuple[float, float]:
        """(mIoU_A, mIoU_B) over the classes other than ``name`` (default: ``largest``)."""
        name = self.largest if name is None else name
        others = [c for c in self.per_class if c != name]
        return (float(np.mean([self.iou_a[c] for c in others])), float(np.mean([self.iou_b[c] for c in others])))

    def describe(self) -> str:
        """The gap in one sentence, every number from the results."""
        k = self.largest
        wa, wb = self.without(k)
        share = self.share(k)
        part = (f"{k} alone makes {share:.0%} of it (the other classes moved the other way)" if share > 1
                else f"of which {k} makes {share:.0%}")
        return (f"{self.b} − {self.a}: mIoU {self.delta:+.3f}, {part} (IoU {self.iou_a[k]:.2f} vs "
                f"{self.iou_b[k]:.2f}); over the other {len(self.per_class) - 1} classes {wa:.3f} vs {wb:.3f} "
                f"({wb - wa:+.3f})")


def class_gap(a: str, results_a: Sequence[EvalResult], b: str, results_b: Sequence[EvalResult]) -> ClassGap:
    """``ClassGap`` of arm ``b`` over arm ``a`` from their evaluations (one ``EvalResult`` per seed)."""
    iou_a, iou_b = _mean_per_class(results_a, a), _mean_per_class(results_b, b)
    if list(iou_a) != list(iou_b):
        raise ValueError(f"arms {a!r} and {b!r} name different classes: {list(iou_a)} vs {list(iou_b)}")
    return ClassGap(a, b, iou_a, iou_b)


def predicted_as(results: Sequence[EvalResult], name: str) -> dict[str, float]:
    """The share of the pixels truly of class ``name`` predicted as each class (the row of ``name``
    in the summed confusion matrices of ``results``, normalised)."""
    if not results:
        raise ValueError("predicted_as needs at least one EvalResult")
    index = _class_index(results[0], name)
    row = sum(r.confusion.matrix[index] for r in results).astype(np.float64)
    if row.sum() == 0:
        raise ValueError(f"no pixel of class {name!r} in these results: nothing to share out")
    return dict(zip(results[0].class_names, (row / row.sum()).tolist()))


def miou_without(results: Sequence[EvalResult], name: str) -> list[float]:
    """Per result (one per seed): the mIoU over every class but ``name``."""
    return [float(np.nanmean(np.delete(r.confusion.per_class_iou(), _class_index(r, name)))) for r in results]
