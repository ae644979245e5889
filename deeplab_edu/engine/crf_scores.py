"""The dense CRF on saved network probabilities (kazuto1011/deeplab-pytorch's ``crf`` step): written
once by ``evaluate(..., scores_dir=)``, refined by ``crf_evaluate`` with no network in memory.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import torch

from deeplab_edu import validate
from deeplab_edu.crf import CRFParams, dense_crf
from deeplab_edu.engine.evaluation import DEFAULT_TRIMAP_WIDTHS, EvalResult, new_result, update_result
from deeplab_edu.progress import tqdm
from deeplab_edu.runtime import default_device


def load_scores(scores_dir: str | Path, image_id: str, shape: tuple[int, int],
                num_classes: int | None = None) -> np.ndarray:
    """The saved probabilities of ``image_id``, float32 (C, H, W) renormalised; clear errors for a missing,
    corrupt or non-finite file, another image size or (given ``num_classes``) another class count."""
    path = Path(scores_dir) / f"{image_id}.npy"
    if not path.is_file():
        raise FileNotFoundError(f"no saved scores {path}; run evaluate with scores_dir= (--save-scores) first")
    try:
        probs = np.load(path).astype(np.float32)
    except (ValueError, OSError) as err:
        raise ValueError(f"saved scores {path} are corrupt ({err})") from err
    if probs.ndim != 3 or probs.shape[1:] != tuple(shape):
        raise ValueError(f"saved scores {path} have shape {probs.shape}; expected (C, {shape[0]}, {shape[1]})")
    if num_classes is not None and probs.shape[0] != num_classes:
        raise ValueError(f"saved scores {path} hold {probs.shape[0]} classes but the dataset has {num_classes}; "
                         "were they saved from a model of another dataset?")
    if not np.isfinite(probs).all():
        raise ValueError(f"saved scores {path} contain NaN or infinity; the network that wrote them diverged")
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
    probs = load_scores(_WORKER["scores_dir"], dataset.ids[index], label.shape, dataset.num_classes)
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

    The PyTorch methods (the default, the permutohedral lattice) run on ``device`` (default: CUDA
    when available) in this process, which PyTorch already spreads over the CPU's cores; the
    single-threaded ones ("pydensecrf", "exact") default to one worker process per core, up to 4.
    A worker that dies (a crash in C++) is reported, never waited for.
    """
    gpu = method in TORCH_METHODS and torch.device(device or default_device()).type != "cpu"
    if workers is None:
        workers = 1 if method in TORCH_METHODS else max(1, min(4, os.cpu_count() or 1))
    validate.integer(workers, "workers", minimum=1)
    if gpu and workers > 1:
        raise ValueError(f"workers={workers}: on a GPU the CRF runs in one process; pass workers=1")
    if device is not None and method not in TORCH_METHODS:
        raise ValueError(f"device={device!r} applies to the PyTorch methods {TORCH_METHODS}; "
                         f"{method!r} runs on the CPU")
    device = torch.device(device or default_device()) if method in TORCH_METHODS else None
    params = params or CRFParams()
    before = new_result(dataset.num_classes, dataset.class_names, trimap_widths)
    after = new_result(dataset.num_classes, dataset.class_names, trimap_widths)
    indices = range(len(dataset))
    bar = tqdm(total=len(dataset), desc=f"dense CRF ({method}, {workers} workers)", disable=not progress,
               leave=False)
    threads = max(1, torch.get_num_threads() // workers)
    pool = None
    if workers == 1:
        _init_worker(dataset, scores_dir, params, method, device, torch.get_num_threads())
        outputs = map(_crf_one, indices)
    else:
        # fork is fast and safe for the C++ pydensecrf; PyTorch's thread pools want a fresh process.
        # concurrent.futures, not multiprocessing.Pool: a worker that dies (a segfault in C++)
        # breaks the pool with an error instead of leaving its task waited for forever.
        ctx = multiprocessing.get_context("fork" if method == "pydensecrf" and hasattr(os, "fork") else "spawn")
        pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                                      initargs=(dataset, scores_dir, params, method, device,
                                                                threads))
        futures = [pool.submit(_crf_one, i) for i in indices]
        outputs = (f.result() for f in concurrent.futures.as_completed(futures))
    try:
        for _, coarse, refined, label in outputs:
            update_result(before, coarse, label)
            update_result(after, refined, label)
            bar.update(1)
    except BrokenProcessPool as err:
        raise RuntimeError(f"a CRF worker process died (method {method!r}, {params}); a crash in C++ code "
                           "such as pydensecrf's — check the σ values, or try method='lattice'") from err
    finally:
        bar.close()
        _WORKER.clear()  # the in-process run's dataset; a pool's workers exit with theirs
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return before, after
