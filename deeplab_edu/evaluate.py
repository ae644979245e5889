"""Evaluation the way the papers score: whole images, one confusion matrix, trimap, CRF.

* **Whole images.** Each validation image is scored whole, padded at the bottom/right to
  output_stride·k + 1 (the mean colour, 0 after normalisation) so the corners of the image
  and of the score map align, and the logits are cropped back. A centre crop would drop
  pixels the benchmark counts.
* **One confusion matrix** accumulated over every pixel of the set (``metrics.ConfusionMatrix``)
  gives mIoU, per-class IoU, pixel accuracy, mean accuracy and frequency-weighted IoU.
* **Trimap accuracy** (v1 §5, v2 §4.1): accuracy within bands of a few pixels around the
  label boundaries (``metrics.TrimapConfusion``), where the CRF and v3+'s decoder earn their keep.
* **Multi-scale + flip inference** (v2 §4.1 "MSC", v3 §4.3, v3+ §4): the softmax of the image at
  several scales and left-right flipped, each resized to the image, averaged.
* **CRF post-processing of saved scores** (kazuto1011/deeplab-pytorch's ``crf`` step): the
  network's probabilities are written once (``scores_dir``), then ``crf_evaluate`` refines
  them with ``crf.dense_crf``, with no network in memory: by default with the permutohedral
  lattice in PyTorch, on the GPU when there is one, else on all the CPU's cores (pydensecrf,
  single-threaded, gets parallel worker processes instead).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import multiprocessing
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from deeplab_edu.crf import CRFParams, dense_crf
from deeplab_edu.metrics import ConfusionMatrix, TrimapConfusion
from deeplab_edu.runtime import default_device

DEFAULT_TRIMAP_WIDTHS = (2, 4, 8)


# --------------------------------------------------------------------------- inference

def pad_to_stride(images: torch.Tensor, output_stride: int) -> torch.Tensor:
    """Pad (N, 3, H, W) at the bottom and right to output_stride·k + 1 in each dimension."""
    if isinstance(output_stride, bool) or not isinstance(output_stride, int) or output_stride < 1:
        raise ValueError(f"output_stride must be a positive integer, got {output_stride!r}")
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, 3, H, W), got {tuple(images.shape)}")
    H, W = images.shape[-2:]
    Hp = math.ceil((H - 1) / output_stride) * output_stride + 1
    Wp = math.ceil((W - 1) / output_stride) * output_stride + 1
    return F.pad(images, (0, Wp - W, 0, Hp - H), value=0.0)


@torch.no_grad()
def predict_probs(model: torch.nn.Module, images: torch.Tensor, scales: Sequence[float] = (1.0,),
                  flip: bool = False) -> torch.Tensor:
    """Class probabilities (N, C, H, W) of whole images, averaged over ``scales`` and flips.

    Each scale s resizes the image by s, pads it to the model's output_stride·k + 1, crops the
    logits back, resizes them to (H, W) and takes the softmax; flipping scores the mirrored
    image and mirrors the answer back. One scale without flip is plain whole-image inference.
    """
    scales = tuple(float(s) for s in scales)
    if not scales or any(not s > 0 for s in scales):
        raise ValueError(f"scales must be a non-empty sequence of positive numbers, got {scales!r}")
    H, W = images.shape[-2:]
    stride = getattr(model, "output_stride", 8)
    total, count = None, 0
    for s in scales:
        x = images if s == 1.0 else F.interpolate(images, scale_factor=s, mode="bilinear", align_corners=False)
        h, w = x.shape[-2:]
        for mirrored in ((False, True) if flip else (False,)):
            xi = x.flip(-1) if mirrored else x
            logits = model(pad_to_stride(xi, stride))[..., :h, :w].float()
            if mirrored:
                logits = logits.flip(-1)
            if (h, w) != (H, W):
                logits = F.interpolate(logits, size=(H, W), mode="bilinear", align_corners=False)
            probs = logits.softmax(1)
            total = probs if total is None else total + probs
            count += 1
    return total / count


# --------------------------------------------------------------------------- scores

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


def _new_result(num_classes: int, class_names, trimap_widths) -> EvalResult:
    widths = tuple(trimap_widths)
    return EvalResult(ConfusionMatrix(num_classes), TrimapConfusion(num_classes, widths) if widths else None,
                      tuple(class_names))


def _update(result: EvalResult, pred: np.ndarray, label: np.ndarray) -> None:
    result.confusion.update(pred, label)
    if result.trimap is not None:
        result.trimap.update(pred, label)


def evaluate(model: torch.nn.Module, dataset, scales: Sequence[float] = (1.0,), flip: bool = False,
             trimap_widths: Sequence[int] = DEFAULT_TRIMAP_WIDTHS, device: torch.device | str | None = None,
             scores_dir: str | Path | None = None, progress: bool = True) -> EvalResult:
    """Score every image of ``dataset`` whole; accumulate one confusion matrix (and trimap).

    ``dataset`` yields (image normalised (3, H, W), label (H, W)) and has ``num_classes``,
    ``class_names`` and ``ids``. With ``scores_dir`` each image's probabilities are saved as
    ``<id>.npy`` (float16, (C, H, W)) for ``crf_evaluate``.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    result = _new_result(dataset.num_classes, dataset.class_names, trimap_widths)
    if scores_dir is not None:
        Path(scores_dir).mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    try:
        for i in tqdm(range(len(dataset)), desc="evaluating", disable=not progress, leave=False):
            image, label = dataset[i]
            probs = predict_probs(model, image[None].to(device), scales, flip)[0].cpu()
            _update(result, probs.argmax(0).numpy(), label.numpy())
            if scores_dir is not None:
                np.save(Path(scores_dir) / f"{dataset.ids[i]}.npy", probs.half().numpy())
    finally:
        model.train(was_training)
    return result


