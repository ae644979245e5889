"""``build_dataset(name, split)``: one entry point for every dataset the book reads.

=========  ==============================================  ============================
name       what                                            splits
=========  ==============================================  ============================
builtin    the generated offline set (``synthetic``)        train, val, trainval
sample     the few built-in images committed in data/       train, val, trainval
voc        PASCAL VOC 2012                                  train, val, trainval
voc_aug    VOC 2012 + SBD (run ``convert-sbd`` once)        train (= trainaug), val
=========  ==============================================  ============================

Nothing is downloaded: real data must be on disk; the built-in set (``default_builtin_root``) is
generated on first use with the run profile's sizes, and again after a format change.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from .. import paths
from .palette import VOC_CLASSES
from .voc import Transform, VOCSegmentation

DATASETS = ("builtin", "sample", "voc", "voc_aug")
# What ``synthetic.write_builtin`` puts in a folder: regenerating it replaces exactly these.
GENERATED = frozenset({"JPEGImages", "SegmentationClass", "ImageSets", "builtin.json"})


def _builtin_classes(root: Path) -> tuple[str, ...]:
    meta_path = root / "builtin.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{meta_path} does not exist; expected the built-in set written by "
                                "`python -m deeplab_edu make-data`")
    try:
        meta = json.loads(meta_path.read_text())
        return tuple(meta["classes"])
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{meta_path} is corrupt ({err}); expected JSON with a 'classes' list "
                         "(regenerate with `python -m deeplab_edu make-data`)") from err


def default_builtin_root(profile_name: str | None = None) -> Path:
    """Where a run profile's built-in set lives, ``builtin_root()/<profile>``: the one rule the chapters,
    the command line and ``env`` share (a ``smoke`` set never stands in for a ``laptop`` one)."""
    from ..profiles import get_profile

    return paths.builtin_root() / (profile_name or get_profile().name)


def _read_meta(root: Path) -> dict | None:
    try:
        meta = json.loads((root / "builtin.json").read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _generate(root: Path, train: int, val: int, size: int, progress: bool, holdout: int = 0,
              **options) -> None:
    """Write the set into a sibling temporary folder, then swap it in whole: a killed generation
    leaves no half-written set, and old and new are never mixed."""
    from .synthetic import write_builtin

    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".tmp", dir=root.parent))
    try:
        write_builtin(tmp, train=train, val=val, size=size, progress=progress, holdout=holdout, **options)
        old = None
        if root.exists():
            old = root.with_name(f".{root.name}.old-{os.getpid()}")
            os.replace(root, old)
        os.replace(tmp, root)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def generate_builtin(root: str | Path, train: int, val: int, size: int, seed: int = 0, holdout: int = 0,
                     progress: bool = True) -> Path:
    """Write a built-in set to ``root`` (``make-data``), built beside it and swapped in whole; only a
    folder this book generated (with ``builtin.json``), an empty one or none is replaced."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise ValueError(f"--root {root} is a file; expected a folder for the built-in set")
    if root.is_dir() and any(root.iterdir()) and not (root / "builtin.json").is_file():
        raise ValueError(f"--root {root} holds files that make-data did not write (no builtin.json; a real "
                         "VOC tree?); refusing to replace them — choose a new or empty folder")
    foreign = sorted(p.name for p in root.iterdir() if p.name not in GENERATED) if root.is_dir() else []
    if foreign:
        raise ValueError(f"--root {root} holds {', '.join(foreign[:5])}{' …' if len(foreign) > 5 else ''} beside the "
                         "built-in set, which make-data did not write and would replace with the folder; move "
                         "them out or choose another folder")
    _generate(root, train, val, size, progress, holdout, seed=seed)
    return root


