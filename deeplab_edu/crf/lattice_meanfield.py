"""Mean-field inference for the fully-connected CRF, with messages passed on permutohedral lattices.

The update is Krähenbühl & Koltun's (NIPS 2011, Algorithm 1), the one ``meanfield.py`` writes
out over all pixel pairs::

    Q_i(l) ← softmax_l( −θ_i(l) − Σ_{l'} μ(l, l') Σ_m w_m Σ_j k_m(f_i, f_j) Q_j(l') )

with θ = −log P the unary, the appearance kernel m = 1 (weight w1, features p/σα and I/σβ) and
the smoothness kernel m = 2 (weight w2, features p/σγ), and μ the Potts compatibility [l ≠ l'].
Here every Σ_j k_m(f_i, f_j)(·) is one :meth:`PermutohedralLattice.filter` call: O(N) per
iteration instead of O(N²), with the two lattices built once per image and reused by every
iteration — which is what makes 10 iterations on a 500 × 375 image cost less than one N × N pass.

Conventions are ``energy.py``'s: ``"densecrf"`` (symmetric normalisation, self-pair kept: what
pydensecrf does) or ``"paper"`` (approximate twice over here: the lattice's own k(i, i) is not
exactly 1, see ``permutohedral._alpha``). Everything is batched and runs on any device;
:func:`mean_field_scores` is differentiable in the unaries, and in the weights and μ when they
are tensors (``crf_rnn.py`` builds on that).
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from deeplab_edu import validate

from .energy import CONVENTIONS
from .params import CRFParams, check_finite_output, check_inputs
from .permutohedral import PermutohedralLattice, bilateral_features, spatial_features

__all__ = ["CRFKernels", "dense_crf_lattice", "lattice_mean_field", "mean_field_scores",
           "potts_compatibility"]


def potts_compatibility(num_classes: int) -> torch.Tensor:
    """μ(l, l') = [l ≠ l']: the Potts model, a (C, C) matrix of ones with a zero diagonal."""
    return 1.0 - torch.eye(num_classes)


class CRFKernels:
    """The dense CRF's two Gaussian kernels for a batch of images (batch, 3, H, W), colours 0–255,
    built once; :meth:`messages` maps Q (batch, N, C) to Σ_j k_m(i, j) Q_j for each."""

    def __init__(self, image: torch.Tensor, params: CRFParams, convention: str = "densecrf"):
        validate.choice(convention, "convention", CONVENTIONS)
        batch, _, height, width = image.shape
        self.convention = convention
        self.appearance = PermutohedralLattice(
            bilateral_features(image, params.sigma_alpha, params.sigma_beta))
        self.smoothness = _smoothness_lattice(batch, height, width, params.sigma_gamma,
                                              image.device, convention)
        if convention == "densecrf":
            self.appearance = _normalised(self.appearance)
        self._combined: tuple[tuple[float, float], PermutohedralLattice] | None = None

    def _message(self, lattice: PermutohedralLattice, q: torch.Tensor) -> torch.Tensor:
        if self.convention == "densecrf":
            return lattice.filter(q)
        return lattice.filter(q) - q  # the paper sums over j ≠ i: drop k(i, i) = 1

    def messages(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(appearance, smoothness) messages for Q of shape (batch, N, C)."""
        return self._message(self.appearance, q), self._message(self.smoothness, q)

    def weighted_message(self, q: torch.Tensor, w1: float, w2: float) -> torch.Tensor:
        """w1·appearance + w2·smoothness for fixed weights, both kernels in one lattice pass."""
        if self._combined is None or self._combined[0] != (w1, w2):
            lattice = PermutohedralLattice.weighted_sum([self.appearance, self.smoothness], [w1, w2])
            self._combined = ((w1, w2), lattice)
        message = self._combined[1].filter(q)
        return message if self.convention == "densecrf" else message - (w1 + w2) * q


def _normalised(lattice: PermutohedralLattice) -> PermutohedralLattice:
    # D^{-1/2} K D^{-1/2} with D = diag(K 1), folded into the lattice's matrices once.
    ones = torch.ones(lattice.batch, lattice.num_points, 1, device=lattice.device,
                      dtype=lattice._splat_weights.dtype)
    return lattice.scaled(lattice.filter(ones).clamp_min(1e-20).rsqrt()[..., 0])


@functools.lru_cache(maxsize=8)
def _smoothness_lattice(batch: int, height: int, width: int, sigma_gamma: float,
                        device: torch.device, convention: str) -> PermutohedralLattice:
    # Positions alone: the same for every image of a size, so built once and kept.
    lattice = PermutohedralLattice(spatial_features(batch, height, width, sigma_gamma, device=device))
    return _normalised(lattice) if convention == "densecrf" else lattice


