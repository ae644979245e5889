"""Atrous convolution: the formula (explicit loop over taps) equals PyTorch's dilated conv."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from deeplab_edu import atrous
from deeplab_edu.runtime import seed_everything

SETTINGS = settings(max_examples=50, deadline=None)


@st.composite
def conv1d_cases(draw):
    """A random but valid 1-D problem: the dilated kernel always fits the padded input."""
    kernel = draw(st.integers(1, 5))
    rate = draw(st.integers(1, 6))
    before, after = draw(st.integers(0, 6)), draw(st.integers(0, 6))
    span = atrous.effective_kernel_size(kernel, rate)
    length = draw(st.integers(max(1, span - before - after), 40))
    return dict(batch=draw(st.integers(1, 2)), c_in=draw(st.integers(1, 3)),
                c_out=draw(st.integers(1, 3)), length=length, kernel=kernel, rate=rate,
                stride=draw(st.integers(1, 3)), padding=(before, after), seed=draw(st.integers(0, 999)))


@SETTINGS
@given(conv1d_cases(), st.booleans())
def test_formula_equals_conv1d_with_dilation(case, with_bias):
    g = torch.Generator().manual_seed(case["seed"])
    x = torch.randn(case["batch"], case["c_in"], case["length"], generator=g, dtype=torch.float64)
    w = torch.randn(case["c_out"], case["c_in"], case["kernel"], generator=g, dtype=torch.float64)
    b = torch.randn(case["c_out"], generator=g, dtype=torch.float64) if with_bias else None
    ours = atrous.atrous_conv1d(x, w, case["rate"], case["stride"], case["padding"], b)
    # conv1d pads symmetrically only, so the (before, after) zeros are added by F.pad
    theirs = F.conv1d(F.pad(x, case["padding"]), w, b, stride=case["stride"], dilation=case["rate"])
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs)
    assert ours.shape[-1] == atrous.output_length(case["length"], case["kernel"], case["rate"],
                                                  case["stride"], case["padding"])


@SETTINGS
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3),
       st.integers(0, 4), st.integers(0, 4), st.integers(1, 2), st.integers(1, 3), st.integers(0, 999))
def test_formula_equals_conv2d_with_dilation(kh, kw, rh, rw, stride, ph, pw, c_in, c_out, seed):
    g = torch.Generator().manual_seed(seed)
    h = max(1, atrous.effective_kernel_size(kh, rh) - 2 * ph) + seed % 7
    w_ = max(1, atrous.effective_kernel_size(kw, rw) - 2 * pw) + seed % 5
    x = torch.randn(2, c_in, h, w_, generator=g, dtype=torch.float64)
    w = torch.randn(c_out, c_in, kh, kw, generator=g, dtype=torch.float64)
    b = torch.randn(c_out, generator=g, dtype=torch.float64)
    ours = atrous.atrous_conv2d(x, w, (rh, rw), stride, (ph, pw), b)
    theirs = F.conv2d(x, w, b, stride=stride, padding=(ph, pw), dilation=(rh, rw))
    torch.testing.assert_close(ours, theirs)


def test_rate_one_is_ordinary_convolution():
    """r = 1 is the textbook sliding dot product; numpy's correlate is an independent reference."""
    seed_everything(0)
    x, w = np.random.randn(30), np.random.randn(4)
    ours = atrous.atrous_conv1d(torch.from_numpy(x), torch.from_numpy(w), rate=1).numpy()
    np.testing.assert_allclose(ours, np.correlate(x, w, mode="valid"))


@pytest.mark.parametrize("rate", [1, 2, 3])
@pytest.mark.parametrize("kernel", [1, 2, 3])
@pytest.mark.parametrize("stride", [1, 2])
def test_worked_example_by_arithmetic(rate, kernel, stride):
    """x[i] = i and an all-ones filter: y[i] = Σ_k (i·s + r·k) = K·i·s + r·K(K−1)/2."""
    x = torch.arange(20, dtype=torch.float64)
    y = atrous.atrous_conv1d(x, torch.ones(kernel, dtype=torch.float64), rate, stride)
    i = torch.arange(len(y), dtype=torch.float64)
    torch.testing.assert_close(y, kernel * i * stride + rate * kernel * (kernel - 1) / 2)