# --------------------------------------------------------------------------- CRF on saved scores

def load_scores(scores_dir: str | Path, image_id: str, shape: tuple[int, int]) -> np.ndarray:
    """The saved probabilities of ``image_id``, float32 (C, H, W) renormalised; clear errors."""
    path = Path(scores_dir) / f"{image_id}.npy"
    if not path.is_file():
        raise FileNotFoundError(f"no saved scores {path}; run evaluate with scores_dir= (--save-scores) first")
    try:
        probs = np.load(path).astype(np.float32)
    except (ValueError, OSError) as err:
        raise ValueError(f"saved scores {path} are corrupt ({err})") from err
    if probs.ndim != 3 or probs.shape[1:] != tuple(shape):
        raise ValueError(f"saved scores {path} have shape {probs.shape}; expected (C, {shape[0]}, {shape[1]})")
    probs = np.clip(probs, 0, None)
    return probs / probs.sum(0, keepdims=True)  # float16 storage leaves sums a hair off 1


# Worker state: set once per process by the pool's initializer, not pickled per task.
_WORKER: dict = {}

# Methods written in PyTorch, which can run on a GPU; the others are CPU-only NumPy / C++.
TORCH_METHODS = ("lattice", "torch")


def _init_worker(dataset, scores_dir, params, method, device, threads) -> None:
    torch.set_num_threads(threads)
    _WORKER.update(dataset=dataset, scores_dir=scores_dir, params=params, method=method, device=device)


