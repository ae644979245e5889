"""The "trainaug" split: VOC 2012 train ∪ SBD train ∪ SBD val, minus VOC 2012 val.

DeepLab (v1 §5, v2 §4.1) trains on VOC 2012 train augmented with SBD, 10,582 images, and reports
on VOC 2012 val (1,449), which SBD's lists overlap: those images are removed.

``build_trainaug`` (``convert-sbd``, run once) writes ``SegmentationClassAug/<id>.png`` (VOC's
own label where it has one, finer, with the void band; SBD's ``.mat`` converted otherwise) and
``ImageSets/Segmentation/trainaug.txt``, read by ``build_dataset("voc_aug", "train")``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from PIL import Image

from .palette import VOC_CLASSES, palette_bytes
from .sbd import read_sbd_label
from .voc import read_split

AUG_LABEL_DIR = "SegmentationClassAug"
# The list sizes as published (VOC 2012 devkit; Hariharan et al. 2011; DeepLab v2 §4.1), for
# comparison with what ``build_trainaug`` finds on disk.
PUBLISHED_SIZES = {"VOC 2012 train": 1464, "VOC 2012 val": 1449, "SBD train": 8498, "SBD val": 2857,
                   "trainaug": 10582}
SPLIT_NAME = "trainaug"


def trainaug_ids(voc_train, voc_val, sbd_train, sbd_val) -> list[str]:
    """(VOC train ∪ SBD train ∪ SBD val) \\ VOC val, sorted. 10,582 ids with the real lists."""
    return sorted((set(voc_train) | set(sbd_train) | set(sbd_val)) - set(voc_val))


def build_trainaug(voc_root: str | Path, sbd_root: str | Path, force: bool = False,
                   progress: bool = True) -> list[str]:
    """Write the trainaug labels and split file into ``voc_root``; return the split's ids.

    Existing PNGs are kept unless ``force`` (one that does not decode or lacks its image's size, a
    killed run's, is rewritten); each is written under a temporary name and renamed into place.
    """
    from deeplab_edu.progress import tqdm

    voc_root, sbd_root = Path(voc_root), Path(sbd_root)
    splits = voc_root / "ImageSets" / "Segmentation"
    ids = trainaug_ids(read_split(splits / "train.txt"), read_split(splits / "val.txt"),
                       read_split(sbd_root / "train.txt"), read_split(sbd_root / "val.txt"))
    out = voc_root / AUG_LABEL_DIR
    out.mkdir(parents=True, exist_ok=True)
    palette = palette_bytes()
    for image_id in tqdm(ids, desc="SBD .mat -> palette PNG", disable=not progress):
        target = out / f"{image_id}.png"
        if target.exists() and not force and _label_is_whole(target, voc_root / "JPEGImages" / f"{image_id}.jpg"):
            continue
        if not (voc_root / "JPEGImages" / f"{image_id}.jpg").is_file():
            raise FileNotFoundError(f"trainaug id {image_id!r} has no image "
                                    f"{voc_root / 'JPEGImages' / f'{image_id}.jpg'}; expected every "
                                    "SBD image to be among VOC 2012's JPEGImages")
        voc_label = voc_root / "SegmentationClass" / f"{image_id}.png"
        tmp = target.with_name(f".{target.name}.tmp")
        if voc_label.is_file():
            shutil.copyfile(voc_label, tmp)
        else:
            mat = sbd_root / "cls" / f"{image_id}.mat"
            label = read_sbd_label(mat, len(VOC_CLASSES))
            with Image.open(voc_root / "JPEGImages" / f"{image_id}.jpg") as image:
                width, height = image.size  # the header only: no need to decode the photo
            if label.shape != (height, width):
                raise ValueError(f"SBD label {mat} of id {image_id!r} is {label.shape[1]}x{label.shape[0]} but "
                                 f"its VOC image is {width}x{height}; expected equal sizes (another "
                                 "SBD release, or a damaged file)")
            png = Image.fromarray(label, mode="P")
            png.putpalette(palette)
            png.save(tmp, format="PNG")
        os.replace(tmp, target)
    split_file = splits / f"{SPLIT_NAME}.txt"
    tmp = split_file.with_name(f".{split_file.name}.tmp")
    tmp.write_text("".join(f"{i}\n" for i in ids))
    os.replace(tmp, split_file)
    return ids


def _label_is_whole(label_path: Path, image_path: Path) -> bool:
    """Whether a label PNG decodes completely and has its image's size."""
    try:
        with Image.open(label_path) as label:
            label.load()
            size = label.size
        with Image.open(image_path) as image:
            return image.size == size
    except (OSError, SyntaxError, ValueError):
        return False
