"""``python -m deeplab_edu convert-sbd``: build VOC's trainaug split from SBD (``datasets.trainaug``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from deeplab_edu.cli import configure


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from deeplab_edu.paths import sbd_root, voc_root

    configure(parser, "Convert SBD .mat labels to palette PNGs and write the 10,582-image trainaug split. "
                      "Labels are written atomically; existing ones are checked and rewritten when damaged.")
    parser.add_argument("--voc", type=Path, default=voc_root(),
                        help="VOCdevkit/VOC2012 folder (default: %(default)s, or $DEEPLAB_EDU_VOC)")
    parser.add_argument("--sbd", type=Path, default=sbd_root(),
                        help="SBD benchmark_RELEASE/dataset folder (default: %(default)s, or $DEEPLAB_EDU_SBD)")
    parser.add_argument("--force", action="store_true", help="rewrite labels that already exist")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    from deeplab_edu.cli import existing_folder
    from deeplab_edu.datasets.trainaug import AUG_LABEL_DIR, SPLIT_NAME, build_trainaug

    existing_folder(args.voc, "--voc", " (VOCdevkit/VOC2012; see data/README.md)")
    existing_folder(args.sbd, "--sbd", " (SBD's benchmark_RELEASE/dataset; see data/README.md)")
    ids = build_trainaug(args.voc, args.sbd, force=args.force, progress=not args.no_progress)
    print(f"trainaug: {len(ids)} images; labels in {args.voc / AUG_LABEL_DIR}, "
          f"split in {args.voc / 'ImageSets' / 'Segmentation' / (SPLIT_NAME + '.txt')}")
    return 0
