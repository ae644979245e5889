"""Time the three hole-algorithm implementations against PyTorch's native dilated convolution.

    python benchmarks/bench_hole.py                      # CPU, and CUDA when available
    python benchmarks/bench_hole.py --sizes 33 65 129 --channels 64 --rate 12 --devices cpu

For each device and input size it runs (a) zero insertion, (b) space-to-batch, (c) im2col and
the native ``conv2d(dilation=r)`` on the same input and prints the median time of each as a
ratio to the native op measured in the same run (> 1 means slower than native). The absolute
native time is printed too, for orientation only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable from a clone

from deeplab_edu import hole
from deeplab_edu.runtime import seed_everything


def time_call(fn, device: torch.device, repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` runs after one warm-up."""
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    with torch.inference_mode():
        fn()
        sync()
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            sync()
            samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run(sizes: list[int], channels: int, rate: int, kernel: int, batch: int, repeats: int,
        devices: list[str]) -> None:
    methods = ["zero_insert", "space_to_batch", "im2col"]
    header = f"{'device':<8}{'size':>6}{'native ms':>11}" + "".join(f"{m:>16}" for m in methods)
    print(f"N={batch} C_in=C_out={channels} kernel {kernel}x{kernel} rate {rate} padding "
          f"{rate * (kernel // 2)}; ratios are time / native time, median of {repeats}")
    print(header)
    print("-" * len(header))
    for name in devices:
        device = torch.device(name)
        for size in sizes:
            seed_everything(0)
            x = torch.randn(batch, channels, size, size, device=device)
            w = torch.randn(channels, channels, kernel, kernel, device=device)
            pad = rate * (kernel // 2)
            native = time_call(lambda: hole.conv2d_native(x, w, rate, pad), device, repeats)
            ratios = [time_call(lambda m=m: hole.hole_conv2d(x, w, rate, pad, method=m), device, repeats)
                      / native for m in methods]
            print(f"{name:<8}{size:>6}{native * 1e3:>11.3f}" + "".join(f"{r:>16.2f}" for r in ratios))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[33, 65, 129],
                        help="input height = width (default: 33 65 129)")
    parser.add_argument("--channels", type=int, default=64, help="input and output channels")
    parser.add_argument("--rate", type=int, default=2, help="atrous rate r")
    parser.add_argument("--kernel", type=int, default=3, help="filter size K (K x K)")
    parser.add_argument("--batch", type=int, default=1, help="batch size N")
    parser.add_argument("--repeats", type=int, default=10, help="timed runs per measurement")
    parser.add_argument("--devices", nargs="+", default=None,
                        help="devices to run on (default: cpu, and cuda when available)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.devices or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    if "cuda" in devices and not torch.cuda.is_available():
        parser.error("--devices names cuda but PyTorch sees no CUDA device")
    for size in args.sizes:
        if size + 2 * args.rate * (args.kernel // 2) < args.kernel + (args.kernel - 1) * (args.rate - 1):
            parser.error(f"--sizes {size} is too small for a {args.kernel}x{args.kernel} filter at rate {args.rate}")
    run(args.sizes, args.channels, args.rate, args.kernel, args.batch, args.repeats, devices)
    return 0


if __name__ == "__main__":
    sys.exit(main())
