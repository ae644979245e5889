"""Is generating a built-in scene cheaper than reading one from disk? And the transforms' cost.

    python benchmarks/bench_datasets.py                   # sizes 96 160 321 513
    python benchmarks/bench_datasets.py --sizes 64 96 --repeats 5

For each image side it writes ``--repeats`` + 1 different scenes in VOC layout to a scratch
folder and times, through the VOC reader (JPEG + palette PNG decode, label checks), two reads:

* **cold read** — each timed read is of a pair not read before, whose file pages were flushed
  (``fsync``) and then dropped from the page cache with ``posix_fadvise(POSIX_FADV_DONTNEED)``
  (no root needed; the kernel may ignore the advice on some file systems, and the header says
  when it is unavailable). This is the reference: a loader reading a data set too large to stay
  cached;
* **decode from RAM** — the same pair read again and again from a copy on ``/dev/shm`` (tmpfs,
  i.e. memory): the decode and checks alone, no storage.

Reading one pair over and over from an ordinary folder would time the page cache, which is
neither of these. Then, as ratios to the cold read, generating the same scene with
``make_scene``, the training transform (crop = side) and the evaluation transform. Data loading
runs on the CPU (DataLoader workers) whatever the training device, so there is no CUDA column.
Absolute times are printed for orientation only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable from a clone

from deeplab_edu.datasets import EvalTransform, TrainTransform
from deeplab_edu.datasets.synthetic import CLASSES, make_scene, scene_seed, write_builtin
from deeplab_edu.datasets.voc import VOCSegmentation
from provenance import provenance  # benchmarks/provenance.py


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def drop_from_page_cache(path: Path) -> bool:
    """Flush ``path`` and ask the kernel to forget its cached pages; False where unsupported."""
    if not hasattr(os, "posix_fadvise"):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return True


def cold_read_seconds(ds: VOCSegmentation, repeats: int) -> tuple[float, bool]:
    """Median seconds of ``ds.load(i)`` for i = 1..repeats, each pair dropped from the cache first."""
    dropped = True
    samples = []
    for index in range(1, repeats + 1):  # pair 0 is the warm-up of the reader itself
        image_id = ds.ids[index]
        for path in (ds.image_path(image_id), ds.label_path(image_id)):
            dropped &= drop_from_page_cache(Path(path))
        start = time.perf_counter()
        ds.load(index)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), dropped


def run(sizes: list[int], repeats: int) -> None:
    torch.set_num_threads(1)  # one DataLoader worker's view
    columns = ["RAM decode", "make_scene", "TrainTransform", "EvalTransform"]
    header = f"{'size':>6}{'cold ms':>10}{'RAM ms':>9}" + "".join(f"{c:>16}" for c in columns)
    shm = Path("/dev/shm")
    print(f"ratios are time / time of a cold read of one stored pair, median of {repeats}; 1 CPU thread")
    print("cold read: page-cache pages dropped with posix_fadvise(DONTNEED) after fsync; "
          f"RAM decode: the same files read from {'/dev/shm (tmpfs)' if shm.is_dir() else 'the scratch folder (no /dev/shm: this column is a page-cache read)'}")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as scratch, \
            tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as in_memory:
        for size in sizes:
            root = write_builtin(Path(scratch) / str(size), train=repeats + 1, val=0, size=size, progress=False)
            ds = VOCSegmentation(root, "train", class_names=CLASSES)
            ds.load(0)
            cold, dropped = cold_read_seconds(ds, repeats)
            ram_root = Path(shutil.copytree(root, Path(in_memory) / str(size)))
            ds_ram = VOCSegmentation(ram_root, "train", class_names=CLASSES)
            image, label = ds_ram.load(0)
            train, evaluate = TrainTransform(size, generator=torch.Generator().manual_seed(0)), EvalTransform()
            ram = median_seconds(lambda: ds_ram.load(0), repeats)
            times = [ram,
                     median_seconds(lambda: make_scene(scene_seed(0, "train", 0), size), repeats),
                     median_seconds(lambda: train(image, label), repeats),
                     median_seconds(lambda: evaluate(image, label), repeats)]
            note = "" if dropped else "  (posix_fadvise unavailable: 'cold' may be cached)"
            print(f"{size:>6}{cold * 1e3:>10.2f}{ram * 1e3:>9.2f}"
                  + "".join(f"{t / cold:>16.2f}" for t in times) + note)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[96, 160, 321, 513])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    print(provenance())
    run(args.sizes, args.repeats)


if __name__ == "__main__":
    main()
