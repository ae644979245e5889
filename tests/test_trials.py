"""Trials: one recipe over seeds, scored alike; the CRF fitted on held-out images; the figures."""

from pathlib import Path

import numpy as np
import torch
import pytest

from deeplab_edu.crf import CRFParams
from deeplab_edu.datasets import build_dataset
from deeplab_edu.datasets.synthetic import write_builtin
from deeplab_edu.train import TrainConfig
from deeplab_edu.trials import example_predictions, holdout_split, run_trial, training_curves, tune_crf
from deeplab_edu.viz.predictions import plot_predictions
from deeplab_edu.viz.training import plot_training_curves, read_log, smooth



@pytest.fixture(scope="module")
def builtin(tmp_path_factory) -> Path:
    return write_builtin(tmp_path_factory.mktemp("builtin"), train=4, val=2, size=48, progress=False, holdout=2)


@pytest.fixture(scope="module")
def trial(builtin, tmp_path_factory):
    config = TrainConfig(dataset="builtin", data_root=str(builtin), model="deeplabv3", width=0.125,
                         model_options={"blocks": (1, 1, 1, 1)}, crop_size=33, batch_size=2, iterations=2,
                         log_every=1, checkpoint_every=2, validate_every=1, progress=False, device="cpu", lr=0.01,
                         out_dir=str(tmp_path_factory.mktemp("runs") / "v3"))
    val = build_dataset("builtin", "val", root=builtin)
    return run_trial("v3", config, (0, 1), val, crf_params=CRFParams(iterations=2), trimap_widths=(2,), device="cpu")


def test_one_run_per_seed_each_in_its_own_folder(trial):
    assert trial.seeds == [0, 1] and len(trial.runs) == len(trial.network) == len(trial.with_crf) == 2
    folders = {Path(r.checkpoint).parent.name for r in trial.runs}
    assert folders == {"seed0", "seed1"}
    # Two seeds, two different networks.
    a, b = (r.model.state_dict() for r in trial.runs)
    assert any(not np.array_equal(a[k].numpy(), b[k].numpy()) for k in a if a[k].is_floating_point())


def test_values_and_rows_come_from_each_runs_scores(trial):
    values = trial.values("mIoU")
    assert values == [s.summary()["mIoU"] for s in trial.network]
    assert trial.values("mIoU", crf=True) == [s.summary()["mIoU"] for s in trial.with_crf]
    row = trial.row(trimap_width=2)
    assert row["seeds"] == 2 and row["mIoU"] == str(trial.spread()) and "mIoU + CRF" in row
    assert set(trial.per_class()) == set(trial.network[0].class_names)


def test_a_trial_scored_without_the_crf_says_so(builtin, trial):
    alone = type(trial)("x", trial.seeds, trial.runs, trial.network)
    with pytest.raises(ValueError, match="without the CRF"):
        alone.values(crf=True)


def test_trained_runs_are_reused_not_retrained(builtin, trial):
    val = build_dataset("builtin", "val", root=builtin)
    again = run_trial("v3", None, (0,), val, trimap_widths=(2,), device="cpu", trained=trial)
    assert again.runs[0] is trial.runs[0]


def test_crf_is_tuned_on_the_holdout_split_coarse_to_fine(builtin, trial):
    holdout = holdout_split("builtin", str(builtin))
    assert holdout.ids == ["holdout_000000", "holdout_000001"]
    grid = {"w1": (3.0, 5.0), "sigma_alpha": (10.0,), "sigma_beta": (4.0, 8.0)}
    tuned = tune_crf(trial.runs[0].model, holdout, grid=grid, iterations=2, device="cpu", refinements=0)
    scores = tuned.search.scores
    assert tuned.params == scores[0].params and tuned.images == 2
    assert [s.miou for s in scores] == sorted((s.miou for s in scores), reverse=True)
    assert tuned.search.rounds[0] == grid  # the search starts from the grid given
    assert tuned.alone.params is None
    text = tuned.describe()
    assert f"w1 {tuned.params.w1:g}" in text and f"{tuned.alone.miou:.3f}" in text
    assert ("inside the searched ranges" in text) == (not tuned.search.on_edge)
    assert set(tuned.edge_steps()) <= set(tuned.search.on_edge)
    for name, gain in tuned.edge_steps().items():
        assert gain >= 0 and f"last step of {name} added" in text  # the edge is the best: no loss there


