"""Segmentation metrics: one confusion matrix for the whole set, and the boundary "trimap".

PASCAL VOC's score (Everingham et al., IJCV 2010, §4.2) is the intersection over union per
class, IoU_c = TP_c / (TP_c + FP_c + FN_c), averaged over classes, its counts from **one
confusion matrix over every pixel of every image** (averaging per-image IoUs is a different,
easily gamed number). Pixels labelled ``ignore_index`` (255: VOC's "void") are in no count.
``matrix[t, p]`` counts pixels of ground truth ``t`` predicted ``p`` (rows are the truth).

The DeepLab papers (v1, ICLR 2015, §5 "Mean Pixel IOU along Object Boundaries"; v2, TPAMI 2017,
§4.1) also score only the pixels in a band of width N around label boundaries, the *trimap*, to
show what the fully-connected CRF buys: accuracy close to edges.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from deeplab_edu import validate

IGNORE_INDEX = 255  # VOC's "void": never a class, never background; the datasets label with it


def _as_int_array(values, name: str) -> np.ndarray:
    """A NumPy integer array from a tensor or array; floats are refused (argmax first)."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    elif not isinstance(values, np.ndarray):
        raise TypeError(f"{name} must be a torch.Tensor or numpy.ndarray, got {type(values).__name__}")
    if values.dtype == bool or not np.issubdtype(values.dtype, np.integer):
        raise TypeError(f"{name} must hold integer class indices (take the argmax of scores first), "
                        f"got dtype {values.dtype}")
    return values.astype(np.int64, copy=False)


def _as_int_pair(pred, truth, truth_name: str) -> tuple[np.ndarray, np.ndarray]:
    """Predicted and true labels as integer arrays of one shape (the truth named in errors)."""
    pred, truth = _as_int_array(pred, "pred"), _as_int_array(truth, truth_name)
    if pred.shape != truth.shape:
        raise ValueError(f"pred and {truth_name} must have the same shape, got {tuple(pred.shape)} "
                         f"and {tuple(truth.shape)}")
    return pred, truth


def _check_classes(pred: np.ndarray, target: np.ndarray, num_classes: int, ignore_index: int) -> None:
    """Raise naming the first label or prediction outside 0..C-1 (NumPy would file -1 silently
    under the last class); ``target`` and ``pred`` hold only the pixels that count."""
    for values, what, tail in ((target, "target holds label", f" and not ignore_index={ignore_index}"),
                               (pred, "pred holds class", "")):
        bad = values[(values < 0) | (values >= num_classes)]
        if bad.size:
            raise ValueError(f"{what} {bad[0]}, outside 0..{num_classes - 1}{tail}")


class ConfusionMatrix:
    """Counts (truth, prediction) pairs over a whole evaluation set (``update`` once per batch,
    tensors or arrays of any shape); every score derives from it."""

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX) -> None:
        num_classes = validate.integer(num_classes, "num_classes", minimum=1)
        ignore_index = validate.integer(ignore_index, "ignore_index")
        if 0 <= ignore_index < num_classes:
            raise ValueError(f"ignore_index={ignore_index} is a real class (num_classes={num_classes}); "
                             "it must lie outside 0..num_classes-1")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrix = np.zeros((num_classes, num_classes), dtype=np.int64)

    def reset(self) -> None:
        self.matrix[:] = 0

    def update(self, pred, target) -> "ConfusionMatrix":
        """Add one batch of predicted and true labels (same shape, any number of dimensions)."""
        pred, target = _as_int_pair(pred, target, "target")
        keep = target != self.ignore_index
        pred, target = pred[keep], target[keep]
        c = self.num_classes
        _check_classes(pred, target, c, self.ignore_index)
        # Each (t, p) pair becomes one index t*C + p; a histogram of those is the matrix.
        self.matrix += np.bincount(target * c + pred, minlength=c * c).reshape(c, c)
        return self

    # The scores. A class absent from both truth and predictions has no IoU (NaN) and is left
    # out of the mean, as in the VOC devkit.
    def per_class_iou(self) -> np.ndarray:
        """IoU_c = TP / (TP + FP + FN) for each class; NaN where the class never occurs."""
        tp = np.diag(self.matrix).astype(np.float64)
        union = self.matrix.sum(0) + self.matrix.sum(1) - tp
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, tp / union, np.nan)

    def miou(self) -> float:
        """Mean IoU over the classes that occur (the VOC score)."""
        return _nanmean(self.per_class_iou())

    def pixel_accuracy(self) -> float:
        """Fraction of (non-ignored) pixels labelled correctly: Σ_c TP_c / Σ all."""
        total = self.matrix.sum()
        return float(np.trace(self.matrix) / total) if total else float("nan")

    def per_class_accuracy(self) -> np.ndarray:
        """Recall of each class, TP_c / (pixels truly of class c); NaN for absent classes."""
        truth = self.matrix.sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(truth > 0, np.diag(self.matrix) / truth, np.nan)

    def mean_accuracy(self) -> float:
        """Per-class accuracy averaged over the classes present in the ground truth."""
        return _nanmean(self.per_class_accuracy())

    def frequency_weighted_iou(self) -> float:
        """Σ_c (share of pixels truly of class c) · IoU_c (Long et al., FCN, CVPR 2015, §5)."""
        truth = self.matrix.sum(1)
        total = truth.sum()
        if not total:
            return float("nan")
        iou = np.nan_to_num(self.per_class_iou())
        return float((truth / total * iou).sum())

    def __repr__(self) -> str:
        return (f"ConfusionMatrix(num_classes={self.num_classes}, pixels={int(self.matrix.sum())}, "
                f"miou={self.miou():.4f})")


