"""Mean-field three ways — exact (all pairs), PyTorch, pydensecrf — held together."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deeplab_edu.crf import METHODS, CRFParams, dense_crf, kernel_matrix, mean_field_steps, mean_field_torch
from deeplab_edu.crf.energy import unary_energy
from deeplab_edu.crf.meanfield import mean_field_update

from crf_cases import disc_scene

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _update_loops(q, unary, image, params):
    """One step of Krähenbühl & Koltun's Algorithm 1 with every sum written as a loop."""
    c, h, w = q.shape
    pixels = [(y, x) for y in range(h) for x in range(w)]
    new = np.empty_like(q)
    for i in pixels:
        q_hat = np.zeros(c)
        for label in range(c):
            for j in pixels:
                if j == i:
                    continue
                d2 = (i[0] - j[0]) ** 2 + (i[1] - j[1]) ** 2
                c2 = ((image[i].astype(float) - image[j]) ** 2).sum()
                k = (params.w1 * np.exp(-d2 / (2 * params.sigma_alpha**2) - c2 / (2 * params.sigma_beta**2))
                     + params.w2 * np.exp(-d2 / (2 * params.sigma_gamma**2)))
                for other in range(c):  # Potts: μ(label, other) = [label ≠ other]
                    q_hat[label] += (label != other) * k * q[other][j]
        logits = -unary[:, i[0], i[1]] - q_hat
        new[:, i[0], i[1]] = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    return new


