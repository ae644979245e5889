"""pydensecrf behind DeepLab's parameter names (w1, σα, σβ, w2, σγ, iterations).

pydensecrf (PyPI: ``pydensecrf2``) wraps Krähenbühl's ``densecrf``, which evaluates the two
Gaussian kernels with the permutohedral lattice (Adams et al., Eurographics 2010) in O(N)
instead of O(N²). The mapping onto its API::

    addPairwiseBilateral(sxy=σα, srgb=σβ, compat=w1)   appearance kernel
    addPairwiseGaussian(sxy=σγ, compat=w2)            smoothness kernel
    setUnaryEnergy(−log P)                            θ_i, float32, C-contiguous (C, H·W)

Its kernels are normalised symmetrically and include the self-pair (the ``"densecrf"``
convention of ``energy.kernel_matrix``); chapter 04 measures how close its lattice comes.
"""

from __future__ import annotations

import numpy as np

from .energy import unary_energy
from .params import CRFParams, check_finite_output, check_inputs


# densecrf's C++ lattice hashes features scaled by 1/σ as 32-bit integers: far past this the keys
# overflow and the library crashes the process (a segfault, not an exception).
MAX_SCALED_FEATURE = 1e7


def check_sigma_range(shape: tuple[int, int], params: CRFParams) -> None:
    """Refuse σ values so small that pydensecrf's integer lattice would overflow and crash."""
    h, w = shape
    for name, extent in (("sigma_alpha", max(h, w)), ("sigma_gamma", max(h, w)), ("sigma_beta", 255.0)):
        sigma = getattr(params, name)
        if extent / sigma > MAX_SCALED_FEATURE:
            raise ValueError(f"{name}={sigma:g} is too small for pydensecrf on a {h}×{w} image: "
                             f"{extent:g}/{name} must stay below {MAX_SCALED_FEATURE:g} "
                             f"(use {name} >= {extent / MAX_SCALED_FEATURE:.2g})")


def dense_crf_pydensecrf(image: np.ndarray, probs: np.ndarray, params: CRFParams) -> np.ndarray:
    """Refine (C, H, W) probabilities with pydensecrf; returns float32 (C, H, W)."""
    check_inputs(image, probs)
    check_sigma_range(probs.shape[1:], params)
    try:
        import pydensecrf.densecrf as dcrf
    except ImportError as error:  # a compiled dependency: its build can fail where the rest installs
        raise ImportError("method='pydensecrf' needs the pydensecrf2 package (pip install pydensecrf2); "
                          "method='lattice' and method='torch' need nothing extra") from error
    c, h, w = probs.shape
    crf = dcrf.DenseCRF2D(w, h, c)  # note the order: width first
    # The C++ side reads raw memory: a float64 or transposed array would be garbage, not an error.
    crf.setUnaryEnergy(np.ascontiguousarray(unary_energy(probs).reshape(c, -1), dtype=np.float32))
    if params.w2 > 0:
        crf.addPairwiseGaussian(sxy=params.sigma_gamma, compat=params.w2)
    if params.w1 > 0:
        crf.addPairwiseBilateral(sxy=params.sigma_alpha, srgb=params.sigma_beta,
                                 rgbim=np.ascontiguousarray(image, dtype=np.uint8), compat=params.w1)
    q = np.asarray(crf.inference(params.iterations), dtype=np.float32)
    return check_finite_output(q.reshape(c, h, w), params, "pydensecrf")
