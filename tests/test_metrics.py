"""deeplab_edu.metrics: the confusion matrix, the VOC scores and the boundary trimap."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deeplab_edu.metrics import (
    IGNORE_INDEX,
    ConfusionMatrix,
    TrimapConfusion,
    boundary_pixels,
    confusion_matrix_loops,
    trimap_accuracy,
    trimap_band,
    trimap_band_loops,
)


def _set_iou(pred, target, c, ignore=IGNORE_INDEX):
    """IoU from its set definition, |P ∩ T| / |P ∪ T| over non-ignored pixels."""
    valid = target != ignore
    p, t = (pred == c) & valid, (target == c) & valid
    union = (p | t).sum()
    return (p & t).sum() / union if union else np.nan


@st.composite
def _labelled_batches(draw):
    num_classes = draw(st.integers(1, 6))
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=3)))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    pred = rng.integers(0, num_classes, size=shape)
    target = rng.integers(0, num_classes, size=shape)
    target[rng.random(shape) < 0.2] = IGNORE_INDEX
    return num_classes, pred, target


@settings(max_examples=50, deadline=None)
@given(_labelled_batches())
def test_bincount_matrix_equals_pixel_by_pixel_loop(case):
    num_classes, pred, target = case
    cm = ConfusionMatrix(num_classes).update(pred, target)
    np.testing.assert_array_equal(cm.matrix, confusion_matrix_loops(pred, target, num_classes))
    assert cm.matrix.sum() == (target != IGNORE_INDEX).sum()


@settings(max_examples=50, deadline=None)
@given(_labelled_batches())
def test_scores_match_their_set_definitions(case):
    num_classes, pred, target = case
    cm = ConfusionMatrix(num_classes).update(torch.from_numpy(pred), torch.from_numpy(target))
    ious = np.array([_set_iou(pred, target, c) for c in range(num_classes)])
    np.testing.assert_allclose(cm.per_class_iou(), ious, equal_nan=True)
    valid = target != IGNORE_INDEX
    if valid.any():
        assert cm.miou() == pytest.approx(np.nanmean(ious))
        assert cm.pixel_accuracy() == pytest.approx((pred == target)[valid].mean())
        recalls = [((pred == c) & (target == c)).sum() / (target == c).sum()
                   for c in range(num_classes) if (target == c).any()]
        assert cm.mean_accuracy() == pytest.approx(np.mean(recalls))
        fw = sum((target == c).sum() / valid.sum() * ious[c]
                 for c in range(num_classes) if (target == c).any())
        assert cm.frequency_weighted_iou() == pytest.approx(fw)
    else:
        assert np.isnan(cm.miou()) and np.isnan(cm.pixel_accuracy())


def test_small_example_by_hand():
    # truth  0 0 1 1   prediction  0 1 1 1   class 0: TP 2, FN 1 -> IoU 2/3
    #        0 0 1 255             0 0 1 0   class 1: TP 3, FP 1 -> IoU 3/4  (255 not counted)
    target = np.array([[0, 0, 1, 1], [0, 0, 1, 255]])
    pred = np.array([[0, 1, 1, 1], [0, 0, 1, 0]])
    cm = ConfusionMatrix(2).update(pred, target)
    np.testing.assert_array_equal(cm.matrix, [[3, 1], [0, 3]])
    np.testing.assert_allclose(cm.per_class_iou(), [3 / 4, 3 / 4])
    assert cm.pixel_accuracy() == pytest.approx(6 / 7)
    assert cm.mean_accuracy() == pytest.approx((3 / 4 + 1) / 2)


def test_ignored_pixels_are_not_background():
    target = np.full((4, 4), IGNORE_INDEX)
    target[0, 0] = 1
    wrong_everywhere_else = np.zeros((4, 4), dtype=np.int64)
    wrong_everywhere_else[0, 0] = 1
    cm = ConfusionMatrix(3).update(wrong_everywhere_else, target)
    assert cm.matrix.sum() == 1 and cm.pixel_accuracy() == 1.0
    # background (class 0) never appears in the truth, and 0 was never predicted on a counted pixel
    assert np.isnan(cm.per_class_iou()[0]) and cm.miou() == 1.0


def test_set_score_is_one_matrix_not_an_average_of_image_scores():
    # A large, perfect image and a tiny, wrong one: averaging per image weighs them equally.
    big_t = np.zeros((10, 10), dtype=np.int64)
    big_t[:, 5:] = 1
    tiny_t = np.array([[0, 1]])
    tiny_p = np.array([[1, 0]])
    cm = ConfusionMatrix(2)
    cm.update(big_t, big_t).update(tiny_p, tiny_t)
    everything = ConfusionMatrix(2).update(np.concatenate([big_t.ravel(), tiny_p.ravel()]),
                                           np.concatenate([big_t.ravel(), tiny_t.ravel()]))
    np.testing.assert_array_equal(cm.matrix, everything.matrix)
    per_image = np.mean([ConfusionMatrix(2).update(big_t, big_t).miou(),
                         ConfusionMatrix(2).update(tiny_p, tiny_t).miou()])
    assert cm.miou() == pytest.approx(50 / 52)  # each class: TP 50, FP 1, FN 1
    assert per_image == pytest.approx(0.5)
    cm.reset()
    assert cm.matrix.sum() == 0


@pytest.mark.parametrize("call, match", [
    (lambda: ConfusionMatrix(0), "num_classes"),
    (lambda: ConfusionMatrix(3, ignore_index=2), "ignore_index"),
    (lambda: ConfusionMatrix(3).update(np.zeros((2, 2), int), np.zeros((2, 3), int)), "same shape"),
    (lambda: ConfusionMatrix(3).update(np.zeros((2, 2)), np.zeros((2, 2), int)), "integer"),
    (lambda: ConfusionMatrix(3).update([0, 1], np.zeros(2, int)), "pred must be"),
    (lambda: ConfusionMatrix(3).update(np.zeros(2, int), np.array([0, 7])), "target holds label 7"),
    (lambda: ConfusionMatrix(3).update(np.array([0, 3]), np.zeros(2, int)), "pred holds class 3"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


# --- the trimap -------------------------------------------------------------------------

def test_band_around_a_straight_edge_is_two_widths_across():
    label = np.zeros((8, 20), dtype=np.int64)
    label[:, 10:] = 1  # the edge lies between columns 9 and 10
    for width in (1, 2, 3, 5):
        band = trimap_band(label, width)
        columns = np.flatnonzero(band.all(axis=0))
        np.testing.assert_array_equal(columns, np.arange(10 - width, 10 + width))
        assert band.sum() == 8 * 2 * width


@pytest.mark.parametrize("axis", [0, 1], ids=["horizontal-edge", "vertical-edge"])
@pytest.mark.parametrize("flip", [False, True], ids=["0-then-1", "1-then-0"])
def test_band_is_symmetric_about_edges_in_both_directions(axis, flip):
    # A boundary lies between two pixels, so the band takes `width` pixels on *each* side of it,
    # whichever way the edge runs and whichever label lies first. Marking only one side of an
    # edge (e.g. only the pixel above a change between rows) halves the band on that edge.
    label = np.zeros((14, 14), dtype=np.int64)
    label[7:, :] = 1  # the edge lies between rows 6 and 7
    if flip:
        label = 1 - label
    if axis == 1:
        label = label.T
    for width in (1, 2, 4):
        band = trimap_band(label, width)
        across = band.all(axis=1 - axis)  # the rows (or columns) that are wholly in the band
        np.testing.assert_array_equal(np.flatnonzero(across), np.arange(7 - width, 7 + width))
        assert band.sum() == 14 * 2 * width
        np.testing.assert_array_equal(band, np.flip(band, axis=axis))  # mirror-symmetric
        np.testing.assert_array_equal(band, trimap_band_loops(label, width))
    assert boundary_pixels(label).sum() == 2 * 14


def test_band_around_a_square_is_the_same_on_all_four_sides():
    label = np.zeros((21, 21), dtype=np.int64)
    label[6:15, 6:15] = 2
    band = trimap_band(label, 2)
    for transform in (np.flipud, np.fliplr, np.transpose):
        np.testing.assert_array_equal(transform(band), band)
    assert band[4:8, 10].all() and not band[3, 10] and not band[8, 10]  # 2 px outside, 2 inside


def test_a_uniform_label_has_no_boundary():
    assert not trimap_band(np.ones((5, 5), dtype=np.int64), 3).any()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.integers(2, 9), st.integers(2, 9), st.integers(1, 4))
def test_distance_transform_band_equals_brute_force(seed, h, w, width):
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 3, size=(h, w))
    label[rng.random((h, w)) < 0.1] = IGNORE_INDEX
    band = trimap_band(label, width)
    np.testing.assert_array_equal(band, trimap_band_loops(label, width))
    assert (band >= boundary_pixels(label)).all()  # the band always holds the outline
    assert (trimap_band(label, width + 1) >= band).all()  # and grows with the width


def test_trimap_accuracy_sees_errors_only_near_edges():
    label = np.zeros((20, 20), dtype=np.int64)
    label[5:15, 5:15] = 1
    far_error = label.copy()
    far_error[0, 0] = 1  # wrong, but √41 ≈ 6.4 px from the nearest outline pixel (4, 5)
    near_error = label.copy()
    near_error[5, 7] = 0  # wrong, on the outline
    acc_far = trimap_accuracy(far_error, label, [1, 3, 7, 8])
    acc_near = trimap_accuracy(near_error, label, [1, 3, 7, 8])
    assert acc_far[1] == acc_far[3] == acc_far[7] == 1.0 and acc_far[8] < 1.0
    for width in (1, 3, 7, 8):
        n = trimap_band(label, width).sum()
        assert acc_near[width] == pytest.approx(1 - 1 / n)


def test_trimap_accumulates_a_batch_and_ignores_void():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=(3, 12, 12))
    labels[:, :, :2] = IGNORE_INDEX
    preds = np.where(rng.random(labels.shape) < 0.7, labels, 0) % 3
    scores = TrimapConfusion(3, [2]).update(torch.from_numpy(preds), torch.from_numpy(labels))
    bands = [trimap_band(t, 2) & (t != IGNORE_INDEX) for t in labels]
    expected = sum(((p == t) & b).sum() for p, t, b in zip(preds, labels, bands)) / sum(b.sum() for b in bands)
    assert scores.accuracy()[2] == pytest.approx(expected)
    assert 0.0 <= scores.miou()[2] <= 1.0


@pytest.mark.parametrize("width", [0, -1, 1.5, True])
def test_band_width_must_be_a_positive_integer(width):
    with pytest.raises(ValueError, match="width"):
        trimap_band(np.zeros((3, 3), dtype=np.int64), width)


def test_band_needs_a_2d_label():
    with pytest.raises(ValueError, match="2-D"):
        trimap_band(np.zeros((2, 3, 3), dtype=np.int64), 1)


def test_the_loop_reference_refuses_labels_of_another_shape():
    # zip() would silently stop at the shorter of the two and count fewer pixels.
    with pytest.raises(ValueError, match="pred and target must have the same shape"):
        confusion_matrix_loops(np.zeros((2, 3), np.int64), np.zeros((3, 2), np.int64), 2)
    with pytest.raises(ValueError, match="same shape"):
        confusion_matrix_loops(np.zeros(5, np.int64), np.zeros(6, np.int64), 2)
