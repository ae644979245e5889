"""``python -m deeplab_edu pretrain``: ImageNet pretraining in miniature (``deeplab_edu.pretrain``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from deeplab_edu.cli import configure, positive_float, positive_int, seed_value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from deeplab_edu.paths import REPO_ROOT
    from deeplab_edu.pretrain import PRETRAIN_BACKBONES, DEFAULT_LR, SHIPPED_DIR, PretrainConfig

    defaults = PretrainConfig()
    configure(parser, "ImageNet pretraining in miniature: teach a small backbone to classify objects.")
    parser.add_argument("--backbone", choices=PRETRAIN_BACKBONES, default=defaults.backbone, help="which backbone")
    parser.add_argument("--width", type=positive_float, default=defaults.width, help="channel multiplier")
    parser.add_argument("--blocks", type=positive_int, nargs=4, default=defaults.blocks, metavar="N",
                        help="ResNet units per stage")
    parser.add_argument("--iterations", type=positive_int, default=defaults.iterations, help="training steps")
    parser.add_argument("--batch-size", type=positive_int, default=defaults.batch_size, help="images per step")
    parser.add_argument("--lr", type=positive_float, default=None, help="peak learning rate (default: "
                        + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items()) + ")")
    parser.add_argument("--train-images", type=positive_int, default=defaults.train_images,
                        help="object images to train on")
    parser.add_argument("--image-size", type=positive_int, default=defaults.image_size, help="object image side (px)")
    parser.add_argument("--fc6-rate", type=positive_int, default=None,
                        help="vgg16: also train VGG's fc6 (7x7 at this rate) and fc7, which DeepLab v1 decimates "
                             "into its head (the image must span 6 * rate + 1 cells of the stride-8 map)")
    parser.add_argument("--seed", type=seed_value, default=defaults.seed, help="seeds weights and batches")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"weights file (default: {SHIPPED_DIR.relative_to(REPO_ROOT)}/<backbone>-w<width>….pt)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing --out file (the shipped weights in data/pretrained/ included)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def check_out(out: Path, overwrite: bool, shipped_dir: Path) -> None:
    """Refuse an ``--out`` that would replace a file without ``--overwrite``, or whose JSON record
    (``<out>.json``) would land on the weights themselves."""
    if out.suffix.lower() == ".json":
        raise ValueError(f"--out {out}: the weights file must not end in .json (the JSON record of how the "
                         f"weights were made is written beside it as {out.with_suffix('.json').name}); "
                         "give a .pt name")
    if out.is_dir():
        raise IsADirectoryError(f"--out {out} is a folder; expected a weights file name such as {out / 'w.pt'}")
    if out.exists() and not overwrite:
        shipped = out.resolve().parent == shipped_dir.resolve()
        raise FileExistsError(f"--out {out} exists" + (" (the shipped weights the chapters start from)" if shipped
                                                         else "")
                              + "; pass --overwrite to replace it, or choose another --out")


def run(args: argparse.Namespace) -> int:
    from deeplab_edu.cli.memory import naming_memory, refuse_if_too_large, training_bytes
    from deeplab_edu.errors import TrainingDiverged
    from deeplab_edu.pretrain import NUM_CLASSES, SHIPPED_DIR, PretrainConfig, pretrain, save_classifier, weights_name

    config = PretrainConfig(backbone=args.backbone, width=args.width, blocks=tuple(args.blocks),
                            iterations=args.iterations, batch_size=args.batch_size, lr=args.lr,
                            train_images=args.train_images, image_size=args.image_size, fc6_rate=args.fc6_rate,
                            seed=args.seed, progress=not args.no_progress)
    blocks = config.blocks if config.backbone == "resnet" else None
    out = args.out or SHIPPED_DIR / weights_name(config.backbone, config.width, blocks)
    check_out(out, args.overwrite, SHIPPED_DIR)
    config.validate()
    # Activations of one batch through the backbone, as for a training crop of image_size pixels.
    needed = sum(training_bytes(config.batch_size, config.image_size, config.width))
    what = f"--batch-size {config.batch_size} with --width {config.width:g}"
    refuse_if_too_large(needed, what)
    try:
        with naming_memory(needed, what):
            result = pretrain(config)
    except FloatingPointError as err:  # a diverging run: its one line, not a traceback
        raise TrainingDiverged(f"{err} (--lr)") from err
    save_classifier(result, config, out)
    print(f"{config.backbone} (width {config.width:g}): val accuracy {result.val_accuracy:.3f} "
          f"(chance {1 / NUM_CLASSES:.3f}) after {config.iterations} iterations, "
          f"{result.seconds:.0f} s; wrote {out}")
    return 0