def test_matrix_update_equals_the_algorithm_written_as_loops():
    image, _, probs = disc_scene(4, 5, seed=2)
    params = CRFParams(w1=1.0, sigma_alpha=3.0, sigma_beta=30.0, w2=0.5, sigma_gamma=1.5)
    unary = unary_energy(probs)
    q = probs.astype(np.float64)
    fast = mean_field_update(q.reshape(3, -1), unary.reshape(3, -1), kernel_matrix(image, params, "paper"))
    np.testing.assert_allclose(fast.reshape(q.shape), _update_loops(q, unary, image, params), atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(h=st.integers(3, 14), w=st.integers(3, 14), seed=st.integers(0, 1000),
       w1=st.floats(0, 10), w2=st.floats(0, 10), sigma_alpha=st.floats(0.5, 50),
       sigma_beta=st.floats(1, 60), sigma_gamma=st.floats(0.3, 5), iterations=st.integers(0, 4),
       convention=st.sampled_from(["densecrf", "paper"]))
def test_torch_path_equals_exact_path(h, w, seed, w1, w2, sigma_alpha, sigma_beta, sigma_gamma,
                                      iterations, convention):
    image, _, probs = disc_scene(h, w, seed)
    params = CRFParams(w1, sigma_alpha, sigma_beta, w2, sigma_gamma, iterations)
    probs = probs.astype(np.float64)
    *_, (_, exact, _) = mean_field_steps(image, probs, params, convention)
    fast = mean_field_torch(torch.from_numpy(image), torch.from_numpy(probs), params, convention)
    # Only the smoothness kernel's 6σγ truncation separates them (exp(−18) ≈ 2e−8 per pair).
    np.testing.assert_allclose(fast.numpy(), exact, atol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_torch_path_runs_on_the_device_of_its_tensors(device):
    image, _, probs = disc_scene(16, 20)
    params = CRFParams(w1=4, sigma_alpha=8, sigma_beta=10, iterations=3)
    out = mean_field_torch(torch.from_numpy(image).to(device), torch.from_numpy(probs).to(device), params)
    assert out.device.type == device and out.dtype == torch.float32
    exact = dense_crf(image, probs.astype(np.float64), params, method="exact")
    np.testing.assert_allclose(out.cpu().numpy(), exact, atol=1e-4)  # float32 against float64


def test_chunked_appearance_kernel_equals_the_cached_table(monkeypatch):
    from deeplab_edu.crf import torch_meanfield

    image, _, probs = disc_scene(12, 13)
    params = CRFParams(w1=4, sigma_alpha=8, sigma_beta=10, iterations=3)
    args = torch.from_numpy(image), torch.from_numpy(probs).double(), params
    cached = mean_field_torch(*args)
    monkeypatch.setattr(torch_meanfield, "_CACHE_ELEMENTS", 0)
    monkeypatch.setattr(torch_meanfield, "_CHUNK_ELEMENTS", 1000)  # chunks of 5 target pixels
    torch.testing.assert_close(mean_field_torch(*args), cached)


def test_source_stride_is_an_approximation_that_keeps_the_labels():
    image, _, probs = disc_scene(48, 48)
    params = CRFParams(w1=4, sigma_alpha=40, sigma_beta=10, iterations=5)
    exact = mean_field_torch(torch.from_numpy(image), torch.from_numpy(probs).double(), params)
    strided = mean_field_torch(torch.from_numpy(image), torch.from_numpy(probs).double(), params,
                               source_stride=3)
    torch.testing.assert_close(strided.sum(0), torch.ones(48, 48, dtype=torch.float64))
    assert (strided.argmax(0) == exact.argmax(0)).double().mean() > 0.99


@pytest.mark.parametrize("method", sorted(METHODS))
def test_without_pairwise_terms_the_crf_returns_the_network_probabilities(method):
    image, _, probs = disc_scene(10, 12)
    out = dense_crf(image, probs, CRFParams(w1=0, w2=0, iterations=5), method=method)
    np.testing.assert_allclose(out, probs, atol=1e-5)  # Q = softmax(−θ) = softmax(log P) = P
    out = dense_crf(image, probs, CRFParams(iterations=0), method=method)
    np.testing.assert_allclose(out, probs, atol=1e-5)


@pytest.mark.parametrize("params", [
    CRFParams(w1=4, sigma_alpha=10, sigma_beta=15, w2=3, sigma_gamma=3, iterations=5),
    CRFParams(w1=5, sigma_alpha=30, sigma_beta=5, w2=0, sigma_gamma=1, iterations=10),
    CRFParams(w1=0, w2=3, sigma_gamma=2, iterations=10),
])
@pytest.mark.slow
def test_pydensecrf_approximates_the_exact_path(params):
    """The lattice approximates the Gaussian: nearly every label agrees, probabilities are close,
    and much closer than to the exact result of *other* parameters (catches a mixed-up mapping)."""
    image, _, probs = disc_scene(40, 48, seed=1)
    lattice = dense_crf(image, probs, params, method="pydensecrf")
    exact = dense_crf(image, probs.astype(np.float64), params, method="exact")
    assert (lattice.argmax(0) == exact.argmax(0)).mean() >= 0.99
    error = np.abs(lattice - exact).mean()
    assert error < 0.01
    swapped = params.replace(sigma_alpha=params.sigma_beta, sigma_beta=params.sigma_alpha,
                             w1=params.w2, w2=params.w1)
    for wrong in (dict(params=swapped), dict(params=params, convention="paper")):
        *_, (_, other, _) = mean_field_steps(image, probs.astype(np.float64), **wrong)
        assert error < 0.5 * np.abs(lattice - other).mean()


def test_mean_field_lowers_the_objective_and_reaches_a_fixed_point():
    image, _, probs = disc_scene(20, 24, seed=4)
    params = CRFParams(w1=4, sigma_alpha=10, sigma_beta=15, w2=3, sigma_gamma=3, iterations=30)
    steps = list(mean_field_steps(image, probs.astype(np.float64), params))
    energies = [f for _, _, f in steps]
    assert energies[-1] < energies[0]
    np.testing.assert_allclose(steps[-1][1], steps[-2][1], atol=1e-4)  # Q = update(Q): converged


# --- the strided appearance kernel against the exact kernel matrix -----------------------------

def _strided_appearance_matrix(image, params, stride):
    """What `source_stride = s` promises, built from the exact N × N table: every s-th pixel
    (rows and columns, from s // 2) sends s² times its exact affinity, and every pixel's
    self-pair counts exactly once (k(i, i) = 1), sender or not."""
    from deeplab_edu.crf.energy import gaussian_kernels

    h, w = image.shape[:2]
    appearance, _ = gaussian_kernels(image, params)
    senders = np.zeros((h, w), dtype=bool)
    senders[stride // 2::stride, stride // 2::stride] = True
    matrix = appearance * (stride * stride) * senders.ravel()[None, :]
    np.fill_diagonal(matrix, 1.0)
    return matrix


@pytest.mark.parametrize("stride", [2, 3])
def test_strided_appearance_kernel_is_the_exact_table_subsampled_with_one_self_pair(stride):
    from deeplab_edu.crf.torch_meanfield import _AppearanceKernel

    image, _, _ = disc_scene(11, 13, seed=4)
    params = CRFParams(w1=4, sigma_alpha=6, sigma_beta=8)
    kernel = _AppearanceKernel(torch.from_numpy(image), params, torch.float64, stride)
    identity = torch.eye(11 * 13, dtype=torch.float64)
    applied = kernel.apply(identity).numpy().T  # apply(e_j) is column j of the matrix
    np.testing.assert_allclose(applied, _strided_appearance_matrix(image, params, stride), atol=1e-12)


@pytest.mark.parametrize("convention", ["densecrf", "paper"])
def test_strided_torch_path_is_exact_meanfield_on_the_strided_table(convention):
    # The whole path, on a noisy image with a small σβ (where a pixel's own affinity is most of
    # its kernel mass): mean-field with the strided table, written with the exact update.
    image, _, probs = disc_scene(12, 12, seed=5)
    params = CRFParams(w1=5, sigma_alpha=6, sigma_beta=4, w2=0, sigma_gamma=1, iterations=4)
    matrix = _strided_appearance_matrix(image, params, 3)
    if convention == "densecrf":
        scale = 1 / np.sqrt(matrix.sum(1))
        kernel = params.w1 * scale[:, None] * matrix * scale[None, :]
    else:
        kernel = params.w1 * (matrix - np.eye(len(matrix)))
    unary = unary_energy(probs.astype(np.float64)).reshape(3, -1)
    q = np.exp(-unary) / np.exp(-unary).sum(0)
    for _ in range(params.iterations):
        q = mean_field_update(q, unary, kernel)
    fast = mean_field_torch(torch.from_numpy(image), torch.from_numpy(probs).double(), params,
                            convention, source_stride=3)
    np.testing.assert_allclose(fast.numpy().reshape(3, -1), q, atol=1e-9)