def lattice_mean_field(unary: torch.Tensor, image: torch.Tensor, params: CRFParams,
                       convention: str = "densecrf", compatibility: torch.Tensor | None = None,
                       kernels: CRFKernels | None = None) -> torch.Tensor:
    """Q after ``params.iterations`` mean-field steps; (batch, C, H, W) in and out.

    ``unary`` is θ = −log P (θ = −logits gives the same Q), ``image`` (batch, 3, H, W) colours
    0–255, ``compatibility`` μ (C, C) (default Potts); ``kernels`` reuses lattices already built.
    """
    if not isinstance(unary, torch.Tensor) or unary.dim() != 4:
        raise ValueError(f"unary must be a (batch, C, H, W) tensor, got "
                         f"{getattr(unary, 'shape', type(unary).__name__)}")
    if not isinstance(image, torch.Tensor) or image.dim() != 4 or image.shape[1] != 3:
        raise ValueError(f"image must be a (batch, 3, H, W) tensor, got "
                         f"{getattr(image, 'shape', type(image).__name__)}")
    batch, c, height, width = unary.shape
    if (image.shape[0], *image.shape[2:]) != (batch, height, width):
        raise ValueError(f"image is {tuple(image.shape)} but unary is {tuple(unary.shape)}: "
                         "they must share batch, H and W")
    if kernels is not None and kernels.convention != convention:
        raise ValueError(f"kernels were built for convention {kernels.convention!r}, not {convention!r}")
    if compatibility is not None and tuple(compatibility.shape) != (c, c):
        raise ValueError(f"compatibility must be ({c}, {c}) for {c} labels, got {tuple(compatibility.shape)}")
    theta = unary.permute(0, 2, 3, 1).reshape(batch, height * width, c)  # one row per pixel
    q = torch.softmax(-theta, dim=-1)
    if params.iterations > 0:
        kernels = kernels or CRFKernels(image.to(unary.device), params, convention)
        for _ in range(params.iterations):
            q = torch.softmax(mean_field_scores(q, theta, kernels, params.w1, params.w2,
                                                compatibility), dim=-1)
    return q.reshape(batch, height, width, c).permute(0, 3, 1, 2)


def mean_field_scores(q: torch.Tensor, theta: torch.Tensor, kernels: CRFKernels,
                      w1: float | torch.Tensor, w2: float | torch.Tensor,
                      compatibility: torch.Tensor | None = None) -> torch.Tensor:
    """One mean-field step up to its softmax: the new Q is ``softmax(scores, -1)``.

    q and θ are (batch, N, C); w1, w2 and μ may be tensors that require grad (CRF-as-RNN).
    """
    if isinstance(w1, torch.Tensor) or isinstance(w2, torch.Tensor):
        appearance, smoothness = kernels.messages(q)
        message = w1 * appearance + w2 * smoothness
    else:
        message = kernels.weighted_message(q, w1, w2)
    return compatible_scores(message, theta, compatibility)


def compatible_scores(message: torch.Tensor, theta: torch.Tensor,
                      compatibility: torch.Tensor | None = None) -> torch.Tensor:
    """−θ − Σ_l' μ(l, l') m(l'): the scores whose softmax is the new Q."""
    if compatibility is None:
        # Potts: the penalty Σ_{l' ≠ l} m(l') = Σ_l' m(l') − m(l); the sum is the same for
        # every label l, and softmax ignores what every label shares, so only −m(l) remains.
        return message - theta
    return -theta - message @ compatibility.T.to(message.dtype)


def batch_inputs(image, probs, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """One image's θ = −log P (1, C, H, W) and colours (1, 3, H, W), checked, on ``device`` (default: probs')."""
    check_inputs(image, probs)
    p = torch.as_tensor(np.ascontiguousarray(probs) if isinstance(probs, np.ndarray) else probs, device=device)
    if p.dtype not in (torch.float32, torch.float64):  # the sparse kernels take these two only
        p = p.float()
    img = torch.as_tensor(np.ascontiguousarray(image) if isinstance(image, np.ndarray) else image, device=p.device)
    return -torch.log(p.clamp(1e-8, 1.0))[None], img.permute(2, 0, 1)[None]  # energy.unary_energy's θ


def dense_crf_lattice(image: np.ndarray | torch.Tensor, probs: np.ndarray | torch.Tensor,
                      params: CRFParams, convention: str = "densecrf") -> np.ndarray | torch.Tensor:
    """Refine (C, H, W) probabilities of one image (H, W, 3) uint8 on ``probs``' device.

    Returns the type it was given: a tensor for a tensor, float32 NumPy for NumPy.
    """
    unary, img = batch_inputs(image, probs)
    with torch.no_grad():
        q = check_finite_output(lattice_mean_field(unary, img, params, convention)[0], params, "lattice")
    return q.float().cpu().numpy() if isinstance(probs, np.ndarray) else q
