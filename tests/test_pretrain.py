"""ImageNet pretraining in miniature: the object images, the run, the shipped weights."""

import json

import numpy as np
import pytest
import torch

from deeplab_edu import weights
from deeplab_edu.models import build_from_config
from deeplab_edu.__main__ import main
from deeplab_edu.datasets.synthetic import CLASSES, make_object_image
from deeplab_edu.models import MODELS, build_model
from deeplab_edu.backbones.vgg import VGG16
from deeplab_edu.pretrain import (NUM_CLASSES, SHIPPED_DIR, TRAIN_SEED_OFFSET, VAL_SEED_OFFSET, BatchNormVGG,
                                  PretrainConfig, accuracy, fold_batchnorm, fold_sequential, load_classifier, object_images,
                                  pretrain, recorded_settings, save_classifier, shipped_weights, vgg_fc_layers, weights_name)
from deeplab_edu.profiles import PROFILES
from deeplab_edu.train import TrainConfig

SHIPPED = {"resnet": PretrainConfig(backbone="resnet"), "vgg16": PretrainConfig(backbone="vgg16")}


def tiny(backbone: str = "resnet", **changes) -> PretrainConfig:
    values = dict(backbone=backbone, width=0.125, train_images=24, val_images=8, image_size=32,
                  batch_size=8, iterations=3, progress=False)
    values.update(changes)
    return PretrainConfig(**values)


# ----------------------------------------------------------------------------- the images

def test_object_images_are_deterministic_and_cover_every_class():
    first, cls = make_object_image(5, 64)
    again, cls_again = make_object_image(5, 64)
    assert np.array_equal(first, again) and cls == cls_again
    assert first.shape == (64, 64, 3) and first.dtype == np.uint8
    classes = {make_object_image(seed, 32)[1] for seed in range(200)}
    assert classes == set(range(1, len(CLASSES)))


@pytest.mark.parametrize("seed, size", [(-1, 64), (1.5, 64), (0, 8), (True, 64)])
def test_object_image_bad_arguments(seed, size):
    with pytest.raises(ValueError, match="seed|size"):
        make_object_image(seed, size)


def test_object_images_batch_labels_are_class_minus_one():
    images, labels = object_images(20, 32, VAL_SEED_OFFSET)
    assert images.shape == (20, 3, 32, 32) and images.dtype == torch.uint8
    expected = [make_object_image(VAL_SEED_OFFSET + i, 32)[1] - 1 for i in range(20)]
    assert labels.tolist() == expected and labels.max() < NUM_CLASSES


# ----------------------------------------------------------------------------- the run

@pytest.mark.parametrize("backbone", ["resnet", "vgg16"])
def test_a_short_run_saves_weights_that_load_back_and_into_deeplab(tmp_path, backbone):
    config = tiny(backbone)
    result = pretrain(config)
    assert [row["step"] for row in result.history] == [1, 2, 3]
    assert all(np.isfinite(row["loss"]) for row in result.history)
    path = save_classifier(result, config, tmp_path / "w.pt")
    record = json.loads(path.with_suffix(".json").read_text())
    assert record["config"]["backbone"] == backbone and 0 <= record["val_accuracy"] <= 1
    assert ("blocks" in record["config"]) == (backbone == "resnet")
    assert record["config"] == json.loads(json.dumps(recorded_settings(config)))  # what a reuse check compares
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left no temporary file

    restored = load_classifier(path, config)
    x = torch.randn(2, 3, 32, 32)
    result.model.eval(), restored.eval()
    with torch.no_grad():
        assert torch.allclose(restored(x), result.model(x))

    model = build_from_config(TrainConfig.from_profile(
        "deeplabv1" if backbone == "vgg16" else "deeplabv3", PROFILES["smoke"]).model_config(8))
    weights.load_pretrained(model, path)  # the classifier's fc.* is dropped, as torchvision's is
    assert torch.equal(model.backbone.state_dict()["conv1.weight" if backbone == "resnet" else "features.0.weight"],
                       torch.load(path, weights_only=True)["conv1.weight" if backbone == "resnet"
                                                           else "features.0.weight"])


