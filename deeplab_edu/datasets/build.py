"""``build_dataset(name, split)``: one entry point for every dataset the book reads.

=========  ==============================================  ============================
name       what                                            splits
=========  ==============================================  ============================
builtin    the generated offline set (``synthetic``)        train, val, trainval
sample     the few built-in images committed in data/       train, val, trainval
voc        PASCAL VOC 2012                                  train, val, trainval
voc_aug    VOC 2012 + SBD (run ``convert-sbd`` once)        train (= trainaug), val
=========  ==============================================  ============================

Nothing is downloaded. The built-in set is generated on first use when its folder does
not exist yet (sizes from the run profile); real data must already be on disk.
"""

from __future__ import annotations

import json
from pathlib import Path

from .. import paths
from .palette import VOC_CLASSES
from .voc import Transform, VOCSegmentation

DATASETS = ("builtin", "sample", "voc", "voc_aug")


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


def ensure_builtin(root: str | Path | None = None, progress: bool = True) -> Path:
    """The built-in set's folder, generated with the run profile's sizes if it is missing."""
    from ..profiles import get_profile
    from .synthetic import write_builtin

    root = Path(root) if root is not None else paths.builtin_root()
    if not (root / "builtin.json").exists() and not (root.exists() and any(root.iterdir())):
        p = get_profile()
        print(f"generating the built-in dataset ({p.train_images} + {p.val_images} images, "
              f"{p.image_size}px, profile {p.name}) in {root}")
        write_builtin(root, train=p.train_images, val=p.val_images, size=p.image_size, progress=progress)
    return root


def build_dataset(name: str, split: str, transform: Transform | None = None,
                  root: str | Path | None = None) -> VOCSegmentation:
    """The dataset ``name`` (see the table above), split ``split``, read from ``root`` or its default.

    Items are ``(image float32 (3, H, W) ImageNet-normalised, label int64 (H, W), 255 = ignore)``;
    the dataset has ``.num_classes``, ``.class_names``, ``.ids`` and ``.load(i)`` (raw uint8 arrays).
    """
    if name not in DATASETS:
        raise ValueError(f"name must be one of {DATASETS}, got {name!r}")
    if name in ("builtin", "sample"):
        if name == "builtin":
            folder = ensure_builtin(root)
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
