"""The fully-connected CRF's energy, written out over all pairs of pixels (small images only).

DeepLab v1 (Chen et al., ICLR 2015, §4.3, eq. 1–2) labels the image x by minimising::

    E(x) = Σ_i θ_i(x_i) + Σ_{i<j} θ_ij(x_i, x_j)

    θ_i(x_i)      = −log P(x_i)                                  (the network's probability)
    θ_ij(x_i,x_j) = μ(x_i, x_j) · k(i, j),   μ = [x_i ≠ x_j]       (Potts)
    k(i, j)       = w1 · exp(−‖p_i−p_j‖²/2σα² − ‖I_i−I_j‖²/2σβ²)  (appearance)
                  + w2 · exp(−‖p_i−p_j‖²/2σγ²)                    (smoothness)

Every pixel is connected to every other one: the pairwise table is N × N, exact and only
possible for a few thousand pixels (the fast paths never build it). Two conventions matter:

``"paper"``
    k(i, j) exactly as above, no self-pair (j ≠ i): Krähenbühl & Koltun (NIPS 2011) eq. 3 and
    Algorithm 1 as printed.
``"densecrf"``
    what Krähenbühl's released code does (``densecrf``, wrapped by pydensecrf, used by DeepLab):
    each Gaussian kernel K_m *includes* the self-pair and is normalised symmetrically,
    D_m^{-1/2} K_m D_m^{-1/2} with D_m = diag(K_m 1). The weights w1, w2 the DeepLab papers
    report were tuned in this convention (a raw kernel with σα = 121 sums to thousands).
"""

from __future__ import annotations

import numpy as np

from deeplab_edu import validate

from .params import CRFParams

CONVENTIONS = ("densecrf", "paper")
MAX_EXACT_PIXELS = 6400  # an 80 × 80 image: the N × N float64 table is 330 MB at this size


def unary_energy(probs: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """θ_i(l) = −log P_i(l), with P clipped to ``eps`` so a zero probability stays finite."""
    return -np.log(np.clip(np.asarray(probs, dtype=np.float64), eps, 1.0))


def _positions(h: int, w: int) -> np.ndarray:
    ys, xs = np.mgrid[0:h, 0:w]
    return np.stack([ys.ravel(), xs.ravel()], axis=1).astype(np.float64)  # (N, 2) as (y, x)


def _check_pixel(shape: tuple[int, int], pixel: tuple[int, int]) -> tuple[int, int]:
    y, x = pixel
    if not (0 <= y < shape[0] and 0 <= x < shape[1]):
        raise ValueError(f"pixel {pixel} lies outside the {shape[0]} x {shape[1]} image")
    return int(y), int(x)


def appearance_kernel(image: np.ndarray, pixel: tuple[int, int], sigma_alpha: float,
                      sigma_beta: float) -> np.ndarray:
    """exp(−‖p_i−p_j‖²/2σα² − ‖I_i−I_j‖²/2σβ²) for the chosen pixel i and every j: an H × W map.

    Nearby pixels *of similar colour* get a high affinity: the kernel that snaps labels to edges.
    """
    image = np.asarray(image, dtype=np.float64)
    y, x = _check_pixel(image.shape[:2], pixel)
    ys, xs = np.mgrid[0:image.shape[0], 0:image.shape[1]]
    dist2 = (ys - y) ** 2 + (xs - x) ** 2
    colour2 = ((image - image[y, x]) ** 2).sum(-1)
    return np.exp(-dist2 / (2 * sigma_alpha**2) - colour2 / (2 * sigma_beta**2))


def smoothness_kernel(shape: tuple[int, int], pixel: tuple[int, int], sigma_gamma: float) -> np.ndarray:
    """exp(−‖p_i−p_j‖²/2σγ²) for the chosen pixel i: a small round blob, blind to colour,
    that removes isolated specks."""
    y, x = _check_pixel(shape, pixel)
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]]
    return np.exp(-((ys - y) ** 2 + (xs - x) ** 2) / (2 * sigma_gamma**2))


def gaussian_kernels(image: np.ndarray, params: CRFParams) -> tuple[np.ndarray, np.ndarray]:
    """The two raw N × N kernel tables (appearance, smoothness), self-pairs included (= 1)."""
    h, w = image.shape[:2]
    if h * w > MAX_EXACT_PIXELS:
        raise ValueError(f"the exact CRF holds all N² pixel pairs and allows at most "
                         f"{MAX_EXACT_PIXELS} pixels; this image has {h * w}. "
                         "Use method='pydensecrf' or method='torch' for larger images.")
    pos = _positions(h, w)
    colour = np.asarray(image, dtype=np.float64).reshape(-1, 3)
    dist2 = ((pos[:, None, :] - pos[None, :, :]) ** 2).sum(-1)
    colour2 = ((colour[:, None, :] - colour[None, :, :]) ** 2).sum(-1)
    appearance = np.exp(-dist2 / (2 * params.sigma_alpha**2) - colour2 / (2 * params.sigma_beta**2))
    smoothness = np.exp(-dist2 / (2 * params.sigma_gamma**2))
    return appearance, smoothness


def kernel_matrix(image: np.ndarray, params: CRFParams, convention: str = "densecrf") -> np.ndarray:
    """k(i, j) for every pair, as an N × N matrix (pixels in row-major order); see the module
    docstring for the two conventions."""
    validate.choice(convention, "convention", CONVENTIONS)
    appearance, smoothness = gaussian_kernels(image, params)
    if convention == "paper":
        k = params.w1 * appearance + params.w2 * smoothness
        np.fill_diagonal(k, 0.0)
        return k
    total = np.zeros_like(appearance)
    for weight, kernel in ((params.w1, appearance), (params.w2, smoothness)):
        scale = 1.0 / np.sqrt(kernel.sum(1))
        total += weight * scale[:, None] * kernel * scale[None, :]
    return total


def gibbs_energy(labels: np.ndarray, probs: np.ndarray, kernel: np.ndarray) -> float:
    """E(x) = Σ_i θ_i(x_i) + Σ_{i<j} [x_i ≠ x_j] k(i, j) for one labelling x (H × W)."""
    unary = unary_energy(probs).reshape(probs.shape[0], -1)
    x = np.asarray(labels).ravel()
    unary_term = unary[x, np.arange(x.size)].sum()
    differ = x[:, None] != x[None, :]
    off_diagonal = kernel - np.diag(np.diag(kernel))  # a pixel never disagrees with itself
    return float(unary_term + 0.5 * (off_diagonal * differ).sum())  # ½Σ_{i≠j} = Σ_{i<j}


def free_energy(q: np.ndarray, probs: np.ndarray, kernel: np.ndarray) -> float:
    """The mean-field objective F(Q) = E_Q[E(x)] − H(Q) = KL(Q ‖ P) − log Z.

    Mean-field minimises KL(Q ‖ P) over factorised Q; log Z does not depend on Q, so F falls
    exactly when the KL does. With Potts μ, E_Q[θ_ij] = k(i, j)·(1 − Σ_l Q_i(l) Q_j(l)).
    """
    c = probs.shape[0]
    q = q.reshape(c, -1)
    unary = unary_energy(probs).reshape(c, -1)
    off_diagonal = kernel - np.diag(np.diag(kernel))
    agree = q.T @ q  # (N, N): probability that pixels i and j take the same label
    pairwise = 0.5 * (off_diagonal * (1.0 - agree)).sum()
    entropy = -(q * np.log(np.clip(q, 1e-300, None))).sum()
    return float((q * unary).sum() + pairwise - entropy)
