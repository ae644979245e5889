"""Time per image of the dense CRF: pydensecrf, the PyTorch pair-by-pair path at a source stride,
and the permutohedral lattice in PyTorch, on the same inputs, in one run.

    python benchmarks/bench_crf_fast.py                       # 500×375, 21 labels, 10 iterations
    python benchmarks/bench_crf_fast.py --sizes 100x75 --repeats 1 --torch-strides 4   # quick check
    python benchmarks/bench_crf_fast.py --threads 1           # torch on one core, like pydensecrf

Every row is timed on the same image and coarse scores (a textured scene of ellipses, scored
like a DeepLab network at output stride 8) with DeepLab v2's parameters (w1 = 4, σα = 121,
σβ = 5, w2 = 3, σγ = 3), and states its time as a ratio to pydensecrf, the share of labels
that agree with pydensecrf, and the largest difference in the refined probabilities.

What each row times:

* ``pydensecrf`` — Krähenbühl's C++ lattice on one CPU thread: the reference of every ratio;
* ``torch path, stride s`` — ``mean_field_torch(..., source_stride=s)``: the appearance kernel
  evaluated pair by pair with only every s-th pixel (in y and x) sending messages. At the
  default s = 8 this is an *approximation* costing N²/64 pairs, not the exact all-pairs path
  (s = 1 is exact and quadratic: hours at 500×375 on a CPU);
* ``lattice`` — ``dense_crf_lattice``; its ``× torch s=…`` column is its time over the first
  torch-path row's, i.e. over the strided approximation at the first ``--torch-strides`` value.

The lattice's time includes building both lattices for every image (``--warm`` reuses the
smoothness lattice, which depends only on the image size, as a loop over a validation set
does). CUDA rows appear when PyTorch sees a GPU; ``--batch`` adds a row that refines that many
images in one call. The first lines printed record the command, machine, torch version and
date, so that a saved output (``benchmarks/results/``) carries its provenance.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable from a clone

from deeplab_edu.crf import CRFParams, dense_crf_pydensecrf, mean_field_torch
from deeplab_edu.crf.coarse import ellipse_scene
from deeplab_edu.crf import lattice_meanfield
from deeplab_edu.runtime import seed_everything
from provenance import provenance  # benchmarks/provenance.py



def time_call(fn, repeats: int, device: str = "cpu") -> tuple[float, object]:
    """Median seconds of ``fn()`` over ``repeats`` runs after one warm-up, and its last output."""
    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    with torch.inference_mode():
        out = fn()
        sync()
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            out = fn()
            sync()
            samples.append(time.perf_counter() - start)
    return statistics.median(samples), out


def run(sizes: list[str], labels: int, params: CRFParams, repeats: int, strides: list[int],
        devices: list[str], warm: bool, batch: int) -> None:
    print(f"{labels} labels, {params.iterations} iterations, w1={params.w1:g} σα={params.sigma_alpha:g} "
          f"σβ={params.sigma_beta:g} w2={params.w2:g} σγ={params.sigma_gamma:g}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU thread(s)"
          + (f", {torch.cuda.get_device_name()}" if "cuda" in devices else "")
          + f"; median of {repeats}; lattice {'warm' if warm else 'cold'} (smoothness lattice "
          f"{'reused' if warm else 'rebuilt'} per image)")
    vs_torch_title = f"× torch s={strides[0]}" if strides else ""
    header = (f"{'size':>9} {'method':<28}{'ms/image':>10}{'× pydensecrf':>14}{vs_torch_title:>14}"
              f"{'labels = pydensecrf':>21}{'max |ΔQ|':>10}")
    print(header)
    print("-" * len(header))
    for size in sizes:
        width, height = (int(v) for v in size.lower().split("x"))
        image, _, probs = ellipse_scene(height, width, labels, ellipses=8)
        reference, ref_q = time_call(lambda: dense_crf_pydensecrf(image, probs, params), repeats)
        ref_labels = ref_q.argmax(0)

        def row(method: str, seconds: float, q: np.ndarray, strided_reference: float | None) -> None:
            vs_torch = f"{seconds / strided_reference:14.3f}" if strided_reference else f"{'':>14}"
            print(f"{size:>9} {method:<28}{seconds * 1e3:10.1f}{seconds / reference:14.3f}{vs_torch}"
                  f"{(q.argmax(0) == ref_labels).mean():21.4%}{np.abs(q - ref_q).max():10.1e}")

        row("pydensecrf (CPU, 1 thread)", reference, ref_q, None)
        for device in devices:
            image_t = torch.from_numpy(image).to(device)
            probs_t = torch.from_numpy(probs).to(device)
            strided_reference = None
            for stride in strides:
                seconds, q = time_call(lambda: mean_field_torch(image_t, probs_t, params, source_stride=stride),
                                       repeats, device)
                strided_reference = strided_reference or seconds
                row(f"torch path {device}, stride {stride}", seconds, q.cpu().numpy(), None)

            def lattice():
                if not warm:
                    lattice_meanfield._smoothness_lattice.cache_clear()
                return lattice_meanfield.dense_crf_lattice(image_t, probs_t, params)

            seconds, q = time_call(lattice, repeats, device)
            row(f"lattice {device}", seconds, q.cpu().numpy(), strided_reference)
            if batch > 1:
                images = image_t.permute(2, 0, 1)[None].expand(batch, -1, -1, -1).contiguous()
                unary = -torch.log(probs_t.clamp(1e-8, 1))[None].expand(batch, -1, -1, -1).contiguous()

                def batched():
                    if not warm:
                        lattice_meanfield._smoothness_lattice.cache_clear()
                    return lattice_meanfield.lattice_mean_field(unary, images, params)

                seconds, q = time_call(batched, repeats, device)
                row(f"lattice {device}, batch {batch}", seconds / batch, q[0].cpu().numpy(), strided_reference)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["500x375"], help="WxH (default: 500x375)")
    parser.add_argument("--labels", type=int, default=21, help="number of labels C (default: 21)")
    parser.add_argument("--iterations", type=int, default=10, help="mean-field iterations (default: 10)")
    parser.add_argument("--torch-strides", type=int, nargs="*", default=[8],
                        help="source strides of the pair-by-pair torch path (default: 8; 1 is exact "
                             "and quadratic: hours at 500x375 on a CPU)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per row (default: 3)")
    parser.add_argument("--devices", nargs="+", default=None,
                        help="torch devices (default: cpu, and cuda when available)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all)")
    parser.add_argument("--batch", type=int, default=1, help="also time this many images per call")
    parser.add_argument("--warm", action="store_true",
                        help="reuse the smoothness lattice between images of one size")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.devices or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    seed_everything(0)
    print(provenance())
    params = CRFParams(iterations=args.iterations)  # DeepLab v2's w1, σα, σβ, w2, σγ
    run(args.sizes, args.labels, params, args.repeats, args.torch_strides, devices, args.warm, args.batch)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