def _nanmean(values: np.ndarray) -> float:
    present = values[~np.isnan(values)]
    return float(present.mean()) if present.size else float("nan")


def confusion_matrix_loops(pred, target, num_classes: int,
                           ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """The readable reference: visit every pixel and add one to ``matrix[truth, prediction]``."""
    pred, target = (a.ravel() for a in _as_int_pair(pred, target, "target"))
    keep = target != ignore_index
    _check_classes(pred[keep], target[keep], num_classes, ignore_index)
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    for p, t in zip(pred[keep].tolist(), target[keep].tolist()):
        matrix[t, p] += 1
    return matrix


# ----------------------------------------------------------------------------------------
# The trimap: a band around label boundaries
# ----------------------------------------------------------------------------------------

def _check_width(width) -> int:
    return validate.integer(width, "width", minimum=1, unit="(pixels)")


def boundary_pixels(label) -> np.ndarray:
    """Pixels with a 4-neighbour of a different label: both sides of every edge.

    Any change of value counts, including into and out of ``ignore`` (VOC draws its void
    band exactly along object outlines). The image border is not a boundary.
    """
    label = _as_int_array(label, "label")
    if label.ndim != 2:
        raise ValueError(f"label must be a 2-D label map (H, W), got shape {tuple(label.shape)}")
    edge = np.zeros(label.shape, dtype=bool)
    vertical = label[1:, :] != label[:-1, :]
    horizontal = label[:, 1:] != label[:, :-1]
    edge[1:, :] |= vertical
    edge[:-1, :] |= vertical
    edge[:, 1:] |= horizontal
    edge[:, :-1] |= horizontal
    return edge


def trimap_band(label, width: int) -> np.ndarray:
    """Boolean mask of the pixels within ``width`` pixels of a label boundary.

    A boundary lies *between* two pixels, so a pixel is in the band when its (Euclidean) distance
    to the nearest boundary pixel is at most ``width - 1``: a straight edge gives a band
    ``2 * width`` pixels across (width 1: the two-pixel-thick outline itself).
    """
    width = _check_width(width)
    edge = boundary_pixels(label)
    if not edge.any():
        return np.zeros_like(edge)
    from scipy import ndimage  # here, not at the top: scoring mIoU needs no SciPy (gpu-check)

    # distance_transform_edt measures the distance to the nearest zero, so zero the edges.
    return ndimage.distance_transform_edt(~edge) <= width - 1


def trimap_band_loops(label, width: int) -> np.ndarray:
    """The same band by brute force: for every pixel, the distance to every boundary pixel."""
    width = _check_width(width)
    edge = boundary_pixels(label)
    edge_points = np.argwhere(edge)
    band = np.zeros(edge.shape, dtype=bool)
    for y in range(edge.shape[0]):
        for x in range(edge.shape[1]):
            for ey, ex in edge_points:
                if (y - ey) ** 2 + (x - ex) ** 2 <= (width - 1) ** 2:
                    band[y, x] = True
                    break
    return band


class TrimapConfusion:
    """One confusion matrix per band width, accumulated over a set of images."""

    def __init__(self, num_classes: int, widths: Iterable[int],
                 ignore_index: int = IGNORE_INDEX) -> None:
        self.widths = [_check_width(w) for w in widths]
        if not self.widths:
            raise ValueError("widths must name at least one band width")
        self.matrices = {w: ConfusionMatrix(num_classes, ignore_index) for w in self.widths}

    def update(self, pred, label) -> "TrimapConfusion":
        """Add images: ``pred`` and ``label`` of shape (H, W) or (..., H, W)."""
        pred, label = _as_int_pair(pred, label, "label")
        if label.ndim < 2:
            raise ValueError(f"label must have shape (H, W) or (..., H, W), got {tuple(label.shape)}")
        h, w = label.shape[-2:]
        for p, t in zip(pred.reshape(-1, h, w), label.reshape(-1, h, w)):
            for width, matrix in self.matrices.items():
                band = trimap_band(t, width)
                matrix.update(p[band], t[band])
        return self

    def accuracy(self) -> dict[int, float]:
        return {w: m.pixel_accuracy() for w, m in self.matrices.items()}

    def miou(self) -> dict[int, float]:
        return {w: m.miou() for w, m in self.matrices.items()}


def trimap_accuracy(pred, label, widths: Iterable[int], num_classes: int | None = None,
                    ignore_index: int = IGNORE_INDEX) -> dict[int, float]:
    """Pixel accuracy inside the band of each width, ``{width: accuracy}``, of (H, W) or (..., H, W) maps."""
    pred_arr = _as_int_array(pred, "pred")
    label_arr = _as_int_array(label, "label")
    if num_classes is None:
        valid = label_arr[label_arr != ignore_index]
        num_classes = int(max(pred_arr.max(initial=0), valid.max(initial=0))) + 1
        if 0 <= ignore_index < num_classes:  # predictions of 255 would be a caller's bug
            raise ValueError(f"pred holds class {ignore_index}, the ignore_index")
    return TrimapConfusion(num_classes, widths, ignore_index).update(pred_arr, label_arr).accuracy()
