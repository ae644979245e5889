"""Tiny VOC-format and SBD-format trees written by the tests themselves (no real data needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

from deeplab_edu.datasets.palette import palette_bytes


def random_pair(rng: np.random.Generator, h: int = 24, w: int = 32, num_classes: int = 21,
                void: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """An image and a blocky label; ``void`` draws a VOC-like 255 outline around one block."""
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    label = np.zeros((h, w), dtype=np.uint8)
    label[h // 4: 3 * h // 4, w // 4: 3 * w // 4] = rng.integers(1, num_classes)
    label[: h // 3, w // 2:] = rng.integers(1, num_classes)
    if void:
        label[h // 4, w // 4: 3 * w // 4] = 255
    return image, label


def save_palette_png(path: Path, label: np.ndarray) -> None:
    png = Image.fromarray(label.astype(np.uint8), mode="P")
    png.putpalette(palette_bytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    png.save(path)


def save_jpeg(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, quality=95)


def make_voc(root: Path, splits: dict[str, list[str]], seed: int = 0, labels: dict | None = None):
    """A VOC2012-layout tree; returns {id: (image, label)} of what was written."""
    rng = np.random.default_rng(seed)
    written = {}
    for split, ids in splits.items():
        (root / "ImageSets" / "Segmentation").mkdir(parents=True, exist_ok=True)
        (root / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids))
        for i in ids:
            if i in written:
                continue
            image, label = random_pair(rng)
            save_jpeg(root / "JPEGImages" / f"{i}.jpg", image)
            save_palette_png(root / "SegmentationClass" / f"{i}.png", label)
            written[i] = (image, label)
    return written


def save_gtcls(path: Path, segmentation: np.ndarray) -> None:
    """Write ``GTcls`` as MATLAB does: a 1x1 struct with Boundaries, Segmentation, CategoriesPresent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    present = np.unique(segmentation[segmentation > 0]).astype(np.uint8)
    boundaries = np.empty((20, 1), dtype=object)  # a 20x1 cell of (sparse, here dense) edge maps
    for k in range(20):
        boundaries[k, 0] = np.zeros(segmentation.shape, dtype=bool)
    scipy.io.savemat(path, {"GTcls": {"Boundaries": boundaries, "Segmentation": segmentation.astype(np.uint8),
                                      "CategoriesPresent": present}})


def make_sbd(root: Path, splits: dict[str, list[str]], seed: int = 1):
    """An SBD-layout tree (img/, cls/, train.txt, val.txt); returns {id: (image, label)}."""
    rng = np.random.default_rng(seed)
    written = {}
    for split, ids in splits.items():
        root.mkdir(parents=True, exist_ok=True)
        (root / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids))
        for i in ids:
            if i in written:
                continue
            image, label = random_pair(rng, void=False)  # SBD has no void band
            save_jpeg(root / "img" / f"{i}.jpg", image)
            save_gtcls(root / "cls" / f"{i}.mat", label)
            written[i] = (image, label)
    return written
