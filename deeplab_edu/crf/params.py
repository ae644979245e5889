"""The fully-connected CRF's parameters, and the checks every inference path shares.

DeepLab v1 (Chen et al., ICLR 2015, §4.3 eq. 2) and v2 (TPAMI 2017, §3.3 eq. 3) use the
pairwise potential of Krähenbühl & Koltun (NIPS 2011)::

    θ_ij(x_i, x_j) = μ(x_i, x_j) · [ w1 · exp(−‖p_i − p_j‖² / 2σα² − ‖I_i − I_j‖² / 2σβ²)
                                    + w2 · exp(−‖p_i − p_j‖² / 2σγ²) ]

with positions p in pixels and colours I in 0–255: an *appearance* (bilateral) kernel of weight
w1 and a *smoothness* kernel of weight w2. ``CRFParams`` holds those five numbers and the
number of mean-field iterations under the paper's names.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch


@dataclasses.dataclass(frozen=True)
class CRFParams:
    """w1, σα, σβ, w2, σγ and the mean-field iteration count, validated on construction.

    The defaults are DeepLab v2's cross-validated values for PASCAL VOC with ResNet-101
    (w1 = 4, σα = 121, σβ = 5, w2 = 3, σγ = 3, 10 iterations). DeepLab v1 fixed w2 = 3, σγ = 3
    and searched w1, σα, σβ on held-out images (§4.3) — chapter 04 repeats that search.
    """

    w1: float = 4.0
    sigma_alpha: float = 121.0
    sigma_beta: float = 5.0
    w2: float = 3.0
    sigma_gamma: float = 3.0
    iterations: int = 10

    def __post_init__(self) -> None:
        for name in ("w1", "w2"):
            value = getattr(self, name)
            if not _is_real(value) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} is a kernel weight and must be a finite number >= 0, got {value!r}")
        for name in ("sigma_alpha", "sigma_beta", "sigma_gamma"):
            value = getattr(self, name)
            if not _is_real(value) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} is a kernel width and must be a finite number > 0, got {value!r}")
        its = self.iterations
        if isinstance(its, bool) or not isinstance(its, (int, np.integer)) or its < 0:
            raise ValueError(f"iterations must be a non-negative integer, got {its!r}")

    def replace(self, **changes) -> "CRFParams":
        """A copy with some fields changed (and validated again)."""
        return dataclasses.replace(self, **changes)


def _is_real(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def check_inputs(image, probs) -> None:
    """Raise a clear error unless ``image`` is uint8 (H, W, 3) and ``probs`` a (C, H, W)
    probability map: finite, in [0, 1], summing to 1 over C at every pixel."""
    for name, value in (("image", image), ("probs", probs)):
        if not isinstance(value, (np.ndarray, torch.Tensor)):
            raise TypeError(f"{name} must be a numpy.ndarray or torch.Tensor, got {type(value).__name__}")
    if image.dtype not in (np.uint8, torch.uint8):
        raise TypeError(f"image must be uint8 with colours in 0-255, got dtype {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must have shape (H, W, 3), got {tuple(image.shape)}")
    is_float = probs.is_floating_point() if isinstance(probs, torch.Tensor) else np.issubdtype(probs.dtype, np.floating)
    if not is_float:
        raise TypeError(f"probs must be floating point (softmax of the scores), got dtype {probs.dtype}")
    if probs.ndim != 3 or probs.shape[0] < 2:
        raise ValueError(f"probs must have shape (C, H, W) with C >= 2 labels, got {tuple(probs.shape)}")
    if tuple(probs.shape[1:]) != tuple(image.shape[:2]):
        raise ValueError(f"image is {tuple(image.shape[:2])} (H, W) but probs are "
                         f"{tuple(probs.shape[1:])}: refine scores upsampled to the image size")
    p = torch.as_tensor(probs).detach().double()
    if not torch.isfinite(p).all():
        raise ValueError("probs contain NaN or infinity")
    if p.min() < 0 or p.max() > 1:
        raise ValueError(f"probs must lie in [0, 1] (pass softmax(scores), not raw scores); "
                         f"got values in [{p.min().item():.3g}, {p.max().item():.3g}]")
    deviation = (p.sum(0) - 1).abs()
    if deviation.max() > 1e-3:
        worst = p.sum(0).flatten()[deviation.argmax()].item()
        raise ValueError(f"probs must sum to 1 over the C labels at every pixel; one pixel sums to {worst:.4g}")
