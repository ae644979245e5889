"""The check every CRF method makes on its way out: finite probabilities, or an error naming
the parameters (``check_inputs`` in ``params`` is the one on the way in)."""

from __future__ import annotations

import numpy as np
import torch

from .params import CRFParams


def check_finite_output(q, params: CRFParams, method: str):
    """Raise naming the parameters when a CRF method returns NaN or infinity; return ``q``."""
    finite = bool(torch.isfinite(q).all()) if isinstance(q, torch.Tensor) else bool(np.isfinite(q).all())
    if not finite:
        raise ValueError(f"the dense CRF (method {method!r}) produced NaN or infinite probabilities with {params}; "
                         "the bandwidths σ are probably too small for this image")
    return q