def _crf_one(index: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    dataset, device = _WORKER["dataset"], _WORKER["device"]
    image, label = dataset.load(index)
    image = np.array(image)  # a writable copy: PIL hands out read-only arrays
    probs = load_scores(_WORKER["scores_dir"], dataset.ids[index], label.shape)
    coarse = probs.argmax(0)
    if _WORKER["method"] in TORCH_METHODS:  # tensors in, so the CRF runs on ``device``
        image, probs = torch.from_numpy(image).to(device), torch.from_numpy(probs).to(device)
    refined = dense_crf(image, probs, _WORKER["params"], method=_WORKER["method"])
    refined = refined.argmax(0).cpu().numpy() if isinstance(refined, torch.Tensor) else refined.argmax(0)
    return index, coarse, refined, label


def crf_evaluate(dataset, scores_dir: str | Path, params: CRFParams | None = None, method: str = "lattice",
                 workers: int | None = None, trimap_widths: Sequence[int] = DEFAULT_TRIMAP_WIDTHS,
                 progress: bool = True, device: str | torch.device | None = None) -> tuple[EvalResult, EvalResult]:
    """(before, after): the saved scores' argmax and the dense-CRF-refined argmax, scored.

    ``method`` is a ``crf.dense_crf`` method; the default, the permutohedral lattice in PyTorch,
    runs on ``device`` (default: CUDA when available, else the CPU), one image after another in
    this process: PyTorch already spreads each image over the CPU's cores (or the GPU). The
    single-threaded methods ("pydensecrf", "exact") default to ``workers`` = one process per
    core, up to 4. The confusion matrices are sums, so the result does not depend on ``workers``.
    """
    gpu = method in TORCH_METHODS and torch.device(device or default_device()).type != "cpu"
    if workers is None:
        workers = 1 if method in TORCH_METHODS else max(1, min(4, os.cpu_count() or 1))
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if gpu and workers > 1:
        raise ValueError(f"workers={workers}: on a GPU the CRF runs in one process; pass workers=1")
    if device is not None and method not in TORCH_METHODS:
        raise ValueError(f"device={device!r} applies to the PyTorch methods {TORCH_METHODS}; "
                         f"{method!r} runs on the CPU")
    device = torch.device(device or default_device()) if method in TORCH_METHODS else None
    params = params or CRFParams()
    before = _new_result(dataset.num_classes, dataset.class_names, trimap_widths)
    after = _new_result(dataset.num_classes, dataset.class_names, trimap_widths)
    indices = range(len(dataset))
    bar = tqdm(total=len(dataset), desc=f"dense CRF ({method}, {workers} workers)", disable=not progress,
               leave=False)
    threads = max(1, torch.get_num_threads() // workers)
    if workers == 1:
        _init_worker(dataset, scores_dir, params, method, device, torch.get_num_threads())
        outputs = map(_crf_one, indices)
        pool = None
    else:
        # fork is fast and safe for the C++ pydensecrf; PyTorch's thread pools want a fresh process.
        ctx = multiprocessing.get_context("fork" if method == "pydensecrf" and hasattr(os, "fork") else "spawn")
        pool = ctx.Pool(workers, initializer=_init_worker,
                        initargs=(dataset, scores_dir, params, method, device, threads))
        outputs = pool.imap_unordered(_crf_one, indices)
    try:
        for _, coarse, refined, label in outputs:
            _update(before, coarse, label)
            _update(after, refined, label)
            bar.update(1)
    finally:
        bar.close()
        _WORKER.clear()  # the in-process run's dataset; a pool's workers exit with theirs
        if pool is not None:
            pool.close()
            pool.join()
    return before, after


def evaluate_with_crf(model: torch.nn.Module, dataset, scores_dir: str | Path, params: CRFParams | None = None,
                      trimap_widths: Sequence[int] = DEFAULT_TRIMAP_WIDTHS,
                      device: torch.device | str | None = None, progress: bool = True
                      ) -> tuple[EvalResult, EvalResult]:
    """(network alone, network + dense CRF): ``evaluate`` saving the probabilities in
    ``scores_dir``, then ``crf_evaluate`` (the lattice, on ``device``) on exactly those."""
    before = evaluate(model, dataset, trimap_widths=trimap_widths, device=device, scores_dir=scores_dir,
                      progress=progress)
    _, after = crf_evaluate(dataset, scores_dir, params, trimap_widths=trimap_widths, progress=progress,
                            device=device)
    return before, after


# --------------------------------------------------------------------------- command line

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    parser.description = ("Evaluate a checkpoint on whole images: mIoU, per-class IoU, pixel / mean accuracy, "
                          "frequency-weighted IoU and trimap accuracy; optionally multi-scale + flip, and save "
                          "the probabilities for `python -m deeplab_edu crf`.")
    parser.add_argument("checkpoint", type=Path, help="checkpoint.pt written by `train`")
    parser.add_argument("--dataset", default="builtin", choices=["builtin", "sample", "voc", "voc_aug"])
    parser.add_argument("--data-root", default=None, help="dataset folder (default: from deeplab_edu.paths)")
    parser.add_argument("--split", default="val")
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0], help="e.g. 0.5 0.75 1 1.25 1.5 1.75")
    parser.add_argument("--flip", action="store_true", help="also score the mirrored image")
    parser.add_argument("--trimap", type=int, nargs="*", default=list(DEFAULT_TRIMAP_WIDTHS),
                        help="band widths in pixels for trimap accuracy")
    parser.add_argument("--save-scores", type=Path, default=None, help="folder for <id>.npy probabilities")
    parser.add_argument("--device", default=None)


