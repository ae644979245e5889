"""Training throughput: our DeepLabV3 / V3+ engine step vs torchvision's deeplabv3_resnet101.

    python benchmarks/bench_train.py                       # the issue's setting, on a GPU
    python benchmarks/bench_train.py --sizes 65 --batch 2 --steps 2 --model-only ours   # CPU check

Each model trains for ``--steps`` timed SGD steps (after ``--warmup`` untimed ones) on random
images at output stride 8, crop ``size``×``size``, batch ``--batch``:

* ``ours v3`` / ``ours v3+`` — ``deeplab_edu.train``'s step (``forward_backward``): bf16
  autocast, the loss on upsampled scores;
* ``torchvision v3`` — ``torchvision.models.segmentation.deeplabv3_resnet101`` in a plain bf16
  autocast loop (the reference, measured in the same run).

Both sides get the same memory format (``--channels-last``, on by default on CUDA) and the same
``--compile`` setting, so the ratio compares the models, not the options. Reports images/s,
the ratio to the reference, peak memory, and the share of the GPU's bf16 peak that the achieved
FLOP rate represents (FLOPs counted with ``torch.utils.flop_counter``; if counting fails the
script fails, rather than print a table without it). torchvision is imported only when needed;
without it (the project's own environment does not install it) the script says so and prints
no ratio: there is then no headline to read from its output.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from provenance import provenance  # benchmarks/provenance.py, next to this script

# Dense bf16 tensor-core peaks (TFLOP/s, no sparsity), from the vendors' data sheets.
BF16_PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L4": 121.0, "A10": 125.0, "4090": 165.0}


def bf16_peak(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in BF16_PEAK_TFLOPS.items() if k in name), None)


def build(which: str, num_classes: int, width: float, blocks):
    if which == "torchvision v3":
        try:
            from torchvision.models.segmentation import deeplabv3_resnet101
        except ImportError:
            return None
        return deeplabv3_resnet101(weights=None, weights_backbone=None, num_classes=num_classes, aux_loss=False)
    from deeplab_edu.models import build_model

    name = "deeplabv3" if which == "ours v3" else "deeplabv3plus"
    options = {} if blocks is None else {"blocks": tuple(blocks)}
    return build_model(name, num_classes, output_stride=8, width=width, **options)


def step_fn(which: str, model, channels_last: bool):
    """One SGD step: ours is the engine's own (``train.forward_backward``), torchvision's the
    plain bf16 autocast loop a user would write."""
    if which != "torchvision v3":
        from deeplab_edu.train import TrainingScores, forward_backward

        net = TrainingScores(model)

        def step(x, y, optimizer):
            optimizer.zero_grad(set_to_none=True)
            loss = forward_backward(net, x, y, "upsampled", "bf16", channels_last)
            optimizer.step()
            return loss
        return step

    def step(x, y, optimizer):
        with torch.autocast(x.device.type, dtype=torch.bfloat16):
            s = model(x)["out"]
        loss = F.cross_entropy(s.float(), y, ignore_index=255)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss
    return step


def measure(which, size, args, device):
    torch.manual_seed(0)
    model = build(which, 21, args.width, args.blocks)
    if model is None:
        return None
    channels_last = args.channels_last
    model.to(device).train()
    if channels_last:  # the same memory format for both sides
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    step = step_fn(which, model, channels_last)
    if args.compile:  # and the same compilation
        step = torch.compile(step)
    x = torch.randn(args.batch, 3, size, size, device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 21, (args.batch, size, size), device=device)
    with FlopCounterMode(display=False) as counter:  # eager, uncompiled: the counter's own pass
        step_fn(which, model, channels_last)(x, y, optimizer)
    flops = counter.get_total_flops()
    for _ in range(args.warmup):
        step(x, y, optimizer)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(args.steps):
        step(x, y, optimizer)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    return {"images_s": args.batch * args.steps / seconds, "peak_gib": peak,
            "tflops": flops * args.steps / seconds / 1e12 if flops else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[513], help="crop sizes (8k+1)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--width", type=float, default=1.0, help="our models' width multiplier")
    parser.add_argument("--blocks", type=int, nargs=4, default=None, help="our ResNet units per stage")
    parser.add_argument("--compile", action="store_true", help="torch.compile every side's training step")
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                        help="channels-last memory format for every side (default: on CUDA only)")
    parser.add_argument("--model-only", choices=["ours", "torchvision"], default=None,
                        help="measure only one side (no ratio)")
    parser.add_argument("--device", default=None)
    args = parser.parse_args()

    print(provenance())
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if args.channels_last is None:
        args.channels_last = device.type == "cuda"
    if device.type != "cuda":
        print("CUDA is not available: measuring on the CPU (the issue's target is a GPU measurement).")
    candidates = {"ours": ["ours v3", "ours v3+"], "torchvision": ["torchvision v3"], None: ["torchvision v3", "ours v3", "ours v3+"]}
    which_list = candidates[args.model_only]
    peak = bf16_peak(device)
    print(f"device {torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}, batch {args.batch}, "
          f"output stride 8, {args.steps} timed steps, bf16 autocast, "
          f"channels-last {'on' if args.channels_last else 'off'} and compile {'on' if args.compile else 'off'} "
          f"for every model, bf16 peak "
          f"{f'{peak:.0f} TFLOP/s' if peak else 'unknown'}")
    print(f"{'size':>5} {'model':>15} {'images/s':>9} {'vs tv':>6} {'peak GiB':>9} {'TFLOP/s':>8} {'of peak':>8}")
    missing_reference = False
    for size in args.sizes:
        reference = None
        for which in which_list:
            r = measure(which, size, args, device)
            if r is None:
                missing_reference = True
                print(f"{size:>5} {which:>15}  torchvision is not installed: no reference measured")
                continue
            if which == "torchvision v3":
                reference = r["images_s"]
            ratio = f"{r['images_s'] / reference:.2f}x" if reference else "—"
            share = f"{r['tflops'] / peak:.1%}" if peak and r["tflops"] == r["tflops"] else "—"
            print(f"{size:>5} {which:>15} {r['images_s']:9.2f} {ratio:>6} {r['peak_gib']:9.2f} "
                  f"{r['tflops']:8.3f} {share:>8}")

    if missing_reference:
        print("No torchvision in this environment, so no ratio and no headline: the table gives our "
              "models' own throughput only. Install torchvision matching your torch to compare.")
    elif args.model_only == "ours":
        print("--model-only ours: our models' own throughput; no comparison was made.")


if __name__ == "__main__":
    main()
