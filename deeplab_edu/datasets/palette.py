"""PASCAL VOC's 21 classes and its colour map: how a label PNG turns indices into colours.

A VOC label file (``SegmentationClass/*.png``) is a *palette* ("P" mode) PNG: every pixel
stores a class index, 0 = background, 1..20 the objects, 255 = "void" (outlines and ambiguous
regions, ignored by training and evaluation). A viewer shows the file's palette, the VOC devkit's
colour map (``VOCcode/VOClabelcolormap.m``). Reading the PNG as RGB and taking colours for labels
is the classic bug; ``to_index`` converts colours back for files saved as RGB by mistake.
"""

from __future__ import annotations

import numpy as np

from deeplab_edu.metrics import IGNORE_INDEX as IGNORE_INDEX  # scoring leaves it out, so the score owns the number

VOC_CLASSES: tuple[str, ...] = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
    "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
    "sheep", "sofa", "train", "tvmonitor",
)


def voc_colormap(n: int = 256) -> np.ndarray:
    """The VOC devkit colour map, ``(n, 3)`` uint8, as the devkit's bit loop: round j moves bits 0,
    1, 2 of i to bit 7-j of R, G, B, then shifts i right by three (1 -> (128, 0, 0), 255 -> (224, 224, 192))."""
    if not isinstance(n, int) or not 1 <= n <= 256:
        raise ValueError(f"n must be an integer in 1..256, got {n!r}")
    cmap = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        cmap[i] = (r, g, b)
    return cmap


VOC_PALETTE: np.ndarray = voc_colormap(256)
VOC_PALETTE.setflags(write=False)


def palette_bytes(palette: np.ndarray = VOC_PALETTE) -> list[int]:
    """The palette flattened as PIL's ``Image.putpalette`` wants it (768 integers)."""
    return [int(v) for v in np.asarray(palette, dtype=np.uint8).reshape(-1)]


def colorize(label, palette: np.ndarray = VOC_PALETTE) -> np.ndarray:
    """Paint an ``(H, W)`` array of class indices (255 = ignore) as an RGB uint8 image."""
    label = np.asarray(label)
    if label.ndim != 2:
        raise ValueError(f"label must be a 2-D (H, W) array of class indices, got shape {label.shape}")
    if not np.issubdtype(label.dtype, np.integer):
        raise TypeError(f"label must hold integer class indices, got dtype {label.dtype}")
    if label.size and (label.min() < 0 or label.max() >= len(palette)):
        raise ValueError(f"label values must lie in 0..{len(palette) - 1}, "
                         f"got {label.min()}..{label.max()}")
    return np.asarray(palette, dtype=np.uint8)[label]


def to_index(rgb, palette: np.ndarray = VOC_PALETTE) -> np.ndarray:
    """Invert ``colorize``: an ``(H, W, 3)`` RGB label image back to ``(H, W)`` uint8 indices.

    Every colour must be one of the palette's; the error names the first one that is not.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be an (H, W, 3) colour image, got shape {rgb.shape}")
    palette = np.asarray(palette, dtype=np.int64)
    # A colour is packed into one integer so a lookup table can map it to its index.
    packed = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    keys = (palette[:, 0] << 16) | (palette[:, 1] << 8) | palette[:, 2]
    order = np.argsort(keys, kind="stable")
    pos = np.clip(np.searchsorted(keys[order], packed), 0, len(keys) - 1)
    found = keys[order][pos] == packed
    if not found.all():
        y, x = np.argwhere(~found)[0]
        raise ValueError(f"colour {tuple(int(v) for v in rgb[y, x])} at pixel (row {y}, col {x}) "
                         "is not in the palette; expected one of the VOC class colours")
    return order[pos].astype(np.uint8)
