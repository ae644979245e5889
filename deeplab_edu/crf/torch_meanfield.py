"""Mean-field for the fully-connected CRF in plain PyTorch, on whatever device the tensors are on.

``meanfield.py``'s update (Krähenbühl & Koltun, NIPS 2011, Algorithm 1) without the N × N table:

* the **smoothness kernel** w2·exp(−‖p_i−p_j‖²/2σγ²) is separable in y and x: two 1-D Gaussian
  convolutions (zero padding: no pixels outside), truncated at 6σγ where it is below 2·10⁻⁸;
* the **appearance kernel** w1·exp(−‖p_i−p_j‖²/2σα² − ‖I_i−I_j‖²/2σβ²) depends on colour, so it
  is evaluated in chunks of target pixels against every source pixel. ``source_stride = s > 1``
  lets only every s-th pixel (in y and x) send, counted s² times (the self-pair still once): N²/s²
  instead of N², fair when s ≪ σα. With s = 1 it equals the exact path (tested).

The straightforward path; the permutohedral lattice (``method="lattice"``) is the fast one.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from deeplab_edu import validate

from .energy import CONVENTIONS
from .params import CRFParams, check_finite_output, check_inputs

_CHUNK_ELEMENTS = 2**24  # target × source pairs evaluated at once (64 MB in float32)
_CACHE_ELEMENTS = 2**26  # keep the whole appearance table between iterations below this
MAX_TORCH_PIXELS = 96 * 96  # every pair: seconds per iteration on a laptop CPU here, minutes at 256 × 256


def _gaussian_message(q: torch.Tensor, sigma: float) -> torch.Tensor:
    """Σ_j exp(−‖p_i−p_j‖²/2σ²)·q_j for every pixel i (self included), as two 1-D convolutions."""
    c, h, w = q.shape
    radius = min(math.ceil(6 * sigma), max(h, w) - 1)
    offsets = torch.arange(-radius, radius + 1, dtype=q.dtype, device=q.device)
    taps = torch.exp(-offsets**2 / (2 * sigma**2))
    x = q.reshape(c, 1, h, w)
    x = F.conv2d(x, taps.view(1, 1, -1, 1), padding=(radius, 0))
    x = F.conv2d(x, taps.view(1, 1, 1, -1), padding=(0, radius))
    return x.reshape(c, h, w)


class _AppearanceKernel:
    """k_α(i, j) = exp(−‖p_i−p_j‖²/2σα² − ‖I_i−I_j‖²/2σβ²), applied to (C, N) maps in chunks."""

    def __init__(self, image: torch.Tensor, params: CRFParams, dtype: torch.dtype, stride: int) -> None:
        h, w = image.shape[:2]
        device = image.device
        ys, xs = torch.meshgrid(torch.arange(h, device=device, dtype=dtype),
                                torch.arange(w, device=device, dtype=dtype), indexing="ij")
        features = torch.cat([torch.stack([ys, xs], -1) / params.sigma_alpha,
                              image.to(dtype) / params.sigma_beta], -1)  # (H, W, 5)
        features = features - features.mean((0, 1))  # smaller numbers: less cancellation below
        self.targets = features.reshape(-1, 5)
        start = stride // 2
        self.source_index = (torch.arange(h * w, device=device).reshape(h, w)
                             [start::stride, start::stride].reshape(-1))
        self.sources = self.targets[self.source_index]
        self.weight = float(stride * stride)  # each source stands for the s × s pixels around it
        n, m = self.targets.shape[0], self.sources.shape[0]
        self.chunk = max(1, _CHUNK_ELEMENTS // m)
        self.table = self._block(0, n) if n * m <= _CACHE_ELEMENTS else None

    def _block(self, start: int, stop: int) -> torch.Tensor:
        t = self.targets[start:stop]
        # ‖t − s‖² = ‖t‖² + ‖s‖² − 2 t·s: a matrix product instead of an (n, m, 5) difference.
        d2 = (t * t).sum(1, keepdim=True) + (self.sources * self.sources).sum(1) - 2 * t @ self.sources.T
        return torch.exp(-0.5 * d2.clamp_min(0))

    def apply(self, q: torch.Tensor) -> torch.Tensor:
        """(C, N) → (C, N): Σ_j k_α(i, j) q_j over the source pixels j (self included)."""
        q_sources = q[:, self.source_index].T  # (M, C)
        if self.table is not None:
            out = self.weight * (self.table @ q_sources).T
        else:
            n = self.targets.shape[0]
            out = torch.empty(n, q.shape[0], dtype=q.dtype, device=q.device)
            for start in range(0, n, self.chunk):
                stop = min(n, start + self.chunk)
                out[start:stop] = self._block(start, stop) @ q_sources
            out = self.weight * out.T
        if self.weight == 1:
            return out
        # The self-pair k(i, i) = 1 is known exactly; on a noisy image with small σβ it is most
        # of a pixel's kernel mass, so count it once for every pixel rather than s² times for
        # the sources and never for the rest.
        out[:, self.source_index] -= self.weight * q[:, self.source_index]
        return out + q


def check_torch_size(shape: tuple[int, int], source_stride: int = 1) -> None:
    """Refuse an image whose every-pair appearance kernel (stride 1) would run for minutes."""
    h, w = shape
    if source_stride == 1 and h * w > MAX_TORCH_PIXELS:
        raise ValueError(f"method 'torch' evaluates all N² pixel pairs and allows at most {MAX_TORCH_PIXELS} "
                         f"pixels (96×96); this image is {h}×{w} = {h * w}. Use method='lattice' (the "
                         "permutohedral lattice, O(N), any device) or method='pydensecrf' for larger images, "
                         "or mean_field_torch(..., source_stride=s) to subsample the sources")


def mean_field_torch(image: torch.Tensor, probs: torch.Tensor, params: CRFParams,
                     convention: str = "densecrf", source_stride: int = 1) -> torch.Tensor:
    """Refine (C, H, W) probabilities on ``probs.device`` in ``probs.dtype``; ``convention`` as in ``energy``."""
    check_inputs(image, probs)
    validate.choice(convention, "convention", CONVENTIONS)
    validate.integer(source_stride, "source_stride", minimum=1)
    check_torch_size(tuple(probs.shape[1:]), source_stride)
    image = torch.as_tensor(image).to(probs.device)
    c, h, w = probs.shape
    unary = -torch.log(probs.clamp(1e-8, 1.0)).reshape(c, -1)
    q = torch.softmax(-unary, 0)
    if params.iterations == 0:
        return q.reshape(c, h, w)

    appearance = _AppearanceKernel(image, params, probs.dtype, source_stride) if params.w1 > 0 else None

    def smooth(x: torch.Tensor) -> torch.Tensor:  # (C, N) → (C, N)
        return _gaussian_message(x.reshape(-1, h, w), params.sigma_gamma).reshape(x.shape[0], -1)

    kernels = [(params.w2, smooth)] + ([(params.w1, appearance.apply)] if appearance else [])
    if convention == "densecrf":  # D_m^{-1/2} K_m D_m^{-1/2}, D_m = row sums of K_m
        ones = torch.ones(1, h * w, dtype=probs.dtype, device=probs.device)
        scales = [k(ones).rsqrt() for _, k in kernels]

    for _ in range(params.iterations):
        message = torch.zeros_like(q)
        for index, (weight, kernel) in enumerate(kernels):
            if weight == 0:
                continue
            if convention == "densecrf":
                message += weight * scales[index] * kernel(scales[index] * q)
            else:
                message += weight * (kernel(q) - q)  # the paper sums over j ≠ i: drop k(i, i) = 1
        compatibility = message.sum(0, keepdim=True) - message  # Potts
        q = torch.softmax(-unary - compatibility, 0)
    # In float32 the expanded ‖t‖² + ‖s‖² − 2t·s loses the self-pair for tiny σ, a row sum
    # becomes 0 and its rsqrt infinite: say so instead of returning NaN probabilities.
    return check_finite_output(q.reshape(c, h, w), params, "torch")
