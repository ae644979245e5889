"""The training loop, readable in one file: the DeepLab recipe from v1 to v3+.

What one iteration does (v1, ICLR 2015, §4.1; v2, TPAMI 2017, §4.1; v3, §4.1):

1. take ``batch_size`` random crops (random scale in [0.5, 2], ``crop_size`` = output_stride·k+1,
   random flip — ``datasets.transforms.TrainTransform``);
2. score them and take the pixel-wise cross-entropy, skipping label 255 ("void"). Two ways:
   * ``loss="downsampled"`` — v1/v2: the scores at the output stride against the labels
     subsampled to the same grid (every 8th pixel; the corners align because the crop is
     8·k+1). Cheap, but the thin parts of objects fall between the samples;
   * ``loss="upsampled"`` — v3 (§4.1): the scores bilinearly upsampled to the crop, against
     every label pixel ("we find it important to keep the groundtruths intact");
3. step SGD (momentum 0.9, weight decay) with the head at 10× the rate, the rate following
   v1's step schedule or the poly schedule (``schedules``).

Around it, the practical parts: bf16 autocast and channels-last memory on GPUs, optional
``torch.compile``, gradient accumulation (a big batch in several small passes), frozen or
synchronised BatchNorm, DDP under torchrun (``distributed``), a CSV log, atomic resumable
checkpoints (``checkpoint``) and a stop with a clear message when the loss turns NaN.

**Reproducible data.** Which image and which random crop a step sees depends only on the
seed and the step number: sample ``k`` of the run (over all steps and processes) is image
``perm_e[k mod n]`` of epoch ``e = k // n``, augmented by a generator seeded from ``k``. So a
resumed run sees exactly what the uninterrupted one would have, and two processes with a
batch of 2 each see exactly the images of one process with a batch of 4.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from deeplab_edu import distributed as ddp
from deeplab_edu.checkpoint import build_from_config, load_checkpoint, save_checkpoint
from deeplab_edu.datasets import IGNORE_INDEX, TrainTransform, build_dataset
from deeplab_edu.profiles import Profile, get_profile
from deeplab_edu.runtime import default_device, seed_everything
from deeplab_edu.schedules import SCHEDULES, make_optimizer, make_scheduler

LOSSES = ("upsampled", "downsampled")
BATCHNORM = ("train", "frozen", "sync")
LOG_FIELDS = ("step", "loss", "lr_backbone", "lr_head", "images_per_s", "elapsed_s")
# What a CPU-sized run changes in a paper's recipe besides sizes (see ``TrainConfig.from_profile``):
# found by learning-rate probes on the built-in set (see the closing notes of the sessions that
# tuned them). v3 and v3+ have BatchNorm in the head and no 10× on it, and take 0.02; v1 and v2
# keep the paper's 10× on a head without BatchNorm, so 0.01 (0.1 on the head); VGG-16's
# miniature-ImageNet start fine-tunes too slowly at v1's 0.001.
LAPTOP_DEPARTURES = {"deeplabv1": {"lr": 0.01}, "deeplabv2": {"lr": 0.01}, "deeplabv3": {"lr": 0.02},
                     "deeplabv3plus": {"lr": 0.02}}
# VGG-16 costs about three times a small ResNet's step on a CPU; its runs take 3/8 of the profile's
# iterations so that a chapter of six VGG runs stays within minutes.
VGG_ITERATION_SHARE = 3 / 8


@dataclasses.dataclass
class TrainConfig:
    """Everything a run depends on. ``from_profile`` fills the sizes from a run profile."""

    model: str = "deeplabv3"
    backbone: str | None = None
    output_stride: int | None = None
    width: float = 1.0
    model_options: dict = dataclasses.field(default_factory=dict)  # fc6, rates, blocks, multi_grid …
    pretrained: str | None = None  # ImageNet (or miniature-ImageNet) backbone weights, a local file
    dataset: str = "builtin"
    data_root: str | None = None
    crop_size: int = 513
    scale: tuple[float, float] = (0.5, 2.0)
    batch_size: int = 16  # the global batch: over all processes and accumulation passes
    iterations: int = 30_000
    lr: float = 0.007
    momentum: float = 0.9
    weight_decay: float = 1e-4
    head_lr_mult: float = 10.0
    schedule: str = "poly"
    power: float = 0.9
    step_size: int = 2000
    gamma: float = 0.1
    loss: str = "upsampled"
    accumulate: int = 1
    batchnorm: str = "train"
    amp: str = "auto"  # "auto": bf16 on CUDA, off elsewhere; "bf16"; "off"
    channels_last: bool | None = None  # None: on CUDA only
    compile: bool = False
    seed: int = 0
    num_workers: int = 0
    device: str | None = None
    out_dir: str = "runs/deeplab"
    log_every: int = 10
    checkpoint_every: int = 1000
    resume: bool = False
    stop_at: int | None = None  # end early at this iteration, as a killed run would (tests, demos)
    progress: bool = True

    @classmethod
    def from_profile(cls, model: str, profile: Profile | None = None, **overrides: Any) -> "TrainConfig":
        """The paper's recipe for ``model`` (``recipes``) at the profile's size.

        ``full`` is the published recipe exactly (crop, batch, iterations, rates, schedule, scale).
        Smaller profiles keep its shape and change what a CPU run needs (``LAPTOP_DEPARTURES``):
        the profile's crop, batch, iterations and width; one unit per ResNet stage below full
        width (``blocks=(1, 1, 1, 1)``); base rates fit for a few hundred steps from the book's
        small backbones; scale augmentation no wider than 0.75-1.5 on 160-px scenes.
        ``recipes.format_comparison(config)`` prints every departure. ``pretrained`` is
        ``default_pretrained``'s choice (pass ``pretrained=None`` to train from scratch).
        """
        from deeplab_edu import recipes

        p = profile or get_profile()
        backbone = overrides.get("backbone")
        resnet = model != "deeplabv1" and backbone != "vgg16"
        options = {"blocks": (1, 1, 1, 1)} if resnet and p.width < 1 else {}
        options.update(overrides.pop("model_options", {}))
        values = dict(model=model, width=p.width, log_every=p.log_every, model_options=options,
                      pretrained=default_pretrained(model, backbone, p.width, options))
        values.update(recipes.config_overrides(model))
        values.pop("output_stride", None)  # the model's own default; chapters pass it when they mean it
        if p.name != "full":
            iterations = p.iterations if resnet else max(round(p.iterations * VGG_ITERATION_SHARE), 1)
            values.update(crop_size=p.crop_size, batch_size=p.batch_size, iterations=iterations,
                          **LAPTOP_DEPARTURES[model])
            lo, hi = values["scale"]
            values["scale"] = (max(lo, 0.75), min(hi, 1.5))
            if values.get("schedule") == "step":  # v1's three steps, at the run's length
                values["step_size"] = max(iterations // 3, 1)
            if values.get("batchnorm") == "frozen":  # v2's frozen BN: the small backbones must adapt
                values["batchnorm"] = "train"
        values["checkpoint_every"] = max(values["iterations"] // 4, 1)
        values.update(overrides)
        return cls(**values)

    def validate(self) -> None:
        for name in ("iterations", "batch_size", "accumulate", "log_every", "checkpoint_every", "crop_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name, allowed in (("schedule", SCHEDULES), ("loss", LOSSES), ("batchnorm", BATCHNORM),
                              ("amp", ("auto", "bf16", "off"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.batch_size % self.accumulate:
            raise ValueError(f"batch_size {self.batch_size} must be divisible by accumulate {self.accumulate}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")

    def model_config(self, num_classes: int) -> dict:
        """How to rebuild the model: stored in every checkpoint, compared on load."""
        return {"model": self.model, "num_classes": num_classes, "backbone": self.backbone,
                "output_stride": self.output_stride, "width": float(self.width),
                "options": dict(self.model_options)}


def default_pretrained(model: str, backbone: str | None, width: float, options: dict) -> str | None:
    """The weights a run starts from unless told otherwise, or ``None`` (random weights).

    Full-size models: torchvision's ImageNet file for the backbone, if it lies in
    ``paths.imagenet_root()`` (nothing is downloaded). Small models: the book's miniature-ImageNet
    weights, if it ships a file of that shape (``deeplab_edu.pretrain``).
    """
    from deeplab_edu.models import DEFAULT_BACKBONES
    from deeplab_edu.paths import imagenet_root
    from deeplab_edu.pretrain import shipped_weights
    from deeplab_edu.weights import TORCHVISION_URLS

    backbone = backbone or DEFAULT_BACKBONES.get(model, "resnet101")
    if width == 1 and options.get("blocks") is None:
        url = TORCHVISION_URLS.get(backbone)
        path = None if url is None else imagenet_root() / url.rsplit("/", 1)[1]
        return str(path) if path is not None and path.is_file() else None
    path = shipped_weights(backbone, width, options.get("blocks"))
    return None if path is None else str(path)


@dataclasses.dataclass
class TrainResult:
    model: torch.nn.Module
    history: list[dict]
    checkpoint: Path | None
    seconds: float
    device: str
    iterations: int
    num_classes: int
    class_names: tuple[str, ...]


# --------------------------------------------------------------------------- the two losses

def subsample_labels(labels: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Labels on the score grid: every s-th pixel when the crop is s·k+1 (corners aligned),
    nearest-neighbour otherwise. Never interpolated: class indices cannot be averaged."""
    (H, W), (h, w) = labels.shape[-2:], tuple(size)
    if h > 1 and w > 1 and (H - 1) % (h - 1) == 0 and (W - 1) % (w - 1) == 0 \
            and (H - 1) // (h - 1) == (W - 1) // (w - 1):
        s = (H - 1) // (h - 1)
        return labels[..., ::s, ::s]
    return F.interpolate(labels[:, None].float(), size=(h, w), mode="nearest")[:, 0].long()


