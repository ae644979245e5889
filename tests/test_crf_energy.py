"""The CRF energy over all pairs: kernels, Gibbs energy, and the mean-field objective."""

import itertools

import numpy as np
import pytest

from deeplab_edu.crf import (CRFParams, appearance_kernel, free_energy, gibbs_energy,
                             kernel_matrix, smoothness_kernel, unary_energy)
from deeplab_edu.crf.energy import gaussian_kernels

from crf_cases import disc_scene

PARAMS = CRFParams(w1=2.0, sigma_alpha=5.0, sigma_beta=20.0, w2=1.5, sigma_gamma=2.0)


def test_kernel_value_from_the_formula():
    image = np.zeros((6, 6, 3), dtype=np.uint8)
    image[4, 5] = (30, 0, 40)  # colour distance 50 from the black pixel (1, 1)
    k = appearance_kernel(image, (1, 1), sigma_alpha=5.0, sigma_beta=20.0)
    # ‖p_i − p_j‖ = 5 (a 3-4-5 triangle), ‖I_i − I_j‖ = 50
    assert k[4, 5] == pytest.approx(np.exp(-25 / 50 - 2500 / 800))
    assert k[1, 1] == 1.0
    s = smoothness_kernel((6, 6), (1, 1), sigma_gamma=2.0)
    assert s[4, 5] == pytest.approx(np.exp(-25 / 8))


def test_affinity_maps_are_rows_of_the_pair_tables():
    image, _, _ = disc_scene(7, 8)
    appearance, smoothness = gaussian_kernels(image, PARAMS)
    for pixel in [(0, 0), (3, 5), (6, 7)]:
        row = pixel[0] * 8 + pixel[1]
        np.testing.assert_allclose(appearance_kernel(image, pixel, 5.0, 20.0).ravel(), appearance[row])
        np.testing.assert_allclose(smoothness_kernel((7, 8), pixel, 2.0).ravel(), smoothness[row])
    paper = kernel_matrix(image, PARAMS, "paper")
    np.testing.assert_allclose(paper, (2.0 * appearance + 1.5 * smoothness) * (1 - np.eye(56)))


def test_densecrf_convention_is_symmetric_normalisation():
    image, _, _ = disc_scene(6, 7)
    appearance, smoothness = gaussian_kernels(image, PARAMS)
    k = kernel_matrix(image, PARAMS, "densecrf")
    np.testing.assert_allclose(k, k.T)
    d_a, d_s = appearance.sum(1), smoothness.sum(1)
    i, j = 4, 17
    expected = 2.0 * appearance[i, j] / np.sqrt(d_a[i] * d_a[j]) + 1.5 * smoothness[i, j] / np.sqrt(d_s[i] * d_s[j])
    assert k[i, j] == pytest.approx(expected)


def _gibbs_loops(labels, probs, params):
    """E(x) pair by pair, straight from DeepLab v1 eq. 1–2."""
    h, w = labels.shape
    pixels = [(y, x) for y in range(h) for x in range(w)]
    energy = sum(-np.log(probs[labels[p], p[0], p[1]]) for p in pixels)
    for a, b in itertools.combinations(pixels, 2):
        if labels[a] != labels[b]:
            d2 = (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2
            c2 = ((image_of_test[a].astype(float) - image_of_test[b]) ** 2).sum()
            energy += params.w1 * np.exp(-d2 / (2 * params.sigma_alpha**2) - c2 / (2 * params.sigma_beta**2))
            energy += params.w2 * np.exp(-d2 / (2 * params.sigma_gamma**2))
    return energy


image_of_test, _, probs_of_test = disc_scene(4, 5, seed=3)


def test_gibbs_energy_equals_the_pair_by_pair_sum():
    rng = np.random.default_rng(1)
    k = kernel_matrix(image_of_test, PARAMS, "paper")
    for _ in range(3):
        labels = rng.integers(0, 3, size=(4, 5))
        assert gibbs_energy(labels, probs_of_test, k) == pytest.approx(_gibbs_loops(labels, probs_of_test, PARAMS))


def test_free_energy_of_a_certain_labelling_is_its_energy():
    k = kernel_matrix(image_of_test, PARAMS, "paper")
    labels = probs_of_test.argmax(0)
    q = np.eye(3)[labels].transpose(2, 0, 1)
    assert free_energy(q, probs_of_test, k) == pytest.approx(gibbs_energy(labels, probs_of_test, k))


def test_free_energy_is_kl_minus_log_partition_function():
    # 2 × 3 pixels, 2 labels: 64 labellings, few enough to enumerate P(x) ∝ exp(−E(x)).
    image, _, probs3 = disc_scene(2, 3, seed=5)
    probs = np.stack([probs3[0], probs3[1] + probs3[2]])
    k = kernel_matrix(image, PARAMS, "paper")
    labellings = [np.array(x).reshape(2, 3) for x in itertools.product([0, 1], repeat=6)]
    energies = np.array([gibbs_energy(x, probs, k) for x in labellings])
    log_z = np.log(np.exp(-energies).sum())
    q = np.random.default_rng(0).dirichlet([1, 1], size=6).T.reshape(2, 2, 3)
    q_of_x = np.array([np.prod([q[x.ravel()[i], i // 3, i % 3] for i in range(6)]) for x in labellings])
    kl = (q_of_x * (np.log(q_of_x) + energies + log_z)).sum()  # Σ Q log(Q / P), log P = −E − log Z
    assert free_energy(q, probs, k) == pytest.approx(kl - log_z)


def test_unary_is_negative_log_probability_and_finite_at_zero():
    probs = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    u = unary_energy(probs)
    assert u[0, 0, 0] == 0 and np.isfinite(u).all() and u[0, 0, 1] == pytest.approx(-np.log(1e-8))


def test_exact_path_refuses_large_images_and_unknown_conventions():
    with pytest.raises(ValueError, match="at most 6400 pixels"):
        kernel_matrix(np.zeros((100, 100, 3), np.uint8), PARAMS)
    with pytest.raises(ValueError, match="convention"):
        kernel_matrix(image_of_test, PARAMS, "krahenbuhl")
    with pytest.raises(ValueError, match="outside"):
        appearance_kernel(image_of_test, (4, 0), 5.0, 20.0)
