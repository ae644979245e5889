"""Exact mean-field inference for the fully-connected CRF: every pixel pair, as written.

Krähenbühl & Koltun, *Efficient Inference in Fully Connected CRFs with Gaussian Edge
Potentials* (NIPS 2011), §3, Algorithm 1. Approximate P(x) ∝ exp(−E(x)) by a product of
per-pixel distributions Q_i and repeat, for every pixel at once::

    Q_i(l) ← exp(−θ_i(l))                                  initialise (= the network's P)
    Q̃_i(l) = Σ_j k(i, j) Q_j(l)                              message passing
    Q̂_i(l) = Σ_{l'} μ(l, l') Q̃_i(l') = Σ_{l'} Q̃_i(l') − Q̃_i(l)   Potts compatibility
    Q_i(l) ← exp(−θ_i(l) − Q̂_i(l)) / Z_i                      local update and normalise

Message passing over all pairs is one N × N matrix product here; that is what makes this the
reference, and what limits it to small images. DeepLab v1 (ICLR 2015, §4.3) runs 10 iterations.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .energy import free_energy, kernel_matrix, unary_energy
from .params import CRFParams, check_inputs


def _softmax(neg_energy: np.ndarray) -> np.ndarray:
    shifted = neg_energy - neg_energy.max(0, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(0, keepdims=True)


def mean_field_update(q: np.ndarray, unary: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """One parallel mean-field step on flattened (C, N) arrays: Algorithm 1's loop body."""
    message = q @ kernel.T  # Q̃_i(l) = Σ_j k(i, j) Q_j(l)
    compatibility = message.sum(0, keepdims=True) - message  # Potts: sum over the other labels
    return _softmax(-unary - compatibility)


def mean_field_steps(image: np.ndarray, probs: np.ndarray, params: CRFParams,
                     convention: str = "densecrf") -> Iterator[tuple[int, np.ndarray, float]]:
    """Yield ``(t, Q_t, F(Q_t))`` for t = 0 (the network's P) .. ``params.iterations``.

    F is the mean-field objective (``energy.free_energy``); watching it is the lesson.
    """
    check_inputs(image, probs)
    image = np.asarray(image)
    probs = np.asarray(probs, dtype=np.float64)
    c, h, w = probs.shape
    kernel = kernel_matrix(image, params, convention)
    unary = unary_energy(probs).reshape(c, -1)
    q = _softmax(-unary)
    yield 0, q.reshape(c, h, w), free_energy(q, probs, kernel)
    for t in range(1, params.iterations + 1):
        q = mean_field_update(q, unary, kernel)
        yield t, q.reshape(c, h, w), free_energy(q, probs, kernel)


def mean_field_exact(image: np.ndarray, probs: np.ndarray, params: CRFParams,
                     convention: str = "densecrf") -> np.ndarray:
    """The refined probabilities Q after ``params.iterations`` exact steps, (C, H, W) float64."""
    *_, (_, q, _) = mean_field_steps(image, probs, params, convention)
    return q
