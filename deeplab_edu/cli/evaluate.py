"""``python -m deeplab_edu evaluate``: score a checkpoint on whole images (``engine.evaluation``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from deeplab_edu.cli import add_dataset, add_device, checkpoint_file, configure, positive_int, scale_value
from deeplab_edu.engine.evaluation import DEFAULT_TRIMAP_WIDTHS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    configure(parser, "Evaluate a checkpoint on whole images: mIoU, per-class IoU, pixel / mean accuracy, "
                      "frequency-weighted IoU and trimap accuracy; optionally multi-scale + flip, and save "
                      "the probabilities for `python -m deeplab_edu crf`.")
    parser.add_argument("checkpoint", type=Path, help="checkpoint.pt written by `train`")
    add_dataset(parser)
    # No fixed default: a checkpoint is scored on the data it was trained on unless told otherwise.
    parser.set_defaults(dataset=None)
    parser.add_argument("--scales", type=scale_value, nargs="+", default=[1.0],
                        help="inference scales in [0.25, 4], e.g. 0.5 0.75 1 1.25 1.5 1.75")
    parser.add_argument("--flip", action="store_true", help="also score the mirrored image")
    parser.add_argument("--trimap", type=positive_int, nargs="*", default=list(DEFAULT_TRIMAP_WIDTHS),
                        help="band widths in pixels for trimap accuracy")
    parser.add_argument("--save-scores", type=Path, default=None, help="folder for <id>.npy probabilities")
    add_device(parser)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def trained_on(checkpoint: Path) -> tuple[str, str | None]:
    """``(dataset, data_root)`` the checkpoint's run trained on; builtin / the default for what it does not say."""
    import json

    from deeplab_edu.checkpoint import read_checkpoint

    saved = read_checkpoint(checkpoint).get("extra", {}).get("config")
    config = json.loads(saved) if isinstance(saved, str) else {}
    root = config.get("data_root")
    return config.get("dataset") or "builtin", root if root and Path(root).is_dir() else None


def run(args: argparse.Namespace) -> int:
    from deeplab_edu.checkpoint import load_trained
    from deeplab_edu.datasets import build_dataset
    from deeplab_edu.engine.evaluation import evaluate
    from deeplab_edu.runtime import resolve_device

    device = resolve_device(args.device)
    checkpoint_file(args.checkpoint)
    if args.save_scores is not None and args.save_scores.exists() and not args.save_scores.is_dir():
        raise NotADirectoryError(f"--save-scores {args.save_scores} is a file; expected a folder for <id>.npy files")
    progress = not args.no_progress
    model, config = load_trained(args.checkpoint, device)
    if args.dataset is None:
        args.dataset, trained_root = trained_on(args.checkpoint)
        if args.data_root is None:
            args.data_root = trained_root
        print(f"dataset {args.dataset!r}: the one {args.checkpoint} was trained on (--dataset to choose another)")
    dataset = build_dataset(args.dataset, args.split, root=args.data_root, progress=progress)
    if dataset.num_classes != config["num_classes"]:
        raise ValueError(f"checkpoint {args.checkpoint} predicts {config['num_classes']} classes but dataset "
                         f"{args.dataset!r} has {dataset.num_classes}")
    result = evaluate(model, dataset, args.scales, args.flip, args.trimap, device, args.save_scores,
                      progress=progress)
    print(f"{args.checkpoint} on {args.dataset}/{args.split} ({len(dataset)} images), scales {args.scales}"
          f"{', flip' if args.flip else ''}:")
    print(result.format())
    if args.save_scores:
        print(f"probabilities saved to {args.save_scores}; refine them with "
              f"`python -m deeplab_edu crf {args.save_scores} --dataset {args.dataset}`")
    return 0
