"""``python -m deeplab_edu COMMAND``: the book's command line.

Each command lives in the module of the idea it serves and exposes two functions,
``add_arguments(parser)`` and ``run(args) -> int``. The table below names them without
importing them, so ``--help`` answers at once instead of waiting for torch to load.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# command: (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "env": ("deeplab_edu.environment",
            "check the environment: versions, GPU, pydensecrf, run profile, data paths"),
    "make-data": ("deeplab_edu.datasets.synthetic",
                  "write the offline built-in dataset in VOC layout (size and seed selectable)"),
    "convert-sbd": ("deeplab_edu.datasets.trainaug",
                    "convert SBD .mat labels to palette PNGs and write the 10,582-image trainaug split"),
    "pretrain": ("deeplab_edu.pretrain",
                 "ImageNet pretraining in miniature: teach a small backbone to classify objects"),
    "train": ("deeplab_edu.train",
              "train a DeepLab (v1-v3+); resumable; multi-GPU under torchrun"),
    "evaluate": ("deeplab_edu.evaluate",
                 "score a checkpoint on whole images: mIoU, trimap, multi-scale + flip; save scores"),
    "predict": ("deeplab_edu.predict",
                "colour an image with a trained or torchvision checkpoint and write an overlay PNG"),
    "crf": ("deeplab_edu.postprocess",
            "refine saved scores with the dense CRF (PyTorch lattice, GPU if any) and score before / after"),
    "gpu-check": ("deeplab_edu.gpu_check",
                  "measure the GPU path in one run (<= 8 min): throughput vs torchvision, GPU CRF, training, DDP"),
}


def build_parser(load_arguments: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser; only the chosen command's module is imported for its options."""
    parser = argparse.ArgumentParser(
        prog="python -m deeplab_edu",
        description="deeplab_edu: train, evaluate and explore the DeepLab family. "
                    "The run profile is set by DEEPLAB_EDU_PROFILE (smoke, laptop, full).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        if name == load_arguments:
            importlib.import_module(module).add_arguments(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    chosen = next((arg for arg in argv if arg in COMMANDS), None)
    args = build_parser(load_arguments=chosen).parse_args(argv)
    return importlib.import_module(COMMANDS[args.command][0]).run(args)


if __name__ == "__main__":
    sys.exit(main())
