"""Small synthetic images with coarse scores, shared by the CRF tests (no dataset needed)."""

import numpy as np

from deeplab_edu.crf import coarse_scores


def disc_scene(h: int = 24, w: int = 28, seed: int = 0):
    """A noisy two-object image, its label map and coarse network-like probabilities."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:h, 0:w]
    label = np.zeros((h, w), dtype=np.int64)
    label[(ys - h * 0.55) ** 2 + (xs - w * 0.5) ** 2 < (0.3 * min(h, w)) ** 2] = 1
    label[: h // 4, : w // 3] = 2
    colours = np.array([(40, 60, 80), (200, 50, 50), (50, 200, 60)], dtype=np.float64)
    image = np.clip(colours[label] + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)
    probs = coarse_scores(label, 3, factor=4, blur=2.0, seed=seed)
    return image, label, probs