def ensure_builtin(root: str | Path | None = None, progress: bool = True) -> Path:
    """The built-in set's folder (default ``default_builtin_root()``), generated on first use.

    Generated with the run profile's sizes when missing or empty, and again when its ``builtin.json``
    has another ``format_version`` than ``synthetic.FORMAT_VERSION``; a default folder whose sizes
    are not the profile's is used as it is, with a warning saying how to regenerate it.
    """
    from ..profiles import get_profile
    from .synthetic import FORMAT_VERSION

    chosen = root is not None
    root = Path(root) if chosen else default_builtin_root()
    p = get_profile()
    meta = _read_meta(root) if (root / "builtin.json").is_file() else None
    if not (root / "builtin.json").is_file():
        # A non-empty folder without builtin.json (written last) is left for _builtin_classes to
        # report: someone else's files, not ours to overwrite.
        if not (root.exists() and any(root.iterdir())):
            print(f"generating the built-in dataset ({p.train_images} + {p.val_images} images, "
                  f"{p.image_size}px, profile {p.name}) in {root}")
            _generate(root, p.train_images, p.val_images, p.image_size, progress, p.holdout_images)
        return root
    if meta is None:
        return root  # _builtin_classes names the corrupt file when the set is opened
    if meta.get("format_version") != FORMAT_VERSION:
        train = meta.get("train", p.train_images)
        val = meta.get("val", p.val_images)
        size = meta.get("size", p.image_size)
        print(f"the built-in set in {root} has format {meta.get('format_version')!r}, this version of the book "
              f"paints format {FORMAT_VERSION}; generating it again ({train} + {val} images, {size}px)")
        _generate(root, train, val, size, progress, meta.get("holdout", p.holdout_images))
        return root
    if not chosen:
        wanted = {"train": p.train_images, "val": p.val_images, "size": p.image_size}
        have = {key: meta.get(key) for key in wanted}
        if have != wanted:
            warnings.warn(f"the built-in set in {root} has {have['train']} + {have['val']} images at "
                          f"{have['size']}px, the {p.name} profile's has {p.train_images} + {p.val_images} "
                          f"at {p.image_size}px; using it as it is (regenerate: python -m deeplab_edu "
                          f"make-data --root {root})", stacklevel=3)
    return root


def default_training_data(profile_name: str) -> tuple[str, str | None]:
    """``(name, root)`` the training chapters train on: ``"voc_aug"`` when VOC is on disk, else the
    profile's built-in set."""
    if paths.voc_root().is_dir():
        return "voc_aug", None
    return "builtin", str(default_builtin_root(profile_name))


def build_dataset(name: str, split: str, transform: Transform | None = None,
                  root: str | Path | None = None, progress: bool = True) -> VOCSegmentation:
    """The dataset ``name`` (see the table above), split ``split``, read from ``root`` or its default.

    Items are ``(image float32 (3, H, W) ImageNet-normalised, label int64 (H, W), 255 = ignore)``;
    it has ``.num_classes``, ``.class_names``, ``.ids`` and ``.load(i)`` (raw uint8 arrays).
    """
    if name not in DATASETS:
        raise ValueError(f"name must be one of {DATASETS}, got {name!r}")
    if name in ("builtin", "sample"):
        if name == "builtin":
            folder = ensure_builtin(root, progress=progress)
        else:
            folder = Path(root) if root is not None else paths.sample_root()
        return VOCSegmentation(folder, split, transform, class_names=_builtin_classes(folder))
    folder = Path(root) if root is not None else paths.voc_root()
    if not folder.is_dir():
        raise FileNotFoundError(f"VOC 2012 folder {folder} does not exist; see data/README.md for how "
                                "to obtain it, or set DEEPLAB_EDU_VOC / pass root=")
    if name == "voc_aug" and split in ("train", "trainaug"):
        if not (folder / "ImageSets" / "Segmentation" / "trainaug.txt").is_file():
            raise FileNotFoundError(f"{folder / 'ImageSets/Segmentation/trainaug.txt'} does not exist; "
                                    "run `python -m deeplab_edu convert-sbd` once to build trainaug")
        return VOCSegmentation(folder, "trainaug", transform, VOC_CLASSES, label_dir="SegmentationClassAug")
    return VOCSegmentation(folder, split, transform, VOC_CLASSES)
