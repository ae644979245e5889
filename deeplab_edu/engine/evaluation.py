"""``evaluate``: every image of a set scored whole into one confusion matrix over all its pixels (mIoU,
per-class IoU, pixel / mean accuracy, fwIoU — never an average of per-image IoUs), and trimap
accuracy (v1 §5, v2 §4.1) in bands around the label boundaries, where the CRF and v3+'s decoder
earn their keep.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from deeplab_edu.engine.inference import predict_probs
from deeplab_edu.metrics import ConfusionMatrix, TrimapConfusion
from deeplab_edu.progress import tqdm

DEFAULT_TRIMAP_WIDTHS = (2, 4, 8)


@dataclasses.dataclass
class EvalResult:
    """The confusion matrices of one evaluation, and the scores they give."""

    confusion: ConfusionMatrix
    trimap: TrimapConfusion | None
    class_names: tuple[str, ...]

    def summary(self) -> dict[str, float]:
        """mIoU, pixel accuracy, mean accuracy, frequency-weighted IoU and trimap accuracies."""
        cm = self.confusion
        out = {"mIoU": cm.miou(), "pixel_acc": cm.pixel_accuracy(), "mean_acc": cm.mean_accuracy(),
               "fwIoU": cm.frequency_weighted_iou()}
        if self.trimap is not None:
            out.update({f"trimap_{w}px": acc for w, acc in self.trimap.accuracy().items()})
        return out

    def per_class(self) -> dict[str, float]:
        return dict(zip(self.class_names, self.confusion.per_class_iou().tolist()))

    def format(self) -> str:
        lines = [f"{k:>16}: {v:7.4f}" for k, v in self.summary().items()]
        lines += [f"{'IoU ' + name:>16}: {iou:7.4f}" for name, iou in self.per_class().items()]
        return "\n".join(lines)


def new_result(num_classes: int, class_names, trimap_widths) -> EvalResult:
    widths = tuple(trimap_widths)
    return EvalResult(ConfusionMatrix(num_classes), TrimapConfusion(num_classes, widths) if widths else None,
                      tuple(class_names))


def update_result(result: EvalResult, pred: np.ndarray, label: np.ndarray) -> None:
    result.confusion.update(pred, label)
    if result.trimap is not None:
        result.trimap.update(pred, label)


def evaluate(model: torch.nn.Module, dataset, scales: Sequence[float] = (1.0,), flip: bool = False,
             trimap_widths: Sequence[int] = DEFAULT_TRIMAP_WIDTHS, device: torch.device | str | None = None,
             scores_dir: str | Path | None = None, progress: bool = True) -> EvalResult:
    """Score every image of ``dataset`` (normalised (3, H, W), label (H, W); ``num_classes``, ``class_names``,
    ``ids``) whole; with ``scores_dir`` save each one's probabilities as ``<id>.npy`` (float16) for the CRF."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    result = new_result(dataset.num_classes, dataset.class_names, trimap_widths)
    if scores_dir is not None:
        Path(scores_dir).mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    try:
        for i in tqdm(range(len(dataset)), desc="evaluating", disable=not progress, leave=False):
            image, label = dataset[i]
            probs = predict_probs(model, image[None].to(device), scales, flip)[0].cpu()
            update_result(result, probs.argmax(0).numpy(), label.numpy())
            if scores_dir is not None:
                np.save(Path(scores_dir) / f"{dataset.ids[i]}.npy", probs.half().numpy())
    finally:
        model.train(was_training)
    return result


def format_results_table(rows: list[dict[str, object]]) -> str:
    """The chapters' results rows as a Markdown table; floats with 3 decimals (times, `` s`` columns, with 1)."""
    columns = list(dict.fromkeys(k for row in rows for k in row))

    def cell(key: str, value: object) -> str:
        if isinstance(value, float):
            return "—" if math.isnan(value) else f"{value:.1f}" if key.endswith(" s") else f"{value:.3f}"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(c, row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)
