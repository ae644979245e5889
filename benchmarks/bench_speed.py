"""How fast a CPU training step can be: the laptop v3 step under each speed option, side by side.

    python benchmarks/bench_speed.py                 # the table, about two minutes on 2 cores
    python benchmarks/bench_speed.py --compile       # adds torch.compile (minutes of compiling)
    python benchmarks/bench_speed.py --curve 200     # bf16 vs fp32 learning curves, 200 steps each

Part 1 (compute only) times one SGD step of chapter 09's model (``laptop`` profile: DeepLab v3,
width 0.25, output stride 16) on one fixed batch of ``--batch`` crops of ``--crop`` px, under
each option: float32 eager, channels-last memory, bf16 autocast, both, and (``--compile``)
``torch.compile``. The variants run in turns, ``--repeats`` rounds of ``--steps`` steps, so a
load that comes and goes on a shared machine touches them all alike; each is reported by its fastest round (what the machine
allows; a busy neighbour only ever slows a round down), with the median beside it, and as a
ratio to float32 eager measured in the same run.

bf16 is fast only where the CPU computes it natively (AVX-512 BF16 or AMX); elsewhere autocast
emulates it and is slower. The script says which this CPU has (``runtime.native_bf16``), and
that is the rule the ``laptop`` profile follows: bf16 + channels-last where bf16 is native,
float32 elsewhere (``TrainConfig.from_profile``).

Part 2 (the engine's overhead) trains the same model for ``--engine-steps`` steps through
``deeplab_edu.train.train`` and through a bare PyTorch loop (the same data loader, model,
optimiser and loss, nothing else), and reports the engine's time per step over the bare loop's.

Part 3 (``--curve N``) trains N steps twice from the same start, float32 and bf16, and prints
both loss curves and the validation mIoU at the end, so that a change of precision can be seen
not to change what is learnt.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from provenance import provenance  # benchmarks/provenance.py

from deeplab_edu import profiles, runtime
from deeplab_edu.datasets import build_dataset, default_training_data
from deeplab_edu.models import build_model
from deeplab_edu.schedules import make_optimizer
from deeplab_edu.train import TrainConfig, train


def laptop_config(model: str = "deeplabv3") -> TrainConfig:
    profile = profiles.get_profile("laptop")
    dataset, root = default_training_data("laptop")
    return TrainConfig.from_profile(model, profile, dataset=dataset, data_root=root)


def fresh_model(config: TrainConfig, num_classes: int) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(config.model, num_classes, width=config.width, output_stride=config.output_stride,
                       **config.model_options)


def logits(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    out = model(images)
    return out["out"] if isinstance(out, dict) else out


def bare_step(model, optimizer, images, labels) -> torch.Tensor:
    """The plainest training step: forward, upsampled cross-entropy, backward, SGD."""
    optimizer.zero_grad(set_to_none=True)
    scores = F.interpolate(logits(model, images), size=labels.shape[-2:], mode="bilinear", align_corners=False)
    loss = F.cross_entropy(scores.float(), labels, ignore_index=255)
    loss.backward()
    optimizer.step()
    return loss.detach()


@dataclasses.dataclass
class Variant:
    name: str
    channels_last: bool = False
    bf16: bool = False
    compile: bool = False


def time_variants(config: TrainConfig, variants: list[Variant], batch: int, crop: int, steps: int,
                  repeats: int) -> dict[str, list[float]]:
    """Per-step seconds of each variant, the variants run in turns (``repeats`` rounds)."""
    num_classes = 8
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(batch, 3, crop, crop, generator=generator) * 255
    labels = torch.randint(0, num_classes, (batch, crop, crop), generator=generator)
    prepared = {}
    for v in variants:
        model = fresh_model(config, num_classes).train()
        x = images
        if v.channels_last:
            model = model.to(memory_format=torch.channels_last)
            x = images.contiguous(memory_format=torch.channels_last)
        net = torch.compile(model) if v.compile else model
        optimizer = make_optimizer(model, config.lr, config.momentum, config.weight_decay, config.head_lr_mult)
        context = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if v.bf16 else torch.enable_grad
        for _ in range(2):  # warm-up (and, for compile, the compilation)
            with context():
                bare_step(net, optimizer, x, labels)
        prepared[v.name] = (net, optimizer, x, context)
    times: dict[str, list[float]] = {v.name: [] for v in variants}
    for _ in range(repeats):
        for v in variants:
            net, optimizer, x, context = prepared[v.name]
            start = time.perf_counter()
            for _ in range(steps):
                with context():
                    bare_step(net, optimizer, x, labels)
            times[v.name].append((time.perf_counter() - start) / steps)
    return times


def engine_vs_bare(config: TrainConfig, steps: int) -> tuple[float, float]:
    """Seconds per step: ``train`` vs a bare loop over the same loader, model, optimiser and loss."""
    with tempfile.TemporaryDirectory() as tmp:
        # float32 and contiguous memory on both sides: the comparison is of the loops, not the options.
        run = dataclasses.replace(config, iterations=steps, out_dir=tmp, validate_every=None, progress=False,
                                  log_every=max(steps // 4, 1), pretrained=None, loss="upsampled",
                                  checkpoint_every=steps, amp="off", channels_last=False)
        engine_s = train(run).seconds / steps
    from deeplab_edu.datasets import TrainTransform

    dataset = build_dataset(config.dataset, "train", root=config.data_root,
                            transform=TrainTransform(config.crop_size, scale=tuple(config.scale)))
    loader = torch.utils.data.DataLoader(dataset, batch_size=config.batch_size, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))
    model = fresh_model(config, dataset.num_classes).train()
    optimizer = make_optimizer(model, config.lr, config.momentum, config.weight_decay, config.head_lr_mult)
    batches = iter(loader)
    start = time.perf_counter()
    for _ in range(steps):
        try:
            images, labels = next(batches)
        except StopIteration:
            batches = iter(loader)
            images, labels = next(batches)
        bare_step(model, optimizer, images, labels)
    return engine_s, (time.perf_counter() - start) / steps


def learning_curves(config: TrainConfig, steps: int) -> None:
    """fp32 vs bf16 from the same start and the same crops: losses and the final val mIoU."""
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for amp in ("off", "bf16"):
            run = dataclasses.replace(config, iterations=steps, out_dir=f"{tmp}/{amp}", amp=amp, progress=False,
                                      validate_every=steps, log_every=max(steps // 10, 1))
            results[amp] = train(run)
        print(f"\n### Learning curves, {steps} steps, float32 vs bf16 autocast (same start, same crops)\n")
        print("| step | loss fp32 | loss bf16 |\n|---|---|---|")
        for a, b in zip(results["off"].history, results["bf16"].history):
            print(f"| {int(a['step'])} | {a['loss']:.3f} | {b['loss']:.3f} |")
        for amp, result in results.items():
            print(f"val mIoU after {steps} steps, {amp}: {result.validation[-1]['mIoU']:.3f} "
                  f"({result.seconds / steps * 1000:.0f} ms/step with data)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--crop", type=int, default=129)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per round")
    parser.add_argument("--repeats", type=int, default=5, help="rounds; the median is reported")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (slow to compile)")
    parser.add_argument("--engine-steps", type=int, default=40)
    parser.add_argument("--curve", type=int, default=0, help="also train N steps fp32 vs bf16")
    args = parser.parse_args(argv)

    print(provenance())
    print(f"threads: {torch.get_num_threads()}; native bf16 on this CPU: {runtime.native_bf16()}")
    config = laptop_config()
    variants = [Variant("float32, eager"), Variant("channels-last", channels_last=True),
                Variant("bf16 autocast", bf16=True), Variant("bf16 + channels-last", channels_last=True, bf16=True)]
    if args.compile:
        variants += [Variant("torch.compile", compile=True),
                     Variant("bf16 + channels-last + compile", channels_last=True, bf16=True, compile=True)]
    times = time_variants(config, variants, args.batch, args.crop, args.steps, args.repeats)
    reference = min(times[variants[0].name])
    print(f"\n### One training step, chapter 09's laptop v3 ({args.batch} crops of {args.crop} px, compute only)\n")
    print("| option | ms / step (fastest round) | median | vs float32 eager (fastest) |\n|---|---|---|---|")
    for v in variants:
        t = times[v.name]
        print(f"| {v.name} | {min(t) * 1000:.0f} | {statistics.median(t) * 1000:.0f} | {reference / min(t):.2f}× |")

    engine_s, bare_s = engine_vs_bare(config, args.engine_steps)
    print(f"\n### The engine's step vs a bare loop ({args.engine_steps} steps with data, float32)\n")
    print(f"| loop | ms / step |\n|---|---|\n| deeplab_edu.train | {engine_s * 1000:.0f} |\n"
          f"| bare PyTorch loop | {bare_s * 1000:.0f} |\n\nengine overhead: {engine_s / bare_s - 1:+.1%}")
    if args.curve:
        learning_curves(config, args.curve)


if __name__ == "__main__":
    main()
