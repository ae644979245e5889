"""The published recipes, checked against the sources' own numbers written out here.

Each expected value below was copied from the cited source (the paper's sentence, a Caffe
prototxt, a TF flag), not from ``recipes.py``; the tests check what the engine *runs* with —
``TrainConfig.from_profile(model, full)``, the optimiser it builds, the model's BatchNorm — so a
number changed in ``recipes.py`` alone, or lost on the way to the engine, fails here.
"""

import dataclasses
import math

import pytest
import torch

from deeplab_edu import recipes
from deeplab_edu.engine.loop import build_training_model
from deeplab_edu.models import build_model
from deeplab_edu.profiles import PROFILES
from deeplab_edu.recipes import RECIPES, differences, format_comparison
from deeplab_edu.schedules import make_optimizer
from deeplab_edu.train import TrainConfig
from deeplab_edu.weights import TORCHVISION_URLS

FULL, LAPTOP = PROFILES["full"], PROFILES["laptop"]

# The sources' numbers, as their text states them.
PAPER = {
    "deeplabv1": {  # v1 §5 "Training"; rulixiang config/deeplabv1_voc12.yaml for the iterations
        "lr": 0.001,            # "initial learning rate of 0.001"
        "head_lr_mult": 10.0,   # "(0.01 for the final classifier layer)"
        "schedule": "step",     # "multiplying the learning rate by 0.1 at every 2000 iterations"
        "step_size": 2000, "gamma": 0.1,
        "momentum": 0.9,        # "momentum of 0.9"
        "weight_decay": 5e-4,   # "a weight decay of 0.0005"
        "batch_size": 20,       # "a mini-batch of 20 images"
        "iterations": 6000,     # "6000 for step scheduler"
        "crop_size": 321,       # v3 appendix A: "321 as in [10, 11]"
    },
    "deeplabv2": {  # kazuto1011/deeplab-pytorch configs/voc12.yaml
        "lr": 2.5e-4, "momentum": 0.9, "weight_decay": 5e-4, "power": 0.9, "schedule": "poly",
        "batch_size": 10,       # BATCH_SIZE.TRAIN 5 × ITER_SIZE 2
        "iterations": 20_000, "crop_size": 321, "scale": (0.5, 1.5), "batchnorm": "frozen",
    },
    "deeplabv3": {  # v3 §4.1; TF train.py
        "lr": 0.007,            # "initial learning rate = 0.007"
        "schedule": "poly", "power": 0.9,
        "crop_size": 513,       # "crop size to be 513"
        "batch_size": 16, "iterations": 30_000, "scale": (0.5, 2.0), "output_stride": 16,
        "weight_decay": 1e-4,   # train.py: "Use 0.0001 for ResNet model variants"
        "loss": "upsampled", "head_lr_mult": 1.0,  # last_layer_gradient_multiplier default 1.0
    },
    "deeplabv3plus": {  # TF train.py flags and comments
        "lr": 0.007, "weight_decay": 4e-5,  # "use 0.00004 for MobileNet-V2 or Xception model variants"
        "crop_size": 513, "iterations": 30_000, "scale": (0.5, 2.0), "output_stride": 16, "power": 0.9,
    },
}

# Caffe's (lr_mult, decay_mult) per blob in the v1/v2 releases' VGG-16 train prototxt
# (exper/voc12/config/vgg16/train_train.prototxt): every convolution, then the classifier.
CAFFE_CONV = {"weight": (1, 1), "bias": (2, 0)}
CAFFE_FC8 = {"weight": (10, 1), "bias": (20, 0)}

# TF DeepLab: one rate everywhere (last_layer_gradient_multiplier 1.0); slim's L2 regulariser on
# convolution weights only: no biases_regularizer, none in batch_norm, and depthwise weights
# unregularised (regularize_depthwise=False; _split_separable_conv2d weights_regularizer=None).
TF_BN_DECAY = 0.9997  # v3 §4.1 "trained with decay = 0.9997"; model.py batch_norm_params


