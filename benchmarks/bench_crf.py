"""Time per image of the fully-connected CRF: pydensecrf (the reference) against the PyTorch path.

    python benchmarks/bench_crf.py                      # 500×375, 21 labels, 10 iterations
    python benchmarks/bench_crf.py --sizes 64x48 --strides 1,4 --repeats 1   # a quick check

The PyTorch path evaluates the appearance kernel pair by pair, from every ``stride``-th pixel
(N²/stride² pairs; stride 1 is exact and quadratic). Each row states its time as a ratio to
pydensecrf measured in the same run, and how many labels it agrees with pydensecrf on. CUDA
rows appear when PyTorch sees a GPU.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from deeplab_edu.crf import CRFParams, coarse_scores, dense_crf
from deeplab_edu.runtime import seed_everything


def make_case(width: int, height: int, labels: int, seed: int = 0):
    """A blocky labelled scene with its noisy image and coarse scores."""
    rng = np.random.default_rng(seed)
    label = np.zeros((height, width), dtype=np.int64)
    for c in range(1, labels):
        y, x = rng.integers(0, height), rng.integers(0, width)
        label[y:y + rng.integers(height // 8, height // 2), x:x + rng.integers(width // 8, width // 2)] = c
    colours = rng.integers(0, 256, size=(labels, 3))
    image = np.clip(colours[label] + rng.normal(0, 8, label.shape + (3,)), 0, 255).astype(np.uint8)
    return image, coarse_scores(label, labels, seed=seed)


def _time(fn, repeats: int, sync=lambda: None) -> tuple[float, object]:
    out = fn()  # warm-up (CUDA kernels, allocations)
    sync()
    start = time.perf_counter()
    for _ in range(repeats):
        out = fn()
    sync()
    return (time.perf_counter() - start) / repeats, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500x375", help="comma-separated WxH, e.g. 500x375,250x188")
    parser.add_argument("--labels", type=int, default=21)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--strides", default="8,4", help="source strides of the PyTorch path")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-cpu-torch", action="store_true", help="skip the PyTorch path on the CPU")
    args = parser.parse_args(argv)
    seed_everything(0)
    params = CRFParams(w1=4, sigma_alpha=60, sigma_beta=5, w2=3, sigma_gamma=3, iterations=args.iterations)
    strides = [int(s) for s in args.strides.split(",")]
    devices = ([] if args.no_cpu_torch else ["cpu"]) + (["cuda"] if torch.cuda.is_available() else [])
    print(f"{args.labels} labels, {args.iterations} iterations, torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads" + (f", {torch.cuda.get_device_name()}" if "cuda" in devices else ""))
    print(f"{'size':>9} {'method':<24} {'s/image':>9} {'× pydensecrf':>13} {'labels = pydensecrf':>20}")
    for size in args.sizes.split(","):
        width, height = (int(v) for v in size.lower().split("x"))
        image, probs = make_case(width, height, args.labels)
        reference, ref_out = _time(lambda: dense_crf(image, probs, params, method="pydensecrf"), args.repeats)
        ref_labels = ref_out.argmax(0)
        print(f"{size:>9} {'pydensecrf (CPU)':<24} {reference:9.3f} {1.0:13.2f} {1.0:20.4f}")
        for device in devices:
            sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
            image_t = torch.from_numpy(image).to(device)
            probs_t = torch.from_numpy(probs).to(device)
            for stride in strides:
                from deeplab_edu.crf.torch_meanfield import mean_field_torch
                seconds, out = _time(lambda: mean_field_torch(image_t, probs_t, params, source_stride=stride),
                                     args.repeats, sync)
                agree = (out.argmax(0).cpu().numpy() == ref_labels).mean()
                print(f"{size:>9} {f'torch {device}, stride {stride}':<24} {seconds:9.3f} "
                      f"{seconds / reference:13.2f} {agree:20.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