def downsampled_loss(scores: torch.Tensor, labels: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """v1/v2: cross-entropy of the stride-s scores against labels subsampled to their grid."""
    return F.cross_entropy(scores.float(), subsample_labels(labels, scores.shape[-2:]), ignore_index=ignore_index)


def upsampled_loss(scores: torch.Tensor, labels: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """v3: cross-entropy of the scores upsampled (bilinearly) to the labels' full resolution."""
    up = F.interpolate(scores.float(), size=labels.shape[-2:], mode="bilinear", align_corners=False)
    return F.cross_entropy(up, labels, ignore_index=ignore_index)


# --------------------------------------------------------------------------- reproducible data

class DrawSampler(torch.utils.data.Sampler):
    """Yields ``(image_index, k)`` for this process's samples of steps [start, stop).

    Sample k (counted over every step and process) is image ``perm_e[k mod n]`` of epoch
    ``e = k // n``, the permutation seeded from (seed, e): a shuffle per epoch that a resumed
    or distributed run reproduces exactly.
    """

    def __init__(self, num_images: int, seed: int, start: int, stop: int, batch_size: int,
                 env: ddp.DistEnv) -> None:
        self.n, self.seed, self.start, self.stop = num_images, seed, start, stop
        self.batch_size, self.env = batch_size, env
        self.share = ddp.per_process_batch(batch_size, env)
        self._perms: dict[int, list[int]] = {}

    def image_of(self, k: int) -> int:
        epoch = k // self.n
        if epoch not in self._perms:
            g = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
            self._perms = {epoch: torch.randperm(self.n, generator=g).tolist()}
        return self._perms[epoch][k % self.n]

    def __iter__(self):
        for step in range(self.start, self.stop):
            first = step * self.batch_size + self.env.rank * self.share
            for k in range(first, first + self.share):
                yield self.image_of(k), k

    def __len__(self) -> int:
        return (self.stop - self.start) * self.share


class SeededAugmentation(torch.utils.data.Dataset):
    """The dataset with its ``TrainTransform`` reseeded for every sample k (see ``DrawSampler``)."""

    def __init__(self, dataset: torch.utils.data.Dataset, transform: TrainTransform, seed: int) -> None:
        self.dataset, self.transform, self.seed = dataset, transform, seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item: tuple[int, int]):
        index, k = item
        self.transform.generator = torch.Generator().manual_seed(self.seed * 1_000_003 + k)
        return self.dataset[index]


def open_dataset(config: TrainConfig, split: str, transform=None):
    """``build_dataset``, with a missing VOC folder explained rather than just reported."""
    try:
        return build_dataset(config.dataset, split, transform=transform, root=config.data_root)
    except FileNotFoundError as err:
        if config.dataset in ("voc", "voc_aug"):
            raise FileNotFoundError(f"{err}. To get PASCAL VOC 2012 (and SBD for voc_aug) read data/README.md "
                                    "and set DEEPLAB_EDU_VOC; or train on the offline built-in set "
                                    "with dataset='builtin' (--dataset builtin)") from err
        raise


# --------------------------------------------------------------------------- the loop

def _autocast(device: torch.device, amp: str):
    use_bf16 = amp == "bf16" or (amp == "auto" and device.type == "cuda")
    return torch.autocast(device.type, dtype=torch.bfloat16) if use_bf16 else nullcontext()


def _set_train_mode(model: torch.nn.Module, batchnorm: str) -> None:
    model.train()
    if batchnorm == "frozen":
        ddp.freeze_batchnorm(model)


class ScoresOnly(torch.nn.Module):
    """Makes ``forward`` return the coarse scores, so DDP's forward hooks see the call."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if hasattr(self.model, "forward_all_scales"):
            return torch.stack(self.model.forward_all_scales(images))
        return self.model.forward_scores(images)


def batch_loss(net: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, kind: str) -> torch.Tensor:
    """Loss of one batch through ``net`` (a ``ScoresOnly``, possibly DDP-wrapped).

    A multi-scale v2 model returns every scale's scores and their max-fusion; the loss sums
    over them, as v2 §4.1 trains MSC ("the loss is the sum over the scales and the fusion").
    """
    loss_fn = downsampled_loss if kind == "downsampled" else upsampled_loss
    scores = net(images)
    if scores.ndim == 5:
        return sum(loss_fn(s, labels) for s in scores.unbind(0))
    return loss_fn(scores, labels)


def forward_backward(net: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, kind: str,
                     amp: str = "auto", channels_last: bool = False, scale: float = 1.0) -> torch.Tensor:
    """One pass of a training step: bf16 forward (on CUDA, or ``amp="bf16"``), the loss in
    float32, times ``scale`` (1/accumulate), back-propagated; returns the scaled loss, detached.

    ``benchmarks/bench_train.py`` times exactly this, so what it measures is what ``train`` runs.
    """
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    with _autocast(images.device, amp):
        loss = batch_loss(net, images, labels, kind) * scale
    loss.backward()
    return loss.detach()


def _write_log(path: Path, rows: list[dict], mode: str) -> None:
    with path.open(mode, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=LOG_FIELDS)
        if mode == "w":
            writer.writeheader()
        writer.writerows(rows)


def _log_rows_until(path: Path, step: int) -> list[dict]:
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return [r for r in csv.DictReader(handle) if int(r["step"]) <= step]


def train(config: TrainConfig) -> TrainResult:
    """Train as ``config`` says; return the model, the logged history and the last checkpoint.

    Under torchrun this runs in every process; rank 0 writes the log and the checkpoints.
    Raises ``FloatingPointError`` naming the step and the last good checkpoint if the loss
    stops being finite.
    """
    config.validate()
    device = torch.device(config.device) if config.device else default_device()
    env = ddp.setup(device.type)
    device = ddp.device_for(env, device)
    seed_everything(config.seed)
    out = Path(config.out_dir)
    ckpt_path, log_path = out / "checkpoint.pt", out / "log.csv"

    transform = TrainTransform(config.crop_size, scale=tuple(config.scale))
    dataset = open_dataset(config, "train", transform)
    model_config = config.model_config(dataset.num_classes)
    model = build_from_config(model_config)
    if config.pretrained:
        from deeplab_edu import weights
        weights.load_pretrained(model, config.pretrained)
    if config.batchnorm == "sync":
        model = ddp.convert_sync_batchnorm(model, device)
    model.to(device)
    channels_last = device.type == "cuda" if config.channels_last is None else config.channels_last
    if channels_last:
        model.to(memory_format=torch.channels_last)

    optimizer = make_optimizer(model, config.lr, config.momentum, config.weight_decay, config.head_lr_mult)
    scheduler = make_scheduler(optimizer, config.schedule, config.iterations, config.power,
                               config.step_size, config.gamma)
    start = 0
    if config.resume and ckpt_path.is_file():
        state = load_checkpoint(ckpt_path, model, optimizer, scheduler, model_config=model_config,
                                restore_rng=True, map_location=device)
        start = state["iteration"]
        if env.is_main:
            print(f"resuming {ckpt_path} at iteration {start} of {config.iterations}")
    elif config.resume and env.is_main:
        print(f"no checkpoint at {ckpt_path}; starting from iteration 0")

    net: torch.nn.Module = ScoresOnly(model)
    if config.compile:
        net = torch.compile(net)
    net = ddp.wrap_model(net, env, device)

    stop = min(config.stop_at or config.iterations, config.iterations)
    share = ddp.per_process_batch(config.batch_size, env)
    if share % config.accumulate:
        raise ValueError(f"each process's batch ({share}) must be divisible by accumulate ({config.accumulate})")
    micro = share // config.accumulate
    loader = torch.utils.data.DataLoader(
        SeededAugmentation(dataset, transform, config.seed), batch_size=micro,
        sampler=DrawSampler(len(dataset), config.seed, start, stop, config.batch_size, env),
        num_workers=config.num_workers, pin_memory=device.type == "cuda",
        # Its own generator: creating the iterator would otherwise draw from the global RNG,
        # after a resume's restore but before a straight run's first step.
        generator=torch.Generator().manual_seed(config.seed), drop_last=False)

    history = _log_rows_until(log_path, start) if start else []
    if env.is_main:
        out.mkdir(parents=True, exist_ok=True)
        _write_log(log_path, history, "w")
    last_good = ckpt_path if start else None
    _set_train_mode(model, config.batchnorm)
    bar = tqdm(total=stop - start, desc=f"training {config.model}", disable=not (config.progress and env.is_main))
    t_start = t_window = time.perf_counter()
    images_in_window = 0
    batches = iter(loader)
    for step in range(start, stop):
        optimizer.zero_grad(set_to_none=True)
        total = torch.zeros((), device=device)
        for pass_ in range(config.accumulate):
            images, labels = next(batches)
            images = images.to(device, non_blocking=True)
            labels = labels.to(device, non_blocking=True)
            # DDP averages gradients at the last pass only; the earlier ones accumulate locally.
            sync = nullcontext() if pass_ == config.accumulate - 1 or not env.is_distributed else net.no_sync()
            with sync:
                total += forward_backward(net, images, labels, config.loss, config.amp, channels_last,
                                          1 / config.accumulate)
        total = ddp.mean_over_processes(total, env)
        if not torch.isfinite(total):
            bar.close()
            where = f"the last good checkpoint is {last_good}" if last_good else "no checkpoint was written yet"
            raise FloatingPointError(f"loss is {total.item()} at step {step + 1}; training stopped — {where}. "
                                     "Lower the learning rate or check the labels (255 = ignore).")
        lrs = [group["lr"] for group in optimizer.param_groups]  # the rates this step used
        optimizer.step()
        scheduler.step()
        images_in_window += config.batch_size
        done = step + 1

        if done % config.log_every == 0 or done == stop:
            now = time.perf_counter()
            row = {"step": done, "loss": total.item(),
                   "lr_backbone": lrs[0], "lr_head": lrs[1],
                   "images_per_s": images_in_window / max(now - t_window, 1e-9),
                   "elapsed_s": now - t_start}
            history.append(row)
            t_window, images_in_window = now, 0
            if env.is_main:
                _write_log(log_path, [row], "a")
            bar.set_postfix(loss=f"{row['loss']:.3f}", lr=f"{row['lr_backbone']:.2e}",
                            img_s=f"{row['images_per_s']:.1f}")
        if done % config.checkpoint_every == 0 or done == stop:
            if env.is_main:
                save_checkpoint(ckpt_path, model, optimizer, scheduler, done, model_config,
                                extra={"config": json.dumps(dataclasses.asdict(config)),
                                       "class_names": list(dataset.class_names)})
            ddp.barrier(env)
            last_good = ckpt_path
        bar.update(1)
    bar.close()
    seconds = time.perf_counter() - t_start
    model.eval()
    return TrainResult(model=model, history=[{k: float(v) for k, v in r.items()} for r in history],
                       checkpoint=last_good, seconds=seconds, device=str(device), iterations=stop,
                       num_classes=dataset.num_classes, class_names=tuple(dataset.class_names))


# --------------------------------------------------------------------------- command line

def add_arguments(parser: argparse.ArgumentParser) -> None:
    profile = get_profile()
    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    parser.description = (f"Train a DeepLab. Sizes default to the {profile.name!r} run profile "
                          "(DEEPLAB_EDU_PROFILE). Multi-GPU: torchrun --nproc-per-node N -m deeplab_edu train ...")
    g = parser.add_argument_group("model")
    g.add_argument("--model", default="deeplabv3", choices=["deeplabv1", "deeplabv2", "deeplabv3", "deeplabv3plus"])
    g.add_argument("--backbone", default=None, help="vgg16 (v1), resnet50 or resnet101; default: the paper's")
    g.add_argument("--output-stride", type=int, default=None, help="8 or 16; default: the paper's")
    g.add_argument("--width", type=float, default=profile.width, help="channel multiplier (<1: small model)")
    g.add_argument("--blocks", type=int, nargs=4, default=None, metavar="N",
                   help="ResNet units per stage, e.g. 1 1 1 1 (default: 1 1 1 1 below full width)")
    g.add_argument("--fc6", default=None, help="v1's fc6 variant: largefov, 7x7, 4x4, 4x4-rate8")
    g.add_argument("--rates", default=None, help="ASPP rates, e.g. 6,12,18 or aspp-l / aspp-s (v2)")
    g.add_argument("--dropout", type=float, default=None, help="v1's fc6/fc7 dropout (default 0.5)")
    g.add_argument("--pretrained", default="auto",
                   help="ImageNet weights file for the backbone; 'auto': torchvision's file from "
                        "$DEEPLAB_EDU_IMAGENET (default data/imagenet) for full-size models, the book's "
                        "miniature-ImageNet weights where they fit a small one, else none; "
                        "'none': train from scratch")
    g = parser.add_argument_group("data")
    g.add_argument("--dataset", default="builtin", choices=["builtin", "sample", "voc", "voc_aug"])
    g.add_argument("--data-root", default=None, help="dataset folder (default: from deeplab_edu.paths)")
    g.add_argument("--crop-size", type=int, default=profile.crop_size, help="output_stride·k+1, e.g. 321 or 513")
    g.add_argument("--scale", type=float, nargs=2, default=[0.5, 2.0], metavar=("LOW", "HIGH"),
                   help="random rescaling range of the training augmentation")
    g.add_argument("--batch-size", type=int, default=profile.batch_size, help="global batch, all GPUs together")
    g.add_argument("--num-workers", type=int, default=0, help="DataLoader worker processes")
    g = parser.add_argument_group("optimisation")
    g.add_argument("--iterations", type=int, default=profile.iterations)
    g.add_argument("--lr", type=float, default=0.007, help="base learning rate (the head gets 10x)")
    g.add_argument("--weight-decay", type=float, default=1e-4)
    g.add_argument("--schedule", default="poly", choices=SCHEDULES, help="poly (v2+) or step (v1: x0.1 / 2000 it)")
    g.add_argument("--loss", default="upsampled", choices=LOSSES, help="downsampled labels (v1/v2) or upsampled scores (v3)")
    g.add_argument("--accumulate", type=int, default=1, help="gradient-accumulation passes per step")
    g.add_argument("--batchnorm", default="train", choices=BATCHNORM, help="train, frozen, or sync (GPUs)")
    g.add_argument("--amp", default="auto", choices=["auto", "bf16", "off"], help="auto: bf16 on CUDA")
    g.add_argument("--compile", action="store_true", help="torch.compile the model")
    g.add_argument("--seed", type=int, default=0)
    g = parser.add_argument_group("run")
    g.add_argument("--out", default="runs/deeplab", help="folder for checkpoint.pt and log.csv")
    g.add_argument("--log-every", type=int, default=profile.log_every)
    g.add_argument("--checkpoint-every", type=int, default=max(profile.iterations // 4, 1))
    g.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt if it exists")
    g.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: the best available)")
    g.add_argument("--no-progress", action="store_true")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    options: dict[str, Any] = {}
    if args.blocks is not None:
        options["blocks"] = tuple(args.blocks)
    elif args.width < 1 and args.model != "deeplabv1":
        options["blocks"] = (1, 1, 1, 1)
    if args.fc6:
        options["fc6"] = args.fc6
    if args.dropout is not None:
        options["dropout"] = args.dropout
    if args.rates:
        options["rates"] = args.rates if args.rates.startswith("aspp") else tuple(int(r) for r in args.rates.split(","))
    pretrained = {"auto": default_pretrained(args.model, args.backbone, args.width, options),
                  "none": None}.get(args.pretrained, args.pretrained)
    return TrainConfig(model=args.model, backbone=args.backbone, output_stride=args.output_stride, width=args.width,
                       model_options=options, pretrained=pretrained, dataset=args.dataset,
                       data_root=args.data_root, crop_size=args.crop_size, scale=tuple(args.scale), batch_size=args.batch_size,
                       num_workers=args.num_workers, iterations=args.iterations, lr=args.lr,
                       weight_decay=args.weight_decay, schedule=args.schedule, loss=args.loss,
                       accumulate=args.accumulate, batchnorm=args.batchnorm, amp=args.amp, compile=args.compile,
                       seed=args.seed, out_dir=args.out, log_every=args.log_every,
                       checkpoint_every=args.checkpoint_every, resume=args.resume, device=args.device,
                       progress=not args.no_progress)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    try:
        result = train(config)
    finally:
        env = ddp.env_from_torchrun()
        ddp.cleanup()
    if env.is_main:
        last = result.history[-1] if result.history else {}
        print(f"trained {config.model} for {result.iterations} iterations on {result.device} in "
              f"{result.seconds:.1f} s; last loss {last.get('loss', math.nan):.4f}; "
              f"checkpoint {result.checkpoint}; log {Path(config.out_dir) / 'log.csv'}")
    return 0
