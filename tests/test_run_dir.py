"""The run directory keeps its work: resume by default, a different recipe refused, --overwrite
to start over, a longer run extends its schedule, and what a killed run leaves is handled."""

import dataclasses
import math
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import torch

from deeplab_edu.checkpoint import atomic_save, read_checkpoint
from deeplab_edu.engine.log import read_rows
from deeplab_edu.errors import TrainingInterrupted, UserError
from deeplab_edu.schedules import poly_lr
from deeplab_edu.train import TrainConfig, train


def config(builtin, tmp_path, **overrides) -> TrainConfig:
    values = dict(dataset="builtin", data_root=str(builtin), model="deeplabv1", width=0.125, crop_size=33,
                  batch_size=2, iterations=4, log_every=1, progress=False, device="cpu",
                  out_dir=str(tmp_path / "run"), lr=0.01)
    values.update(overrides)
    return TrainConfig(**values)


def steps(tmp_path) -> list[int]:
    return [int(r["step"]) for r in read_rows(tmp_path / "run" / "log.csv")]


def test_training_again_into_a_run_folder_resumes_instead_of_replacing_it(builtin, tmp_path):
    first = train(config(builtin, tmp_path, stop_at=2))
    before = read_checkpoint(first.checkpoint)["iteration"]
    again = train(config(builtin, tmp_path))  # the same config again: it resumes
    assert before == 2 and again.start_iteration == 2 and again.iterations == 4
    assert steps(tmp_path) == [1, 2, 3, 4]  # the first session's rows are still there
    straight = train(config(builtin, tmp_path / "straight"))
    for a, b in zip(again.model.state_dict().values(), straight.model.state_dict().values()):
        assert torch.equal(a, b)  # and the resumed run is the straight one, bit for bit


def test_a_finished_run_is_loaded_and_said_so_an_unfinished_one_resumed(builtin, tmp_path, capsys):
    train(config(builtin, tmp_path, stop_at=2))
    capsys.readouterr()
    train(config(builtin, tmp_path))
    assert "resuming" in capsys.readouterr().out
    again = train(config(builtin, tmp_path))
    out = capsys.readouterr().out
    assert "finished earlier (4 iterations" in out and "not trained again" in out and "resuming" not in out
    assert again.start_iteration == again.iterations == 4


def test_a_different_recipe_is_refused_naming_every_field(builtin, tmp_path):
    train(config(builtin, tmp_path, stop_at=1))
    with pytest.raises(UserError) as info:
        train(config(builtin, tmp_path, lr=0.02, seed=3, batch_size=4))
    text = str(info.value)
    for field in ("lr: saved 0.01, now 0.02", "seed: saved 0, now 3", "batch_size: saved 2, now 4", "--overwrite"):
        assert field in text
    restarted = train(config(builtin, tmp_path, lr=0.02, overwrite=True, stop_at=1))
    assert restarted.start_iteration == 0
    assert read_checkpoint(restarted.checkpoint)["extra"]["config"].count('"lr": 0.02') == 1


def test_spelling_out_a_default_is_the_same_recipe(builtin, tmp_path):
    train(config(builtin, tmp_path, stop_at=1))
    resumed = train(config(builtin, tmp_path, output_stride=8, backbone="vgg16", stop_at=2))
    assert resumed.start_iteration == 1
    saved = read_checkpoint(resumed.checkpoint)
    assert saved["model_config"]["output_stride"] == 8 and saved["model_config"]["backbone"] == "vgg16"


def test_more_iterations_extend_the_poly_schedule(builtin, tmp_path):
    train(config(builtin, tmp_path, iterations=2))
    longer = train(config(builtin, tmp_path, iterations=4))
    lrs = [row["lr_backbone"] for row in longer.history]
    # Steps 3 and 4 (it = 2, 3) follow the 4-iteration schedule, not the finished 2-iteration one (0).
    assert lrs[2:] == pytest.approx([poly_lr(0.01, it, 4) for it in (2, 3)], rel=1e-6)
    assert all(lr > 0 for lr in lrs[2:])
    with pytest.raises(UserError, match="beyond iterations=3"):
        train(config(builtin, tmp_path, iterations=3))


