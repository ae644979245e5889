"""pydensecrf behind DeepLab's parameter names (w1, σα, σβ, w2, σγ, iterations).

pydensecrf (PyPI: ``pydensecrf2``) wraps Krähenbühl's ``densecrf``, which evaluates the two
Gaussian kernels with the permutohedral lattice (Adams et al., Eurographics 2010) in O(N)
instead of O(N²). The mapping onto its API::

    addPairwiseBilateral(sxy=σα, srgb=σβ, compat=w1)   appearance kernel
    addPairwiseGaussian(sxy=σγ, compat=w2)            smoothness kernel
    setUnaryEnergy(−log P)                            θ_i, float32, C-contiguous (C, H·W)

Its kernels are normalised symmetrically and include the self-pair — the ``"densecrf"``
convention of ``energy.kernel_matrix`` — and the lattice only approximates a Gaussian.
Chapter 04 measures how close it comes to the exact path.
"""

from __future__ import annotations

import numpy as np

from .energy import unary_energy
from .params import CRFParams, check_inputs


def dense_crf_pydensecrf(image: np.ndarray, probs: np.ndarray, params: CRFParams) -> np.ndarray:
    """Refine (C, H, W) probabilities with pydensecrf; returns float32 (C, H, W)."""
    check_inputs(image, probs)
    try:
        import pydensecrf.densecrf as dcrf
    except ImportError as error:  # pragma: no cover - pydensecrf2 is a dependency
        raise ImportError("method='pydensecrf' needs the pydensecrf2 package "
                          "(pip install pydensecrf2); method='torch' needs nothing extra") from error
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
    return q.reshape(c, h, w)