@SETTINGS
@given(st.integers(1, 6), st.integers(1, 8), st.integers(0, 999))
def test_zero_inserted_kernel_at_rate_one_equals_atrous(kernel, rate, seed):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(kernel, generator=g, dtype=torch.float64)
    dilated = atrous.dilate_kernel(w, rate)
    assert len(dilated) == atrous.effective_kernel_size(kernel, rate) == kernel + (kernel - 1) * (rate - 1)
    assert torch.count_nonzero(dilated) == torch.count_nonzero(w)
    torch.testing.assert_close(dilated[::rate], w)
    x = torch.randn(len(dilated) + 10, generator=g, dtype=torch.float64)
    torch.testing.assert_close(atrous.atrous_conv1d(x, dilated, rate=1), atrous.atrous_conv1d(x, w, rate=rate))


def test_dilate_kernel_in_two_dimensions_and_on_weight_tensors():
    w = torch.arange(1.0, 5.0).reshape(2, 2)
    expected = torch.tensor([[1.0, 0, 0, 2], [0, 0, 0, 0], [3, 0, 0, 4]])  # 2 + 1·(2−1) rows, 2 + 1·(3−1) cols
    torch.testing.assert_close(atrous.dilate_kernel(w, (2, 3)), expected)
    weights = torch.randn(5, 4, 3, 3)
    assert atrous.dilate_kernel(weights, 4).shape == (5, 4, 9, 9)
    assert atrous.dilate_kernel(torch.randn(5, 4, 3), 4).shape == (5, 4, 9)


@SETTINGS
@given(st.integers(1, 7), st.integers(1, 12), st.integers(1, 30))
def test_same_padding_keeps_the_length(kernel, rate, length):
    before, after = atrous.same_padding(kernel, rate)
    assert 0 <= after - before <= 1
    x = torch.zeros(1, 1, length)
    y = F.conv1d(F.pad(x, (before, after)), torch.ones(1, 1, kernel), dilation=rate)
    assert y.shape[-1] == length == atrous.output_length(length, kernel, rate, 1, (before, after))


def test_deeplab_largefov_padding():
    """fc6 of DeepLab-LargeFOV is 3 × 3 at rate 12: it spans 25 inputs and needs 12 zeros per side."""
    assert atrous.effective_kernel_size(3, 12) == 3 + 2 * 11 == 25
    assert atrous.same_padding(3, 12) == (12, 12)


@SETTINGS
@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 3), st.integers(0, 4), st.data())
def test_tap_positions_are_what_the_output_depends_on(kernel, rate, stride, padding, data):
    """Measured: back-propagate from one output; the input gradient is non-zero exactly at the taps."""
    length = atrous.effective_kernel_size(kernel, rate) + 12
    n_out = atrous.output_length(length, kernel, rate, stride, padding)
    i = data.draw(st.integers(0, n_out - 1))
    x = torch.zeros(1, 1, length, requires_grad=True)
    y = F.conv1d(x, torch.ones(1, 1, kernel), stride=stride, padding=padding, dilation=rate)
    y[0, 0, i].backward()
    measured = set(torch.nonzero(x.grad[0, 0]).flatten().tolist())
    taps = atrous.tap_positions(i, kernel, rate, stride, padding)
    assert measured == {t for t in taps if 0 <= t < length}
    assert taps[-1] - taps[0] + 1 == atrous.effective_kernel_size(kernel, rate)


def test_numpy_arrays_are_accepted():
    x, w = np.arange(8.0), np.array([1.0, -1.0])
    torch.testing.assert_close(atrous.atrous_conv1d(x, w, rate=3),
                               torch.from_numpy(x[:-3] - x[3:]))


