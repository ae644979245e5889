"""The ``gpu`` profile's code path on a CPU, so it cannot rot before a GPU arrives: a full-size
model's config from the profile, the cost printed before the run, a run that stops without
ImageNet weights, and one that trains from scratch on purpose — on a VOC-format tree written as
the real archive is (JPEGImages/*.jpg, SegmentationClass/*.png palette PNGs,
ImageSets/Segmentation/*.txt) — then scored by ``evaluate`` on the dataset it was trained on."""

from __future__ import annotations

import dataclasses

import pytest

from datasets_cases import make_voc
from deeplab_edu.__main__ import main
from deeplab_edu.engine.config import TrainConfig
from deeplab_edu.profiles import PROFILES

TRAIN = ["2007_000032", "2007_000039", "2007_000063", "2007_000068"]
VAL = ["2007_000121", "2007_000123"]


@pytest.fixture
def voc(tmp_path):
    root = tmp_path / "VOCdevkit" / "VOC2012"
    make_voc(root, {"train": TRAIN, "val": VAL, "trainval": TRAIN + VAL})
    return root


def test_the_tree_is_written_as_the_archive_is(voc):
    assert sorted(p.name for p in voc.iterdir()) == ["ImageSets", "JPEGImages", "SegmentationClass"]
    from PIL import Image

    assert Image.open(voc / "SegmentationClass" / f"{TRAIN[0]}.png").mode == "P"
    assert (voc / "ImageSets" / "Segmentation" / "val.txt").read_text().split() == VAL


def test_a_full_size_run_without_imagenet_weights_stops_saying_where_they_go(voc, tmp_path, monkeypatch):
    from deeplab_edu.train import train

    monkeypatch.setenv("DEEPLAB_EDU_IMAGENET", str(tmp_path / "imagenet"))
    config = TrainConfig.from_profile("deeplabv3", PROFILES["gpu"], dataset="voc", data_root=str(voc),
                                      out_dir=str(tmp_path / "run"), progress=False)
    assert config.pretrained == str(tmp_path / "imagenet" / "resnet101-63fe2227.pth")
    with pytest.raises(FileNotFoundError) as stopped:
        train(config)
    message = str(stopped.value)
    for needed in ("resnet101", str(tmp_path / "imagenet"), "DEEPLAB_EDU_IMAGENET", "data/README.md",
                   "--pretrained none"):
        assert needed in message
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


@pytest.mark.parametrize("profile, model, backbone", [("full", "deeplabv3", "resnet101"),
                                                      ("gpu", "deeplabv1", "vgg16")])
def test_the_command_line_stops_too_and_names_the_way_to_train_from_scratch(profile, model, backbone, tmp_path,
                                                                           monkeypatch, capsys):
    monkeypatch.setenv("DEEPLAB_EDU_PROFILE", profile)
    monkeypatch.setenv("DEEPLAB_EDU_IMAGENET", str(tmp_path / "imagenet"))
    code = main(["train", "--model", model, "--dataset", "builtin", "--out", str(tmp_path / "run"),
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and f"{backbone}'s ImageNet weights are not at" in err and "--pretrained none" in err
    assert "random weights" not in capsys.readouterr().out and not (tmp_path / "run").exists()


def test_random_weights_in_the_laptop_profile_at_full_width_are_still_allowed(tmp_path, monkeypatch):
    from deeplab_edu.engine.pretrained import default_pretrained

    monkeypatch.setenv("DEEPLAB_EDU_IMAGENET", str(tmp_path))
    assert default_pretrained("deeplabv3", None, 1.0, {}, profile="laptop") is None
    assert default_pretrained("deeplabv3", None, 1.0, {}, profile="gpu").endswith("resnet101-63fe2227.pth")


@pytest.mark.slow
def test_the_gpu_profile_trains_and_scores_end_to_end_at_a_tiny_size(voc, tmp_path, capsys):
    from deeplab_edu.engine.estimate import estimate_time
    from deeplab_edu.train import train

    gpu = TrainConfig.from_profile("deeplabv2", PROFILES["gpu"], dataset="voc", data_root=str(voc),
                                   out_dir=str(tmp_path / "run"), progress=False, pretrained=None)
    # the profile's recipe: width 1, the paper's frozen BatchNorm and 10x head, the profile's sizes
    assert (gpu.width, gpu.crop_size, gpu.batch_size, gpu.iterations) == (1.0, 321, 8, PROFILES["gpu"].iterations)
    assert gpu.batchnorm == "frozen" and gpu.head_lr_mult == 10 and gpu.model_options == {}
    # the same code path at a size a CPU runs in seconds: one unit per ResNet stage, 2 steps of 2 crops
    tiny = dataclasses.replace(gpu, crop_size=33, batch_size=2, iterations=2, width=0.125,
                               model_options={"blocks": (1, 1, 1, 1)})
    cost = estimate_time([tiny, tiny], steps=1, device="cpu")
    assert cost.runs == 2 and "run profile 'gpu'" in cost.describe("gpu")
    result = train(tiny)
    assert result.iterations == 2 and result.checkpoint.is_file()
    assert main(["evaluate", str(result.checkpoint), "--no-progress", "--trimap", "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "dataset 'voc': the one" in printed and f"on voc/val ({len(VAL)} images)" in printed


def test_evaluate_reads_the_dataset_and_folder_from_the_checkpoints_config(voc, tmp_path):
    import json

    import torch

    from deeplab_edu.checkpoint import FORMAT
    from deeplab_edu.cli.evaluate import trained_on

    def saved(config: dict | None) -> str:
        path = tmp_path / f"ckpt{len(list(tmp_path.glob('*.pt')))}.pt"
        extra = {} if config is None else {"config": json.dumps(config)}
        torch.save({"format": FORMAT, "extra": extra}, path)
        return str(path)

    assert trained_on(saved({"dataset": "voc", "data_root": str(voc)})) == ("voc", str(voc))
    # a folder that is gone (another machine's path) falls back to the dataset's default folder
    assert trained_on(saved({"dataset": "voc_aug", "data_root": str(tmp_path / "gone")})) == ("voc_aug", None)
    assert trained_on(saved(None)) == ("builtin", None)
