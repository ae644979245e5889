"""The PASCAL VOC 2012 segmentation reader (also reads the built-in set and trainaug).

The layout (``VOCdevkit/VOC2012``)::

    JPEGImages/<id>.jpg                   the photos (RGB JPEG)
    SegmentationClass/<id>.png            palette PNGs: class index per pixel, 255 = void
    ImageSets/Segmentation/train.txt      one id per line (1,464 in VOC 2012)
    ImageSets/Segmentation/val.txt        (1,449)
    ImageSets/Segmentation/trainval.txt   (2,913)

Every problem with the files is reported when the dataset is built or the item read, as an
error naming the file and what was expected, never as a silent wrong label.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .palette import IGNORE_INDEX, VOC_CLASSES
from .transforms import EvalTransform

Transform = Callable[[np.ndarray, np.ndarray], tuple[torch.Tensor, torch.Tensor]]


def read_split(path: str | Path) -> list[str]:
    """The ids listed in an ``ImageSets`` split file, one per line (blank lines skipped)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"split file {path} does not exist; expected a text file with one "
                                "image id per line (e.g. ImageSets/Segmentation/train.txt)")
    ids = [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
    if not ids:
        raise ValueError(f"split file {path} lists no image ids; expected one id per line")
    seen: dict[str, int] = {}
    for line, image_id in enumerate(ids, 1):
        if image_id in seen:  # counted twice, it would weigh twice in training and in the mIoU
            raise ValueError(f"split file {path} lists id {image_id!r} twice (entries {seen[image_id]} and "
                             f"{line}); expected each id once")
        seen[image_id] = line
    return ids


def check_pairs(ids: list[str], split_file: Path, image_path: Callable[[str], Path],
                label_path: Callable[[str], Path]) -> None:
    """Every listed id has its image and its label, checked now rather than an hour into training."""
    for i in ids:
        image, label = image_path(i), label_path(i)
        if not image.is_file():
            raise FileNotFoundError(f"split file {split_file} lists id {i!r} but its image "
                                    f"{image} does not exist")
        if not label.is_file():
            raise FileNotFoundError(f"image {image} has no label: expected {label} "
                                    f"(listed in {split_file})")


def check_same_size(image: np.ndarray, label: np.ndarray, label_path: Path) -> None:
    """An image and its label map must cover the same pixels; the error names the label file."""
    if image.shape[:2] != label.shape:
        raise ValueError(f"label file {label_path} is {label.shape[1]}x{label.shape[0]} but its image is "
                         f"{image.shape[1]}x{image.shape[0]}; expected equal sizes")


def to_8bit_rgb(im: Image.Image, path: Path) -> np.ndarray:
    """``im`` as uint8 RGB; a 16-bit image is scaled by ÷257 with a note (``convert("RGB")`` would
    clip most of it to white)."""
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        values = np.asarray(im).astype(np.float64)
        if im.mode != "I" or values.max(initial=0) > 255:
            warnings.warn(f"image file {path} holds 16-bit values (mode {im.mode}); scaled to 8 bits (÷257)",
                          stacklevel=3)
            values = values / 257.0
        gray = np.clip(np.round(values), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    return np.asarray(im.convert("RGB"))


def read_image(path: str | Path) -> np.ndarray:
    """An RGB image file as uint8 (H, W, 3); corrupt, truncated or too large: ``ValueError``."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"image file {path} is a folder; expected a JPEG/PNG file")
    try:
        with Image.open(path) as im:
            im.load()  # decode now: a truncated file fails here, not later in a worker
            return to_8bit_rgb(im, path)
    except FileNotFoundError:
        raise FileNotFoundError(f"image file {path} does not exist") from None
    except Image.DecompressionBombError as err:
        raise ValueError(f"image file {path} is larger than Pillow's decompression-bomb limit "
                         f"(PIL.Image.MAX_IMAGE_PIXELS = {Image.MAX_IMAGE_PIXELS} pixels, {err}); shrink it "
                         "first, or raise that limit if you trust the file") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ValueError(f"image file {path} is corrupt or truncated ({err}); "
                         "expected a readable JPEG/PNG") from err


def read_label(path: str | Path, num_classes: int, ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """A label PNG ("P" palette or "L" grayscale: indices, not colours) as uint8 (H, W) class indices,
    checked: values in 0..C-1 or ``ignore_index``."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            label = np.asarray(im)
    except FileNotFoundError:
        raise FileNotFoundError(f"label file {path} does not exist") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ValueError(f"label file {path} is corrupt or truncated ({err}); "
                         "expected a palette PNG of class indices") from err
    if mode not in ("P", "L"):
        raise ValueError(f"label file {path} is a {mode!r} image; expected a palette ('P') or "
                         "grayscale ('L') PNG holding class indices, not colours "
                         "(datasets.palette.to_index converts VOC colours to indices)")
    check_label_values(label, num_classes, ignore_index, source=f"label file {path}")
    return label.astype(np.uint8)


def check_label_values(label: np.ndarray, num_classes: int, ignore_index: int = IGNORE_INDEX,
                       source: str = "label") -> None:
    """Raise ``ValueError`` (naming ``source``) unless every value is in 0..C-1 or ``ignore_index``."""
    values = np.unique(label)
    bad = values[((values >= num_classes) & (values != ignore_index)) | (values < 0)]
    if bad.size:
        raise ValueError(f"{source} holds values {bad[:10].tolist()} outside the expected "
                         f"0..{num_classes - 1} (classes) and {ignore_index} (ignore)")


class VOCSegmentation(torch.utils.data.Dataset):
    """``(image, label)`` pairs listed in ``root/ImageSets/Segmentation/<split>.txt``.

    ``label_dir`` is ``SegmentationClassAug`` for trainaug; the default ``transform`` is
    ``EvalTransform``; ``load(i)`` gives the raw uint8 arrays.
    """

    def __init__(self, root: str | Path, split: str, transform: Transform | None = None,
                 class_names: tuple[str, ...] = VOC_CLASSES, label_dir: str = "SegmentationClass",
                 image_dir: str = "JPEGImages", image_ext: str = ".jpg",
                 ignore_index: int = IGNORE_INDEX):
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise NotADirectoryError(f"dataset folder {self.root} is a file; expected a folder in the VOC layout "
                                     "(JPEGImages, SegmentationClass, ImageSets/Segmentation)")
        if not self.root.is_dir():
            raise FileNotFoundError(f"dataset folder {self.root} does not exist; expected the "
                                    "VOC layout (JPEGImages, SegmentationClass, ImageSets/Segmentation)")
        self.split, self.transform = split, transform or EvalTransform()
        self.class_names, self.num_classes = tuple(class_names), len(class_names)
        self.ignore_index = ignore_index
        self.split_file = self.root / "ImageSets" / "Segmentation" / f"{split}.txt"
        self.ids = read_split(self.split_file)
        self.image_dir, self.label_dir = self.root / image_dir, self.root / label_dir
        self.image_ext = image_ext
        check_pairs(self.ids, self.split_file, self.image_path, self.label_path)

    def image_path(self, image_id: str) -> Path:
        return self.image_dir / f"{image_id}{self.image_ext}"

    def label_path(self, image_id: str) -> Path:
        return self.label_dir / f"{image_id}.png"

    def __len__(self) -> int:
        return len(self.ids)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The raw pair: image uint8 (H, W, 3), label uint8 (H, W), both checked."""
        image_id = self.ids[index]
        image = read_image(self.image_path(image_id))
        label = read_label(self.label_path(image_id), self.num_classes, self.ignore_index)
        check_same_size(image, label, self.label_path(image_id))
        return image, label

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.transform(*self.load(index))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(root={str(self.root)!r}, split={self.split!r}, "
                f"images={len(self)}, classes={self.num_classes})")


def describe_label_file(path: str | Path) -> dict:
    """What a label PNG holds, unchecked: PIL mode, size, palette, and the pixels per stored value."""
    with Image.open(path) as im:
        im.load()
        mode, size = im.mode, im.size
        palette = im.getpalette()
        values = np.asarray(im)
    if values.ndim == 3:  # colours: count each distinct (R, G, B[, A])
        stored, counts = np.unique(values.reshape(-1, values.shape[-1]), axis=0, return_counts=True)
        keys = [tuple(v) for v in stored.tolist()]
    else:
        stored, counts = np.unique(values, return_counts=True)
        keys = stored.tolist()
    return {"mode": mode, "size": size,
            "palette": None if palette is None else np.array(palette[:768]).reshape(-1, 3),
            "values": dict(zip(keys, counts.tolist()))}
