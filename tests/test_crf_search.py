"""Cross-validation of w1, σα, σβ: scores over the whole held-out set, best first."""

import pytest

from deeplab_edu.crf import CRFParams, dense_crf
from deeplab_edu.crf.search import coarse_to_fine, score_crf
from deeplab_edu.metrics import ConfusionMatrix

from crf_cases import disc_scene


def grid_search(*args, **kwargs):
    """Every setting of one grid, best first: the coarse round alone."""
    return coarse_to_fine(*args, refinements=0, max_extensions=0, **kwargs).scores


SCENES = [disc_scene(24, 28, seed) for seed in range(3)]
IMAGES, LABELS, PROBS = (list(x) for x in zip(*SCENES))


def test_no_crf_scores_the_network_alone_over_the_whole_set():
    score = score_crf(IMAGES, PROBS, LABELS, 3, None, widths=[2])
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
        score_crf(IMAGES, PROBS[:2], LABELS, 3, CRFParams())


def test_tensors_on_a_device_score_like_numpy():
    params = CRFParams(w1=5, sigma_alpha=10, sigma_beta=5, iterations=5)
    on_device = score_crf(IMAGES, PROBS, LABELS, 3, params, widths=[2], device="cpu")
    as_numpy = score_crf(IMAGES, PROBS, LABELS, 3, params, widths=[2])
    assert on_device == as_numpy


def test_the_lattices_are_built_once_per_bandwidth_not_per_w1(monkeypatch):
    from deeplab_edu.crf import search

    built = []
    real = search.CRFKernels

    def counting(image, params, *args, **kwargs):
        built.append((params.sigma_alpha, params.sigma_beta))
        return real(image, params, *args, **kwargs)

    monkeypatch.setattr(search, "CRFKernels", counting)
    results = grid_search(IMAGES, PROBS, LABELS, 3, w1=[0, 3, 5], sigma_alpha=[10], sigma_beta=[5, 20],
                          widths=[2])
    assert len(results) == 6
    assert len(built) == 2 * len(IMAGES)  # (σα, σβ) pairs × images, whatever the number of w1
    assert sorted(set(built)) == [(10.0, 5.0), (10.0, 20.0)]


def test_grouped_scores_equal_one_evaluation_per_setting():
    results = grid_search(IMAGES, PROBS, LABELS, 3, w1=[1, 5], sigma_alpha=[10, 30], sigma_beta=[5],
                          widths=[2])
    for r in results:
        alone = score_crf(IMAGES, PROBS, LABELS, 3, r.params, widths=[2])
        assert r.miou == pytest.approx(alone.miou)


def test_on_edge_names_the_parameters_at_a_range_end():
    from deeplab_edu.crf.search import on_edge

    params = CRFParams(w1=5, sigma_alpha=30, sigma_beta=5)
    assert on_edge(params, w1=[3, 4, 5], sigma_alpha=[10, 30, 50], sigma_beta=[5]) == ("w1",)
    assert on_edge(params, w1=[3, 5, 7], sigma_alpha=[10, 30, 50]) == ()


def test_coarse_to_fine_moves_an_edge_optimum_inside_and_refines():
    # A deliberately bad coarse grid: the best w1 on it is its top value 0.5 (the CRF helps here).
    search = coarse_to_fine(IMAGES, PROBS, LABELS, 3, w1=[0, 0.5], sigma_alpha=[10], sigma_beta=[5, 20],
                            refinements=1, max_extensions=2, widths=[2])
    first = search.rounds[0]
    assert first["w1"] == (0.0, 0.5)
    assert len(search.rounds) >= 2
    assert max(search.rounds[1]["w1"]) > 0.5  # grown outwards past the coarse edge
    keys = [(s.params.w1, s.params.sigma_alpha, s.params.sigma_beta) for s in search.scores]
    assert len(keys) == len(set(keys))  # nothing scored twice
    assert search.best.miou == max(s.miou for s in search.scores)
    assert [s.miou for s in search.scores] == sorted((s.miou for s in search.scores), reverse=True)
    last = search.rounds[-1]
    assert len(last["w1"]) == 3 and search.best.params.w1 in [s.params.w1 for s in search.scores]


def test_coarse_to_fine_reports_an_optimum_left_on_the_edge():
    search = coarse_to_fine(IMAGES, PROBS, LABELS, 3, w1=[0, 0.5], sigma_alpha=[10], sigma_beta=[5],
                            refinements=0, max_extensions=0, widths=[2])
    assert search.on_edge == ("w1",)  # two values: the winner is one of the two ends
    assert len(search.scores) == 2 and len(search.rounds) == 1


def test_paper_ranges_are_the_quoted_ones():
    from deeplab_edu.crf.search import PAPER_RANGES

    assert PAPER_RANGES["v1"]["w1"] == (5, 6, 7, 8, 9, 10)
    assert PAPER_RANGES["v1"]["sigma_alpha"] == (50, 60, 70, 80, 90, 100)
    assert PAPER_RANGES["v1"]["sigma_beta"] == tuple(range(3, 11))
    assert PAPER_RANGES["v2"]["w1"] == (3, 4, 5, 6)
    assert PAPER_RANGES["v2"]["sigma_alpha"] == tuple(range(30, 101, 10))
    assert PAPER_RANGES["v2"]["sigma_beta"] == (3, 4, 5, 6)
