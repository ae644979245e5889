"""``python -m deeplab_edu pretrain``: ImageNet pretraining in miniature (``deeplab_edu.pretrain``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from deeplab_edu.cli import configure, non_negative_int, positive_float, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from deeplab_edu.paths import REPO_ROOT
    from deeplab_edu.pretrain import BACKBONES, DEFAULT_LR, SHIPPED_DIR, PretrainConfig

    defaults = PretrainConfig()
    configure(parser, "ImageNet pretraining in miniature: teach a small backbone to classify objects.")
    parser.add_argument("--backbone", choices=BACKBONES, default=defaults.backbone, help="which backbone")
    parser.add_argument("--width", type=positive_float, default=defaults.width, help="channel multiplier")
    parser.add_argument("--blocks", type=positive_int, nargs=4, default=defaults.blocks, metavar="N",
                        help="ResNet units per stage")
    parser.add_argument("--iterations", type=positive_int, default=defaults.iterations, help="training steps")
    parser.add_argument("--batch-size", type=positive_int, default=defaults.batch_size, help="images per step")
    parser.add_argument("--lr", type=positive_float, default=None, help="peak learning rate (default: "
                        + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items()) + ")")
    parser.add_argument("--train-images", type=positive_int, default=defaults.train_images,
                        help="object images to train on")
    parser.add_argument("--seed", type=non_negative_int, default=defaults.seed, help="seeds weights and batches")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"weights file (default: {SHIPPED_DIR.relative_to(REPO_ROOT)}/<backbone>-w<width>….pt)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    from deeplab_edu.pretrain import NUM_CLASSES, SHIPPED_DIR, PretrainConfig, pretrain, save_classifier, weights_name

    config = PretrainConfig(backbone=args.backbone, width=args.width, blocks=tuple(args.blocks),
                            iterations=args.iterations, batch_size=args.batch_size, lr=args.lr,
                            train_images=args.train_images, seed=args.seed, progress=not args.no_progress)
    result = pretrain(config)
    blocks = config.blocks if config.backbone == "resnet" else None
    out = args.out or SHIPPED_DIR / weights_name(config.backbone, config.width, blocks)
    save_classifier(result, config, out)
    print(f"{config.backbone} (width {config.width:g}): val accuracy {result.val_accuracy:.3f} "
          f"(chance {1 / NUM_CLASSES:.3f}) after {config.iterations} iterations, "
          f"{result.seconds:.0f} s; wrote {out}")
    return 0