def test_vggs_classifier_pretrains_and_starts_a_deeplab_v1_head_by_decimation(tmp_path):
    # fc6 7×7 at rate 1 on the 7 × 7 stride-8 map of a 56-px image: one window, as VGG-16 reads pool5.
    config = tiny("vgg16", image_size=56, fc6_rate=1)
    result = pretrain(config)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in result.model.modules())  # folded
    path = save_classifier(result, config, tmp_path / "fc.pt")
    assert json.loads(path.with_suffix(".json").read_text())["config"]["fc6_rate"] == 1
    restored = load_classifier(path, config).eval()
    x = torch.randn(2, 3, 56, 56)
    with torch.no_grad():
        assert torch.allclose(restored(x), result.model.eval()(x), atol=1e-5)
    state = torch.load(path, weights_only=True)
    w6, w7 = state["classifier.fc6.weight"], state["classifier.fc7.weight"]
    assert w6.shape[-2:] == (7, 7)
    for fc6, taps, keep in (("largefov", [0, 3, 6], 4), ("4x4", [0, 2, 4, 6], 1), ("7x7", list(range(7)), 1)):
        model = weights.load_pretrained(build_model("deeplabv1", 8, fc6=fc6, width=0.125), path)
        assert torch.equal(model.classifier.fc6.weight, w6[::keep][:, :, taps][:, :, :, taps])
        assert torch.equal(model.classifier.fc7.weight, w7[::keep, ::keep] * keep)  # compensated: × C / channels
        assert torch.equal(model.backbone.features[0].weight, state["features.0.weight"])
    # the head's rate is the model's own: the same taps, squeezed (4×4 at rate 2) or at their spacing
    squeezed = weights.load_pretrained(build_model("deeplabv1", 8, fc6="4x4", fc6_rate=2, width=0.125), path)
    assert squeezed.classifier.fc6.dilation == (2, 2)
    assert torch.equal(squeezed.classifier.fc6.weight, w6[:, :, ::2, ::2])
    # the backbone-only start (the shipped files) leaves fc6 as the model built it
    backbone_only = {k: v for k, v in state.items() if not k.startswith(("classifier.", "fc."))}
    plain = build_model("deeplabv1", 8, width=0.125)
    before = plain.classifier.fc6.weight.clone()
    assert torch.equal(weights.load_pretrained(plain, backbone_only).classifier.fc6.weight, before)


def test_decimation_keeps_fc7s_input_when_compensated():
    torch.manual_seed(3)
    fc6 = {"weight": torch.randn(8, 4, 7, 7), "bias": torch.randn(8)}
    fc7 = {"weight": torch.rand(8, 8), "bias": torch.zeros(8)}
    x = torch.rand(8)  # fc7's input, all channels alike on average
    plain, kept = (weights.decimate_fc(fc6, fc7, 3, 2, compensate=c)["classifier.fc7.weight"][:, :, 0, 0]
                   for c in (False, True))
    assert torch.equal(plain, fc7["weight"][::4, ::4])  # the paper's decimation: every 4th channel
    assert torch.equal(kept, 4 * plain)
    full_input = fc7["weight"][::4] @ x
    assert (plain @ x[::4]).mean() < 0.5 * full_input.mean() < (kept @ x[::4]).mean()


def test_a_miniature_fc6_that_cannot_be_decimated_into_the_head_is_refused():
    state = {"classifier.fc6.weight": torch.zeros(12, 16, 7, 7), "classifier.fc6.bias": torch.zeros(12),
             "classifier.fc7.weight": torch.zeros(12, 12, 1, 1), "classifier.fc7.bias": torch.zeros(12)}
    model = build_model("deeplabv1", 8, width=0.125)  # fc6 wants 128 channels from 12: no decimation gives that
    with pytest.raises(weights.CheckpointMismatchError, match="channels must divide"):
        weights.load_miniature_fc(model, state)
    with pytest.raises(ValueError, match="kernel must lie in 1..7"):
        weights.decimate_fc({"weight": state["classifier.fc6.weight"], "bias": state["classifier.fc6.bias"]},
                            {"weight": state["classifier.fc7.weight"], "bias": state["classifier.fc7.bias"]}, 9, 12)


def test_folding_a_sequential_keeps_what_it_computes():
    torch.manual_seed(2)
    layers = vgg_fc_layers(8, 0.125, rate=1, batch_norm=True).train()
    layers(torch.randn(4, 8, 9, 9))  # running statistics away from their start
    layers.eval()
    x = torch.randn(2, 8, 9, 9)
    with torch.no_grad():
        expected = layers(x)
        folded = fold_sequential(layers)
        assert [name for name, _ in folded.named_children()] == ["fc6", "relu6", "fc7", "relu7"]
        assert expected.abs().max() > 0.01 and torch.allclose(folded(x), expected, atol=1e-5)


