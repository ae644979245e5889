"""How well the laptop profile learns: the training chapters' models on the built-in set.

    python benchmarks/bench_learning.py                    # v3 and v1 LargeFOV, seeds 0 and 1
    python benchmarks/bench_learning.py --models deeplabv3 --seeds 0

Trains each model exactly as the training chapters do (``TrainConfig.from_profile`` with the
``laptop`` profile, starting from the shipped miniature-ImageNet backbones), evaluates whole
validation images, and writes ``benchmarks/results/learning.md`` and ``learning.json``: per model
and seed the val mIoU, the lowest class IoU, the training time, and the mean and spread over
seeds, next to the targets of issue 12 (v3: mIoU ≥ 0.60 in ≤ 5 minutes of training with no class
below 0.30; v1 LargeFOV: mIoU ≥ 0.45). The machine, torch version, date and command are recorded
with the numbers. Each network is scored whole-image at its paper's test output stride (v3: 8,
after training at 16). ``--iterations`` trains longer than the chapters do (they fit several
runs into a few minutes). This is a measurement, not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable from a clone

from deeplab_edu import paths, profiles, recipes
from deeplab_edu.datasets import build_dataset, default_training_data
from deeplab_edu.evaluate import evaluate
from deeplab_edu.experiments import Spread
from deeplab_edu.models import build_model
from deeplab_edu.train import TrainConfig, train

TARGETS = {  # model: (mIoU at least, lowest class IoU at least or None, training seconds at most or None)
    "deeplabv3": (0.60, 0.30, 300.0),
    "deeplabv1": (0.45, None, None),
}
RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    threads = torch.get_num_threads()
    return f"{cpu}, {os.cpu_count()} logical cores, torch {torch.__version__} ({threads} thread{'s' * (threads != 1)})"


def at_test_stride(model: str, result, config: TrainConfig) -> tuple[torch.nn.Module, int]:
    """The trained network rebuilt at its paper's test output stride (v3: trained at 16, tested at 8)."""
    stride = recipes.get_recipe(model).eval_output_stride.value
    if stride == result.model.output_stride:
        return result.model, stride
    rebuilt = build_model(model, result.num_classes, output_stride=stride, width=config.width, **config.model_options)
    rebuilt.load_state_dict(result.model.state_dict())
    return rebuilt, stride


def run_one(model: str, seed: int, profile: profiles.Profile, dataset: str, root: str | None,
            iterations: int | None = None, lr: float | None = None) -> dict:
    extra = {key: value for key, value in (("iterations", iterations), ("lr", lr)) if value is not None}
    name = f"{model}-{seed}" + "".join(f"-{key}{value:g}" for key, value in extra.items())
    # overwrite: a measurement trains from the start, never resumes an earlier run's checkpoint
    # (made, perhaps, from other starting weights).
    config = TrainConfig.from_profile(model, profile, dataset=dataset, data_root=root, seed=seed,
                                      out_dir=str(paths.REPO_ROOT / "runs" / "bench_learning" / name),
                                      progress=False, overwrite=True, **extra)
    result = train(config)
    network, stride = at_test_stride(model, result, config)
    scored = evaluate(network, build_dataset(dataset, "val", root=root), trimap_widths=(), progress=False)
    per_class = scored.per_class()
    objects = {k: v for k, v in per_class.items() if k != "background"}
    return {"model": model, "seed": seed, "mIoU": scored.summary()["mIoU"], "per_class": per_class,
            "lowest_class": min(objects, key=objects.get), "lowest_iou": min(objects.values()),
            "train_seconds": result.seconds, "iterations": result.iterations, "test_output_stride": stride,
            "pretrained": Path(config.pretrained).name if config.pretrained else None,
            "lr": config.lr, "batch_size": config.batch_size, "crop_size": config.crop_size}


def verdict(model: str, runs: list[dict]) -> str:
    miou, lowest, seconds = TARGETS[model]
    mean = Spread.of([r["mIoU"] for r in runs]).mean
    parts = [f"mIoU {mean:.3f} {'≥' if mean >= miou else '<'} {miou:.2f}"]
    if lowest is not None:
        worst = min(r["lowest_iou"] for r in runs)
        parts.append(f"lowest class {worst:.3f} {'≥' if worst >= lowest else '<'} {lowest:.2f}")
    if seconds is not None:
        slowest = max(r["train_seconds"] for r in runs)
        parts.append(f"training {slowest:.0f} s {'≤' if slowest <= seconds else '>'} {seconds:.0f} s")
    met = all("<" not in p and ">" not in p for p in parts)
    return ("met: " if met else "NOT met: ") + "; ".join(parts)


def markdown(report: dict) -> str:
    lines = [f"# Learning on the built-in set, `{report['profile']}` profile", "",
             f"- command: `{report['command']}`", f"- machine: {report['machine']}",
             f"- date: {report['date']}", f"- data: {report['dataset']} ({report['data_root']})", "",
             "| model | seed | val mIoU | lowest class (IoU) | training s | iterations | test output stride | start |",
             "|---|---|---|---|---|---|---|---|"]
    for r in report["runs"]:
        lines.append(f"| {r['model']} | {r['seed']} | {r['mIoU']:.3f} | {r['lowest_class']} ({r['lowest_iou']:.3f}) "
                     f"| {r['train_seconds']:.0f} | {r['iterations']} | {r['test_output_stride']} "
                     f"| {r['pretrained'] or 'random'} |")
    lines += ["", "| model | mIoU over seeds (mean ± half range) | target |", "|---|---|---|"]
    for model, summary in report["summary"].items():
        lines.append(f"| {model} | {summary['mIoU']} | {summary['verdict']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--profile", default="laptop", help="run profile (default: laptop)")
    parser.add_argument("--iterations", type=int, default=None,
                        help="training steps (default: the profile's, as the chapters train)")
    parser.add_argument("--lr", type=float, default=None, help="base learning rate (default: the profile's recipe)")
    parser.add_argument("--out", type=Path, default=RESULTS / "learning", help="writes OUT.md and OUT.json")
    args = parser.parse_args(argv)

    profile = profiles.get_profile(args.profile)
    os.environ[profiles.ENV_VAR] = profile.name  # the dataset's default sizes follow the same profile
    dataset, root = default_training_data(profile.name)
    runs = []
    for model in args.models:
        for seed in args.seeds:
            runs.append(run_one(model, seed, profile, dataset, root, args.iterations, args.lr))
            r = runs[-1]
            print(f"{model} seed {seed}: mIoU {r['mIoU']:.3f}, lowest {r['lowest_class']} {r['lowest_iou']:.3f}, "
                  f"{r['train_seconds']:.0f} s", flush=True)
    summary = {}
    for model in args.models:
        mine = [r for r in runs if r["model"] == model]
        summary[model] = {"mIoU": str(Spread.of([r["mIoU"] for r in mine])), "verdict": verdict(model, mine)}
    report = {"profile": profile.name, "dataset": dataset, "data_root": root, "machine": machine(),
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "command": "python benchmarks/bench_learning.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "runs": runs, "summary": summary}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
