"""``python -m deeplab_edu COMMAND``: the book's command line.

Each command is a module with ``add_arguments(parser)`` and ``run(args) -> int``, named in
``COMMANDS`` without importing it, so ``--help`` answers before torch loads. A mistake the user
can fix (``ValueError``, ``OSError``) prints one line and exits with status 2; a run stopped by
Ctrl-C / SIGTERM exits with 130 after saying how to resume; anything else shows its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# command: (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "env": ("deeplab_edu.cli.env", "check the environment: versions, GPU, pydensecrf, run profile, data paths"),
    "make-data": ("deeplab_edu.cli.make_data",
                  "write the offline built-in dataset in VOC layout (size and seed selectable)"),
    "convert-sbd": ("deeplab_edu.cli.convert_sbd",
                    "convert SBD .mat labels to palette PNGs and write the 10,582-image trainaug split"),
    "pretrain": ("deeplab_edu.cli.pretrain",
                 "ImageNet pretraining in miniature: teach a small backbone to classify objects"),
    "train": ("deeplab_edu.cli.train", "train a DeepLab (v1-v3+); resumes its run folder; multi-GPU under torchrun"),
    "evaluate": ("deeplab_edu.cli.evaluate",
                 "score a checkpoint on whole images: mIoU, trimap, multi-scale + flip; save scores"),
    "predict": ("deeplab_edu.cli.predict",
                "colour an image with a trained or torchvision checkpoint and write an overlay PNG"),
    "crf": ("deeplab_edu.cli.crf",
            "refine saved scores with the dense CRF (PyTorch lattice, GPU if any) and score before / after"),
    "gpu-check": ("deeplab_edu.gpu_check",
                  "measure the GPU path in one run (<= 9 min): throughput vs torchvision, GPU CRF, training, DDP, "
                  "each chapter's time per run profile"),
}

# Exceptions that mean "the user asked for something that cannot be done", not "the code is wrong".
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (ValueError, FileNotFoundError, OSError)


def build_parser(load_arguments: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser; only the chosen command's module is imported for its options."""
    parser = argparse.ArgumentParser(
        prog="python -m deeplab_edu",
        description="deeplab_edu: train, evaluate and explore the DeepLab family. "
                    "The run profile is set by DEEPLAB_EDU_PROFILE (smoke, laptop, gpu, full).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        if name == load_arguments:
            importlib.import_module(module).add_arguments(sub)
    return parser


def _one_line(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    if isinstance(err, FileNotFoundError) and err.filename and str(err.filename) not in text:
        text = f"{text}: {err.filename}"
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> int:
    """Run one command; expected errors become one line on stderr and exit status 2."""
    from deeplab_edu.errors import TrainingInterrupted

    argv = sys.argv[1:] if argv is None else argv
    chosen = next((arg for arg in argv if arg in COMMANDS), None)
    parser = build_parser(load_arguments=chosen)
    args = parser.parse_args(argv)
    try:
        return importlib.import_module(COMMANDS[args.command][0]).run(args)
    except TrainingInterrupted as err:
        print(f"stopped: {_one_line(err)}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except EXPECTED_ERRORS as err:
        print(f"{parser.prog} {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
