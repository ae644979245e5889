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
import warnings
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
    """The built-in set's folder, generated with the run profile's sizes if it is missing.

    A set generated earlier is used as it is; when the default folder (no ``root``) holds a set
    whose sizes are not the run profile's (say, a ``smoke`` set read by a ``laptop`` run), a
    warning says so and how to regenerate it.
    """
    from ..profiles import get_profile
    from .synthetic import write_builtin

    chosen = root is not None
    root = Path(root) if chosen else paths.builtin_root()
    p = get_profile()
    if not (root / "builtin.json").is_file():
        # A non-empty folder without builtin.json (written last) is left for _builtin_classes to
        # report: an interrupted generation or someone else's files, not ours to overwrite.
        if not (root.exists() and any(root.iterdir())):
            print(f"generating the built-in dataset ({p.train_images} + {p.val_images} images, "
                  f"{p.image_size}px, profile {p.name}) in {root}")
            write_builtin(root, train=p.train_images, val=p.val_images, size=p.image_size, progress=progress,
                          holdout=p.holdout_images)
        return root
    if not chosen:
        wanted = {"train": p.train_images, "val": p.val_images, "size": p.image_size}
        try:
            meta = json.loads((root / "builtin.json").read_text())
            have = {key: meta.get(key) for key in wanted}
        except (ValueError, AttributeError):
            return root  # _builtin_classes names the corrupt file when the set is opened
        if have != wanted:
            warnings.warn(f"the built-in set in {root} has {have['train']} + {have['val']} images at "
                          f"{have['size']}px, the {p.name} profile's has {p.train_images} + {p.val_images} "
                          f"at {p.image_size}px; using it as it is (regenerate: python -m deeplab_edu "
                          f"make-data --root {root})", stacklevel=3)
    return root


def default_training_data(profile_name: str) -> tuple[str, str | None]:
    """``(name, root)`` of what the training chapters train on: VOC 2012 + SBD (``"voc_aug"``,
    from ``paths``) when VOC is on disk, else the built-in set in the run profile's own folder,
    ``builtin_root()/<profile>``, so a ``smoke`` set never stands in for a ``laptop`` one."""
    if paths.voc_root().is_dir():
        return "voc_aug", None
    return "builtin", str(paths.builtin_root() / profile_name)


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
