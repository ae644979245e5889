"""``python -m deeplab_edu train``: the training engine (``deeplab_edu.engine``) from the shell."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from deeplab_edu.cli import (add_dataset, add_device, configure, existing_file, non_negative_float, non_negative_int,
                             positive_float, positive_int, rates, run_profile, seed_value)
from deeplab_edu.engine.config import BATCHNORM, LOSSES, SCHEDULES, TrainConfig
from deeplab_edu.profiles import get_profile


def add_arguments(parser: argparse.ArgumentParser) -> None:
    profile = run_profile(parser)
    configure(parser, f"Train a DeepLab. Sizes default to the {profile.name!r} run profile (DEEPLAB_EDU_PROFILE). "
                      "OUT holds checkpoint.pt and log.csv: running the command again resumes the run there "
                      "(the same settings are required; --overwrite starts over). Ctrl-C saves a checkpoint "
                      "and stops. Multi-GPU: torchrun --nproc-per-node N -m deeplab_edu train ...")
    g = parser.add_argument_group("model")
    g.add_argument("--model", default="deeplabv3", choices=["deeplabv1", "deeplabv2", "deeplabv3", "deeplabv3plus"],
                   help="which DeepLab")
    g.add_argument("--backbone", default=None, help="vgg16 (v1), resnet50 or resnet101 (default: the paper's)")
    g.add_argument("--output-stride", type=int, default=None, choices=[8, 16, 32],
                   help="8 or 16 (default: the paper's)")
    g.add_argument("--width", type=positive_float, default=profile.width, help="channel multiplier (<1: small model)")
    g.add_argument("--blocks", type=positive_int, nargs=4, default=None, metavar="N",
                   help="ResNet units per stage, e.g. 1 1 1 1 (default: 1 1 1 1 below full width)")
    g.add_argument("--fc6", default=None, help="v1's fc6 variant: largefov, 7x7, 4x4, 4x4-rate8 (default: largefov)")
    g.add_argument("--rates", type=rates, default=None,
                   help="ASPP rates, e.g. 6,12,18, or aspp-l / aspp-s for v2 (default: the paper's)")
    g.add_argument("--dropout", type=non_negative_float, default=None, help="v1's fc6/fc7 dropout (default 0.5)")
    g.add_argument("--aux-weight", type=non_negative_float, default=0.0,
                   help="v3: weight of the auxiliary layer3 head's loss; 0 builds no auxiliary head")
    g.add_argument("--pretrained", default="auto",
                   help="ImageNet weights file for the backbone; 'auto' (the default): torchvision's file from "
                        "$DEEPLAB_EDU_IMAGENET (data/imagenet) for full-size models (required in the gpu and "
                        "full profiles: without it the run stops), the book's miniature-ImageNet weights "
                        "where they fit a small one, else none; 'none': train from scratch on purpose")
    g = parser.add_argument_group("data")
    add_dataset(g, split=False)
    g.add_argument("--crop-size", type=positive_int, default=profile.crop_size,
                   help="output_stride·k+1, e.g. 321 or 513")
    g.add_argument("--scale", type=positive_float, nargs=2, default=[0.5, 2.0], metavar=("LOW", "HIGH"),
                   help="random rescaling range of the training augmentation")
    g.add_argument("--batch-size", type=positive_int, default=profile.batch_size, help="global batch, all GPUs together")
    g.add_argument("--num-workers", type=non_negative_int, default=0, help="DataLoader worker processes")
    g = parser.add_argument_group("optimisation")
    g.add_argument("--iterations", type=positive_int, default=profile.iterations,
                   help="training steps in all; more than a resumed run had extends its poly schedule")
    g.add_argument("--lr", type=positive_float, default=0.007, help="base learning rate (the head gets 10x)")
    g.add_argument("--weight-decay", type=non_negative_float, default=1e-4, help="SGD weight decay")
    g.add_argument("--schedule", default="poly", choices=SCHEDULES, help="poly (v2+) or step (v1: x0.1 / 2000 it)")
    g.add_argument("--loss", default="upsampled", choices=LOSSES,
                   help="downsampled labels (v1/v2) or upsampled scores (v3)")
    g.add_argument("--accumulate", type=positive_int, default=1, help="gradient-accumulation passes per step")
    g.add_argument("--clip-grad-norm", type=positive_float, default=None, metavar="NORM",
                   help="rescale each step's gradient to at most this L2 norm (default: never)")
    g.add_argument("--batchnorm", default="train", choices=BATCHNORM, help="train, frozen, or sync (GPUs)")
    g.add_argument("--amp", default="auto", choices=["auto", "bf16", "off"], help="auto: bf16 on CUDA")
    g.add_argument("--compile", action="store_true", help="torch.compile the model")
    g.add_argument("--seed", type=seed_value, default=0, help="seeds the weights, the draw of images and the crops")
    g = parser.add_argument_group("run")
    g.add_argument("--out", default="runs/deeplab", help="run folder for checkpoint.pt and log.csv")
    g.add_argument("--log-every", type=positive_int, default=profile.log_every, help="write a log row every N steps")
    g.add_argument("--checkpoint-every", type=positive_int, default=None,
                   help="save every N steps (default: a quarter of --iterations; always at the end and on Ctrl-C)")
    g.add_argument("--overwrite", action="store_true", help="start over in OUT, replacing its checkpoint and log")
    add_device(g)
    g.add_argument("--no-progress", action="store_true", help="hide the progress bars (training and data generation)")
    g.add_argument("--no-estimate", action="store_true",
                   help="skip the few timed steps that estimate the run's time before it starts")


# Options named as the ``TrainConfig`` field they set.
CONFIG_OPTIONS = ("model", "backbone", "output_stride", "width", "aux_weight", "dataset", "data_root", "crop_size",
                  "batch_size", "num_workers", "iterations", "lr", "weight_decay", "schedule", "loss", "accumulate",
                  "clip_grad_norm", "batchnorm", "amp", "compile", "seed", "log_every", "checkpoint_every",
                  "overwrite", "device")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    from deeplab_edu.engine.pretrained import default_pretrained

    options: dict[str, Any] = {name: getattr(args, name) for name in ("fc6", "dropout", "rates")
                               if getattr(args, name) is not None}
    if args.blocks is not None:
        options["blocks"] = tuple(args.blocks)
    elif args.width < 1 and args.model != "deeplabv1":
        options["blocks"] = (1, 1, 1, 1)
    pretrained = {"auto": default_pretrained(args.model, args.backbone, args.width, options),
                  "none": None}.get(args.pretrained, args.pretrained)
    return TrainConfig(**{name: getattr(args, name) for name in CONFIG_OPTIONS}, model_options=options,
                       pretrained=pretrained, scale=tuple(args.scale), out_dir=args.out, progress=not args.no_progress)


# Options that only some models take: (flag, attribute, the models that take it).
MODEL_OPTIONS = (("--rates", "rates", ("deeplabv2", "deeplabv3", "deeplabv3plus")),
                 ("--fc6", "fc6", ("deeplabv1",)), ("--dropout", "dropout", ("deeplabv1",)))


def check_model_options(args: argparse.Namespace) -> None:
    """Refuse, by name, an option the chosen model does not take (v1 has no ASPP rates)."""
    for flag, name, models in MODEL_OPTIONS:
        if getattr(args, name) is not None and args.model not in models:
            raise ValueError(f"{flag} is not an option of {args.model}; it applies to {', '.join(models)}"
                             + (" (v1's field of view is set by --fc6)" if flag == "--rates" else ""))


def training_memory(config: TrainConfig) -> tuple[float, str]:
    """Roughly the bytes a training pass needs, and the flags that ask for most of them."""
    from deeplab_edu import distributed as ddp
    from deeplab_edu.cli.memory import training_bytes

    per_pass = max(config.batch_size // config.accumulate // ddp.env_from_torchrun().world_size, 1)
    activations, weights = training_bytes(per_pass, config.crop_size, config.width)
    if weights > activations:
        return activations + weights, f"--width {config.width:g} (weights, gradients and momentum)"
    return activations + weights, (f"--crop-size {config.crop_size} with --batch-size {config.batch_size} "
                                   f"({per_pass} crop(s) per pass)")


def run(args: argparse.Namespace) -> int:
    from deeplab_edu import distributed as ddp
    from deeplab_edu.cli.memory import naming_memory, refuse_if_too_large
    from deeplab_edu.engine.loop import train
    from deeplab_edu.runtime import resolve_device

    check_model_options(args)
    config = config_from_args(args)
    config.validate()
    if args.pretrained not in ("auto", "none"):
        existing_file(args.pretrained, "--pretrained", "; give an ImageNet weights file, 'auto' or 'none'")
    elif config.pretrained is not None and not Path(config.pretrained).is_file():
        from deeplab_edu.weights import missing_imagenet_message  # 'auto': a full-size model, gpu / full profile

        raise FileNotFoundError(missing_imagenet_message(config.pretrained))
    device = resolve_device(config.device)  # a missing GPU is named before any data is written
    needed, what = training_memory(config)
    refuse_if_too_large(needed, what, str(device))
    env = ddp.env_from_torchrun()
    resuming = (Path(config.out_dir) / "checkpoint.pt").is_file() and not config.overwrite
    if env.is_main and not resuming:
        print(f"starting from {'pretrained weights ' + config.pretrained if config.pretrained else 'random weights'}")
        if not args.no_estimate:
            from deeplab_edu.engine.estimate import estimate_time
            with naming_memory(needed, what):  # its timed steps allocate what training will
                print(estimate_time([config]).describe(get_profile().name), flush=True)
    try:
        with naming_memory(needed, what):
            result = train(config)
    finally:
        ddp.cleanup()
    if env.is_main:
        last = result.history[-1] if result.history else {}
        session = result.iterations - result.start_iteration
        resumed = f" ({session} in this session, resumed at {result.start_iteration})" if result.start_iteration else ""
        print(f"trained {config.model} for {result.iterations} iterations{resumed} on {result.device} in "
              f"{result.seconds:.1f} s; last loss {last.get('loss', math.nan):.4f}; "
              f"checkpoint {result.checkpoint}; log {Path(config.out_dir) / 'log.csv'}")
    return 0
