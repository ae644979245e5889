"""CRF-as-RNN: mean-field inference as layers of the network, trained end to end.

Zheng et al., *Conditional Random Fields as Recurrent Neural Networks* (ICCV 2015), §4 and
Algorithm 1: one mean-field iteration of the dense CRF is a stack of differentiable operations —

    message passing      Q̃_m(l) = Σ_j k_m(f_i, f_j) Q_j(l) / Σ_j k_m(f_i, f_j)   (normalised filter)
    weighting filters    Q̌(l) = Σ_m Σ_l' w_m(l, l') Q̃_m(l')     (a C×C matrix per kernel)
    compatibility        Q̂(l) = Σ_l' μ(l, l') Q̌(l')              (a learned C×C matrix)
    adding unaries       Ǔ = U − Q̂                               (U = the network's scores)
    normalising          Q = softmax(Ǔ)

— so T iterations are an RNN whose hidden state is Q, and back-propagation reaches the unaries
(hence the network below), the kernel weights and the compatibility μ. σα, σβ, σγ stay fixed
(the lattice is not differentiable in the features), as in the paper.

**Kernel weights as theirs** (``kernels="matrix"``, the default). The authors' code
(``sadeepj/crfasrnn_keras`` ``src/crfrnn_layer.py``) learns *two C×C matrices*,
``spatial_ker_weights`` and ``bilateral_ker_weights`` (here from w1·I and w2·I), and divides each
filter output by the filter of an all-ones image (``spatial_out / spatial_norm_vals``): D⁻¹K, the
pixel itself included. Their compatibility starts at −I, this layer's at Potts, 1 − I: the two
differ by the all-ones matrix, which adds the same number to every label's score and so changes
no softmax, nor any gradient of it. ``kernels="scalar"`` is the book's simpler variant: scalar
w1, w2 and the CRF package's D^{-1/2} K D^{-1/2} (``convention``) — the post-processing CRF of
chapter 04 with learnable w1, w2, μ.
"""

from __future__ import annotations

import torch
from torch import nn

from deeplab_edu import validate

from .energy import CONVENTIONS
from .lattice_meanfield import (CRFKernels, _smoothness_lattice, compatible_scores, mean_field_scores,
                               potts_compatibility)
from .params import CRFParams
from .permutohedral import PermutohedralLattice, bilateral_features

__all__ = ["CRFasRNN", "KERNELS"]

KERNELS = ("matrix", "scalar")


