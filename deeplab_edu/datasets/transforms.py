"""Joint image + label transforms: DeepLab's training augmentation and whole-image evaluation.

Training (DeepLab v2 §4, v3 §4.1): scale the pair by a random factor (none in v1, 0.5–1.5 in
v2's reference code, 0.5–2.0 in v3/v3+, the default; ``deeplab_edu.recipes``), the label by
nearest neighbour so it keeps class indices; pad to the crop size (the image with the mean, 0
after normalisation; the label with 255 = ignore, never background); take a random
``crop_size`` crop (321 in v1/v2, 513 in v3/v3+: output_stride·k + 1); flip with probability ½;
normalise with ImageNet's mean and std. Evaluation uses the whole image: a crop would drop
pixels the benchmark counts. In: uint8 (H, W, 3) and (H, W) arrays; out: float32 (3, H, W) and
int64 (H, W) tensors.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from deeplab_edu import validate

from .palette import IGNORE_INDEX

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _check_pair(image, label) -> tuple[np.ndarray, np.ndarray]:
    image, label = np.asarray(image), np.asarray(label)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be an (H, W, 3) RGB array, got shape {image.shape}")
    if image.dtype != np.uint8:
        raise TypeError(f"image must be uint8 (0..255), got dtype {image.dtype}")
    if label.ndim != 2 or label.shape != image.shape[:2]:
        raise ValueError(f"label must be an (H, W) array matching the image's {image.shape[:2]}, "
                         f"got shape {label.shape}")
    if not np.issubdtype(label.dtype, np.integer):
        raise TypeError(f"label must hold integer class indices, got dtype {label.dtype}")
    return image, label


def normalize(image: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) -> float32 (3, H, W), ImageNet mean/std normalised."""
    x = torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1).float() / 255.0
    return (x - torch.tensor(IMAGENET_MEAN).view(3, 1, 1)) / torch.tensor(IMAGENET_STD).view(3, 1, 1)


def _colours(x: torch.Tensor) -> torch.Tensor:
    """Undo ``normalize`` on (…, 3, H, W), on its device: uint8 colours 0–255."""
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(3, 1, 1)
    return ((x.detach().float() * std + mean) * 255.0).round().clamp(0, 255).to(torch.uint8)


def denormalize(tensor: torch.Tensor) -> np.ndarray:
    """Undo ``normalize`` for display or the CRF: (3, H, W) or (N, 3, H, W) -> uint8 (…, H, W, 3)."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}")
    if tensor.ndim not in (3, 4) or tensor.shape[-3] != 3:
        raise ValueError(f"tensor must be (3, H, W) or (N, 3, H, W), got shape {tuple(tensor.shape)}")
    return _colours(tensor).movedim(-3, -1).cpu().numpy()


def rgb_from_normalized(batch: torch.Tensor) -> torch.Tensor:
    """Undo ``normalize`` on a (N, 3, H, W) batch, staying on its device: colours 0–255 (uint8),
    what the CRF's appearance kernel compares (CRF-as-RNN's ``to_rgb``)."""
    if not isinstance(batch, torch.Tensor) or batch.ndim != 4 or batch.shape[1] != 3:
        raise ValueError(f"batch must be a (N, 3, H, W) tensor, got {getattr(batch, 'shape', type(batch))}")
    return _colours(batch)


class TrainTransform:
    """Random scale in ``scale``, pad (mean / 255), random ``crop_size`` crop, random flip, normalise.

    ``generator`` makes the augmentation reproducible on its own (default: the global RNG that
    ``runtime.seed_everything`` seeds). Leave it ``None`` under a multi-worker ``DataLoader``:
    each worker would copy it and repeat the same crops, while PyTorch seeds their global RNGs apart.
    """

    def __init__(self, crop_size: int, scale: tuple[float, float] = (0.5, 2.0), flip: bool = True,
                 ignore_index: int = IGNORE_INDEX, generator: torch.Generator | None = None):
        validate.integer(crop_size, "crop_size", minimum=1)
        lo, hi = scale
        if not 0 < lo <= hi:
            raise ValueError(f"scale must be (low, high) with 0 < low <= high, got {scale!r}")
        self.crop_size, self.scale, self.flip = crop_size, (float(lo), float(hi)), flip
        self.ignore_index, self.generator = ignore_index, generator

    def _uniform(self) -> float:
        return float(torch.rand((), generator=self.generator))

    def __call__(self, image, label) -> tuple[torch.Tensor, torch.Tensor]:
        image, label = _check_pair(image, label)
        x = normalize(image)
        y = torch.from_numpy(label.astype(np.int64))

        lo, hi = self.scale
        s = lo + (hi - lo) * self._uniform()
        h, w = y.shape
        nh, nw = max(1, round(h * s)), max(1, round(w * s))
        if (nh, nw) != (h, w):
            x = F.interpolate(x[None], size=(nh, nw), mode="bilinear", align_corners=False)[0]
            # "nearest-exact" samples at pixel centres, like the bilinear resize of the image.
            y = F.interpolate(y[None, None].float(), size=(nh, nw), mode="nearest-exact")[0, 0].long()

        c = self.crop_size
        ph, pw = max(c - nh, 0), max(c - nw, 0)
        if ph or pw:  # pad bottom/right: 0 is the mean colour after normalisation
            x = F.pad(x, (0, pw, 0, ph), value=0.0)
            y = F.pad(y, (0, pw, 0, ph), value=self.ignore_index)

        top = int(self._uniform() * (y.shape[0] - c + 1))
        left = int(self._uniform() * (y.shape[1] - c + 1))
        x, y = x[:, top:top + c, left:left + c], y[top:top + c, left:left + c]
        if self.flip and self._uniform() < 0.5:
            x, y = x.flip(-1), y.flip(-1)
        return x.contiguous(), y.contiguous()

    def __repr__(self) -> str:
        return f"TrainTransform(crop_size={self.crop_size}, scale={self.scale}, flip={self.flip})"


class EvalTransform:
    """The whole image, normalised; the label untouched (255 stays ignore)."""

    def __call__(self, image, label) -> tuple[torch.Tensor, torch.Tensor]:
        image, label = _check_pair(image, label)
        return normalize(image), torch.from_numpy(label.astype(np.int64))

    def __repr__(self) -> str:
        return "EvalTransform()"
