"""The published recipes: the numbers are the specification, each pinned to its source."""

import pytest

from deeplab_edu import recipes
from deeplab_edu.checkpoint import build_from_config
from deeplab_edu.models import build_model
from deeplab_edu.profiles import PROFILES
from deeplab_edu.recipes import READ, RECIPES, config_overrides, differences, format_comparison
from deeplab_edu.schedules import make_optimizer
from deeplab_edu.train import TrainConfig

# (model, field) -> (value, a fragment the source must name). Copied from the cited files, not
# from recipes.py: changing a number there without its source fails here.
PINNED = {
    ("deeplabv1", "lr"): (0.001, "deeplabv1_voc12.yaml line 29"),
    ("deeplabv1", "head_lr_mult"): (10.0, "0.01 for the final classifier layer"),
    ("deeplabv1", "head_layers"): (("fc8",), "train_deeplabv1.py lines 49-70"),
    ("deeplabv1", "schedule"): ("step", "§5 'Training'"),
    ("deeplabv1", "step_size"): (2000, "at every 2000 iterations"),
    ("deeplabv1", "gamma"): (0.1, "by 0.1"),
    ("deeplabv1", "batch_size"): (20, "a mini-batch of 20 images"),
    ("deeplabv1", "momentum"): (0.9, "line 31"),
    ("deeplabv1", "weight_decay"): (5e-4, "line 30"),
    ("deeplabv1", "crop_size"): (321, "321 as in [10, 11]"),
    ("deeplabv1", "iterations"): (6000, "line 24"),
    ("deeplabv1", "scale"): ((1.0, 1.0), "names no random scaling"),
    ("deeplabv1", "output_stride"): (8, "§3.1"),
    ("deeplabv1", "loss"): ("downsampled", "downsampled by 8"),
    ("deeplabv2", "lr"): (2.5e-4, "voc12.yaml line 45"),
    ("deeplabv2", "head_lr_mult"): (10.0, "main.py line 171"),
    ("deeplabv2", "schedule"): ("poly", "line 48"),
    ("deeplabv2", "power"): (0.9, "POLY_POWER: 0.9"),
    ("deeplabv2", "momentum"): (0.9, "line 46"),
    ("deeplabv2", "weight_decay"): (5e-4, "line 49"),
    ("deeplabv2", "batch_size"): (10, "lines 38, 41"),
    ("deeplabv2", "crop_size"): (321, "line 27"),
    ("deeplabv2", "iterations"): (20_000, "ITER_MAX: 20000"),
    ("deeplabv2", "scale"): ((0.5, 1.5), "line 11"),
    ("deeplabv2", "batchnorm"): ("frozen", "freezes BatchNorm"),
    ("deeplabv3", "lr"): (0.007, "Use 0.007"),
    ("deeplabv3", "head_lr_mult"): (1.0, "last_layer_gradient_multiplier"),
    ("deeplabv3", "power"): (0.9, "learning_power"),
    ("deeplabv3", "weight_decay"): (1e-4, "0.0001 for ResNet"),
    ("deeplabv3", "batch_size"): (16, "train_batch_size"),
    ("deeplabv3", "crop_size"): (513, "train_crop_size"),
    ("deeplabv3", "iterations"): (30_000, "training_number_of_steps"),
    ("deeplabv3", "scale"): ((0.5, 2.0), "max_scale_factor"),
    ("deeplabv3", "output_stride"): (16, "flag output_stride"),
    ("deeplabv3", "eval_output_stride"): (8, "during inference we apply output stride = 8"),
    ("deeplabv3", "batchnorm"): ("train", "decay = 0.9997"),
    ("deeplabv3", "loss"): ("upsampled", "upsample_logits"),
    ("deeplabv3plus", "backbone"): ("xception65", "xception_65"),
    ("deeplabv3plus", "lr"): (0.007, "base_learning_rate"),
    ("deeplabv3plus", "weight_decay"): (4e-5, "0.00004"),
    ("deeplabv3plus", "crop_size"): (513, "train_crop_size"),
    ("deeplabv3plus", "iterations"): (30_000, "training_number_of_steps"),
    ("deeplabv3plus", "scale"): ((0.5, 2.0), "min_scale_factor"),
    ("deeplabv3plus", "output_stride"): (16, "output_stride"),
}


@pytest.mark.parametrize("key", sorted(PINNED), ids=lambda k: f"{k[0]}.{k[1]}")
def test_recipe_numbers_match_their_sources(key):
    model, field = key
    value, fragment = PINNED[key]
    cited = getattr(RECIPES[model], field)
    assert cited.value == value
    assert fragment in cited.source


def test_every_number_has_a_source_and_a_check():
    for recipe in RECIPES.values():
        for name, cited in recipe.cited().items():
            assert cited.source.strip(), (recipe.model, name)
            assert cited.checked in recipes.CHECKS


def test_unverified_lists_what_was_not_read_in_a_reference_file():
    missing = recipes.unverified()
    assert ("deeplabv1", "iterations") in missing  # only a re-implementation states 6000
    assert ("deeplabv1", "step_size") not in missing  # read in the v1 paper's §5
    assert ("deeplabv3", "crop_size") not in missing  # read in TF train.py
    assert all(RECIPES[m].cited()[f].checked != READ for m, f in missing)


