import pytest

from deeplab_edu.conclusions import Why, conclusions, effect_label
from deeplab_edu.experiments import compare


class Paper:
    def __init__(self, points, text):
        self.points, self.text = points, text

    def __str__(self):
        return self.text


def _effects():
    held = compare("mIoU", "OS16", [0.50, 0.51], "OS8", [0.55, 0.56], paper=Paper(1.3, "+1.30 (v3 Table 6)"))
    noise = compare("mIoU", "LargeFOV", [0.50, 0.52], "ASPP-L", [0.51, 0.53], paper=Paper(3.2, "+3.20 (v2 Table 3)"))
    reversed_ = compare("mIoU", "random", [0.55, 0.56], "pretrained", [0.50, 0.51])
    no_claim = compare("mIoU", "bilinear", [0.50, 0.51], "deconvolution", [0.50, 0.52], expected="none")
    return held, noise, reversed_, no_claim


def test_effects_are_grouped_by_what_their_numbers_say():
    held, noise, reversed_, no_claim = _effects()
    text = conclusions([held, noise, reversed_, no_claim])
    assert "held here (2 of 4):" in text and "inside the noise (1 of 4):" in text
    assert "went against the paper (1 of 4):" in text
    assert "OS8 vs OS16 (mIoU): +5.0 ± 1.0 points here; paper +1.30 (v3 Table 6)" in text
    # A claim of no difference holds when the difference is inside the noise.
    assert text.index("deconvolution vs bilinear") < text.index("inside the noise (1 of 4)")
    assert text.count("(no reason tested or offered yet)") == 2


def test_a_reason_is_tested_by_an_arm_or_called_a_hypothesis():
    held, noise, reversed_, _ = _effects()
    restored = compare("mIoU", "LargeFOV, rates scaled", [0.50, 0.51], "ASPP-L, rates scaled", [0.56, 0.57])
    not_restored = compare("mIoU", "random", [0.55, 0.56], "pretrained on scenes", [0.55, 0.555])
    text = conclusions([held, noise, reversed_], {
        effect_label(noise): Why("the rates fall outside the score map", restored),
        effect_label(reversed_): Why("the pretraining images do not look like the scenes", not_restored)})
    assert "tested: the rates fall outside the score map" in text
    assert "which supports the reason" in text
    assert "that arm's comparison is inside the noise, so the reason is not shown" in text
    hypothesis = conclusions([reversed_], {effect_label(reversed_): Why("the stick is alone in its colour family")})
    assert "hypothesis (no arm here tests it): the stick is alone" in hypothesis


def test_a_reason_for_an_unknown_effect_is_refused():
    with pytest.raises(KeyError, match="not among the effects"):
        conclusions(list(_effects()), {"ASPP vs nothing (mIoU)": Why("?")})


def test_one_seed_is_said_to_be_one_seed():
    one = compare("mIoU", "a", [0.5], "b", [0.6])
    assert "one seed only (1 of 1)" in conclusions([one])


def test_an_effect_smaller_than_the_noise_in_the_paper_is_said_to_be_unresolvable():
    small = compare("mIoU", "grid (1, 1, 1)", [0.50, 0.52], "grid (1, 2, 4)", [0.50, 0.515],
                    paper=Paper(1.22, "+1.22 (v3 Table 5)"))
    large = compare("mIoU", "LargeFOV", [0.50, 0.52], "ASPP-L", [0.51, 0.53], paper=Paper(3.2, "+3.20 (v2 Table 3)"))
    text = conclusions([small, large])
    assert "the paper's own difference (+1.22) is within this noise (±2.0 points): 2 seeds cannot resolve" in text
    # A paper difference larger than the noise still needs a reason: two seeds should have seen it.
    assert text.count("cannot resolve") == 1 and text.count("(no reason tested or offered yet)") == 1
    # A reason the chapter gives takes the place of the computed one.
    given = conclusions([small], {effect_label(small): Why("the head's rates already widen the field")})
    assert "cannot resolve" not in given and "hypothesis (no arm here tests it)" in given


def test_several_reasons_are_each_tested_on_their_own():
    _, noise, _, _ = _effects()
    refuted = compare("mIoU", "LargeFOV, 321 px", [0.50, 0.51], "ASPP-L, 321 px", [0.49, 0.50])
    supported = compare("mIoU", "LargeFOV, wide", [0.50, 0.51], "ASPP-L, wide", [0.56, 0.57])
    text = conclusions([noise], {effect_label(noise): [Why("the score map is small", refuted),
                                                       Why("the head is narrow", supported)]})
    assert text.count("      why: tested:") == 2
    assert text.index("the score map is small") < text.index("the head is narrow")
    assert "so the reason is not shown" in text and "which supports the reason" in text
