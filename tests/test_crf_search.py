"""Cross-validation of w1, σα, σβ: scores over the whole held-out set, best first."""

import numpy as np
import pytest

from deeplab_edu.crf import CRFParams, dense_crf
from deeplab_edu.crf.search import evaluate_crf, grid_search
from deeplab_edu.metrics import ConfusionMatrix

from crf_cases import disc_scene

SCENES = [disc_scene(24, 28, seed) for seed in range(3)]
IMAGES, LABELS, PROBS = (list(x) for x in zip(*SCENES))


def test_no_crf_scores_the_network_alone_over_the_whole_set():
    score = evaluate_crf(IMAGES, PROBS, LABELS, 3, None, widths=[2])
    matrix = ConfusionMatrix(3)
    for p, label in zip(PROBS, LABELS):
        matrix.update(p.argmax(0), label)
    assert score.miou == pytest.approx(matrix.miou())
    assert score.pixel_accuracy == pytest.approx(matrix.pixel_accuracy())
    assert set(score.trimap_accuracy) == {2}


def test_grid_is_sorted_and_each_entry_is_its_own_evaluation():
    results = grid_search(IMAGES, PROBS, LABELS, 3, w1=[0, 5], sigma_alpha=[10], sigma_beta=[5, 20],
                          widths=[3])
    assert len(results) == 4
    assert [r.miou for r in results] == sorted((r.miou for r in results), reverse=True)
    assert all(r.params.w2 == 3 and r.params.sigma_gamma == 3 for r in results)
    best = results[0].params
    matrix = ConfusionMatrix(3)
    for image, p, label in zip(IMAGES, PROBS, LABELS):
        matrix.update(dense_crf(image, p, best, method="lattice").argmax(0), label)
    assert results[0].miou == pytest.approx(matrix.miou())


def test_mismatched_sets_are_refused():
    with pytest.raises(ValueError, match="equally long"):
        evaluate_crf(IMAGES, PROBS[:2], LABELS, 3, CRFParams())


def test_tensors_on_a_device_score_like_numpy():
    params = CRFParams(w1=5, sigma_alpha=10, sigma_beta=5, iterations=5)
    on_device = evaluate_crf(IMAGES, PROBS, LABELS, 3, params, widths=[2], device="cpu")
    as_numpy = evaluate_crf(IMAGES, PROBS, LABELS, 3, params, widths=[2])
    assert on_device == as_numpy
