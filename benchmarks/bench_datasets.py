"""Is generating a built-in scene cheaper than reading one from disk? And the transforms' cost.

    python benchmarks/bench_datasets.py                   # sizes 96 160 321 513
    python benchmarks/bench_datasets.py --sizes 64 96 --repeats 5

For each image side it writes a few scenes in VOC layout to a scratch folder, then times
(median of ``--repeats``) reading one pair back through the VOC reader (JPEG + palette PNG
decode, label checks) — the reference — and, as ratios to it, generating the same scene
with ``make_scene``, the training transform (crop = side) and the evaluation transform.
Data loading runs on the CPU (DataLoader workers) whatever the training device, so there
is no CUDA column. The reference's absolute time is printed for orientation only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable from a clone

from deeplab_edu.datasets import EvalTransform, TrainTransform  # noqa: E402
from deeplab_edu.datasets.synthetic import CLASSES, make_scene, scene_seed, write_builtin  # noqa: E402
from deeplab_edu.datasets.voc import VOCSegmentation  # noqa: E402


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run(sizes: list[int], repeats: int) -> None:
    torch.set_num_threads(1)  # one DataLoader worker's view
    columns = ["make_scene", "TrainTransform", "EvalTransform"]
    header = f"{'size':>6}{'read ms':>10}" + "".join(f"{c:>16}" for c in columns)
    print(f"ratios are time / time to read one stored pair, median of {repeats}; 1 CPU thread")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as scratch:
        for size in sizes:
            root = write_builtin(Path(scratch) / str(size), train=2, val=0, size=size, progress=False)
            ds = VOCSegmentation(root, "train", class_names=CLASSES)
            image, label = ds.load(0)
            train, evaluate = TrainTransform(size, generator=torch.Generator().manual_seed(0)), EvalTransform()
            reference = median_seconds(lambda: ds.load(0), repeats)
            times = [median_seconds(lambda: make_scene(scene_seed(0, "train", 0), size), repeats),
                     median_seconds(lambda: train(image, label), repeats),
                     median_seconds(lambda: evaluate(image, label), repeats)]
            print(f"{size:>6}{reference * 1e3:>10.2f}" + "".join(f"{t / reference:>16.2f}" for t in times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[96, 160, 321, 513])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    run(args.sizes, args.repeats)


if __name__ == "__main__":
    main()
