"""The comparison over seeds: difference of means against the seeds' spread."""

import math

import pytest

from deeplab_edu.experiments import Spread, compare


def test_spread_mean_and_range():
    s = Spread.of([0.5, 0.7, 0.6])
    assert s.mean == pytest.approx(0.6)
    assert s.range == pytest.approx(0.2)
    assert str(s) == "0.600 ± 0.100"
    assert str(Spread.of([0.25])) == "0.250 (1 seed)"


@pytest.mark.parametrize("values", [[], [0.1, math.nan], [math.inf]])
def test_spread_refuses_empty_or_non_finite(values):
    with pytest.raises(ValueError):
        Spread.of(values)


def test_effect_outside_the_noise_holds_with_the_papers_sign():
    e = compare("mIoU", "LargeFOV", [0.50, 0.52], "ASPP", [0.60, 0.61])
    assert e.delta == pytest.approx(0.095)
    assert e.noise == pytest.approx(0.02)
    assert e.verdict == "holds"
    assert "+0.095" in e.sentence() and "0.020" in e.sentence() and "holds" in e.sentence()


def test_effect_with_the_wrong_sign_is_reversed():
    assert compare("mIoU", "a", [0.60, 0.61], "b", [0.50, 0.52]).verdict == "reversed"
    assert compare("mIoU", "a", [0.60, 0.61], "b", [0.50, 0.52], expected="a").verdict == "holds"


def test_a_difference_smaller_than_the_seed_spread_is_noise():
    # Means differ by 0.03 but one arm's seeds differ by 0.10: no finding.
    e = compare("mIoU", "a", [0.50, 0.60], "b", [0.57, 0.59])
    assert e.delta == pytest.approx(0.03)
    assert e.verdict == "inside the noise"
    assert not e.outside_noise


def test_one_seed_has_no_spread_to_judge_by():
    e = compare("mIoU", "a", [0.5], "b", [0.9])
    assert e.verdict.startswith("one seed")
    assert not e.outside_noise


def test_expected_must_name_an_arm():
    with pytest.raises(ValueError, match="expected"):
        compare("mIoU", "a", [0.5, 0.6], "b", [0.5, 0.6], expected="c")


def test_row_has_the_table_columns():
    row = compare("mIoU", "a", [0.5, 0.6], "b", [0.7, 0.8]).row()
    assert row["comparison"] == "b vs a" and row["verdict"] == "holds"
    assert row["here, B − A (points)"] == "+20.0 ± 10.0"
    assert row["paper, B − A (points)"] == "—"


def test_row_sets_the_papers_difference_beside_this_runs():
    class Paper:
        points = 3.2

        def __str__(self):
            return "+3.20 (v2 Table 3)"

    e = compare("mIoU", "LargeFOV", [0.50, 0.52], "ASPP-L", [0.51, 0.55], paper=Paper())
    assert e.paper.points == 3.2
    assert e.row()["paper, B − A (points)"] == "+3.20 (v2 Table 3)"
    assert e.row()["here, B − A (points)"] == "+2.0 ± 4.0"


def test_two_seeds_that_agree_closely_do_not_make_a_tiny_difference_a_finding():
    e = compare("mIoU", "subsampled", [0.140, 0.141], "upsampled", [0.142, 0.143])
    assert e.noise == pytest.approx(0.01) and e.verdict == "inside the noise"
    assert "noise floor 0.010 (the seeds' spread, 0.001, is below it)" in e.sentence()
    assert compare("mIoU", "a", [0.140, 0.141], "b", [0.160, 0.161]).verdict == "holds"
