"""The receptive-field explorer, driven headlessly: move a slider, read the result, see the figure change."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from deeplab_edu import receptive_field as rf
from deeplab_edu.viz import receptive_field as viz
from deeplab_edu.widgets.receptive_field import LIMITS, field_explorer


def _pixels(figure: plt.Figure) -> np.ndarray:
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba()).copy()


def _sliders(explorer):
    return {slider.description: slider for slider in explorer.kwargs_widgets}


def test_explorer_starts_with_the_closed_form_field():
    explorer = field_explorer(kernel=3, stride=1, rate=1, depth=3)
    assert set(_sliders(explorer)) == set(LIMITS)
    assert explorer.result.receptive_field == rf.stack_field(3, 1, 1, 3)
    assert explorer.result.output_stride == 1


@pytest.mark.parametrize("name, value, expected", [
    ("kernel", 5, (rf.stack_field(5, 1, 1, 3), 1)),
    ("stride", 2, (rf.stack_field(3, 2, 1, 3), 8)),
    ("rate", 4, (rf.stack_field(3, 1, 4, 3), 1)),
    ("depth", 5, (rf.stack_field(3, 1, 1, 5), 1)),
])
@pytest.mark.slow
def test_moving_a_slider_redraws_field_and_output_stride(name, value, expected):
    explorer = field_explorer(kernel=3, stride=1, rate=1, depth=3)
    before = _pixels(plt.figure(plt.get_fignums()[-1]))
    _sliders(explorer)[name].value = value
    assert (explorer.result.receptive_field, explorer.result.output_stride) == expected
    after_figure = plt.figure(plt.get_fignums()[-1])
    assert str(expected[0]) in after_figure.axes[0].get_title()
    after = _pixels(after_figure)
    assert before.shape != after.shape or not np.array_equal(before, after)


@pytest.mark.slow
def test_largest_setting_measures_the_analytic_field():
    explorer = field_explorer()
    for name, (_, high) in LIMITS.items():
        _sliders(explorer)[name].value = high
    k, s, r, depth = (LIMITS[name][1] for name in ("kernel", "stride", "rate", "depth"))
    assert explorer.result.receptive_field == rf.stack_field(k, s, r, depth)


def test_support_panel_draws_the_measured_mask():
    layers = rf.stack(3, 1, 2, 2)
    mask = rf.measure_support(layers, 15, dims=2)
    ax = viz.plot_support_2d(mask, rf.receptive_field(layers))
    assert np.array_equal(ax.images[0].get_array(), mask.numpy())
    field = rf.receptive_field(layers)
    assert ax.get_title().endswith(f"{int(mask.sum()):,} of the 15×15 input pixels (the field: {field}² = {field**2:,})")
    assert ax.get_xlabel() == "input column (px)"  # pixel axes, so a full square still reads as a measurement
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["read", "not read",
                                                                   f"analytic RF = {rf.receptive_field(layers)}"]


@pytest.mark.parametrize("name", list(LIMITS))
def test_out_of_range_start_names_the_slider(name):
    with pytest.raises(ValueError, match=name):
        field_explorer(**{name: LIMITS[name][1] + 1})
