"""The fully-connected CRF's parameters, and the checks every inference path makes on the way in and out.

DeepLab v1 (Chen et al., ICLR 2015, §4.2 eq. 2) and v2 (TPAMI 2017, §3.3 eq. 3) use the
pairwise potential of Krähenbühl & Koltun (NIPS 2011)::

    θ_ij(x_i, x_j) = μ(x_i, x_j) · [ w1 · exp(−‖p_i − p_j‖² / 2σα² − ‖I_i − I_j‖² / 2σβ²)
                                    + w2 · exp(−‖p_i − p_j‖² / 2σγ²) ]

with positions p in pixels and colours I in 0–255: an *appearance* (bilateral) kernel of weight
w1 and a *smoothness* kernel of weight w2. ``CRFParams`` holds those five numbers and the
number of mean-field iterations under the paper's names; ``PUBLISHED`` the configurations the
authors released per model, each with where it was read (the values differ by model: they were
cross-validated for each network's scores). The v2 VGG-16 setting of third-party code (w1 = 4,
σα = 65, σβ = 3, w2 = 2, σγ = 2) is not listed: no release holds it, and v2's text holds w2 = σγ = 3.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from deeplab_edu import validate


@dataclasses.dataclass(frozen=True)
class CRFParams:
    """w1, σα, σβ, w2, σγ and the mean-field iteration count, validated on construction.

    The defaults are DeepLab-LargeFOV's (v1) released setting, ``PUBLISHED["v1-largefov"]``, one
    that the v1 protocol chapter 04 repeats produces (w1, σα, σβ cross-validated, v1 §5).
    """

    w1: float = 4.0
    sigma_alpha: float = 49.0
    sigma_beta: float = 5.0
    w2: float = 3.0
    sigma_gamma: float = 3.0
    iterations: int = 10

    def __post_init__(self) -> None:
        for name in ("w1", "w2"):  # kernel weights
            validate.number(getattr(self, name), name, minimum=0)
        for name in ("sigma_alpha", "sigma_beta", "sigma_gamma"):  # kernel widths
            validate.number(getattr(self, name), name, positive=True)
        validate.integer(self.iterations, "iterations", minimum=0)

    def replace(self, **changes) -> "CRFParams":
        """A copy with some fields changed (and validated again)."""
        return dataclasses.replace(self, **changes)


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


def check_finite_output(q, params: CRFParams, method: str):
    """Raise naming the parameters when a CRF method returns NaN or infinity; return ``q``."""
    finite = bool(torch.isfinite(q).all()) if isinstance(q, torch.Tensor) else bool(np.isfinite(q).all())
    if not finite:
        raise ValueError(f"the dense CRF (method {method!r}) produced NaN or infinite probabilities with {params}; "
                         "the bandwidths σ are probably too small for this image")
    return q


@dataclasses.dataclass(frozen=True)
class PublishedCRF:
    """A released CRF setting, the model it was tuned for and its source; ``checked`` is ``"read"``
    (the release or a faithful port), ``"secondary"`` (third-party code) or ``"unread"``."""

    name: str
    model: str
    params: CRFParams
    source: str
    checked: str
    note: str = ""


# In pydensecrf's names: bi_w = w1, bi_xy_std = σα, bi_rgb_std = σβ, pos_w = w2, pos_xy_std = σγ.
PUBLISHED: dict[str, PublishedCRF] = {
    "v1-largefov": PublishedCRF(
        "v1-largefov", "DeepLab-LargeFOV (v1), VGG-16, PASCAL VOC 2012",
        CRFParams(w1=4, sigma_alpha=49, sigma_beta=5, w2=3, sigma_gamma=3, iterations=10),
        "the DeepLab (v1) release's exper/run_densecrf.sh (MODEL_NAME=deelab_largeFOV: Bi_W=4, "
        "Bi_X_STD=49, Bi_R_STD=5, POS_W=3, POS_X_STD=3, MAX_ITER=10), as mirrored in "
        "talent518/deeplab-public-ver2 exper/run_densecrf.sh and zhenglab/ChaetocerosImgSeg "
        "UnsupervisedPixel-wiseClassification/run_densecrf.sh", "read",
        "The release's grid script (exper/run_densecrf_grid_search.sh) holds POS_W=3, POS_XY_STD=3 "
        "('We did not cross-validate for pos_w and pos_xy_std'), as v1 §5 says. Note w1 = 4 and "
        "σα = 49 lie below the paper's initial ranges (w1 ∈ [5, 10], σα ∈ [50 : 10 : 100])."),
    "v2-resnet101": PublishedCRF(
        "v2-resnet101", "DeepLab v2, ResNet-101 (ASPP-L, MSC, COCO-pretrained), PASCAL VOC 2012",
        CRFParams(w1=4, sigma_alpha=67, sigma_beta=3, w2=3, sigma_gamma=1, iterations=10),
        "kazuto1011/deeplab-pytorch configs/voc12.yaml lines 52-58 (CRF: ITER_MAX 10, POS_W 3, "
        "POS_XY_STD 1, BI_W 4, BI_XY_STD 67, BI_RGB_STD 3), used to reproduce the release's "
        "numbers", "read"),
    "legacy-121": PublishedCRF(
        "legacy-121", "no DeepLab model: a long-range setting (σα = 121) of unknown origin",
        CRFParams(w1=4, sigma_alpha=121, sigma_beta=5, w2=3, sigma_gamma=3, iterations=10),
        "no DeepLab release found with σα = 121; it appears as commented defaults "
        "('bi_xy_std=121  # 121, 140') in weakly-supervised segmentation code", "unread",
        "Not a published DeepLab setting (v2's ResNet-101 release reads σα = 67, above)."),
}
DEFAULT_SETTING = "v1-largefov"
