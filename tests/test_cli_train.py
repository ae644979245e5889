"""The command line: train → evaluate --save-scores → crf → predict, and help that reads well."""


import numpy as np
import pytest
from PIL import Image

from deeplab_edu.__main__ import main
from deeplab_edu.datasets import VOC_PALETTE
from deeplab_edu.datasets.synthetic import write_builtin
from deeplab_edu.predict import overlay


@pytest.mark.parametrize("command, words", [
    ("train", ["--model", "--schedule", "--loss", "--accumulate", "--batchnorm", "--overwrite", "torchrun"]),
    ("evaluate", ["--scales", "--flip", "--trimap", "--save-scores"]),
    ("predict", ["--checkpoint", "--torchvision", "--out"]),
    ("crf", ["--w1", "--sigma-alpha", "--workers"]),
])
def test_help_names_the_options(command, words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for word in words:
        assert word in text


def test_train_evaluate_crf_predict_end_to_end(tmp_path, capsys):
    data = write_builtin(tmp_path / "data", train=4, val=2, size=41, progress=False)
    run = tmp_path / "run"
    common = ["--dataset", "builtin", "--data-root", str(data)]
    assert main(["train", "--model", "deeplabv1", "--width", "0.125", "--crop-size", "33", "--batch-size", "2",
                 "--iterations", "2", "--loss", "downsampled", "--schedule", "step", "--out", str(run),
                 "--device", "cpu", "--no-progress", *common]) == 0
    assert "trained deeplabv1 for 2 iterations" in capsys.readouterr().out
    assert main(["evaluate", str(run / "checkpoint.pt"), "--save-scores", str(tmp_path / "scores"), "--flip",
                 "--device", "cpu", *common]) == 0
    text = capsys.readouterr().out
    assert "mIoU" in text and "trimap_2px" in text and "IoU disc" in text
    assert len(list((tmp_path / "scores").glob("*.npy"))) == 2
    assert main(["crf", str(tmp_path / "scores"), "--workers", "1", "--iterations", "2", *common]) == 0
    text = capsys.readouterr().out
    assert "before" in text and "after" in text and "mIoU" in text
    photo = data / "JPEGImages" / "val_000000.jpg"
    out = tmp_path / "overlay.png"
    assert main(["predict", str(photo), "--checkpoint", str(run / "checkpoint.pt"), "--out", str(out),
                 "--device", "cpu"]) == 0
    width, height = Image.open(out).size
    assert width == Image.open(photo).size[0] and height > Image.open(photo).size[1]  # + the class legend
    assert Image.open(tmp_path / "overlay_label.png").mode == "P"


def test_evaluate_names_a_missing_checkpoint(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nothing.pt"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "nothing.pt" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_overlay_blends_palette_colours_over_non_background():
    image = np.full((2, 2, 3), 100, np.uint8)
    label = np.array([[0, 1], [2, 0]], np.uint8)
    assert np.array_equal(overlay(image, label, alpha=0.0), image)
    full = overlay(image, label, alpha=1.0)
    assert np.array_equal(full[0, 1], VOC_PALETTE[1]) and np.array_equal(full[1, 0], VOC_PALETTE[2])
    assert np.array_equal(full[0, 0], image[0, 0])
    half = overlay(image, label, alpha=0.5)
    assert np.array_equal(half[0, 1], np.round(0.5 * 100 + 0.5 * VOC_PALETTE[1].astype(float)).astype(np.uint8))
    with pytest.raises(ValueError, match="alpha"):
        overlay(image, label, alpha=2)
    with pytest.raises(ValueError, match="label shape"):
        overlay(image, label[:1], alpha=0.5)


def test_predict_needs_exactly_one_source():
    from deeplab_edu.predict import load_predictor

    with pytest.raises(ValueError, match="exactly one"):
        load_predictor()


def test_clip_grad_norm_reaches_the_config_and_bad_values_are_refused(capsys):
    import argparse

    from deeplab_edu.cli.train import add_arguments, config_from_args

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert config_from_args(parser.parse_args([])).clip_grad_norm is None
    assert config_from_args(parser.parse_args(["--clip-grad-norm", "0.5"])).clip_grad_norm == 0.5
    with pytest.raises(SystemExit):
        parser.parse_args(["--clip-grad-norm", "-1"])
    assert "clip-grad-norm" in capsys.readouterr().err
