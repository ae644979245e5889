"""Coarse, network-like scores made from a ground-truth label map: what the CRF is given.

A DeepLab network scores the image at output stride 8 and its scores are bilinearly upsampled
to full size (DeepLab v1, ICLR 2015, §3.1 and §4). Two things make them blobby: each score
comes from a large receptive field (so neighbouring scores agree and small parts leak into
their surroundings), and there is one score per 8 × 8 block of pixels. This module imitates
both, from the truth, so a chapter can show what the CRF repairs without training a network::

    one-hot(label) ──Gaussian blur (σ = blur)──▶ 8× area downsample ──+ noise──▶
        bilinear upsample ──softmax(confidence · ·)──▶ P (C, H, W)
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .. import validate
from ..metrics import IGNORE_INDEX


def coarse_scores(label: np.ndarray, num_classes: int, factor: int = 8, blur: float = 4.0,
                  noise: float = 0.3, confidence: float = 6.0, seed: int = 0) -> np.ndarray:
    """Network-like probabilities (C, H, W) float32 for an (H, W) label map, seeded.

    ``blur`` (pixels) widens every region's evidence, ``factor`` is the output stride, ``noise``
    (std, in one-hot units) perturbs each low-resolution score, ``confidence`` scales them before
    the softmax. Ignored pixels (255) count as background.
    """
    label = np.asarray(label)
    if label.ndim != 2 or not np.issubdtype(label.dtype, np.integer):
        raise ValueError(f"label must be an integer (H, W) map, got {label.dtype} {label.shape}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    validate.integer(factor, "factor (the output stride)", minimum=1)
    label = np.where(label == IGNORE_INDEX, 0, label)
    if label.min() < 0 or label.max() >= num_classes:
        raise ValueError(f"label holds values outside 0..{num_classes - 1}")
    h, w = label.shape
    onehot = (label[None] == np.arange(num_classes)[:, None, None]).astype(np.float64)
    if blur > 0:
        from scipy import ndimage  # here, not at the top: the CRF package imports without SciPy

        onehot = ndimage.gaussian_filter(onehot, sigma=(0, blur, blur), mode="nearest")
    scores = torch.from_numpy(onehot)[None]
    low = F.interpolate(scores, size=(math.ceil(h / factor), math.ceil(w / factor)), mode="area")
    generator = torch.Generator().manual_seed(seed)
    low = low + noise * torch.randn(low.shape, generator=generator, dtype=low.dtype)
    up = F.interpolate(low, size=(h, w), mode="bilinear", align_corners=False)
    return torch.softmax(confidence * up[0], 0).numpy().astype(np.float32)


def ellipse_scene(height: int, width: int, num_classes: int = 21, ellipses: int = 6,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A seeded textured scene at any size: (image uint8 (H, W, 3), label (H, W), probs (C, H, W)).

    Textured ellipses of random classes on a shaded background, plus noise; ``probs`` are
    :func:`coarse_scores`. For timing CRF implementations on VOC-sized inputs without the dataset.
    """
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    label = np.zeros((height, width), np.int64)
    image = rng.uniform(60, 200, 3) + 20 * np.sin(xs[..., None] / 17.0 + np.arange(3))
    for _ in range(ellipses):
        cy, cx = rng.uniform(0.15, 0.85, 2) * (height, width)
        ry, rx = rng.uniform(0.08, 0.25, 2) * (height, width)
        inside = ((ys - cy) / ry) ** 2 + ((xs - cx) / rx) ** 2 < 1
        label[inside] = rng.integers(1, num_classes)
        image[inside] = rng.uniform(0, 255, 3) + 15 * np.sin(xs[inside, None] / 9.0)
    image = np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
    return image, label, coarse_scores(label, num_classes, seed=seed)
