"""``python -m deeplab_edu make-data``: write the offline built-in set (``datasets.synthetic``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from deeplab_edu.cli import configure, non_negative_int, positive_int, run_profile, seed_value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from deeplab_edu.datasets import default_builtin_root

    profile = run_profile(parser)
    configure(parser, "Write the offline built-in dataset in the PASCAL VOC layout. Training and `env` read "
                      "data/builtin/<profile>/ and generate it there on first use; this command rewrites it "
                      "with the sizes you choose (built beside the folder, then swapped in whole; a folder it "
                      "did not write is refused).")
    parser.add_argument("--root", type=Path, default=default_builtin_root(),
                        help=f"output folder (default: {default_builtin_root()}, i.e. $DEEPLAB_EDU_BUILTIN/<profile>)")
    parser.add_argument("--train", type=non_negative_int, default=profile.train_images,
                        help=f"train images (default from the {profile.name} profile: %(default)s)")
    parser.add_argument("--val", type=non_negative_int, default=profile.val_images,
                        help=f"val images (default from the {profile.name} profile: %(default)s)")
    parser.add_argument("--size", type=positive_int, default=profile.image_size,
                        help=f"image side in pixels (default from the {profile.name} profile: %(default)s)")
    parser.add_argument("--holdout", type=non_negative_int, default=profile.holdout_images,
                        help="train-like images never trained on, where the chapters cross-validate the CRF "
                             f"(default from the {profile.name} profile: %(default)s)")
    parser.add_argument("--seed", type=seed_value, default=0, help="dataset seed (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    from deeplab_edu.cli.memory import naming_memory, refuse_if_too_large
    from deeplab_edu.datasets.build import generate_builtin

    # A scene is painted in float32 layers: about 24 float32 values per pixel at once.
    needed = 96 * args.size ** 2
    what = f"--size {args.size} (one {args.size}x{args.size} scene)"
    refuse_if_too_large(needed, what)
    with naming_memory(needed, what):
        root = generate_builtin(args.root, train=args.train, val=args.val, size=args.size, seed=args.seed,
                                holdout=args.holdout, progress=not args.no_progress)
    print(f"wrote {args.train} train + {args.val} val images of {args.size}x{args.size} "
          f"(seed {args.seed}) to {root}")
    return 0
