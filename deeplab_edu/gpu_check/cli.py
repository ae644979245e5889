"""``python -m deeplab_edu gpu-check --out DIR``: choose the stages and sizes, run, write the reports."""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

from deeplab_edu.cli import device_name, positive_float
from deeplab_edu.gpu_check.datasheet import bf16_peak_tflops
from deeplab_edu.gpu_check.report import validate_report, write_reports
from deeplab_edu.gpu_check.sizes import SIZES
from deeplab_edu.gpu_check.stage import Budget, Context, StageResult, short_error
from deeplab_edu.gpu_check.stages import STAGES, run_stage
from deeplab_edu.gpu_check.training import start_dataset


def parse_stages(text: str) -> list[str]:
    names = list(STAGES)
    chosen = []
    for item in (t.strip() for t in text.split(",") if t.strip()):
        name = names[int(item) - 1] if item.isdigit() and 1 <= int(item) <= len(names) else item
        if name not in STAGES:
            raise ValueError(f"unknown stage {item!r}; choose from {names} or 1..{len(names)}")
        chosen.append(name)
    return chosen


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Measure the GPU path end to end in one run (≤ 9 min on an H100): environment, "
                          "training/inference throughput vs torchvision, GPU dense CRF, a short training "
                          "that learns, torchrun + NCCL + SyncBatchNorm, and each chapter's training time per "
                          "run profile (FLOPs; timed on a GPU). Writes OUT/report.md and report.json. "
                          "Without CUDA every stage runs at a tiny size and the report says so.")
    parser.add_argument("--out", required=True,
                        help="folder for report.md, report.json, train_log.csv and ddp_worker.log")
    parser.add_argument("--work", default=None,
                        help="folder for the generated data set, checkpoints and worker files "
                             "(default: a temporary folder, deleted at the end)")
    parser.add_argument("--stages", default=",".join(STAGES),
                        help=f"comma-separated stages (names or 1..{len(STAGES)}); default: all")
    parser.add_argument("--size", choices=["auto", *SIZES], default="auto",
                        help="gpu: the issue's sizes; tiny: seconds on a CPU; auto: gpu when CUDA is visible")
    parser.add_argument("--device", type=device_name, default=None,
                        help="cuda, cuda:1 or cpu (default: cuda when available)")
    parser.add_argument("--train-seconds", type=positive_float, default=None,
                        help="stage 4's training time (default: 150 at the gpu size)")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows of stage 2")
    parser.add_argument("--peak-tflops", type=positive_float, default=None,
                        help="dense bf16 peak of this GPU, when its name is not in the table")


def run(args: argparse.Namespace) -> int:
    """Run the chosen stages, write the reports; 0 when every stage is ``ok``, else 1."""
    stages = parse_stages(args.stages)
    if not stages:
        raise SystemExit(f"--stages names no stage; choose from {list(STAGES)}")
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device} but PyTorch sees no CUDA device")
    size = args.size if args.size != "auto" else ("gpu" if device.type == "cuda" else "tiny")
    sizes = SIZES[size]
    if args.train_seconds is not None:  # positive_float has checked it
        sizes = dataclasses.replace(sizes, train_seconds=float(args.train_seconds),
                                    budgets={**sizes.budgets,
                                             "training": sizes.budgets["training"] - sizes.train_seconds
                                             + args.train_seconds})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="deeplab_edu_gpu_check_"))
    work.mkdir(parents=True, exist_ok=True)
    ctx = Context(out=out, work=work, sizes=sizes, device=device, budget=Budget(0),
                  shared={"no_compile": args.no_compile,
                          "peak_override": args.peak_tflops})
    print(f"gpu-check: {device} ({'GPU figures' if device.type == 'cuda' else 'CPU: tiny sizes, GPU figures unmeasured'}), "
          f"size {size}, stages {', '.join(stages)}; writing {out}", flush=True)
    if "environment" not in stages:  # the peak is needed for the ratios
        ctx.shared["peak"] = args.peak_tflops or (bf16_peak_tflops(torch.cuda.get_device_name(device))
                                                  if device.type == "cuda" else None)
    if "training" in stages and sizes.name != "tiny":
        try:
            start_dataset(ctx)  # in the background: it overlaps stages 2 and 3
        except Exception as error:  # stage 4 tries again, in the foreground, and reports
            print(f"gpu-check: generating the built-in set in the background failed: {short_error(error)}")
            ctx.shared.pop("data_root", None)
    start = time.perf_counter()
    results: list[StageResult] = []
    try:
        for i, name in enumerate(stages, 1):
            results.append(run_stage(name, ctx, i, len(stages)))
            # after every stage, so a run killed at its time limit still leaves what it measured
            report = write_reports(out, results, sizes, device, time.perf_counter() - start)
    finally:
        process = ctx.shared.get("data_process")
        if process is not None and process.is_alive():
            process.terminate()
            process.join(10)
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    validate_report(report)
    failed = [r.name for r in results if r.status == "failed"]
    print(f"gpu-check: {len(results) - len(failed)}/{len(results)} stages ok"
          + (f", failed: {', '.join(failed)}" if failed else "")
          + f"; {report['total_seconds']:.0f} s; report: {out / 'report.md'}", flush=True)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """``python -m deeplab_edu.gpu_check``: the command alone."""
    parser = argparse.ArgumentParser(prog="python -m deeplab_edu gpu-check")
    add_arguments(parser)
    return run(parser.parse_args(sys.argv[1:] if argv is None else argv))