def test_edge_steps_measure_the_last_step_towards_the_edge():
    from deeplab_edu.crf.search import CRFScore, CRFSearch
    from deeplab_edu.trials import TunedCRF

    def score(w1, miou):
        return CRFScore(CRFParams(w1=w1, sigma_alpha=10, sigma_beta=4), miou, 0.9, {4: 0.5})

    search = CRFSearch([score(8, 0.70), score(5, 0.69), score(3, 0.60)], [], ("w1",))
    tuned = TunedCRF(search.best.params, search, CRFScore(None, 0.5, 0.8, {4: 0.4}), images=2)
    assert tuned.edge_steps() == pytest.approx({"w1": 0.01})
    assert "the last step of w1 added +0.0100" in tuned.describe()


def test_example_predictions_and_their_figure(builtin, trial):
    val = build_dataset("builtin", "val", root=builtin)
    shown = example_predictions(trial.runs[0].model, val, [0, 1], CRFParams(iterations=2), device="cpu")
    assert [m.shape for m in shown["network"]] == [(48, 48)] * 2
    assert set(np.unique(np.concatenate([m.ravel() for m in shown["network + CRF"]]))) <= set(range(8))
    figure = plot_predictions(shown["images"], {"truth": shown["truth"], "network": shown["network"]},
                              val.class_names)
    assert len(figure.axes) == 6
    with pytest.raises(ValueError, match="has 1 maps for 2 images"):
        plot_predictions(shown["images"], {"truth": shown["truth"][:1]}, val.class_names)


def test_smoothing_is_unbiased_at_the_start_and_curves_take_validation_points(trial):
    assert smooth(np.array([2.0, 2.0, 2.0])) == pytest.approx([2.0, 2.0, 2.0])
    assert smooth(np.array([0.0, 1.0]), 0.5)[1] == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        smooth(np.array([1.0]), 1.0)
    log = Path(trial.runs[0].checkpoint).parent / "log.csv"
    figure = plot_training_curves({"seed 0": log}, validation={"seed 0": ([1, 2], [0.1, 0.2])})
    assert len(figure.axes) == 2  # loss and its validation twin: one run has one schedule
    other = {key: np.asarray(values) * (0.5 if key == "lr_backbone" else 1) for key, values in read_log(log).items()}
    figure = plot_training_curves({"seed 0": log, "half the rate": other})
    assert len(figure.axes) == 2 and len(figure.axes[1].lines) == 2  # schedules differ: their own panel


def test_training_curves_name_each_runs_log_and_its_validation_points(trial):
    logs, validation = training_curves([trial])
    assert list(logs) == ["v3, seed 0", "v3, seed 1"] and all(Path(p).is_file() for p in logs.values())
    steps, mious = validation["v3, seed 1"]
    assert steps == [1, 2] and mious == [r["mIoU"] for r in trial.runs[1].validation]
    # The last point is the finished run's own val mIoU, the number the trial reports.
    assert mious[-1] == pytest.approx(trial.values()[1])
    only, _ = training_curves([trial], seeds=(1,))
    assert list(only) == ["v3, seed 1"]
    figure = plot_training_curves(logs, validation=validation)
    assert len(figure.axes[1].lines) == 2  # one line of val points per run


def test_reports_print_each_trial_and_each_effect(trial):
    from deeplab_edu.experiments import compare
    from deeplab_edu.trials import per_class_report, results_report

    effect = compare("mIoU", "v3", trial.values(), "v3 + CRF", trial.values(crf=True))
    text = results_report([trial], [effect])
    assert "v3" in text and "parameters" in text and effect.here() in text and effect.verdict in text
    assert effect.sentence() not in text  # each number once: the table, not the table and a sentence
    assert f"{sum(p.numel() for p in trial.runs[0].model.parameters()):,}" in text
    assert "crescent" in per_class_report([trial])


def test_setup_chapter_seeds_and_names_what_a_training_chapter_starts_from(monkeypatch, capsys):
    from deeplab_edu.paths import REPO_ROOT
    from deeplab_edu.trials import setup_chapter

    monkeypatch.setenv("DEEPLAB_EDU_PROFILE", "smoke")
    chapter = setup_chapter("99_test")
    first = torch.rand(3)
    assert chapter.profile.name == "smoke" and chapter.seeds == (0, 1) and chapter.dataset == "builtin"
    assert chapter.runs == REPO_ROOT / "runs" / "99_test" / "smoke"
    assert len(chapter.val_set) == chapter.profile.val_images
    assert "profile smoke, dataset builtin" in capsys.readouterr().out
    setup_chapter("99_test")
    torch.testing.assert_close(torch.rand(3), first)  # seeded: the same numbers again