def full_config(model, **overrides):
    """The paper's run as the full profile builds it, at a size a CPU test can build."""
    values = dict(width=0.125, pretrained=None)
    if model != "deeplabv1" and overrides.get("backbone") not in ("xception65", "vgg16"):
        values["model_options"] = {"blocks": (1, 1, 1, 1)}
    values.update(overrides)
    return TrainConfig.from_profile(model, FULL, **values)


def as_the_paper(model, **overrides):
    """A full-profile config that also uses the paper's data, backbone and starting weights."""
    backbone = RECIPES[model].backbone.value
    weights = TORCHVISION_URLS.get(backbone, TORCHVISION_URLS["resnet101"]).rsplit("/", 1)[1]
    return TrainConfig.from_profile(model, FULL, backbone=backbone, dataset="voc_aug",
                                    pretrained=f"/imagenet/{weights}", **overrides)


@pytest.mark.parametrize("model", sorted(PAPER))
def test_the_full_profile_trains_with_the_sources_numbers(model):
    config = TrainConfig.from_profile(model, FULL).resolved()  # the model's stride written out
    for field, value in PAPER[model].items():
        assert getattr(config, field) == pytest.approx(value), field


@pytest.mark.parametrize("model", sorted(RECIPES))
def test_the_paper_run_shows_no_departure_but_v3s_evaluation_stride(model):
    config = as_the_paper(model)
    # v3 §4.1 evaluates at output stride 8; the engine scores a model at the stride it trained with
    expected = ["eval_output_stride"] if model == "deeplabv3" else []
    assert differences(config) == expected
    assert format_comparison(config).count("≠") == len(expected)


def group_of(optimizer):
    """id(parameter) → (lr multiple of the base rate, decay multiple of the base decay)."""
    base_lr = optimizer.defaults["lr"]
    base_decay = optimizer.defaults["weight_decay"]
    return {id(p): (g["lr"] / base_lr, g["weight_decay"] / base_decay)
            for g in optimizer.param_groups for p in g["params"]}


def net_for(config):
    return build_model(config.model, 3, backbone=config.backbone, width=config.width, **config.model_options)


def optimizer_for(config, model):
    return make_optimizer(model, config.lr, config.momentum, config.weight_decay, config.head_lr_mult,
                          head_layers=config.head_layers, **config.optimizer_groups())


@pytest.mark.parametrize("model", ["deeplabv1", "deeplabv2"])
def test_v1_v2_groups_are_the_caffe_releases(model):
    config = full_config(model, backbone="vgg16")
    net = net_for(config)
    mults = group_of(optimizer_for(config, net))
    assert len(mults) == len(list(net.parameters()))
    for name, p in net.named_parameters():
        layer, blob = name.rsplit(".", 2)[-2:]
        expected = (CAFFE_FC8 if layer == "fc8" else CAFFE_CONV)[blob]
        assert mults[id(p)] == pytest.approx(expected), name


def test_v2_resnet_head_is_the_aspp_classifier_and_its_biases_train_at_twenty_times():
    config = full_config("deeplabv2")
    net = net_for(config)
    mults = group_of(optimizer_for(config, net))
    for branch in net.classifier.branches:
        assert mults[id(branch.fc8.weight)] == pytest.approx(CAFFE_FC8["weight"])
        assert mults[id(branch.fc8.bias)] == pytest.approx(CAFFE_FC8["bias"])
    conv1 = next(p for n, p in net.backbone.named_parameters() if p.dim() == 4)
    assert mults[id(conv1)] == pytest.approx(CAFFE_CONV["weight"])


@pytest.mark.parametrize("model, backbone", [("deeplabv3", "resnet101"), ("deeplabv3plus", "xception65"),
                                             ("deeplabv3plus", "resnet101")])