@pytest.mark.parametrize("bad", [0, -2])
def test_rate_below_one_is_rejected(bad):
    with pytest.raises(ValueError, match="rate"):
        atrous.atrous_conv1d(torch.ones(10), torch.ones(3), rate=bad)
    with pytest.raises(ValueError, match="rate"):
        atrous.atrous_conv2d(torch.ones(10, 10), torch.ones(3, 3), rate=bad)


def test_non_integer_rate_is_rejected():
    with pytest.raises(ValueError, match="rate must be a positive integer"):
        atrous.atrous_conv1d(torch.ones(10), torch.ones(3), rate=1.5)
    with pytest.raises(TypeError, match="rate"):
        atrous.effective_kernel_size(3, "2")
    with pytest.raises(TypeError, match="rate"):
        atrous.dilate_kernel(torch.ones(3), True)
    # an integral float is still a count of samples
    assert atrous.effective_kernel_size(3, 2.0) == 5


def test_kernel_longer_than_padded_input_is_rejected():
    with pytest.raises(ValueError, match="kernel_size 3 at rate 4 spans 9 inputs"):
        atrous.atrous_conv1d(torch.ones(6), torch.ones(3), rate=4, padding=1)
    with pytest.raises(ValueError, match="kernel_size"):
        atrous.atrous_conv2d(torch.ones(1, 1, 20, 4), torch.ones(1, 1, 3, 3), rate=3)


def test_mismatched_shapes_are_rejected():
    with pytest.raises(ValueError, match="input channels"):
        atrous.atrous_conv1d(torch.ones(1, 2, 10), torch.ones(4, 3, 3))
    with pytest.raises(ValueError, match="input channels"):
        atrous.atrous_conv2d(torch.ones(1, 2, 10, 10), torch.ones(4, 3, 3, 3))
    with pytest.raises(ValueError, match="x must have shape"):
        atrous.atrous_conv1d(torch.ones(2, 10), torch.ones(1, 2, 3))
    with pytest.raises(ValueError, match="weight must have shape"):
        atrous.atrous_conv2d(torch.ones(1, 1, 10, 10), torch.ones(3, 3, 3))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        atrous.atrous_conv1d([1.0, 2.0, 3.0], torch.ones(2))
    with pytest.raises(ValueError, match="padding"):
        atrous.atrous_conv1d(torch.ones(10), torch.ones(3), padding=-1)
    with pytest.raises(ValueError, match="stride"):
        atrous.atrous_conv1d(torch.ones(10), torch.ones(3), stride=0)


def test_the_1d_figure_highlights_exactly_the_taps():
    import matplotlib.colors as mcolors
    import matplotlib.pyplot as plt

    from deeplab_edu.viz import atrous as viz

    x, w = np.arange(12.0), np.array([1.0, 2.0, -1.0])
    fig = viz.plot_atrous_1d(x, w, rate=3, output_index=2)
    cells = [p for p in fig.axes[0].patches if p.get_y() > 0]  # the input row
    red = [i for i, p in enumerate(cells) if mcolors.same_color(p.get_facecolor(), viz.TAP)]
    assert red == atrous.tap_positions(2, 3, 3) == [2, 5, 8]
    y2 = atrous.atrous_conv1d(torch.from_numpy(x), torch.from_numpy(w), rate=3)[2].item()
    assert fig.axes[0].get_title().endswith(f"= {y2:g}   (rate r = 3)")
    plt.close(fig)
    with pytest.raises(ValueError, match="output_index"):
        viz.plot_atrous_1d(x, w, rate=3, output_index=6)


@pytest.mark.parametrize("rate", [1, 3])
def test_the_1d_figure_weight_labels_do_not_overlap(rate):
    import matplotlib.pyplot as plt

    from deeplab_edu.viz import atrous as viz

    fig = viz.plot_atrous_1d(np.arange(12.0), np.array([1.0, 2.0, -1.0]), rate=rate, output_index=2)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in fig.axes[0].texts if t.get_text().startswith("w[")]
    assert len(boxes) == 3
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    plt.close(fig)
