"""The fully-connected CRF of DeepLab v1/v2: energy, mean-field inference three ways, one entry point.

    refined = dense_crf(image, probs, CRFParams(w1=4, sigma_alpha=49, sigma_beta=5,
                                                w2=3, sigma_gamma=3, iterations=10),
                        method="pydensecrf")

(DeepLab-LargeFOV's released setting, the default; ``PUBLISHED`` names each release's with its
source: ``dense_crf(image, probs, PUBLISHED["v2-resnet101"].params)``.)

``image`` is uint8 (H, W, 3) with colours 0–255; ``probs`` the network's softmax (C, H, W),
upsampled to the image size. Both may be NumPy arrays or tensors; the result has the type (and,
for tensors, the device) of ``probs``. Methods:

=============  ==================================================================  ==========
method         how                                                                 where
=============  ==================================================================  ==========
"exact"        all N² pairs, Krähenbühl & Koltun's Algorithm 1 (``meanfield``)     ≤ 6400 px
"pydensecrf"   the permutohedral lattice in C++ (``dense``)                        CPU
"torch"        separable smoothness kernel + chunked appearance kernel
               (``torch_meanfield``)                                               any device
"lattice"      the permutohedral lattice in PyTorch, batched and differentiable
               (``permutohedral``, ``lattice_meanfield``); the fast path            any device
=============  ==================================================================  ==========

A method is ``fn(image, probs, params) -> refined`` (``CRFMethod``): uint8 (H, W, 3) and validated
(C, H, W) tensors on one device in, (C, H, W) out. ``dense_crf`` validates and converts around the
call, so a new method is one line, ``METHODS["name"] = fn``. All methods use the ``"densecrf"``
kernel convention (see ``energy``), so one set of parameters means the same thing everywhere.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .coarse import coarse_scores
from .dense import dense_crf_pydensecrf
from .energy import (appearance_kernel, free_energy, gibbs_energy, kernel_matrix,
                     smoothness_kernel, unary_energy)
from .lattice_meanfield import dense_crf_lattice, lattice_mean_field
from .meanfield import mean_field_exact, mean_field_steps
from .params import DEFAULT_SETTING, PUBLISHED, CRFParams, PublishedCRF, check_finite_output, check_inputs
from .torch_meanfield import mean_field_torch

CRFMethod = Callable[[torch.Tensor, torch.Tensor, CRFParams], torch.Tensor]


def _exact(image: torch.Tensor, probs: torch.Tensor, params: CRFParams) -> torch.Tensor:
    return torch.from_numpy(mean_field_exact(image.cpu().numpy(), probs.cpu().numpy(), params))


def _pydensecrf(image: torch.Tensor, probs: torch.Tensor, params: CRFParams) -> torch.Tensor:
    return torch.from_numpy(dense_crf_pydensecrf(image.cpu().numpy(), probs.cpu().numpy(), params))


METHODS: dict[str, CRFMethod] = {
    "exact": _exact,
    "pydensecrf": _pydensecrf,
    "torch": mean_field_torch,
    "lattice": dense_crf_lattice,
}


def dense_crf(image, probs, params: CRFParams | None = None, method: str = "pydensecrf"):
    """Refine ``probs`` (C, H, W) with the fully-connected CRF; see the module docstring."""
    params = CRFParams() if params is None else params
    if not isinstance(params, CRFParams):
        raise TypeError(f"params must be a CRFParams, got {type(params).__name__}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    check_inputs(image, probs)
    as_numpy = isinstance(probs, np.ndarray)
    probs_t = torch.from_numpy(np.ascontiguousarray(probs)) if as_numpy else probs
    image_t = torch.as_tensor(np.ascontiguousarray(image) if isinstance(image, np.ndarray) else image)
    refined = check_finite_output(METHODS[method](image_t.to(probs_t.device), probs_t, params), params, method)
    if as_numpy:
        return refined.detach().cpu().numpy().astype(probs.dtype, copy=False)
    return refined.to(device=probs.device, dtype=probs.dtype)


__all__ = ["CRFMethod", "CRFParams", "DEFAULT_SETTING", "METHODS", "PUBLISHED", "PublishedCRF", "appearance_kernel",
           "check_finite_output", "check_inputs", "coarse_scores", "dense_crf", "dense_crf_lattice",
           "dense_crf_pydensecrf", "free_energy", "gibbs_energy", "kernel_matrix", "lattice_mean_field",
           "mean_field_exact", "mean_field_steps", "mean_field_torch", "smoothness_kernel", "unary_energy"]