def test_folding_batchnorm_keeps_what_the_net_computes():
    torch.manual_seed(0)
    vgg = VGG16(width=0.125)
    net = BatchNormVGG(vgg)
    net.train()
    for _ in range(3):  # running statistics and affine parameters away from their identity start
        net(torch.randn(4, 3, 32, 32) * 3 + 1)
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(module.weight, 0.5, 2.0), torch.nn.init.uniform_(module.bias, -1.0, 1.0)
    net.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = net(x)["out"]
        folded = net.fold()
        assert folded is vgg and not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
        assert expected.abs().max() > 0.1  # a net whose output is all zeros would agree trivially
        assert torch.allclose(folded(x)["out"], expected, atol=1e-4, rtol=1e-4)


def test_fold_batchnorm_matches_the_formula():
    torch.manual_seed(1)
    conv, bn = torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4)
    bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2)
    bn.weight.data.uniform_(0.5, 2), bn.bias.data.uniform_(-1, 1)
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    want_w = conv.weight * scale.view(-1, 1, 1, 1)
    want_b = (conv.bias - bn.running_mean) * scale + bn.bias
    with torch.no_grad():
        fold_batchnorm(conv, bn)
    assert torch.allclose(conv.weight, want_w) and torch.allclose(conv.bias, want_b)


@pytest.mark.slow
def test_pretraining_learns_its_training_images():
    # 40 steps on 32 images: the classifier must come to name most of them (chance is 1/7).
    # How well it generalises is the shipped weights' test below.
    config = PretrainConfig(backbone="resnet", train_images=32, val_images=8, image_size=32, batch_size=16,
                            iterations=40, lr=0.02, progress=False)
    result = pretrain(config)
    assert accuracy(result.model, *object_images(32, 32, TRAIN_SEED_OFFSET)) > 0.6
    assert np.mean([r["loss"] for r in result.history[-5:]]) < np.mean([r["loss"] for r in result.history[:5]])


@pytest.mark.parametrize("changes, message", [
    ({"backbone": "alexnet"}, "backbone"), ({"iterations": 0}, "iterations"),
    ({"batch_size": 2.5}, "batch_size"), ({"lr": -1.0}, "lr"), ({"width": 0}, "width"),
    ({"fc6_rate": 1}, "the resnet classifier has none"), ({"backbone": "vgg16", "fc6_rate": 0}, "fc6_rate"),
    ({"backbone": "vgg16", "fc6_rate": 1}, "spans 7 cells of the stride-8 map, but a 32-px image gives 4")])
def test_bad_pretrain_configs_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        pretrain(tiny(**changes))


@pytest.mark.slow
def test_pretrain_command(tmp_path, capsys):
    out = tmp_path / "r.pt"
    assert main(["pretrain", "--width", "0.125", "--iterations", "2", "--train-images", "16",
                 "--batch-size", "4", "--out", str(out), "--no-progress"]) == 0
    assert out.is_file() and out.with_suffix(".json").is_file()
    assert "val accuracy" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["pretrain", "--help"])
    assert "miniature" in capsys.readouterr().out
    with_fc = tmp_path / "fc.pt"
    assert main(["pretrain", "--backbone", "vgg16", "--width", "0.125", "--iterations", "1", "--train-images", "8",
                 "--batch-size", "4", "--image-size", "56", "--fc6-rate", "1", "--out", str(with_fc),
                 "--no-progress"]) == 0
    assert torch.load(with_fc, weights_only=True)["classifier.fc6.weight"].shape[-2:] == (7, 7)


# ----------------------------------------------------------------------------- shipped weights

@pytest.mark.parametrize("backbone", sorted(SHIPPED))
@pytest.mark.slow
def test_shipped_weights_name_held_out_objects(backbone):
    config = SHIPPED[backbone]
    path = SHIPPED_DIR / weights_name(backbone, config.width, config.blocks if backbone == "resnet" else None)
    model = load_classifier(path, config)
    # Images after the 500 the run validated on: never seen by training or by model selection.
    images, labels = object_images(300, config.image_size, VAL_SEED_OFFSET + 500)
    record = json.loads(path.with_suffix(".json").read_text())
    assert record["config"]["backbone"] == backbone
    held_out = accuracy(model, images, labels)
    # The record's claim holds on images it was not measured on, and both name nearly every
    # object (chance is 1/7); VGG-16 only since it is trained with BatchNorm (folded afterwards).
    assert abs(held_out - record["val_accuracy"]) < 0.03
    assert held_out > 0.95


