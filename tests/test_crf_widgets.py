"""CRF figures and the explorer, driven headlessly."""

import numpy as np
import pytest

from deeplab_edu.crf import CRFParams, dense_crf, mean_field_steps
from deeplab_edu.viz import crf as viz
from deeplab_edu.widgets.crf import LIMITS, crf_explorer

from crf_cases import disc_scene

IMAGE, LABEL, PROBS = disc_scene(24, 28)


def _sliders(explorer):
    return {s.description: s for s in explorer.kwargs_widgets}


def test_explorer_result_is_the_refined_labelling_and_follows_the_sliders():
    params = CRFParams(w1=4, sigma_alpha=10, sigma_beta=15, iterations=5)
    explorer = crf_explorer(IMAGE, PROBS, LABEL, params=params)
    assert set(_sliders(explorer)) == set(LIMITS)
    np.testing.assert_array_equal(explorer.result, dense_crf(IMAGE, PROBS, params).argmax(0))
    _sliders(explorer)["iterations"].value = 0  # no mean-field step: the network's own labels
    np.testing.assert_array_equal(explorer.result, PROBS.argmax(0))
    _sliders(explorer)["iterations"].value = 5
    _sliders(explorer)["w1"].value = 20.0
    np.testing.assert_array_equal(explorer.result, dense_crf(IMAGE, PROBS, params.replace(w1=20.0)).argmax(0))


def test_explorer_refuses_a_start_outside_its_ranges():
    with pytest.raises(ValueError, match="sigma_alpha"):
        crf_explorer(IMAGE, PROBS, params=CRFParams(sigma_alpha=500))


@pytest.mark.slow
def test_figures_draw():
    params = CRFParams(w1=4, sigma_alpha=10, sigma_beta=15, iterations=3)
    fig = viz.plot_kernels(IMAGE, params, (12, 14))
    assert len(fig.axes) == 4  # three panels and a colour bar
    steps = list(mean_field_steps(IMAGE, PROBS.astype(np.float64), params))
    assert len(viz.plot_mean_field(steps).axes) == 2 * 4 + 1  # labels and sureness per step, F(Q)
    names = [f"class{c}" for c in range(PROBS.shape[0])]
    fig = viz.plot_mean_field(steps, show=[0, 3], image=IMAGE, class_names=names)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:3] == ["image", "argmax Q after 0 steps", "max_l Q(l) after 0"]
    assert any(ax.get_legend() is not None for ax in fig.axes)  # the classes are named
    bars = [child for ax in fig.axes for child in ax.child_axes]  # the colour bar, inset by the last panel
    assert [bar.get_ylabel() for bar in bars] == ["how sure: max_l Q(l)"]
    assert len(viz.plot_refinement(IMAGE, LABEL, PROBS, PROBS).axes) == 4
    fig = viz.plot_refinement(IMAGE, LABEL, PROBS, class_names=names)  # before the CRF only
    assert [ax.get_title() for ax in fig.axes] == ["image", "ground truth", "network: coarse scores (argmax)"]
    legend = [t.get_text() for t in fig.axes[-1].get_legend().get_texts()]
    assert legend == [f"{c} class{c}" for c in sorted(set(np.unique(LABEL)) | set(np.unique(PROBS.argmax(0))))]
    fig = viz.plot_trimap(LABEL, [1, 4], {"before": {1: 0.5, 4: 0.7}})
    assert fig.axes[1].get_lines()[0].get_ydata().tolist() == [0.5, 0.7]


def test_label_colours_are_the_book_palette_ignore_included():
    from deeplab_edu.datasets.palette import VOC_PALETTE

    rgb = viz.label_rgb(np.array([[0, 1, 7, 255]]))
    assert (rgb * 255).round().astype(int).tolist() == [[VOC_PALETTE[c].tolist() for c in (0, 1, 7, 255)]]
