"""Stage 3, the dense CRF benchmark (Krähenbühl & Koltun, NIPS 2011): the permutohedral lattice
in PyTorch on a VOC-sized scene, DeepLab v2's (w1, σα, σβ, w2, σγ), batch 1 and batched, and
its labels against pydensecrf (or the CPU lattice)."""

from __future__ import annotations

import importlib
import math
import statistics
import time
from collections.abc import Callable

import torch

from deeplab_edu.gpu_check.stage import Context, StageResult, sync


def crf_case(height: int, width: int, labels: int, seed: int = 0):
    """A VOC-sized test scene: (image uint8 (H, W, 3), probs float32 (C, H, W)), seeded.

    ``crf.coarse.ellipse_scene`` where SciPy is importable (what ``benchmarks/bench_crf_fast.py``
    times); without SciPy the same scene's scores are made without the Gaussian blur.
    """
    import numpy as np

    from deeplab_edu.crf.coarse import coarse_scores, ellipse_scene

    try:
        importlib.import_module("scipy.ndimage")
    except ImportError:
        rng = np.random.default_rng(seed)
        ys, xs = np.mgrid[0:height, 0:width]
        label = np.zeros((height, width), np.int64)
        image = np.zeros((height, width, 3)) + rng.uniform(60, 200, 3)
        for _ in range(8):
            cy, cx = rng.uniform(0.15, 0.85, 2) * (height, width)
            ry, rx = rng.uniform(0.08, 0.25, 2) * (height, width)
            inside = ((ys - cy) / ry) ** 2 + ((xs - cx) / rx) ** 2 < 1
            label[inside] = rng.integers(1, labels)
            image[inside] = rng.uniform(0, 255, 3)
        image = np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
        return image, coarse_scores(label, labels, blur=0, seed=seed)
    image, _, probs = ellipse_scene(height, width, labels, ellipses=8, seed=seed)
    return image, probs


def _median_seconds(fn: Callable, repeats: int, device: torch.device,
                    max_seconds: float = math.inf) -> tuple[float, object]:
    """Median time of ``fn()`` over up to ``repeats`` runs after a warm-up (fewer, at least one,
    past ``max_seconds``)."""
    out = fn()  # warm-up: kernels, allocations
    sync(device)
    samples: list[float] = []
    while len(samples) < repeats and (not samples or sum(samples) < max_seconds):
        start = time.perf_counter()
        out = fn()
        sync(device)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), out


def stage_crf(ctx: Context, result: StageResult) -> None:
    from deeplab_edu.crf import CRFParams, dense_crf_pydensecrf, lattice_meanfield

    sizes, device = ctx.sizes, ctx.device
    params = CRFParams(iterations=sizes.crf_iterations)  # DeepLab v2's w1, σα, σβ, w2, σγ
    (h, w), c = sizes.crf_size, sizes.crf_labels
    image, probs = crf_case(h, w, c)
    f = result.figures
    f.update(height=h, width=w, labels=c, iterations=params.iterations, w1=params.w1,
             sigma_alpha=params.sigma_alpha, sigma_beta=params.sigma_beta, w2=params.w2,
             sigma_gamma=params.sigma_gamma, device=str(device))
    image_t = torch.from_numpy(image).to(device)
    probs_t = torch.from_numpy(probs).to(device)
    repeats = sizes.crf_repeats

    def cold():  # both lattices built for the image, as for the first image of a size
        lattice_meanfield._smoothness_lattice.cache_clear()
        return lattice_meanfield.dense_crf_lattice(image_t, probs_t, params)

    def warm():  # the smoothness lattice (positions only) reused, as over a validation set
        return lattice_meanfield.dense_crf_lattice(image_t, probs_t, params)

    share = ctx.budget.left() / 6  # three timings and the reference, with room to spare
    with torch.inference_mode():
        seconds, q = _median_seconds(cold, repeats, device, share)
        f["ms_per_image_batch1_cold"] = seconds * 1e3
        seconds, q = _median_seconds(warm, repeats, device, share)
        f["ms_per_image_batch1"] = seconds * 1e3
        b = sizes.crf_batch
        images = image_t.permute(2, 0, 1)[None].expand(b, -1, -1, -1).contiguous()
        unary = -torch.log(probs_t.clamp(1e-8, 1))[None].expand(b, -1, -1, -1).contiguous()
        seconds, qb = _median_seconds(lambda: lattice_meanfield.lattice_mean_field(unary, images, params),
                                      max(repeats // 2, 1), device, share)
        f["batch"] = b
        f["ms_per_image_batched"] = seconds * 1e3 / b
        labels = q.argmax(0).cpu()
        f["batched_equals_single"] = float((qb[0].argmax(0).cpu() == labels).float().mean())
        try:
            importlib.import_module("pydensecrf.densecrf")
            f["reference"] = "pydensecrf (CPU)"
        except ImportError:
            f["reference"] = "PyTorch lattice on the CPU (pydensecrf is not importable)"
            if device.type == "cpu":
                result.notes.append("the reference is the same code on the same device: agreement 1 "
                                    "proves nothing here")
        t = time.perf_counter()
        if f["reference"].startswith("pydensecrf"):
            reference = torch.from_numpy(dense_crf_pydensecrf(image, probs, params))
        else:
            reference = lattice_meanfield.dense_crf_lattice(torch.from_numpy(image), torch.from_numpy(probs), params)
        f["reference_ms"] = (time.perf_counter() - t) * 1e3
    f["label_agreement"] = float((reference.argmax(0) == labels).float().mean())
    f["unary_agreement"] = float((probs_t.argmax(0).cpu() == labels).float().mean())
    f["target_ms"] = 5.0
    f["target_met"] = f["ms_per_image_batched"] <= 5.0 if device.type == "cuda" else None
    result.summary = (f"{h}×{w}, {c} labels, {params.iterations} its on {device.type}: "
                      f"{f['ms_per_image_batch1']:.1f} ms/image (batch 1, warm), "
                      f"{f['ms_per_image_batched']:.1f} ms/image (batch {b}); "
                      f"labels = {f['reference'].split(' (')[0]} on {f['label_agreement']:.1%}")