def test_elapsed_time_and_the_iteration_count_continue_across_a_resume(builtin, tmp_path):
    first = train(config(builtin, tmp_path, stop_at=2))
    second = train(config(builtin, tmp_path))
    elapsed = [row["elapsed_s"] for row in read_rows(tmp_path / "run" / "log.csv")]
    assert elapsed == sorted(elapsed) and elapsed[2] >= elapsed[1]
    assert second.seconds >= first.seconds and (second.start_iteration, second.iterations) == (2, 4)


def test_a_partial_last_log_line_does_not_break_the_resumed_run(builtin, tmp_path):
    train(config(builtin, tmp_path, stop_at=2))
    with (tmp_path / "run" / "log.csv").open("a") as log:
        log.write("1")  # "10,0.61,…" cut after its first character by a kill
    with pytest.warns(UserWarning, match="incomplete"):
        result = train(config(builtin, tmp_path))
    assert [int(r["step"]) for r in result.history] == [1, 2, 3, 4]
    assert steps(tmp_path) == [1, 2, 3, 4]


def test_non_finite_weights_are_never_saved_as_a_good_checkpoint(builtin, tmp_path):
    with pytest.raises(ValueError, match="lr must be a finite number"):
        config(builtin, tmp_path, lr=math.inf).validate()
    with pytest.raises(FloatingPointError, match="weights are not finite"):
        train(config(builtin, tmp_path, lr=3e38, head_lr_mult=1.0, weight_decay=1e38, iterations=1))
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_a_crop_of_void_only_trains_without_nan():
    from deeplab_edu.train import downsampled_loss, upsampled_loss

    scores = torch.randn(1, 3, 5, 5, requires_grad=True)
    labels = torch.full((1, 33, 33), 255)
    for loss_fn in (upsampled_loss, downsampled_loss):
        loss = loss_fn(scores, labels)
        loss.backward()
        assert loss.item() == 0.0 and torch.equal(scores.grad, torch.zeros_like(scores))
        scores.grad = None


def test_the_checkpoint_interval_follows_the_iterations():
    assert TrainConfig(iterations=8).checkpoint_interval == 2
    assert TrainConfig(iterations=3).checkpoint_interval == 1
    from deeplab_edu.__main__ import build_parser
    from deeplab_edu.cli.train import config_from_args

    args = build_parser("train").parse_args(["train", "--iterations", "8", "--pretrained", "none"])
    assert config_from_args(args).checkpoint_interval == 2


def test_sigint_saves_a_checkpoint_at_the_current_step_and_says_how_to_resume(builtin, tmp_path):
    cfg = config(builtin, tmp_path, iterations=10_000, log_every=1)
    log = tmp_path / "run" / "log.csv"

    def interrupt_after_the_first_steps():
        deadline = time.time() + 120
        while time.time() < deadline and len(read_rows(log)) < 2:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_after_the_first_steps, daemon=True).start()
    with pytest.raises(TrainingInterrupted, match="SIGINT received: stopped at iteration .* to resume"):
        train(cfg)
    saved = read_checkpoint(tmp_path / "run" / "checkpoint.pt")["iteration"]
    assert 2 <= saved < 10_000  # the step it was at, not the last quarter mark (2500)
    resumed = train(dataclasses.replace(cfg, stop_at=saved + 1))
    assert resumed.start_iteration == saved


def test_stale_temporaries_are_removed_and_a_full_disk_is_named(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    atomic_save({"a": torch.ones(1)}, path)
    stale = tmp_path / ".checkpoint.pt.abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    atomic_save({"a": torch.ones(2)}, path)
    assert not stale.exists()

    def full_disk(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:603] . PytorchStreamWriter failed writing "
                           "file data/0: file write failed")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match=f"no space left on {tmp_path}"):
        atomic_save({"a": torch.ones(3)}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)["a"].shape == (2,)  # the old checkpoint is whole
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_builtin_set_painted_again_is_other_data(builtin, tmp_path):
    import json
    import shutil

    data = Path(shutil.copytree(builtin, tmp_path / "data"))
    train(config(builtin, tmp_path, data_root=str(data), stop_at=1))
    meta = json.loads((data / "builtin.json").read_text())
    meta["format_version"] += 1  # as the lead's next painting would be
    (data / "builtin.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match="data in .*format_version"):
        train(config(builtin, tmp_path, data_root=str(data)))