@pytest.mark.parametrize("model", sorted(RECIPES))
def test_a_config_built_from_the_recipe_shows_no_difference(model):
    config = TrainConfig(model=model, **config_overrides(model))
    assert differences(config) == []
    assert "≠" not in format_comparison(config)


def test_the_laptop_profile_lists_its_departures():
    p = PROFILES["laptop"]
    config = TrainConfig(model="deeplabv1", crop_size=p.crop_size, batch_size=p.batch_size,
                         iterations=p.iterations, lr=0.01, schedule="poly", scale=(0.5, 2.0))
    diff = differences(config)
    for field in ("lr", "crop_size", "batch_size", "iterations", "schedule", "scale"):
        assert field in diff
    assert "momentum" not in diff
    table = format_comparison(config, sources=True)
    assert "321" in table and str(p.crop_size) in table and "≠" in table
    assert "poly power" in table and "step (iterations)" in table  # both schedules' numbers shown


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


def head_and_backbone(model, recipe):
    """The optimiser's parameter groups as the full-profile recipe builds them."""
    r = RECIPES[recipe]
    optimizer = make_optimizer(model, 0.001, head_lr_mult=r.head_lr_mult.value,
                               head_layers=config_overrides(recipe).get("head_layers"))
    return {g["name"]: g for g in optimizer.param_groups}


def test_v1_trains_only_fc8_at_ten_times():
    model = build_model("deeplabv1", 3, width=0.125)
    groups = head_and_backbone(model, "deeplabv1")
    assert {id(p) for p in groups["head"]["params"]} == {id(model.classifier.fc8.weight),
                                                         id(model.classifier.fc8.bias)}
    assert groups["head"]["lr"] == pytest.approx(0.01) and groups["backbone"]["lr"] == pytest.approx(0.001)
    assert any(p is model.classifier.fc6.weight for p in groups["backbone"]["params"])
    assert len(groups["head"]["params"]) + len(groups["backbone"]["params"]) == len(list(model.parameters()))


def test_the_laptop_v1_trains_its_whole_new_head_at_ten_times():
    config = TrainConfig.from_profile("deeplabv1", PROFILES["laptop"])
    assert config.head_layers is None and "head_layers" in differences(config)
    model = build_model("deeplabv1", 3, width=0.125)
    optimizer = make_optimizer(model, 0.01, head_layers=config.head_layers)
    head = {id(p) for p in optimizer.param_groups[1]["params"]}
    assert id(model.classifier.fc6.weight) in head and id(model.classifier.fc8.weight) in head


def test_the_laptop_v1_uses_poly_and_no_dropout_where_the_full_one_keeps_the_papers():
    laptop = TrainConfig.from_profile("deeplabv1", PROFILES["laptop"])
    full = TrainConfig.from_profile("deeplabv1", PROFILES["full"])
    assert laptop.schedule == "poly" and "schedule" in differences(laptop)
    assert full.schedule == "step" and "schedule" not in differences(full)
    assert laptop.model_options["dropout"] == 0.0 and "dropout" not in full.model_options
    assert build_from_config(laptop.model_config(3)).classifier.drop6.p == 0.0
    assert build_from_config(full.model_config(3)).classifier.drop6.p == 0.5  # v1 §4.1
    v2_vgg = TrainConfig.from_profile("deeplabv2", PROFILES["laptop"], backbone="vgg16")
    assert v2_vgg.model_options["dropout"] == 0.0
    assert "dropout" not in TrainConfig.from_profile("deeplabv2", PROFILES["laptop"]).model_options


def test_v3_has_one_rate_for_every_layer():
    model = build_model("deeplabv3", 3, width=0.125, blocks=(1, 1, 1, 1))
    groups = head_and_backbone(model, "deeplabv3")
    assert "head_layers" not in config_overrides("deeplabv3")
    assert groups["head"]["lr"] == groups["backbone"]["lr"]  # head_lr_mult 1


def test_a_rule_matching_nothing_is_an_error():
    model = build_model("deeplabv3", 3, width=0.125, blocks=(1, 1, 1, 1))
    with pytest.raises(ValueError, match="fc8"):
        make_optimizer(model, 0.01, head_layers=("fc8",))
    with pytest.raises(ValueError, match="head_layers"):
        TrainConfig(head_layers="fc8").validate()  # a string would match single letters


@pytest.mark.parametrize("model", sorted(RECIPES))
def test_the_full_profile_with_the_overrides_is_the_paper(model):
    config = TrainConfig.from_profile(model, PROFILES["full"], **config_overrides(model))
    assert differences(config) == []


@pytest.mark.parametrize("backbone", ["vgg16", "resnet101"])
def test_v2_trains_each_branch_classifier_at_ten_times(backbone):
    options = {} if backbone == "vgg16" else {"blocks": (1, 1, 1, 1)}
    model = build_model("deeplabv2", 3, backbone=backbone, width=0.125, **options)
    head = {id(p) for p in head_and_backbone(model, "deeplabv2")["head"]["params"]}
    fc8 = {id(p) for branch in model.classifier.branches for p in branch.fc8.parameters()}
    assert head == fc8 and len(fc8) == 2 * len(model.classifier.branches)
