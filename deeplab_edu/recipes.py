"""Each DeepLab version's published training recipe, every number with where it was read.

A recipe is what the paper (or the authors' reference implementation) trained with on PASCAL
VOC 2012 (+SBD "trainaug", 10 582 images). Each number is a :class:`Cited`: the value, the
source (paper section, or repository + file + line / flag name), and how it was checked:

* ``READ`` — read in the cited source while writing this module: the paper's own text, or a
  file of the authors' reference implementation (or of a port that reproduces their release);
* ``SECONDARY`` — read in a re-implementation or a summary of the paper, not in the authors'
  text or release (the file is named, so a reader can follow it);
* ``UNREAD`` — as this book has long quoted it, but no source could be read here: unverified.

The v1 paper's text was read in a transcription of arXiv 1412.7062 (English with a Chinese
translation) found in the public code index; its training details are in §5 "Training" (this
book used to cite them as §4).

The reference implementations cited:

* TF — ``tensorflow/models`` ``research/deeplab`` (the authors' v3/v3+ code): ``train.py``
  flags and the comments above them, ``model.py``, ``common.py``, ``core/xception.py``.
* kazuto — ``kazuto1011/deeplab-pytorch`` at 4219467 (DeepLab v2 ResNet-101 re-implementation
  that converts and reproduces the authors' Caffe release): ``configs/voc12.yaml``,
  ``main.py``, ``README.md``.
* rulixiang — ``rulixiang/deeplab-pytorch`` at d9933a0 (DeepLab v1 LargeFOV re-implementation):
  ``config/deeplabv1_voc12.yaml``, ``v1/train_deeplabv1.py``.

``comparison_rows`` / ``format_comparison`` set a run's configuration (any object with the
attributes of ``train.TrainConfig``: ``lr``, ``batch_size``, ``crop_size``, ``iterations``,
``schedule``, ``scale``, ``weight_decay``, ``head_lr_mult`` …) beside the paper's, so the
``laptop`` and ``smoke`` profiles can say how they differ. ``config_overrides`` gives the
``TrainConfig`` keyword arguments that reproduce a recipe, ``head_layers`` among them: the
layers the paper trains at 10× (``schedules.make_optimizer`` splits the parameters by them).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

READ = "read"
SECONDARY = "secondary"
UNREAD = "unread"
CHECKS = (READ, SECONDARY, UNREAD)


@dataclasses.dataclass(frozen=True)
class Cited:
    """One number of a recipe, with its source and how it was checked (``READ`` …)."""

    value: Any
    source: str
    checked: str = READ

    def __post_init__(self) -> None:
        if self.checked not in CHECKS:
            raise ValueError(f"checked must be one of {CHECKS}, got {self.checked!r}")
        if not self.source.strip():
            raise ValueError("every recipe number needs a source")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A version's training recipe. ``head_layers``: names of the modules (last component of
    the module path in this book's models) that train at ``head_lr_mult`` × the base rate."""

    model: str
    title: str
    backbone: Cited
    optimizer: Cited
    lr: Cited
    head_lr_mult: Cited
    head_layers: Cited
    bias_lr_mult: Cited
    schedule: Cited
    power: Cited | None
    step_size: Cited | None
    gamma: Cited | None
    momentum: Cited
    weight_decay: Cited
    batch_size: Cited
    crop_size: Cited
    iterations: Cited
    scale: Cited
    output_stride: Cited
    eval_output_stride: Cited
    loss: Cited
    batchnorm: Cited
    notes: str = ""

    def cited(self) -> dict[str, Cited]:
        """Every cited field by name (those that apply to this recipe's schedule)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if isinstance(getattr(self, f.name), Cited)}


_V1_PAPER = "v1 (Chen et al., ICLR 2015, arXiv 1412.7062) §5 'Training'"
_RLX_V1 = "rulixiang/deeplab-pytorch config/deeplabv1_voc12.yaml"
_RLX_V1_TRAIN = "rulixiang/deeplab-pytorch v1/train_deeplabv1.py"
_KAZ_CFG = "kazuto1011/deeplab-pytorch configs/voc12.yaml"
_KAZ_MAIN = "kazuto1011/deeplab-pytorch main.py"
_KAZ_README = "kazuto1011/deeplab-pytorch README.md"
_TF_TRAIN = "tensorflow/models research/deeplab/train.py"
_TF_MODEL = "tensorflow/models research/deeplab/model.py"
_TF_COMMON = "tensorflow/models research/deeplab/common.py"
_V3_PAPER = "v3 (Chen et al., arXiv 1706.05587) §4.1"  # read in a transcription in the code index
_V3P_SUMMARY = "v3+ (Chen et al., ECCV 2018) §4, as summarised in twblogs.net/a/5d440bf5bd9eee5327fb3fec"


RECIPES: dict[str, Recipe] = {
    "deeplabv1": Recipe(
        model="deeplabv1",
        title="DeepLab-LargeFOV (v1), VGG-16, step schedule",
        backbone=Cited("vgg16", f"{_V1_PAPER} ('we employ the VGG-16 network which has been pre-trained on "
                                "ImageNet'); LargeFOV: v1 §5 'Field of View', Table 2"),
        optimizer=Cited("SGD", f"{_V1_PAPER} ('stochastic gradient descent on the cross-entropy loss')"),
        lr=Cited(0.001, f"{_V1_PAPER} ('initial learning rate of 0.001'); {_RLX_V1} line 29"),
        head_lr_mult=Cited(10.0, f"{_V1_PAPER} ('0.01 for the final classifier layer'); "
                                 f"{_RLX_V1_TRAIN} line 162 (10 × lr for conv8)"),
        head_layers=Cited(("fc8",), f"{_V1_PAPER} ('the final classifier layer'); {_RLX_V1_TRAIN} lines "
                                    "49-70 (only conv8 at 10×/20×; fc6 and fc7, from VGG-16, at 1×)"),
        bias_lr_mult=Cited(2.0, f"{_RLX_V1_TRAIN} lines 157, 167 (biases 2× / 20×, no weight decay: "
                                "Caffe's lr_mult 2, decay_mult 0)", SECONDARY),
        schedule=Cited("step", f"{_V1_PAPER} ('multiplying the learning rate by 0.1 at every 2000 iterations')"),
        power=None,
        step_size=Cited(2000, f"{_V1_PAPER} ('by 0.1 at every 2000 iterations'); rulixiang's comment "
                              "(line 25) steps every 4000 instead"),
        gamma=Cited(0.1, f"{_V1_PAPER} ('multiplying the learning rate by 0.1')"),
        momentum=Cited(0.9, f"{_V1_PAPER} ('momentum of 0.9'); {_RLX_V1} line 31"),
        weight_decay=Cited(5e-4, f"{_V1_PAPER} ('a weight decay of 0.0005'); {_RLX_V1} line 30"),
        batch_size=Cited(20, f"{_V1_PAPER} ('a mini-batch of 20 images'); {_RLX_V1} line 23"),
        crop_size=Cited(321, "v3 (arXiv 1706.05587) appendix A ('crop size (i.e., 321 as in [10, 11])', "
                             f"[10] = v1); {_RLX_V1} line 16"),
        iterations=Cited(6000, f"{_RLX_V1} line 24 ('6000 for step scheduler'; the v1 paper's §5 does "
                               "not state it)", SECONDARY),
        scale=Cited((1.0, 1.0), f"{_V1_PAPER} names no random scaling (v2 adds it); rulixiang's "
                                "re-implementation adds 0.5-1.5 (line 27)"),
        output_stride=Cited(8, "v1 §3.1 (VGG-16 with the last two poolings made dense), as summarised for v2 "
                               "in the code index", SECONDARY),
        eval_output_stride=Cited(8, "v1 §3.1", SECONDARY),
        loss=Cited("downsampled", "v3 §4.1 ('In our previous works [10, 11], the target groundtruths are "
                                  f"downsampled by 8 during training'); {_RLX_V1_TRAIN} line 198"),
        batchnorm=Cited("none", "VGG-16 has no BatchNorm", READ),
        notes="Test time: scores bilinearly upsampled, then the dense CRF (crf.params.PUBLISHED).",
    ),
    "deeplabv2": Recipe(
        model="deeplabv2",
        title="DeepLab v2, ResNet-101 + ASPP-L, poly schedule",
        backbone=Cited("resnet101", f"{_KAZ_CFG} lines 31-33 (DeepLabV2_ResNet101_MSC, N_BLOCKS [3, 4, 23, 3])"),
        optimizer=Cited("SGD", f"{_KAZ_CFG} line 47 (OPTIMIZER: sgd); {_KAZ_MAIN} lines 161-181"),
        lr=Cited(2.5e-4, f"{_KAZ_CFG} line 45 (LR: 2.5e-4); {_KAZ_README} line 220"),
        head_lr_mult=Cited(10.0, f"{_KAZ_MAIN} line 171 (10 × LR for the ASPP weights, lines 56-61)"),
        head_layers=Cited(("fc8",), f"{_KAZ_MAIN} lines 48-67: the ASPP convolutions only (here each "
                                    "ASPP branch's fc8); the ResNet at 1×"),
        bias_lr_mult=Cited(2.0, f"{_KAZ_MAIN} lines 62-67, 174-178 (ASPP biases 20× = 2 × 10×, "
                                "weight decay 0)"),
        schedule=Cited("poly", f"{_KAZ_CFG} line 48 (POLY_POWER); {_KAZ_README} line 220; v2 §4.1.2 "
                               f"(poly, batch 10, 20K iterations) as summarised with line references in the code "
                               f"index"),
        power=Cited(0.9, f"{_KAZ_CFG} line 48 (POLY_POWER: 0.9)"),
        step_size=None,
        gamma=None,
        momentum=Cited(0.9, f"{_KAZ_CFG} line 46"),
        weight_decay=Cited(5e-4, f"{_KAZ_CFG} line 49"),
        batch_size=Cited(10, f"{_KAZ_CFG} lines 38, 41 (5 images × ITER_SIZE 2); {_KAZ_README} line 219"),
        crop_size=Cited(321, f"{_KAZ_CFG} line 27 (SIZE.TRAIN: 321); v3 appendix A ('321 as in [10, 11]', "
                             "[11] = v2)"),
        iterations=Cited(20_000, f"{_KAZ_CFG} line 40 (ITER_MAX: 20000); {_KAZ_README} line 165 "
                                 "(the release's train2_iter_20000.caffemodel)"),
        scale=Cited((0.5, 1.5), f"{_KAZ_CFG} line 11 (SCALES 0.5 … 1.5); {_KAZ_README} line 222"),
        output_stride=Cited(8, "v2 (TPAMI 2017) §3.1; kazuto1011/deeplab-pytorch libs/models/deeplabv2.py "
                               "line 41 ('Output stride is fixed at 8')", SECONDARY),
        eval_output_stride=Cited(8, "v2 (TPAMI 2017) §3.1", UNREAD),
        loss=Cited("downsampled", f"v3 §4.1 ('groundtruths are downsampled by 8' in [10, 11]); {_KAZ_README} "
                                  "line 218 (loss per scale on labels resized to the logits)"),
        batchnorm=Cited("frozen", f"{_KAZ_README} lines 267-270 (v2 training freezes BatchNorm)"),
        notes=("Multi-scale inputs (1, 0.75, 0.5) with max fusion in training (README line 218); "
               "initialised from the COCO-trained release (README 'In accordance with the papers'). "
               "The VGG-16 v2 solver seen in a fork (talent518/deeplab-public-ver2 "
               "exper/voc12/config/vgg16/solver_train.prototxt) uses base_lr 1e-3, poly 0.9, 20000 "
               "iterations: unverified against the original release."),
    ),
    "deeplabv3": Recipe(
        model="deeplabv3",
        title="DeepLab v3, ResNet-101, ASPP with image pooling, poly schedule",
        backbone=Cited("resnet101", f"{_V3_PAPER} ('Our added modules on top of ResNet'); §4.3, Table 5 "
                                    "(ResNet-101, Multi-Grid (1, 2, 4), ASPP (6, 12, 18), image pooling)"),
        optimizer=Cited("SGD", f"{_TF_TRAIN} (tf.train.MomentumOptimizer(learning_rate, FLAGS.momentum))"),
        lr=Cited(0.007, f"{_V3_PAPER} ('initial learning rate = 0.007'); {_TF_TRAIN} comment above flag "
                        "base_learning_rate ('Use 0.007 when training on PASCAL augmented training set')"),
        head_lr_mult=Cited(1.0, f"{_TF_TRAIN} flag last_layer_gradient_multiplier (default 1.0): no 10× head"),
        head_layers=Cited((), f"{_TF_TRAIN} flag last_layer_gradient_multiplier = 1.0"),
        bias_lr_mult=Cited(1.0, f"{_TF_MODEL}: BatchNorm after every convolution, no biases but the logits'"),
        schedule=Cited("poly", f"{_TF_TRAIN} flag learning_policy (default 'poly')"),
        power=Cited(0.9, f"{_TF_TRAIN} flag learning_power (default 0.9)"),
        step_size=None,
        gamma=None,
        momentum=Cited(0.9, f"{_TF_TRAIN} flag momentum (default 0.9)"),
        weight_decay=Cited(1e-4, f"{_TF_TRAIN} comment above flag weight_decay ('Use 0.0001 for ResNet "
                                 "model variants')"),
        batch_size=Cited(16, f"{_V3_PAPER} ('batch normalization statistics with a batch size of 16'); "
                             f"{_TF_TRAIN} comment above flag train_batch_size"),
        crop_size=Cited(513, f"{_V3_PAPER} ('crop size to be 513'); {_TF_TRAIN} flag train_crop_size"),
        iterations=Cited(30_000, f"{_V3_PAPER} ('on the trainaug set with 30K iterations'); {_TF_TRAIN} "
                                 "flag training_number_of_steps (default 30000)"),
        scale=Cited((0.5, 2.0), f"{_V3_PAPER} ('randomly scaling the input images (from 0.5 to 2.0)'); "
                                f"{_TF_TRAIN} flags min/max_scale_factor (scale_factor_step_size 0.25)"),
        output_stride=Cited(16, f"{_V3_PAPER} ('we employ output stride = 16'); {_TF_TRAIN} flag output_stride"),
        eval_output_stride=Cited(8, f"{_V3_PAPER} §4.2 ('during inference we apply output stride = 8'); "
                                    "§4.1 (then frozen BN, output stride 8 on trainval)"),
        loss=Cited("upsampled", f"{_V3_PAPER} ('Upsampling logits': keep the groundtruths intact); {_TF_TRAIN} "
                                "flag upsample_logits"),
        batchnorm=Cited("train", f"{_V3_PAPER} ('trained with decay = 0.9997', PyTorch momentum 0.0003); "
                                 f"{_TF_TRAIN} flag fine_tune_batch_norm (default True)"),
        notes=("Second stage (v3 §4.1): freeze BN, output stride 8, another 30K iterations on VOC "
               "trainval at base lr 0.001 (train.py's comment says 0.0001 when fine-tuning on trainval). "
               "TF's random scale is drawn in steps of 0.25; the v3 paper states no weight decay."),
    ),
    "deeplabv3plus": Recipe(
        model="deeplabv3plus",
        title="DeepLab v3+, aligned Xception-65, separable ASPP + decoder, poly schedule",
        backbone=Cited("xception65", f"{_TF_COMMON} flag model_variant ('xception_65' with atrous_rates "
                                     "[6, 12, 18], decoder_output_stride 4)"),
        optimizer=Cited("SGD", f"{_TF_TRAIN} (tf.train.MomentumOptimizer)"),
        lr=Cited(0.007, f"{_TF_TRAIN} comment above flag base_learning_rate; {_V3P_SUMMARY}"),
        head_lr_mult=Cited(1.0, f"{_TF_TRAIN} flag last_layer_gradient_multiplier (default 1.0)"),
        head_layers=Cited((), f"{_TF_TRAIN} flag last_layer_gradient_multiplier = 1.0"),
        bias_lr_mult=Cited(1.0, f"{_TF_MODEL}: BatchNorm after every convolution"),
        schedule=Cited("poly", f"{_TF_TRAIN} flag learning_policy"),
        power=Cited(0.9, f"{_TF_TRAIN} flag learning_power"),
        step_size=None,
        gamma=None,
        momentum=Cited(0.9, f"{_TF_TRAIN} flag momentum"),
        weight_decay=Cited(4e-5, f"{_TF_TRAIN} comment above flag weight_decay ('use 0.00004 for "
                                 "MobileNet-V2 or Xception model variants')"),
        batch_size=Cited(16, f"{_V3P_SUMMARY}", SECONDARY),
        crop_size=Cited(513, f"{_TF_TRAIN} flag train_crop_size"),
        iterations=Cited(30_000, f"{_TF_TRAIN} flag training_number_of_steps; {_V3P_SUMMARY}"),
        scale=Cited((0.5, 2.0), f"{_TF_TRAIN} flags min_scale_factor, max_scale_factor"),
        output_stride=Cited(16, f"{_TF_TRAIN} flag output_stride; comment above flag atrous_rates"),
        eval_output_stride=Cited(8, _V3P_SUMMARY, SECONDARY),
        loss=Cited("upsampled", f"{_TF_TRAIN} flag upsample_logits"),
        batchnorm=Cited("train", f"{_TF_TRAIN} flag fine_tune_batch_norm; {_TF_MODEL} decay 0.9997"),
        notes="With a ResNet-101 backbone the TF code's comment asks weight decay 1e-4 instead.",
    ),
}

# A run's attribute for each recipe field, in table order; "lr_head" is derived.
_CONFIG_FIELDS: tuple[tuple[str, str], ...] = (
    ("lr", "base learning rate"),
    ("head_lr_mult", "head learning-rate multiplier"),
    ("head_layers", "layers at the head's rate"),
    ("schedule", "schedule"),
    ("power", "poly power"),
    ("step_size", "step (iterations)"),
    ("gamma", "step factor γ"),
    ("momentum", "momentum"),
    ("weight_decay", "weight decay"),
    ("batch_size", "batch size"),
    ("crop_size", "crop"),
    ("iterations", "iterations"),
    ("scale", "random scale"),
    ("output_stride", "output stride (train)"),
    ("loss", "loss"),
    ("batchnorm", "BatchNorm"),
)


def get_recipe(model: str) -> Recipe:
    """The published recipe for ``model`` (``deeplabv1`` … ``deeplabv3plus``)."""
    if model not in RECIPES:
        raise ValueError(f"no published recipe for model {model!r}; known: {sorted(RECIPES)}")
    return RECIPES[model]


def config_overrides(model: str) -> dict[str, Any]:
    """``TrainConfig`` keyword arguments that reproduce ``model``'s published recipe.

    ``TrainConfig.from_profile(model, get_profile("full"), **config_overrides(model))`` is the
    paper's run. ``batchnorm="none"`` (VGG) maps to the engine's default, which has nothing to
    freeze. ``head_layers`` (v1, v2: fc8 only at the 10× rate) is passed on when the recipe has
    a 10× head; v3 and v3+ train everything at one rate.
    """
    r = get_recipe(model)
    out: dict[str, Any] = dict(
        lr=r.lr.value, head_lr_mult=r.head_lr_mult.value, schedule=r.schedule.value,
        momentum=r.momentum.value, weight_decay=r.weight_decay.value, batch_size=r.batch_size.value,
        crop_size=r.crop_size.value, iterations=r.iterations.value, scale=tuple(r.scale.value),
        output_stride=r.output_stride.value, loss=r.loss.value,
        batchnorm="train" if r.batchnorm.value == "none" else r.batchnorm.value)
    if r.head_layers.value:
        out["head_layers"] = tuple(r.head_layers.value)
    if r.power is not None:
        out["power"] = r.power.value
    if r.step_size is not None:
        out["step_size"] = r.step_size.value
    if r.gamma is not None:
        out["gamma"] = r.gamma.value
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(float(a) - float(b)) <= 1e-12 * max(1.0, abs(float(a)))
    return a == b


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def comparison_rows(config, recipe: Recipe | str | None = None) -> list[dict[str, Any]]:
    """One row per recipe number: ``field``, ``label``, ``paper``, ``run``, ``differs``, ``source``.

    ``config`` is duck-typed (``train.TrainConfig`` or anything with its attribute names); an
    attribute it lacks shows as None. Fields the recipe's schedule does not use (poly power
    for a step schedule …) are left out unless the run uses that schedule.
    """
    if recipe is None:
        recipe = getattr(config, "model", None)
        if recipe is None:
            raise ValueError("config has no 'model' attribute: pass the recipe explicitly")
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    run_schedule = getattr(config, "schedule", None)
    rows = []
    for field, label in _CONFIG_FIELDS:
        cited = getattr(recipe, field)
        run = getattr(config, field, None)
        if field in ("power", "step_size", "gamma"):
            uses = {"power": "poly", "step_size": "step", "gamma": "step"}[field]
            if cited is None and run_schedule != uses:
                continue
            if run_schedule != uses:
                run = None
        if field == "head_layers":
            if not cited.value:  # one rate for every layer: nothing to list
                continue
            run = tuple(run) if run is not None else ("whole head",)
        if field == "output_stride" and run is None and hasattr(config, "model"):
            from deeplab_edu.models import DEFAULT_OUTPUT_STRIDES  # the model's default stride

            run = DEFAULT_OUTPUT_STRIDES.get(config.model)
        if field == "batchnorm" and cited.value == "none":
            run = "none" if getattr(config, "model", recipe.model) == "deeplabv1" else run
        paper = None if cited is None else cited.value
        if isinstance(run, list):
            run = tuple(run)
        rows.append(dict(field=field, label=label, paper=paper, run=run,
                         differs=not _same(paper, run),
                         source="—" if cited is None else cited.source,
                         checked="—" if cited is None else cited.checked))
    return rows


def differences(config, recipe: Recipe | str | None = None) -> list[str]:
    """The fields in which ``config`` departs from the published recipe."""
    return [row["field"] for row in comparison_rows(config, recipe) if row["differs"]]


def format_comparison(config, recipe: Recipe | str | None = None, sources: bool = False) -> str:
    """A plain-text "paper | this run" table; ``≠`` marks a departure. ``sources`` adds them."""
    rows = comparison_rows(config, recipe)
    head = ["", "paper", "this run", ""] + (["source (checked)"] if sources else [])
    body = [[r["label"], _show(r["paper"]), _show(r["run"]), "≠" if r["differs"] else ""]
            + ([f"{r['source']} ({r['checked']})"] if sources else []) for r in rows]
    widths = [max(len(line[i]) for line in [head] + body) for i in range(len(head))]
    fmt = lambda line: " | ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(head), "-+-".join("-" * w for w in widths)] + [fmt(line) for line in body])


def unverified(recipes: Iterable[Recipe] | None = None) -> list[tuple[str, str]]:
    """(model, field) of every number not read in a reference implementation's own file."""
    recipes = RECIPES.values() if recipes is None else recipes
    return [(r.model, name) for r in recipes for name, c in r.cited().items() if c.checked != READ]


__all__ = ["CHECKS", "Cited", "READ", "RECIPES", "Recipe", "SECONDARY", "UNREAD", "comparison_rows",
           "config_overrides", "differences", "format_comparison", "get_recipe", "unverified"]
