"""Coarse network-like scores: valid probabilities, seeded, and wrong mostly near boundaries."""

import numpy as np
import pytest

from deeplab_edu.crf import coarse_scores
from deeplab_edu.metrics import trimap_band


def _square(size=64):
    label = np.zeros((size, size), dtype=np.int64)
    label[20:44, 12:40] = 1
    label[5:12, 45:60] = 2
    return label


def test_scores_are_seeded_probabilities():
    label = _square()
    p = coarse_scores(label, 3, seed=1)
    assert p.shape == (3, 64, 64) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(0), 1.0, atol=1e-5)
    np.testing.assert_array_equal(p, coarse_scores(label, 3, seed=1))
    assert not np.array_equal(p, coarse_scores(label, 3, seed=2))


def test_scores_are_right_inside_regions_and_blurred_at_their_edges():
    label = _square()
    pred = coarse_scores(label, 3, noise=0.0).argmax(0)
    near = trimap_band(label, 3)
    far = ~trimap_band(label, 10)
    assert (pred[far] == label[far]).all()
    assert (pred[near] != label[near]).any()
    # one score per 8 × 8 block: no detail finer than the stride survives
    coarse = coarse_scores(label, 3, factor=8, blur=0, noise=0.0)
    exact = coarse_scores(label, 3, factor=1, blur=0, noise=0.0)
    assert (exact.argmax(0) == label).all() and (coarse.argmax(0) != label).any()


def test_ignore_counts_as_background_and_bad_labels_are_refused():
    label = _square()
    label[0, :] = 255
    assert coarse_scores(label, 3).shape == (3, 64, 64)
    with pytest.raises(ValueError, match="outside 0..1"):
        coarse_scores(label, 2)
    with pytest.raises(ValueError, match="factor"):
        coarse_scores(label, 3, factor=0)
    with pytest.raises(ValueError, match="integer"):
        coarse_scores(label.astype(float), 3)


def test_ellipse_scene_is_seeded_and_consistent():
    from deeplab_edu.crf.coarse import ellipse_scene

    image, label, probs = ellipse_scene(30, 40, num_classes=5, seed=3)
    assert image.shape == (30, 40, 3) and image.dtype == np.uint8
    assert label.shape == (30, 40) and set(np.unique(label)) <= set(range(5))
    assert probs.shape == (5, 30, 40) and np.allclose(probs.sum(0), 1, atol=1e-5)
    assert (probs.argmax(0) == label).mean() > 0.5  # the scores are coarse, not random
    again = ellipse_scene(30, 40, num_classes=5, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((image, label, probs), again))
    assert not np.array_equal(ellipse_scene(30, 40, num_classes=5, seed=4)[0], image)