def test_v3_groups_decay_only_the_convolution_weights_as_tf(model, backbone):
    config = full_config(model, backbone=backbone)
    net = net_for(config)
    mults = group_of(optimizer_for(config, net))
    depthwise_seen = 0
    for module in net.modules():
        for blob, p in module.named_parameters(recurse=False):
            conv = isinstance(module, torch.nn.Conv2d)
            depthwise = conv and module.groups > 1 and module.groups == module.in_channels
            depthwise_seen += depthwise
            regularised = conv and blob == "weight" and not depthwise
            # v3 trains no depthwise layer, so its recipe leaves them (there are none) decayed
            if depthwise and model == "deeplabv3":
                regularised = True
            assert mults[id(p)] == pytest.approx((1.0, 1.0 if regularised else 0.0)), (type(module), blob)
    assert model == "deeplabv3" or depthwise_seen > 0  # v3+'s separable convolutions were checked


@pytest.mark.parametrize("model", ["deeplabv3", "deeplabv3plus"])
def test_v3_batchnorm_averages_with_tfs_decay(model):
    config = full_config(model)
    net, _ = build_training_model(config, 3, torch.device("cpu"))
    norms = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and all(m.momentum == pytest.approx(1 - TF_BN_DECAY) for m in norms)
    backbone = [m for m in net.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert backbone and len(backbone) < len(norms)  # the head's too


def test_v2_keeps_its_batchnorm_frozen_and_the_laptop_keeps_pytorchs_momentum():
    assert full_config("deeplabv2").batchnorm == "frozen"
    assert full_config("deeplabv2").bn_momentum is None
    laptop = TrainConfig.from_profile("deeplabv3", LAPTOP)
    net, _ = build_training_model(dataclasses.replace(laptop, pretrained=None), 3, torch.device("cpu"))
    assert all(m.momentum == 0.1 for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))
    # ... and says so: TF's decay would leave the statistics near their start after a laptop run
    assert TF_BN_DECAY ** laptop.iterations > 0.5
    assert {"bn_momentum", "bias_decay_mult", "norm_decay_mult"} <= set(differences(laptop))


def test_a_run_too_short_to_forget_the_statistics_start_keeps_pytorchs_momentum():
    assert TrainConfig.from_profile("deeplabv3", FULL).bn_momentum == pytest.approx(1 - TF_BN_DECAY)
    short = TrainConfig.from_profile("deeplabv3", FULL, iterations=650)  # 0.9997^650 ≈ 0.82 of the start left
    assert short.bn_momentum is None and "bn_momentum" in differences(short)
    asked = TrainConfig.from_profile("deeplabv3", FULL, iterations=650, bn_momentum=3e-4)
    assert asked.bn_momentum == 3e-4  # said explicitly: kept


# One departure per compared field, on a run that is otherwise the paper's (v3+, or v1 for the
# step schedule's fields).
DEPARTURES = {
    "dataset": dict(dataset="builtin"), "backbone": dict(backbone="resnet101"), "width": dict(width=0.5),
    "blocks": dict(backbone="resnet101", model_options={"blocks": (1, 1, 1, 1)}),
    "dropout": dict(model_options={"dropout": 0.5}), "initialisation": dict(pretrained=None),
    "lr": dict(lr=0.01), "head_lr_mult": dict(head_lr_mult=10.0),
    "head_layers": dict(head_layers=("classifier",)), "bias_lr_mult": dict(bias_lr_mult=2.0),
    "bias_decay_mult": dict(bias_decay_mult=1.0), "norm_decay_mult": dict(norm_decay_mult=1.0),
    "depthwise_decay_mult": dict(depthwise_decay_mult=1.0), "schedule": dict(schedule="step"),
    "power": dict(power=1.0), "momentum": dict(momentum=0.99), "weight_decay": dict(weight_decay=5e-4),
    "batch_size": dict(batch_size=8), "crop_size": dict(crop_size=321), "iterations": dict(iterations=1000),
    "scale": dict(scale=(1.0, 1.0)), "output_stride": dict(output_stride=8),
    "eval_output_stride": dict(output_stride=8), "loss": dict(loss="downsampled"),
    "batchnorm": dict(batchnorm="sync"), "bn_momentum": dict(bn_momentum=0.1),
    "aux_weight": dict(aux_weight=0.4), "clip_grad_norm": dict(clip_grad_norm=10.0),
    "crf_rnn": dict(crf_rnn={"iterations": 5}), "crf_lr_mult": dict(crf_lr_mult=100.0),
    "model_options": dict(model_options={"multi_grid": (1, 1, 1)}),
}
V1_DEPARTURES = {"step_size": dict(step_size=1000), "gamma": dict(gamma=0.5)}