@pytest.mark.slow
def test_the_three_unit_last_stage_for_multi_grid_is_shipped_and_names_held_out_objects():
    # Chapter 09's multi-grid arms need several units in the last stage: blocks (1, 1, 1, 3).
    config = PretrainConfig(backbone="resnet", blocks=(1, 1, 1, 3))
    path = shipped_weights("resnet101", config.width, config.blocks)
    assert path is not None and path.name == weights_name("resnet", config.width, config.blocks)
    record = json.loads(path.with_suffix(".json").read_text())
    assert tuple(record["config"]["blocks"]) == (1, 1, 1, 3)
    images, labels = object_images(300, config.image_size, VAL_SEED_OFFSET + 500)
    held_out = accuracy(load_classifier(path, config), images, labels)
    # 300 images at ~0.9 accuracy: one standard error is 0.017, so the two may differ by ~3 of them.
    assert abs(held_out - record["val_accuracy"]) < 0.05 and held_out > 0.85  # chance is 1/7
    laptop = TrainConfig.from_profile("deeplabv3", PROFILES["laptop"], model_options={"blocks": (1, 1, 1, 3)})
    assert laptop.pretrained == str(path)


@pytest.mark.parametrize("name", MODELS)
def test_laptop_models_start_from_the_shipped_weights_and_smoke_from_scratch(name):
    laptop = TrainConfig.from_profile(name, PROFILES["laptop"])
    assert laptop.pretrained is not None and SHIPPED_DIR.samefile(laptop.pretrained.rsplit("/", 1)[0])
    model = build_from_config(laptop.model_config(8))
    weights.load_pretrained(model, laptop.pretrained)
    assert TrainConfig.from_profile(name, PROFILES["smoke"]).pretrained is None
    assert TrainConfig.from_profile(name, PROFILES["laptop"], pretrained=None).pretrained is None


def test_shipped_weights_only_fit_their_own_shape():
    assert shipped_weights("resnet101", 0.25, (1, 1, 1, 1)) is not None
    assert shipped_weights("resnet50", 0.25, (1, 1, 1, 1)) == shipped_weights("resnet101", 0.25, (1, 1, 1, 1))
    assert shipped_weights("vgg16", 0.25) is not None
    assert shipped_weights("resnet101", 0.25, None) is None  # a full-depth ResNet
    assert shipped_weights("resnet101", 1.0, (1, 1, 1, 1)) is None
    assert shipped_weights("vgg16", 0.5) is None


def test_train_command_picks_the_shipped_weights_unless_told_otherwise(tmp_path):
    import argparse

    from deeplab_edu.cli.train import add_arguments, config_from_args

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    small = ["--width", "0.25", "--model", "deeplabv3"]
    auto = config_from_args(parser.parse_args(small)).pretrained
    assert auto is not None and auto.endswith(weights_name("resnet", 0.25, (1, 1, 1, 1)))
    assert config_from_args(parser.parse_args([*small, "--pretrained", "none"])).pretrained is None
    assert config_from_args(parser.parse_args([*small, "--pretrained", "my.pt"])).pretrained == "my.pt"
    assert config_from_args(parser.parse_args(["--width", "1.0"])).pretrained is None
    vgg = config_from_args(parser.parse_args(["--width", "0.25", "--model", "deeplabv1"])).pretrained
    assert vgg is not None and vgg.endswith(weights_name("vgg16", 0.25))


def test_full_size_models_start_from_torchvision_files_when_they_are_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPLAB_EDU_IMAGENET", str(tmp_path))
    full = PROFILES["full"]
    resnet = tmp_path / weights.TORCHVISION_URLS["resnet101"].rsplit("/", 1)[1]
    # nothing there: the path the file must be at, where the run stops (engine.pretrained)
    assert TrainConfig.from_profile("deeplabv3", full).pretrained == str(resnet)
    vgg = tmp_path / weights.TORCHVISION_URLS["vgg16"].rsplit("/", 1)[1]
    resnet.write_bytes(b"")
    vgg.write_bytes(b"")
    assert TrainConfig.from_profile("deeplabv3", full).pretrained == str(resnet)
    assert TrainConfig.from_profile("deeplabv1", full).pretrained == str(vgg)
    assert TrainConfig.from_profile("deeplabv3", full, backbone="resnet50").pretrained == str(
        tmp_path / weights.TORCHVISION_URLS["resnet50"].rsplit("/", 1)[1])
    # The small models keep the book's own weights whatever the folder holds.
    assert TrainConfig.from_profile("deeplabv3", PROFILES["laptop"]).pretrained.endswith(
        weights_name("resnet", 0.25, (1, 1, 1, 1)))
