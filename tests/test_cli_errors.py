"""The command line's face: one clear line and exit status 2 for a user's mistake, checked
before work starts; help that states each default once; outputs that never replace inputs."""

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from deeplab_edu.__main__ import COMMANDS, build_parser, main
from deeplab_edu.datasets.synthetic import write_builtin


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_builtin(tmp_path_factory.mktemp("data"), train=4, val=2, size=41, progress=False)


@pytest.fixture(scope="module")
def checkpoint(data, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("run")
    assert main(["train", "--model", "deeplabv1", "--width", "0.125", "--crop-size", "33", "--batch-size", "2",
                 "--iterations", "1", "--out", str(run), "--device", "cpu", "--no-progress", "--pretrained", "none",
                 "--dataset", "builtin", "--data-root", str(data)]) == 0
    return run / "checkpoint.pt"


def one_line_error(capsys, *needles) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1 or err.splitlines()[-1].startswith("python -m deeplab_edu")
    for needle in needles:
        assert needle in err
    return err


@pytest.mark.parametrize("argv, needle", [
    (["train", "--rates", "6,x"], "6,x"),
    (["train", "--width", "inf"], "inf"),
    (["train", "--lr", "inf"], "inf"),
    (["evaluate", "ckpt.pt", "--scales", "0.01"], "0.01"),
    (["predict", "photo.jpg", "--checkpoint", "c.pt", "--scales", "0.01"], "0.01"),
])
def test_bad_values_are_refused_by_the_parser(argv, needle, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_missing_gpu_is_named_before_any_data_is_written(tmp_path, capsys):
    assert main(["train", "--device", "cuda", "--dataset", "builtin", "--data-root", str(tmp_path / "d"),
                 "--out", str(tmp_path / "run"), "--pretrained", "none"]) == 2
    one_line_error(capsys, "cuda", "no CUDA")
    assert not (tmp_path / "d").exists() and not (tmp_path / "run").exists()


def test_a_bad_recipe_on_resume_is_one_line(data, checkpoint, capsys):
    assert main(["train", "--model", "deeplabv1", "--width", "0.125", "--crop-size", "33", "--batch-size", "2",
                 "--iterations", "1", "--out", str(checkpoint.parent), "--device", "cpu", "--no-progress",
                 "--pretrained", "none", "--dataset", "builtin", "--data-root", str(data), "--lr", "0.5"]) == 2
    one_line_error(capsys, "lr: saved 0.007, now 0.5", "--overwrite")


def test_batch_one_with_image_pooling_is_refused_before_training(data, tmp_path, capsys):
    assert main(["train", "--model", "deeplabv3", "--width", "0.125", "--crop-size", "33", "--batch-size", "1",
                 "--iterations", "1", "--out", str(tmp_path / "run"), "--device", "cpu", "--no-progress",
                 "--pretrained", "none", "--dataset", "builtin", "--data-root", str(data)]) == 2
    one_line_error(capsys, "batch of 1", "--batchnorm frozen")
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_predict_refuses_an_output_without_extension_before_inference(data, tmp_path, capsys, monkeypatch):
    import deeplab_edu.predict as predict

    monkeypatch.setattr(predict, "load_predictor", lambda *a, **k: pytest.fail("the model was loaded"))
    photo = data / "JPEGImages" / "val_000000.jpg"
    assert main(["predict", str(photo), "--checkpoint", "x.pt", "--out", str(tmp_path / "overlay")]) == 2
    one_line_error(capsys, "extension")


def test_predict_writes_to_the_working_directory_never_onto_the_input(data, checkpoint, tmp_path, monkeypatch,
                                                                       capsys):
    photo = tmp_path / "photo.png"
    Image.open(data / "JPEGImages" / "val_000000.jpg").save(photo)
    original = photo.read_bytes()
    assert main(["predict", str(photo), "--checkpoint", str(checkpoint), "--out", str(photo),
                 "--device", "cpu"]) == 2
    one_line_error(capsys, "is the input image")
    assert photo.read_bytes() == original
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["predict", str(photo), "--checkpoint", str(checkpoint), "--device", "cpu"]) == 0
    overlay = work / "photo_overlay.png"
    assert overlay.is_file() and not (tmp_path / "photo_overlay.png").exists()
    # The class legend sits under the photo-sized overlay.
    assert Image.open(overlay).size[0] == 41 and Image.open(overlay).size[1] > 41


def test_a_zero_size_image_is_named():
    from deeplab_edu.predict import predict_label

    with pytest.raises(ValueError, match="0×0 pixels"):
        predict_label(torch.nn.Conv2d(3, 2, 1), np.zeros((0, 0, 3), np.uint8))


def test_legend_names_the_predicted_classes():
    from deeplab_edu.datasets import VOC_PALETTE
    from deeplab_edu.predict import overlay_with_legend

    image = np.full((20, 120, 3), 100, np.uint8)
    label = np.zeros((20, 120), np.uint8)
    label[:, 60:] = 2
    out = overlay_with_legend(image, label, ["background", "one", "two"])
    strip = out[20:].reshape(-1, 3)
    assert out.shape[1] == 120 and out.shape[0] > 20
    assert (strip == VOC_PALETTE[2]).all(1).any() and not (strip == VOC_PALETTE[1]).all(1).any()


def test_non_finite_weights_are_refused_by_evaluate(checkpoint, tmp_path, capsys):
    state = torch.load(checkpoint, weights_only=True)
    key = next(k for k, v in state["model"].items() if v.is_floating_point())
    state["model"][key] = torch.full_like(state["model"][key], float("nan"))
    bad = tmp_path / "bad.pt"
    torch.save(state, bad)
    assert main(["evaluate", str(bad), "--device", "cpu"]) == 2
    one_line_error(capsys, "non-finite weights")


def test_saved_scores_of_another_class_count_are_refused(data, tmp_path, capsys):
    scores = tmp_path / "scores"
    scores.mkdir()
    for name in ("val_000000", "val_000001"):
        np.save(scores / f"{name}.npy", np.full((3, 41, 41), 1 / 3, np.float16))
    assert main(["crf", str(scores), "--dataset", "builtin", "--data-root", str(data), "--workers", "1",
                 "--no-progress"]) == 2
    one_line_error(capsys, "3 classes", "has 8")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_states_every_default_once_and_explains_every_option(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    assert "(default: None)" not in text
    parser = build_parser(command)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    for action in sub._actions:
        assert action.help, f"{command} {action.option_strings or action.dest} has no help text"
        shown = sub.formatter_class("x")._get_help_string(action) if hasattr(sub.formatter_class, "_get_help_string") \
            else action.help
        rendered = shown % {**vars(action), "prog": "x"}
        assert rendered.count("(default") <= 1, f"{command} {action.option_strings}: {rendered}"


def test_train_says_which_weights_it_starts_from(data, tmp_path, capsys):
    assert main(["train", "--model", "deeplabv1", "--width", "0.125", "--crop-size", "33", "--batch-size", "2",
                 "--iterations", "1", "--out", str(tmp_path / "run"), "--device", "cpu", "--no-progress",
                 "--pretrained", "none", "--dataset", "builtin", "--data-root", str(data)]) == 0
    assert "starting from random weights" in capsys.readouterr().out


def test_the_builtin_set_has_one_home_generated_on_first_use_without_a_bar(tmp_path, monkeypatch, capsys):
    """CLI, env and chapters agree on data/builtin/<profile>/; --no-progress hides the writing bar."""
    from deeplab_edu import environment
    from deeplab_edu.datasets import default_training_data

    monkeypatch.setenv("DEEPLAB_EDU_BUILTIN", str(tmp_path / "builtin"))
    monkeypatch.setenv("DEEPLAB_EDU_PROFILE", "smoke")
    monkeypatch.setenv("DEEPLAB_EDU_VOC", str(tmp_path / "no-voc"))
    (tmp_path / "builtin" / "laptop").mkdir(parents=True)  # another profile's set, as the chapters leave it
    assert main(["train", "--model", "deeplabv1", "--width", "0.125", "--crop-size", "33", "--iterations", "1",
                 "--out", str(tmp_path / "run"), "--device", "cpu", "--no-progress", "--pretrained", "none"]) == 0
    err = capsys.readouterr().err
    assert "writing built-in set" not in err
    home = tmp_path / "builtin" / "smoke"
    assert (home / "builtin.json").is_file()
    assert default_training_data("smoke") == ("builtin", str(home))
    check = next(c for c in environment.environment_checks() if c.name == "built-in set")
    assert check.ok and str(home) in check.detail


def test_a_builtin_set_of_another_format_is_generated_again(tmp_path, monkeypatch):
    from deeplab_edu.datasets import build_dataset, ensure_builtin
    from deeplab_edu.datasets.synthetic import FORMAT_VERSION

    monkeypatch.setenv("DEEPLAB_EDU_PROFILE", "smoke")
    root = write_builtin(tmp_path / "set", train=2, val=1, size=40, progress=False)
    meta = json.loads((root / "builtin.json").read_text())
    meta["format_version"] = FORMAT_VERSION - 1
    (root / "builtin.json").write_text(json.dumps(meta))
    (root / "JPEGImages" / "old_painting.jpg").write_bytes(b"from the old version")
    ensure_builtin(root, progress=False)
    assert json.loads((root / "builtin.json").read_text())["format_version"] == FORMAT_VERSION
    assert not (root / "JPEGImages" / "old_painting.jpg").exists()  # replaced whole, never mixed
    assert len(build_dataset("builtin", "train", root=root)) == 2


def test_an_interrupted_run_exits_130_with_one_line(monkeypatch, capsys):
    import deeplab_edu.engine.loop as loop
    from deeplab_edu.errors import TrainingInterrupted

    def interrupted(config):
        raise TrainingInterrupted("SIGINT received: stopped at iteration 3 of 8, checkpoint run/checkpoint.pt; "
                                  "run the same command again to resume")

    monkeypatch.setattr(loop, "train", interrupted)
    assert main(["train", "--pretrained", "none", "--device", "cpu", "--no-progress"]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and "to resume" in err and len(err.strip().splitlines()) == 1


def test_the_sync_batchnorm_hint_names_an_existing_flag():
    from deeplab_edu import distributed as ddp

    with pytest.raises(ValueError, match="--batchnorm frozen") as info:
        ddp.convert_sync_batchnorm(torch.nn.BatchNorm2d(2), torch.device("cpu"))
    parser = build_parser("train")
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["train"]
    flags = {s for a in sub._actions for s in a.option_strings}
    assert "--batchnorm" in flags and "--freeze-bn" not in str(info.value)
