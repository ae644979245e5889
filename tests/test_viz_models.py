"""Figures of the models chapter: the forward pass and ASPP's footprints."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from deeplab_edu.viz.models import aspp_footprints, plot_aspp_footprints, plot_forward  # noqa: E402


def test_aspp_footprints_are_the_dilated_kernels():
    footprints = aspp_footprints((1, 2, 4))
    assert footprints.shape == (3, 9, 9) and footprints.sum(axis=(1, 2)).tolist() == [9, 9, 9]
    rows, cols = np.nonzero(footprints[2])  # rate 4: taps 4 cells apart, centred
    assert sorted(set(rows.tolist())) == sorted(set(cols.tolist())) == [0, 4, 8]
    assert footprints[:, 4, 4].all()  # every branch reads the centre
    assert sorted(set(np.nonzero(footprints[0])[0].tolist())) == [3, 4, 5]
    with pytest.raises(ValueError, match="rates must be positive integers"):
        aspp_footprints((0, 2))
    fig = plot_aspp_footprints((6, 12))
    assert len(fig.axes[0].collections) == 3  # one scatter per branch and the centre
    plt.close(fig)


def test_forward_figure_shows_the_coarse_grid_and_the_full_size_labels():
    scores, logits = torch.randn(1, 5, 4, 6), torch.randn(1, 5, 32, 48)
    fig = plot_forward(np.zeros((32, 48, 3), np.uint8), scores, logits, "t")
    assert [ax.get_title() for ax in fig.axes] == ["input", "scores: 4×6 grid", "logits: 32×48"]
    np.testing.assert_array_equal(fig.axes[1].images[0].get_array(), scores[0].argmax(0).numpy())
    plt.close(fig)