@dataclasses.dataclass
class AdamConfig(TrainConfig):
    optimizer = "Adam"


def test_every_configuration_field_is_compared_or_named_as_left_out():
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    compared = {name for name, _ in recipes.COMPARED} | {name for name, _, _ in recipes.EXTRAS}
    derived = {"blocks", "dropout", "initialisation", "eval_output_stride", "optimizer"}
    assert compared - derived <= fields
    assert fields - compared <= set(recipes.NOT_COMPARED)  # a new field must be compared or named
    assert set(DEPARTURES) | set(V1_DEPARTURES) | {"optimizer"} == compared


@pytest.mark.parametrize("field", sorted(DEPARTURES) + sorted(V1_DEPARTURES) + ["optimizer"])
def test_the_table_lists_a_departure_in_every_field(field):
    if field == "optimizer":
        config = AdamConfig(**dataclasses.asdict(as_the_paper("deeplabv3plus")))
    elif field in V1_DEPARTURES:
        config = dataclasses.replace(as_the_paper("deeplabv1"), **V1_DEPARTURES[field])
    else:
        config = dataclasses.replace(as_the_paper("deeplabv3plus"), **DEPARTURES[field])
    assert field in differences(config)
    label = dict(recipes.COMPARED + tuple((n, label) for n, label, _ in recipes.EXTRAS))[field]
    line = next(line for line in format_comparison(config).splitlines() if line.split(" | ")[0].strip() == label)
    assert "≠" in line


def test_the_table_marks_numbers_not_read_in_their_source():
    table = format_comparison(as_the_paper("deeplabv2"))
    lines = {line.split(" | ")[0].strip(): line for line in table.splitlines()}
    assert "UNREAD" in lines["output stride (evaluation)"]
    assert lines["base learning rate"].rstrip().endswith("|")  # read in kazuto's config: no mark
    laptop_v1 = format_comparison(TrainConfig.from_profile("deeplabv1", LAPTOP))
    assert "secondary" in next(line for line in laptop_v1.splitlines() if line.startswith("iterations"))


@pytest.mark.parametrize("model", sorted(RECIPES))
def test_the_laptop_profile_lists_its_departures(model):
    config = TrainConfig.from_profile(model, LAPTOP)
    diff = differences(config)
    for field in ("crop_size", "batch_size", "iterations", "width", "dataset", "lr"):
        assert field in diff
    assert "momentum" not in diff and "optimizer" not in diff
    if model in ("deeplabv1", "deeplabv2"):
        assert {"bias_lr_mult", "bias_decay_mult", "head_layers"} <= set(diff)
    table = format_comparison(config, sources=True)
    assert str(LAPTOP.crop_size) in table and "≠" in table


def test_the_laptop_v1_shows_both_schedules_numbers():
    table = format_comparison(TrainConfig.from_profile("deeplabv1", LAPTOP))
    assert "poly power" in table and "step (iterations)" in table


def test_comparison_is_duck_typed():
    class Run:
        model = "deeplabv3"
        lr = 0.007
        batch_size = 16

    rows = {r["field"]: r for r in recipes.comparison_rows(Run())}
    assert not rows["lr"]["differs"] and not rows["batch_size"]["differs"]
    assert rows["crop_size"]["run"] is None and rows["crop_size"]["differs"]


def test_unknown_model_is_a_clear_error():
    with pytest.raises(ValueError, match="no published recipe"):
        recipes.get_recipe("fcn8s")


