"""What training runs will cost before it is spent: FLOPs of one step, and seconds on a device.

* **FLOPs.** ``step_flops`` counts the matrix products and convolutions of one training step
  (forward and backward, the whole batch) with ``FlopCounterMode`` on the *meta* device, where
  tensors have shapes but no data: a full-size ResNet-101 is counted in a second on any CPU. On
  a GPU of dense peak ``P`` reaching a share ``s`` of it, ``seconds = FLOPs / (s · P)``.
* **The clock.** ``time_steps`` times a few real training steps of one recipe on this device;
  ``estimate_time`` scales that rate by the FLOPs of every run of a chapter.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from deeplab_edu import validate
from deeplab_edu.engine.config import TrainConfig

#: Share of the dense bf16 peak reached in training, until ``gpu-check`` measures it on the
#: reader's GPU: torchvision's DeepLabV3-ResNet-101 (output stride 8, 513², batch 16) trains at
#: 163 images/s with bf16 + channels-last + compile on an H100 (989 TFLOP/s), and one training
#: image costs 1.48 TFLOP by ``step_flops``: 241 TFLOP/s, a quarter of the peak
#: (``tests/test_estimate.py`` recomputes it).
REFERENCE_SHARE = 0.25
#: The H100 training rate behind ``REFERENCE_SHARE`` (images/s), and the peak it is a share of.
TORCHVISION_H100_IMAGES_S = 163.0
H100_BF16_PEAK_TFLOPS = 989.0

#: Dense mixed-precision peaks (TFLOP/s) of the GPUs the book quotes projections for: a T4
#: (Turing has no bf16; its fp16 tensor cores are what mixed precision reaches there) and an H100.
REFERENCE_GPUS = {"T4-class": 65.0, "H100-class": H100_BF16_PEAK_TFLOPS}

#: The time a training chapter is sized to on a T4-class GPU (``profiles``' ``gpu`` profile).
CHAPTER_BUDGET_S = 20 * 60


def count_flops(fn: Callable, *args) -> float | None:
    """FLOPs of one call of ``fn(*args)`` (matrix products and convolutions), or None if uncountable."""
    try:
        from torch.utils.flop_counter import FlopCounterMode

        with FlopCounterMode(display=False) as counter:
            fn(*args)
        return float(counter.get_total_flops())
    except Exception:  # a diagnostic: a timing stands without it
        return None


def _recipe_key(config: TrainConfig, num_classes: int) -> str:
    """What decides a step's FLOPs: the model, the crop, the loss's heads. CRF-as-RNN is left out:
    its permutohedral filtering is no matrix product, which is all ``FlopCounterMode`` counts."""
    model = config.resolved().model_config(num_classes)
    model.pop("crf_rnn", None)
    return json.dumps({"model": model, "crop": config.crop_size,
                       "aux_weight": config.aux_weight}, sort_keys=True, default=str)


def count_training_flops(model: torch.nn.Module, images: torch.Tensor, aux: bool = False) -> float:
    """FLOPs of forward and backward of ``model`` on ``images``, real or on the meta device."""
    from deeplab_edu.engine.outputs import TrainingScores

    model.train()
    net = TrainingScores(model)

    def step(x):
        out = net(x)
        # The loss's own arithmetic (a softmax, an interpolation) is not a matrix product and
        # FlopCounterMode does not count it; a sum stands in so that backward runs.
        loss = sum(s.float().sum() for s in out.score_maps())
        if out.aux is not None and aux:
            loss = loss + out.aux.float().sum()
        loss.backward()

    flops = count_flops(step, images)
    if flops is None:
        raise ValueError(f"could not count the FLOPs of {type(model).__name__} on {images.device}")
    return flops


@functools.lru_cache(maxsize=64)
def _image_flops(key: str) -> float:
    from deeplab_edu.models import build_from_config

    recipe = json.loads(key)
    with torch.device("meta"):
        model = build_from_config(recipe["model"])
    # Two images: BatchNorm refuses one value per channel in training (v3's image pooling).
    images = torch.empty(2, 3, recipe["crop"], recipe["crop"], device="meta")
    return count_training_flops(model, images, bool(recipe["aux_weight"])) / 2


def step_flops(config: TrainConfig, num_classes: int = 21) -> float:
    """FLOPs of one training step of ``config``: forward and backward of ``batch_size`` crops."""
    return _image_flops(_recipe_key(config, num_classes)) * config.batch_size


def run_flops(config: TrainConfig, num_classes: int = 21) -> float:
    """FLOPs of a whole run: ``step_flops × iterations``."""
    return step_flops(config, num_classes) * config.iterations


def remaining_iterations(config: TrainConfig) -> int:
    """The iterations a run still has to train: those after its log's last step when its folder holds
    a checkpoint (a finished run is loaded, not trained again), else all of them."""
    from deeplab_edu.engine import log as run_log

    out = Path(config.out_dir)
    if config.overwrite or not (out / "checkpoint.pt").is_file() or not (out / "log.csv").is_file():
        return config.iterations
    rows = run_log.read_rows(out / "log.csv")
    return max(config.iterations - (int(rows[-1]["step"]) if rows else 0), 0)


def projected_seconds(flops: float, peak_tflops: float, share: float = REFERENCE_SHARE) -> float:
    """Seconds ``flops`` take on a GPU of dense peak ``peak_tflops`` reaching ``share`` of it."""
    if not peak_tflops > 0 or not 0 < share <= 1:
        raise ValueError(f"peak_tflops must be > 0 and share in (0, 1], got {peak_tflops!r}, {share!r}")
    return flops / (peak_tflops * 1e12 * share)


def time_steps(config: TrainConfig, steps: int = 3, num_classes: int = 21,
               device: torch.device | str | None = None) -> float:
    """Seconds per training step of ``config`` on ``device``: ``steps`` timed steps of random weights and
    crops after one untimed one; the global random streams are restored afterwards, so a chapter that
    estimates before it trains draws the same numbers as one that does not."""
    from deeplab_edu.datasets.transforms import rgb_from_normalized
    from deeplab_edu.engine.loop import forward_backward
    from deeplab_edu.engine.outputs import TrainingScores
    from deeplab_edu.runtime import resolve_device
    from deeplab_edu.models import build_from_config
    from deeplab_edu.schedules import make_optimizer

    validate.integer(steps, "steps", minimum=1)
    config = config.resolved()
    device = resolve_device(device if device is not None else config.device)
    channels_last = device.type == "cuda" if config.channels_last is None else config.channels_last
    micro = max(config.batch_size // config.accumulate, 1)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(0)
        model = build_from_config(config.model_config(num_classes), rgb_from_normalized).to(device)
        if channels_last:
            model.to(memory_format=torch.channels_last)
        model.train()
        net = TrainingScores(model)
        optimizer = make_optimizer(model, 1e-6, config.momentum, config.weight_decay, config.head_lr_mult)
        images = torch.randn(micro, 3, config.crop_size, config.crop_size, device=device)
        labels = torch.randint(0, num_classes, (micro, config.crop_size, config.crop_size), device=device)

        def step() -> None:
            optimizer.zero_grad(set_to_none=True)
            for _ in range(config.accumulate):
                forward_backward(net, images, labels, config.loss, config.amp, channels_last,
                                 1 / config.accumulate, config.aux_weight)
            optimizer.step()

        step()  # untimed: kernels chosen, memory allocated
        _sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        seconds = (time.perf_counter() - start) / steps
    return seconds  # the model's memory is released with this frame (gpu-check then empties the cache)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclasses.dataclass(frozen=True)
class Estimate:
    """The estimated cost of a set of runs on one device, and what it rests on."""

    runs: int
    flops: float
    seconds: float
    device: str
    timed: str  # which recipe was timed, and how
    seconds_per_step: float
    achieved_tflops: float  # what the timed steps reached
    trained: int = 0  # runs already trained in their folders: loaded, not counted

    def describe(self, profile: str | None = None) -> str:
        """One paragraph for a chapter or the command line: the time, its basis, the way out."""
        from deeplab_edu.profiles import smaller_profile

        if self.runs == 0:
            return (f"nothing to train: all {self.trained} runs are trained in their folders already and are "
                    "loaded, not trained again")
        done = f" ({self.trained} more trained already, loaded from their folders)" if self.trained else ""
        line = (f"estimated time of {self.runs} training run{'s' if self.runs != 1 else ''}{done} on "
                f"{self.device}: {format_duration(self.seconds)} ({self.flops / 1e15:.3g} PFLOP; "
                f"{self.timed}: {self.seconds_per_step:.3g} s/step, {self.achieved_tflops:.3g} TFLOP/s, "
                "the other recipes scaled by their FLOPs)")
        if profile is not None:
            smaller = smaller_profile(profile)
            line += f"; run profile {profile!r}"
            if smaller is not None:
                line += (f" — for shorter runs set DEEPLAB_EDU_PROFILE={smaller} before starting "
                         "(chapter 00 lists the profiles)")
        return line


def estimate_time(configs: Sequence[TrainConfig], num_classes: int = 21, steps: int = 3,
                  device: torch.device | str | None = None) -> Estimate:
    """The time ``configs`` (one per run) will take on ``device``: the first run still to train is
    timed, and its seconds per FLOP applied to every run's FLOPs over its ``remaining_iterations``."""
    if not configs:
        raise ValueError("configs is empty: nothing to estimate")
    from deeplab_edu.runtime import describe_device, resolve_device

    device = resolve_device(device if device is not None else configs[0].device)
    left = [(c, remaining_iterations(c)) for c in configs]
    todo = [(c, n) for c, n in left if n > 0]
    if not todo:
        return Estimate(runs=0, flops=0.0, seconds=0.0, device=describe_device(device), timed="nothing timed",
                        seconds_per_step=0.0, achieved_tflops=0.0, trained=len(configs))
    first = todo[0][0]
    seconds_per_step = time_steps(first, steps, num_classes, device)
    per_step = step_flops(first, num_classes)
    total = sum(step_flops(c, num_classes) * n for c, n in todo)
    return Estimate(runs=len(todo), flops=total, seconds=total * seconds_per_step / per_step,
                    device=describe_device(device),
                    timed=f"{steps} timed steps of {first.model} at {first.crop_size} px, batch {first.batch_size}",
                    seconds_per_step=seconds_per_step, achieved_tflops=per_step / seconds_per_step / 1e12,
                    trained=len(configs) - len(todo))


def format_duration(seconds: float) -> str:
    """``< 1 s``, ``42 s``, ``12 min``, ``3.4 h``, ``2.1 days``: a time a reader can weigh."""
    if seconds < 0.5:
        return "< 1 s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
