"""The command line: one file per command, each with ``add_arguments(parser)`` and ``run(args) -> int``
(listed in ``deeplab_edu.__main__``). Here: what they share, the help formatter and argument types
that refuse a bad value before any work starts.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: …)`` once: not when the help already states it, not for None / False."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text.lower() or action.default is None or action.default is False \
                or action.default == argparse.SUPPRESS \
                or action.option_strings == [] or isinstance(action, argparse._HelpAction):
            return text
        return text + " (default: %(default)s)"


def configure(parser: argparse.ArgumentParser, description: str) -> None:
    parser.formatter_class = HelpFormatter
    parser.description = description


def _int_in(text: str, low: int, what: str, high: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        value = low - 1  # not an integer: the same message as one out of range
    if value < low or (high is not None and value > high):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    return _int_in(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    return _int_in(text, 0, "an integer >= 0")


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    value = _finite(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    value = _finite(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def scale_value(text: str) -> float:
    """One inference scale, by the models' rule (``models.multiscale.check_scales``)."""
    from deeplab_edu.models.multiscale import check_scales

    try:
        return check_scales([_finite(text)])[0]
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def rates(text: str):
    """ASPP rates: ``6,12,18`` or v2's ``aspp-l`` / ``aspp-s``."""
    if text.startswith("aspp"):
        return text
    try:
        values = tuple(int(r) for r in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 6,12,18 or "
                                         f"aspp-l / aspp-s, got {text!r}") from None
    if not values or any(r < 1 for r in values):
        raise argparse.ArgumentTypeError(f"rates must be positive integers, got {text!r}")
    return values


SEED_MAX = 2**32 - 1  # NumPy's seeds stop there; PyTorch's and Python's go further


def seed_value(text: str) -> int:
    """A random seed every library accepts: an integer in 0..2**32-1."""
    return _int_in(text, 0, f"a seed in 0..{SEED_MAX}", SEED_MAX)


def run_profile(parser: argparse.ArgumentParser):
    """The run profile ``DEEPLAB_EDU_PROFILE`` names; an unknown name ends the command with one
    line listing the profiles (the options' defaults are read from it, even for ``--help``)."""
    from deeplab_edu.profiles import get_profile

    try:
        return get_profile()
    except ValueError as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")


def existing_file(path, what: str, hint: str = ""):
    """``path`` if it is a file; otherwise a one-line error saying whether it is missing or a folder."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{what} {path} is a folder; expected a file{hint}")
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist{hint}")
    if path.stat().st_size == 0:
        raise ValueError(f"{what} {path} is empty (0 bytes){hint}")
    return path


def checkpoint_file(path, what: str = "checkpoint"):
    """A training checkpoint's path, checked; a run folder is answered with the file inside it."""
    path = Path(path)
    inside = path / "checkpoint.pt"
    hint = f" (did you mean {inside}?)" if inside.is_file() else "; give the checkpoint.pt that `train` wrote"
    return existing_file(path, what, hint)


def existing_folder(path, what: str, hint: str = ""):
    """``path`` if it is a folder; otherwise a one-line error saying whether it is missing or a file."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{what} {path} is a file; expected a folder{hint}")
    if not path.is_dir():
        raise FileNotFoundError(f"{what} {path} does not exist{hint}")
    return path


def device_name(text: str) -> str:
    """A device string PyTorch can parse, of a kind the book runs on (availability is checked later)."""
    import torch

    try:
        kind = torch.device(text).type
    except (RuntimeError, TypeError):
        kind = None
    if kind not in ("cpu", "cuda", "mps"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a device name; expected cpu, cuda, cuda:N or mps")
    return text


def add_device(parser: argparse.ArgumentParser, what: str = "") -> None:
    parser.add_argument("--device", default=None,
                        help=f"cpu, cuda, cuda:1, mps{what} (default: the best available, "
                             "or $DEEPLAB_EDU_DEVICE)")


def add_dataset(parser, split: bool = True) -> None:
    from deeplab_edu.datasets import DATASETS

    parser.add_argument("--dataset", default="builtin", choices=DATASETS,
                        help="builtin: the offline generated set; sample: the committed images; voc / voc_aug: "
                             "PASCAL VOC 2012 (+ SBD)")
    parser.add_argument("--data-root", default=None,
                        help="dataset folder (default: data/builtin/<profile> for builtin, else from "
                             "deeplab_edu.paths)")
    if split:
        parser.add_argument("--split", default="val", help="which split's images to score")
