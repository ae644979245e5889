"""Figures of the models chapter: the forward pass and ASPP's footprints."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from deeplab_edu.viz.models import (aspp_footprints, most_varied_class, plot_aspp_footprints,
                                    plot_forward)


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


def test_forward_figure_shows_one_class_on_the_coarse_grid_and_upsampled():
    scores, logits = torch.randn(1, 5, 4, 6), torch.randn(1, 5, 32, 48)
    scores[0, 3] *= 10  # the most varied class
    assert most_varied_class(scores) == 3
    fig = plot_forward(np.zeros((32, 48, 3), np.uint8), scores, logits, "t", zoom=2)
    assert [ax.get_title() for ax in fig.axes[:5]] == ["input", "class 3 scores: 4×6 grid", "class 3 logits: 32×48",
                                                       "zoom: 2×2 grid cells", "the same region, upsampled"]
    np.testing.assert_array_equal(fig.axes[1].images[0].get_array(), scores[0, 3].numpy())
    np.testing.assert_array_equal(fig.axes[3].images[0].get_array(), scores[0, 3, :2, :2].numpy())
    assert fig.axes[4].images[0].get_array().shape == (16, 16)
    assert fig.axes[5].get_ylabel() == "score of class 3"  # the colour bar
    plt.close(fig)