def test_crf_rnn_rates_are_the_releases():
    # torrvision/crfasrnn README.md, MultiStageMeanfield: lr_mult 10000 (W_G), 10000 (W_B), 1000 (μ)
    rates = recipes.CRF_RNN_LR_MULT.value
    assert (rates["spatial_ker_weights"], rates["bilateral_ker_weights"], rates["compatibility"]) == \
        (10_000, 10_000, 1_000)
    assert recipes.CRF_RNN_LR_MULT.checked == recipes.READ


def test_v1_trains_only_fc8_at_ten_times():
    model = build_model("deeplabv1", 3, width=0.125)
    config = full_config("deeplabv1")
    mults = group_of(optimizer_for(config, model))
    fc8 = model.classifier.fc8
    assert mults[id(fc8.weight)][0] == pytest.approx(10) and mults[id(fc8.bias)][0] == pytest.approx(20)
    assert mults[id(model.classifier.fc6.weight)][0] == pytest.approx(1)


def test_the_laptop_v1_trains_its_whole_new_head_at_ten_times():
    config = TrainConfig.from_profile("deeplabv1", LAPTOP)
    assert config.head_layers is None and "head_layers" in differences(config)
    model = build_model("deeplabv1", 3, width=0.125)
    optimizer = optimizer_for(config, model)
    assert [g["name"] for g in optimizer.param_groups] == ["backbone", "head"]
    head = {id(p) for p in optimizer.param_groups[1]["params"]}
    assert id(model.classifier.fc6.weight) in head and id(model.classifier.fc8.weight) in head


def test_the_laptop_v1_uses_poly_and_no_dropout_where_the_full_one_keeps_the_papers():
    laptop = TrainConfig.from_profile("deeplabv1", LAPTOP)
    full = TrainConfig.from_profile("deeplabv1", FULL)
    assert laptop.schedule == "poly" and "schedule" in differences(laptop)
    assert full.schedule == "step" and "schedule" not in differences(full)
    assert laptop.model_options["dropout"] == 0.0 and "dropout" in differences(laptop)
    assert "dropout" not in full.model_options and "dropout" not in differences(full)
    assert net_for(laptop).classifier.drop6.p == 0.0
    # the Caffe release's drop6/drop7: dropout_ratio 0.5
    assert net_for(dataclasses.replace(full, width=0.125)).classifier.drop6.p == 0.5
    v2_vgg = TrainConfig.from_profile("deeplabv2", LAPTOP, backbone="vgg16")
    assert v2_vgg.model_options["dropout"] == 0.0
    assert "dropout" not in TrainConfig.from_profile("deeplabv2", LAPTOP).model_options


def test_v3_has_one_rate_for_every_layer():
    config = full_config("deeplabv3")
    model = net_for(config)
    assert config.head_layers is None
    rates = {g["lr"] for g in optimizer_for(config, model).param_groups}
    assert rates == {config.lr}


def test_a_rule_matching_nothing_is_an_error():
    model = build_model("deeplabv3", 3, width=0.125, blocks=(1, 1, 1, 1))
    with pytest.raises(ValueError, match="fc8"):
        make_optimizer(model, 0.01, head_layers=("fc8",))
    with pytest.raises(ValueError, match="head_layers"):
        TrainConfig(head_layers="fc8").validate()  # a string would match single letters


@pytest.mark.parametrize("field, value", [("bias_lr_mult", 0.0), ("bias_decay_mult", -1.0),
                                          ("norm_decay_mult", math.nan), ("crf_lr_mult", 0.0),
                                          ("bn_momentum", 0.9997 + 1), ("bn_momentum", -0.1)])
def test_group_and_momentum_fields_are_validated_by_name(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value}).validate()


def test_departures_only_keeps_exactly_the_rows_that_differ():
    config = TrainConfig.from_profile("deeplabv3", LAPTOP)
    full = format_comparison(config).splitlines()[2:]
    short = format_comparison(config, departures_only=True).splitlines()[2:]
    assert short == [line for line in full if "≠" in line] and 0 < len(short) < len(full)