def load_trained(checkpoint: str | Path, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, dict]:
    """The model a training checkpoint holds, rebuilt from its ``model_config`` and loaded."""
    from deeplab_edu.checkpoint import build_from_config, load_checkpoint, read_checkpoint

    config = read_checkpoint(checkpoint)["model_config"]
    model = build_from_config(config)
    load_checkpoint(checkpoint, model, model_config=config)
    return model.to(device).eval(), config


def run(args: argparse.Namespace) -> int:
    from deeplab_edu.datasets import build_dataset
    from deeplab_edu.runtime import default_device

    device = torch.device(args.device) if args.device else default_device()
    model, config = load_trained(args.checkpoint, device)
    dataset = build_dataset(args.dataset, args.split, root=args.data_root)
    if dataset.num_classes != config["num_classes"]:
        raise ValueError(f"checkpoint {args.checkpoint} predicts {config['num_classes']} classes but dataset "
                         f"{args.dataset!r} has {dataset.num_classes}")
    result = evaluate(model, dataset, args.scales, args.flip, args.trimap, device, args.save_scores)
    print(f"{args.checkpoint} on {args.dataset}/{args.split} ({len(dataset)} images), scales {args.scales}"
          f"{', flip' if args.flip else ''}:")
    print(result.format())
    if args.save_scores:
        print(f"probabilities saved to {args.save_scores}; refine them with "
              f"`python -m deeplab_edu crf {args.save_scores} --dataset {args.dataset}`")
    return 0


# --------------------------------------------------------------------------- results tables

def results_row(name: str, before: EvalResult, after: EvalResult | None = None, seconds: float = math.nan,
                device: str = "", trimap_width: int | None = None) -> dict[str, object]:
    """One line of a chapter's results table: mIoU and trimap accuracy before / after the CRF."""
    def trimap(result: EvalResult) -> float:
        if result.trimap is None:
            return math.nan
        accuracy = result.trimap.accuracy()
        return accuracy[trimap_width if trimap_width is not None else min(accuracy)]

    row: dict[str, object] = {"run": name, "mIoU": before.confusion.miou(),
                              "pixel acc": before.confusion.pixel_accuracy(), "trimap acc": trimap(before)}
    if after is not None:
        row.update({"mIoU +CRF": after.confusion.miou(), "trimap acc +CRF": trimap(after)})
    row.update({"train s": seconds, "device": device})
    return row


def per_class_row(name: str, result: EvalResult) -> dict[str, object]:
    """One line of a per-class IoU table: which classes a run has learned to name."""
    return {"run": name, **result.per_class()}


def format_table(rows: list[dict[str, object]]) -> str:
    """The rows as a Markdown table; floats with 3 decimals (times with 1)."""
    columns = list(dict.fromkeys(k for row in rows for k in row))

    def cell(key: str, value: object) -> str:
        if isinstance(value, float):
            return "—" if math.isnan(value) else f"{value:.1f}" if key.endswith(" s") else f"{value:.3f}"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(c, row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)
