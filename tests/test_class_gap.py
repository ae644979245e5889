"""class_gap / predicted_as: a difference in mIoU split into its classes, against the metrics."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deeplab_edu.class_gap import ClassGap, class_gap, miou_without, predicted_as
from deeplab_edu.engine.evaluation import EvalResult
from deeplab_edu.metrics import ConfusionMatrix

NAMES = ("background", "disc", "stick")


def result(matrix, names=NAMES) -> EvalResult:
    cm = ConfusionMatrix(len(names))
    cm.matrix[:] = np.asarray(matrix)
    return EvalResult(cm, None, tuple(names))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(1, 50), min_size=9, max_size=9), min_size=4, max_size=4))
def test_the_mean_of_the_per_class_differences_is_the_difference_of_the_mean_mious(cells):
    a = [result(np.reshape(c, (3, 3))) for c in cells[:2]]
    b = [result(np.reshape(c, (3, 3))) for c in cells[2:]]
    gap = class_gap("A", a, "B", b)
    mean_miou = lambda arm: np.mean([r.confusion.miou() for r in arm])  # noqa: E731
    assert gap.delta == pytest.approx(mean_miou(b) - mean_miou(a))
    if abs(gap.delta) > 1e-9:
        assert sum(gap.share(name) for name in NAMES) == pytest.approx(1.0)


def test_one_class_missed_makes_the_gap_and_the_others_agree():
    good = result([[90, 0, 0], [0, 20, 0], [0, 0, 10]])
    missed = result([[90, 0, 0], [0, 20, 0], [8, 2, 0]])  # stick: 8 pixels called background, 2 disc
    gap = class_gap("random", [good], "pretrained", [missed])
    assert gap.largest == "stick"
    assert gap.per_class["stick"] == pytest.approx(-1.0)
    # the missed pixels also become false positives of background and disc: the rest of the gap
    assert gap.share() == pytest.approx((-1.0 / 3) / gap.delta)
    assert 0.8 < gap.share() < 1.0
    assert gap.without()[1] == pytest.approx(missed.confusion.per_class_iou()[:2].mean())
    assert f"of which stick makes {gap.share():.0%}" in gap.describe()
    assert miou_without([good, missed], "stick") == pytest.approx([1.0, gap.without()[1]])
    assert predicted_as([missed], "stick") == pytest.approx({"background": 0.8, "disc": 0.2, "stick": 0.0})
    assert predicted_as([good, missed], "stick")["stick"] == pytest.approx(0.5)


def test_a_class_absent_from_the_images_is_left_out():
    absent = result([[90, 0, 0], [0, 20, 0], [0, 0, 0]])
    gap = class_gap("A", [absent], "B", [absent])
    assert set(gap.per_class) == {"background", "disc"}
    assert np.isnan(gap.share())  # no difference at all: no share to give


def test_bad_input_is_named():
    good = result(np.eye(3) * 10)
    with pytest.raises(ValueError, match="arm 'A' has no results"):
        class_gap("A", [], "B", [good])
    with pytest.raises(ValueError, match="name different classes"):
        class_gap("A", [good], "B", [result(np.eye(3) * 10, names=("background", "disc", "ring"))])
    with pytest.raises(ValueError, match="'ring' is not one of"):
        predicted_as([good], "ring")
    with pytest.raises(ValueError, match="'ring' is not one of"):
        miou_without([good], "ring")
    with pytest.raises(ValueError, match="no pixel of class 'stick'"):
        predicted_as([result([[5, 0, 0], [0, 5, 0], [0, 0, 0]])], "stick")


def test_a_class_that_makes_more_than_the_whole_difference_is_said_so():
    gap = ClassGap("A", "B", {"background": 1.0, "disc": 0.5, "stick": 1.0},
                   {"background": 1.0, "disc": 0.6, "stick": 0.7})
    assert gap.delta == pytest.approx(-0.2 / 3)
    assert gap.share() == pytest.approx(1.5)
    assert "stick alone makes 150% of it (the other classes moved the other way)" in gap.describe()
    assert gap.without() == pytest.approx((0.75, 0.8))