class CRFasRNN(nn.Module):
    """T mean-field iterations as a layer: (scores, image) → refined scores, both (B, C, H, W).

    ``scores`` are the network's logits (the unaries are θ = −scores: softmax(scores) is the
    network's P). ``image`` is (B, 3, H, W) with colours 0–255. The output is the last
    iteration's pre-softmax scores, so ``cross_entropy(output, target)`` trains through the CRF
    and ``output.softmax(1)`` is Q.

    ``learn_weights`` / ``learn_compatibility`` make the kernel weights / μ parameters (else
    fixed buffers; a fixed μ is Potts). ``params.iterations`` steps run in training mode and
    ``test_iterations`` (default: as many) in eval mode: Zheng et al. (§6) train with T = 5, the
    unrolled depth back-propagation pays for, and test with T = 10, closer to convergence.
    """

    def __init__(self, num_classes: int, params: CRFParams | None = None, *, kernels: str = "matrix",
                 learn_weights: bool = True, learn_compatibility: bool = True,
                 convention: str = "densecrf", test_iterations: int | None = None):
        super().__init__()
        validate.integer(num_classes, "num_classes", minimum=2)
        params = CRFParams() if params is None else params
        if not isinstance(params, CRFParams):
            raise TypeError(f"params must be a CRFParams, got {type(params).__name__}")
        validate.choice(kernels, "kernels", KERNELS)
        validate.choice(convention, "convention", CONVENTIONS)
        if kernels == "matrix" and convention != "densecrf":
            raise ValueError("convention applies to kernels='scalar'; the matrix kernels use "
                             "Zheng et al.'s normalisation (filter / filter of ones)")
        self.num_classes, self.params, self.kernels = num_classes, params, kernels
        self.convention = convention if kernels == "scalar" else "crfasrnn"
        self.iterations = int(params.iterations)
        self.test_iterations = self.iterations if test_iterations is None else int(test_iterations)
        eye = torch.eye(num_classes)
        if kernels == "scalar":
            self._weight("kernel_weights", torch.tensor([float(params.w1), float(params.w2)]), learn_weights)
        else:
            self._weight("bilateral_ker_weights", float(params.w1) * eye, learn_weights)
            self._weight("spatial_ker_weights", float(params.w2) * eye, learn_weights)
        if learn_compatibility:
            self.compatibility = nn.Parameter(potts_compatibility(num_classes))
        else:
            self.register_buffer("compatibility", None)  # None: the Potts shortcut

    def _weight(self, name: str, value: torch.Tensor, learn: bool) -> None:
        if learn:
            self.register_parameter(name, nn.Parameter(value))
        else:
            self.register_buffer(name, value)

    def forward(self, scores: torch.Tensor, image: torch.Tensor,
                iterations: int | None = None) -> torch.Tensor:
        # The lattice's hashing and sparse filters need float32 throughout: under a bf16 autocast
        # (the network's) the layer runs outside it, on float32 copies.
        with torch.autocast(scores.device.type, enabled=False):
            return self._mean_field(scores, image.float(), iterations)

    def _mean_field(self, scores: torch.Tensor, image: torch.Tensor, iterations: int | None) -> torch.Tensor:
        if scores.dim() != 4 or scores.shape[1] != self.num_classes:
            raise ValueError(f"scores must be (batch, {self.num_classes}, H, W), got {tuple(scores.shape)}")
        if image.dim() != 4 or image.shape[1] != 3 or image.shape[2:] != scores.shape[2:] \
                or image.shape[0] != scores.shape[0]:
            raise ValueError(f"image must be (batch, 3, H, W) matching scores {tuple(scores.shape)}, "
                             f"got {tuple(image.shape)}")
        if iterations is None:
            iterations = self.iterations if self.training else self.test_iterations
        validate.integer(iterations, "iterations", minimum=0)
        batch, c, height, width = scores.shape
        dtype = scores.dtype
        # The lattice's sparse kernels take float32 / float64 only: bf16 autocast scores are
        # promoted here and the refined scores handed back in their own precision.
        work = scores if dtype in (torch.float32, torch.float64) else scores.float()
        unary = work.permute(0, 2, 3, 1).reshape(batch, height * width, c)  # −θ, one row per pixel
        out = unary
        if iterations > 0:
            image = image.detach().to(scores.device)
            compatibility = None if self.compatibility is None else self.compatibility.to(work.dtype)
            if self.kernels == "scalar":
                kernels = CRFKernels(image, self.params, self.convention)
                w1, w2 = self.kernel_weights.to(work.dtype)
                for _ in range(iterations):
                    out = mean_field_scores(torch.softmax(out, -1), -unary, kernels, w1, w2, compatibility)
            else:
                filters = _NormalisedFilters(image, self.params, work.dtype)
                w_app = self.bilateral_ker_weights.to(work.dtype)
                w_smooth = self.spatial_ker_weights.to(work.dtype)
                for _ in range(iterations):
                    appearance, smoothness = filters(torch.softmax(out, -1))
                    message = appearance @ w_app.T + smoothness @ w_smooth.T  # Σ_l' w(l, l') Q̃(l')
                    out = compatible_scores(message, -unary, compatibility)
        return out.reshape(batch, height, width, c).permute(0, 3, 1, 2).to(dtype)

    def extra_repr(self) -> str:
        p = self.params
        return (f"num_classes={self.num_classes}, kernels={self.kernels!r}, iterations={self.iterations} "
                f"(test {self.test_iterations}), "
                f"σα={p.sigma_alpha:g}, σβ={p.sigma_beta:g}, σγ={p.sigma_gamma:g}, "
                f"normalisation={self.convention!r}")


class _NormalisedFilters:
    """Zheng et al.'s message passing: each Gaussian filter divided by its filter of ones (D⁻¹K)."""

    def __init__(self, image: torch.Tensor, params: CRFParams, dtype: torch.dtype):
        batch, _, height, width = image.shape
        self.appearance = PermutohedralLattice(bilateral_features(image, params.sigma_alpha, params.sigma_beta))
        self.smoothness = _smoothness_lattice(batch, height, width, params.sigma_gamma, image.device, "paper")
        ones = torch.ones(batch, height * width, 1, dtype=dtype, device=image.device)
        self.appearance_norm = self.appearance.filter(ones).clamp_min(1e-20)
        self.smoothness_norm = self.smoothness.filter(ones).clamp_min(1e-20)

    def __call__(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return (self.appearance.filter(q) / self.appearance_norm.to(q.dtype),
                self.smoothness.filter(q) / self.smoothness_norm.to(q.dtype))
