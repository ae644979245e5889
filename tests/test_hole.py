"""The hole algorithm: zero insertion == space-to-batch == im2col == conv2d(dilation=r)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from deeplab_edu import hole
from deeplab_edu.atrous import effective_kernel_size
from deeplab_edu.runtime import seed_everything

SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def problems(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    rate, padding = draw(st.integers(1, 5)), draw(st.integers(0, 5))
    # any size at which the dilated kernel fits the padded input, odd and even alike
    h = draw(st.integers(max(1, effective_kernel_size(kh, rate) - 2 * padding), 24))
    w = draw(st.integers(max(1, effective_kernel_size(kw, rate) - 2 * padding), 24))
    g = torch.Generator().manual_seed(draw(st.integers(0, 999)))
    c_in, c_out, n = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    x = torch.randn(n, c_in, h, w, generator=g, dtype=torch.float64)
    weight = torch.randn(c_out, c_in, kh, kw, generator=g, dtype=torch.float64)
    bias = torch.randn(c_out, generator=g, dtype=torch.float64) if draw(st.booleans()) else None
    return x, weight, rate, padding, bias


@SETTINGS
@given(problems())
@pytest.mark.parametrize("method", ["zero_insert", "space_to_batch", "im2col"])
def test_every_method_equals_native_dilated_conv(method, problem):
    x, weight, rate, padding, bias = problem
    expected = F.conv2d(x, weight, bias, padding=padding, dilation=rate)
    torch.testing.assert_close(hole.hole_conv2d(x, weight, rate, padding, bias, method=method), expected)


@SETTINGS
@given(problems())
def test_im2col_is_unfold_with_dilation(problem):
    x, weight, rate, padding, _ = problem
    kernel = tuple(weight.shape[-2:])
    torch.testing.assert_close(hole.im2col(x, kernel, rate, padding),
                               F.unfold(x, kernel, dilation=rate, padding=padding))


@SETTINGS
@given(st.integers(1, 4), st.integers(1, 5), st.integers(1, 5), st.integers(1, 3), st.integers(0, 999))
def test_space_to_batch_holds_the_phases_and_inverts(rate, hq, wq, n, seed):
    x = torch.randn(n, 2, hq * rate, wq * rate, generator=torch.Generator().manual_seed(seed))
    phases = hole.space_to_batch(x, rate)
    assert phases.shape == (rate * rate * n, 2, hq, wq)
    for a in range(rate):
        for b in range(rate):
            start = (a * rate + b) * n
            torch.testing.assert_close(phases[start: start + n], x[:, :, a::rate, b::rate])
    torch.testing.assert_close(hole.batch_to_space(phases, rate), x)


def test_one_phase_convolved_with_the_original_filter():
    """The defining step of (b): phase (a, b) of the output is an undilated conv of phase (a, b) of the input."""
    seed_everything(0)
    rate, x, w = 3, torch.randn(1, 1, 18, 15), torch.randn(1, 1, 3, 3)
    y = F.conv2d(x, w, dilation=rate)
    for a in range(rate):
        for b in range(rate):
            torch.testing.assert_close(y[:, :, a::rate, b::rate], F.conv2d(x[:, :, a::rate, b::rate], w))


@SETTINGS
@given(st.integers(3, 30), st.integers(3, 30), st.sampled_from([1, 3, 5]), st.integers(1, 4),
       st.integers(0, 999))
def test_dense_extraction_contains_the_sparse_responses(h, w, k, factor, seed):
    """DeepLab v2 Fig. 3: atrous conv at full resolution computes the sparse responses and fills the gaps."""
    rng = np.random.default_rng(seed)
    image, kernel = rng.standard_normal((h, w)), rng.standard_normal((k, k))
    result = hole.sparse_vs_dense(image, kernel, factor)
    assert result.dense.shape == result.sparse_upsampled.shape == result.computed.shape == (h, w)
    assert result.sparse.shape == result.downsampled.shape == (math.ceil(h / factor), math.ceil(w / factor))
    np.testing.assert_allclose(result.dense[::factor, ::factor], result.sparse, atol=1e-10)
    np.testing.assert_allclose(result.sparse_upsampled[result.computed], result.sparse.ravel())
    assert result.computed.sum() == math.ceil(h / factor) * math.ceil(w / factor)
    np.testing.assert_array_equal(result.downsampled, image[::factor, ::factor])


def test_sparse_extraction_computes_a_quarter_of_the_positions():
    result = hole.sparse_vs_dense(np.ones((64, 64)), np.ones((3, 3)), factor=2)
    assert result.computed.mean() == 1 / 4
    # ... and the dense map is new information between them, not a copy of its neighbours
    seed_everything(0)
    result = hole.sparse_vs_dense(np.random.rand(32, 32), np.random.rand(3, 3), factor=2)
    gaps = ~result.computed
    assert np.abs(result.dense[gaps] - result.sparse_upsampled[gaps]).min() > 0


def _measured_footprint(rates, k):
    """Back-propagate from the centre output through all-ones dilated convs; count paths per input."""
    side = 1 + sum((k - 1) * r for r in rates)
    x = torch.zeros(1, 1, side, side, dtype=torch.float64, requires_grad=True)
    y = x
    for r in rates:
        y = F.conv2d(y, torch.ones(1, 1, k, k, dtype=torch.float64), dilation=r)
    assert y.shape[-2:] == (1, 1)
    y.sum().backward()
    return x.grad[0, 0].numpy()


@SETTINGS
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.sampled_from([1, 2, 3]))
def test_gridding_footprint_matches_backpropagation(rates, k):
    footprint = hole.gridding_footprint(rates, k)
    np.testing.assert_array_equal(footprint, _measured_footprint(rates, k))
    assert footprint.shape[0] == 1 + sum((k - 1) * r for r in rates)
    assert footprint.sum() == k ** (2 * len(rates))


@pytest.mark.parametrize("rate", [2, 3, 4])
def test_equal_rates_read_only_a_grid(rate):
    footprint = hole.gridding_footprint([rate, rate, rate])
    offsets = np.arange(footprint.shape[0])
    on_grid = (offsets[:, None] % rate == 0) & (offsets[None, :] % rate == 0)
    assert (footprint[~on_grid] == 0).all() and (footprint[on_grid] > 0).all()


def test_rates_without_a_common_factor_leave_no_holes():
    assert (hole.gridding_footprint([1, 2, 3]) > 0).all()


def _measured_valid_fraction(n, rate, k):
    """Convolve a map of ones with ones, zero-padded: each output counts its taps inside the map."""
    ones = torch.ones(1, 1, n, n, dtype=torch.float64)
    counts = F.conv2d(ones, torch.ones(1, 1, k, k, dtype=torch.float64), padding=rate * (k - 1) // 2, dilation=rate)
    assert counts.shape[-1] == n  # the size-keeping padding
    return counts.mean().item() / k**2


@pytest.mark.parametrize("n", [5, 17, 65])
@pytest.mark.parametrize("rate", [1, 2, 6, 12, 24, 36, 64, 65, 100])
def test_valid_tap_fraction_matches_a_measurement(n, rate):
    assert hole.valid_tap_fraction(n, rate) == pytest.approx(_measured_valid_fraction(n, rate, 3))


@pytest.mark.parametrize("n", [17, 41])
@pytest.mark.parametrize("k, rate", [(4, 4), (4, 8), (3, 12), (7, 4)])
def test_valid_tap_fraction_of_v1s_fc6_designs_matches_a_measurement(n, k, rate):
    assert hole.valid_tap_fraction(n, rate, kernel_size=k) == pytest.approx(_measured_valid_fraction(n, rate, k))


def test_valid_tap_fraction_limits():
    # r = 1: per row, 3n taps minus the two that hang over the ends
    assert hole.valid_tap_fraction(65, 1) == pytest.approx(((3 * 65 - 2) / (3 * 65)) ** 2)
    # r ≥ n: every off-centre tap is padding, the filter is its centre: 1 of 9 weights
    assert hole.valid_tap_fraction(65, 65) == pytest.approx(1 / 9)
    assert hole.valid_tap_fraction(65, 500, kernel_size=5) == pytest.approx(1 / 25)


def test_bad_arguments_are_named():
    x, w = torch.ones(1, 2, 10, 10), torch.ones(3, 2, 3, 3)
    with pytest.raises(ValueError, match="method must be one of"):
        hole.hole_conv2d(x, w, 2, method="fft")
    with pytest.raises(ValueError, match="rate"):
        hole.conv2d_space_to_batch(x, w, 0)
    with pytest.raises(ValueError, match="rate must be a positive integer"):
        hole.conv2d_im2col(x, w, 1.5)
    with pytest.raises(ValueError, match="input channels"):
        hole.conv2d_zero_insert(torch.ones(1, 3, 10, 10), w, 2)
    with pytest.raises(ValueError, match="weight spans 13 inputs at rate 6"):
        hole.conv2d_native(x, w, 6)
    with pytest.raises(ValueError, match="x must have shape"):
        hole.conv2d_native(torch.ones(10, 10), w, 1)
    with pytest.raises(ValueError, match="multiples of rate 3"):
        hole.space_to_batch(torch.ones(1, 1, 7, 9), 3)
    with pytest.raises(ValueError, match="image must be"):
        hole.sparse_vs_dense(np.ones((4, 4, 3)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="kernel must be"):
        hole.sparse_vs_dense(np.ones((8, 8)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="rates"):
        hole.gridding_footprint([2, 0])
    with pytest.raises(ValueError, match="size-keeping padding"):
        hole.valid_tap_fraction(10, 1, kernel_size=2)


def test_figures_draw_what_the_functions_computed():
    import matplotlib.pyplot as plt

    from deeplab_edu.viz import atrous as viz

    footprints = {"r=2,2": hole.gridding_footprint([2, 2]), "r=1,2": hole.gridding_footprint([1, 2])}
    fig = viz.plot_gridding(footprints)
    for ax, footprint in zip(fig.axes, footprints.values()):
        assert ax.get_title().endswith(f"{int((footprint == 0).sum())} never read")
    plt.close(fig)

    result = hole.sparse_vs_dense(np.random.default_rng(0).random((20, 20)), np.ones((3, 3)), factor=2)
    fig = viz.plot_sparse_dense(result, crop=8)
    # full-resolution input, downsampled input, sparse, dense; then the responses' colour bar
    assert [ax.images[0].get_array().shape for ax in fig.axes[:4]] == [(8, 8), (4, 4), (8, 8), (8, 8)]
    assert fig.axes[4].get_ylabel() == "filter response"
    plt.close(fig)

    image = np.random.default_rng(1).random((12, 12))
    x, w = torch.from_numpy(image)[None, None], torch.ones(1, 1, 3, 3, dtype=torch.float64)
    outputs = {m: hole.hole_conv2d(x, w, 2, 2, method=m)[0, 0].numpy() for m in hole.METHODS}
    outputs["wrong"] = outputs["native"] + 0.5
    fig = viz.plot_hole_methods(image, outputs)
    assert fig.axes[-1].get_title().endswith("5.0e-01")
    plt.close(fig)


def test_score_map_size_follows_the_output_stride_k_plus_one_convention():
    assert hole.score_map_size(321, 8) == 41 and hole.score_map_size(513, 16) == 33
    assert hole.score_map_size(129, 8) == 17 and hole.score_map_size(129, 16) == 9
    with pytest.raises(ValueError, match="output_stride"):
        hole.score_map_size(129, 0)


@given(rate=st.integers(1, 30), kernel=st.integers(2, 7), n=st.integers(1, 80))
def test_a_scaled_rate_keeps_the_filter_valid_and_the_paper_rate_at_the_paper_size(rate, kernel, n):
    if rate * (kernel - 1) % 2:
        rate += 1  # the paper's rates keep the size
    assert hole.scaled_rate(rate, 41, kernel_size=kernel) == rate
    r = hole.scaled_rate(rate, n, kernel_size=kernel)
    assert r >= 1 and r * (kernel - 1) % 2 == 0
    hole.valid_tap_fraction(n, r, kernel)  # a size-keeping filter: no error
    # The share of the map the filter spans stays the paper's, up to rounding to a valid rate.
    assert abs(r - rate * n / 41) <= (1 if kernel % 2 else 2) or r == (1 if kernel % 2 else 2)


def test_chapter_07s_scaled_rates():
    cells = hole.score_map_size(129, 8)
    assert (hole.scaled_rate(12, cells), hole.scaled_rate(4, cells, kernel_size=4)) == (5, 2)
