"""``TrainConfig``: everything a training run depends on, checked before any work starts.

The fields split in two. The **recipe** — model, data, crop, batch, optimiser, schedule, loss,
seed — decides what the run computes; a run directory holds one recipe, and resuming it with
another is refused (``run_dir``). The **execution** fields (``EXECUTION_FIELDS``: how long, where,
how often to log and save, on which device) may change between the sessions of one run.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, ClassVar

from deeplab_edu import validate
from deeplab_edu.engine.losses import LOSSES
from deeplab_edu.profiles import Profile, get_profile
from deeplab_edu.runtime import native_bf16
from deeplab_edu.schedules import SCHEDULES

BATCHNORM = ("train", "frozen", "sync")
AMP = ("auto", "bf16", "off")

# What a CPU-sized run changes in a paper's recipe besides sizes, found by probes on the built-in
# set: v3, v3+ (BatchNorm in the head, no 10× on it) take 0.02; v1, v2 keep the 10× on a head
# without BatchNorm, so 0.01; VGG-16's miniature-ImageNet start fine-tunes too slowly at v1's 0.001,
# and v1's step schedule would cut the rate after a third of a 300-step run: poly instead
# (benchmarks/results/laptop_v1_probes.md).
LAPTOP_DEPARTURES = {"deeplabv1": {"lr": 0.01, "schedule": "poly"}, "deeplabv2": {"lr": 0.01},
                     "deeplabv3": {"lr": 0.02}, "deeplabv3plus": {"lr": 0.02}}
# VGG's fc6 / fc7 (1024·width channels) drop half of them in training (the release's prototxt); in a
# few hundred steps that costs more than it regularises (the same record): none below full width.
SMALL_VGG_DROPOUT = 0.0
# VGG-16 costs about three times a small ResNet's CPU step: its runs take 3/8 of the profile's
# iterations, so a chapter of ten VGG runs (07) stays within minutes.
VGG_ITERATION_SHARE = 3 / 8

# The releases' parameter groups are the full profile's; the small profiles keep one group per part,
# as the laptop rates above were probed with.
SMALL_PROFILE_GROUPS = ("bias_lr_mult", "bias_decay_mult", "norm_decay_mult", "depthwise_decay_mult")
# TF's BN decay 0.9997 (momentum 0.0003) averages over ~3,300 steps: after a few hundred the running
# statistics, which evaluation normalises with, still hold most of their start (0.9997^300 ≈ 0.91).
# The paper's momentum is kept only if a run leaves at most this share, (1 − m)^iterations;
# shorter runs keep PyTorch's 0.1 (None), a departure the table lists.
BN_START_LEFT = 0.05

# Depthwise-separable models have no fast bf16 channels-last CPU kernel (v3+'s laptop step ran
# about ten times slower than in float32): the laptop profile keeps them in float32.
DEPTHWISE_MODELS = ("deeplabv3plus",)

# Fields a resumed session may change; every other field is the recipe.
EXECUTION_FIELDS = ("iterations", "out_dir", "log_every", "validate_every", "checkpoint_every", "overwrite",
                    "stop_at", "progress", "device", "num_workers", "compile", "amp", "channels_last",
                    "pretrained", "init_from")


@dataclasses.dataclass
class TrainConfig:
    """Everything a run depends on. ``from_profile`` fills the sizes from a run profile."""

    optimizer: ClassVar[str] = "SGD"  # the engine's only optimiser (momentum SGD, as every release)

    model: str = "deeplabv3"
    backbone: str | None = None  # None: the paper's (stored resolved, see ``resolved``)
    output_stride: int | None = None  # None: the paper's (stored resolved)
    width: float = 1.0
    model_options: dict = dataclasses.field(default_factory=dict)  # fc6, rates, blocks, multi_grid …
    pretrained: str | None = None  # ImageNet (or miniature-ImageNet) backbone weights, a local file
    init_from: str | None = None  # a training checkpoint whose weights the model starts from
    aux_weight: float = 0.0  # v3: weight of the auxiliary layer3 head's loss (0: no auxiliary head)
    crf_rnn: dict | None = None  # CRF-as-RNN on top: CRFParams fields (+ learn_weights, ...)
    dataset: str = "builtin"
    data_root: str | None = None
    crop_size: int = 513
    scale: tuple[float, float] = (0.5, 2.0)
    batch_size: int = 16  # the global batch: over all processes and accumulation passes
    iterations: int = 30_000
    lr: float = 0.007
    momentum: float = 0.9
    weight_decay: float = 1e-4
    head_lr_mult: float = 10.0
    # Modules (last name component, e.g. "fc8") trained at head_lr_mult; None: every parameter
    # outside the backbone. v1 puts only fc8 at 10× (fc6, fc7 come from VGG-16 pretrained).
    head_layers: tuple[str, ...] | None = None
    # Parameter groups (``schedules.make_optimizer``): the v1/v2 Caffe releases train biases at 2×
    # without decay; TF DeepLab (v3, v3+) decays neither biases, BN's γ/β, nor depthwise weights.
    bias_lr_mult: float = 1.0
    bias_decay_mult: float = 1.0
    norm_decay_mult: float = 1.0
    depthwise_decay_mult: float = 1.0
    crf_lr_mult: float | None = None  # CRF-as-RNN's w, μ (module ``crf``); None: the head's multiplier
    schedule: str = "poly"
    power: float = 0.9
    step_size: int = 2000
    gamma: float = 0.1
    loss: str = "upsampled"
    accumulate: int = 1
    # Rescale the gradient to at most this L2 norm before each step (None: never). CRF-as-RNN is
    # an RNN, and its mean-field iterations multiply the gradient reaching the network below, as
    # back-propagation through time does (Pascanu et al., ICML 2013, §3.2: clip the norm).
    clip_grad_norm: float | None = None
    batchnorm: str = "train"
    # BatchNorm's running-average momentum in PyTorch's convention (1 − TF's decay; v3/v3+:
    # 0.0003). None: the models' own, PyTorch's 0.1.
    bn_momentum: float | None = None
    amp: str = "auto"  # "auto": bf16 on CUDA, off elsewhere; "bf16"; "off"
    channels_last: bool | None = None  # None: on CUDA only
    compile: bool = False
    seed: int = 0
    num_workers: int = 0
    device: str | None = None
    out_dir: str = "runs/deeplab"
    log_every: int = 10
    # Score the val split every N steps and at the end into <out_dir>/val.csv (None: never); the
    # run's weights do not depend on it.
    validate_every: int | None = None
    checkpoint_every: int | None = None  # None: a quarter of ``iterations`` (a short run still saves)
    overwrite: bool = False  # a run directory with a checkpoint resumes, unless this is set: then it starts over
    stop_at: int | None = None  # end early at this iteration, as a killed run would (tests, demos)
    progress: bool = True

    @classmethod
    def from_profile(cls, model: str, profile: Profile | None = None, **overrides: Any) -> "TrainConfig":
        """The paper's recipe for ``model`` (``deeplab_edu.recipes``) at the profile's size.

        ``full`` is the published recipe exactly; ``gpu`` takes the profile's crop, batch and
        iterations. Smaller profiles also take its width and change what a CPU run needs (the
        constants above): one unit per ResNet stage, a rate fit for a few hundred steps, scale
        augmentation within 0.75-1.5, BatchNorm trained (v2 freezes it), the whole new head at the
        head's rate (the miniature backbones have no pretrained fc6/fc7, so v1's "fc8 only" would
        train two fresh layers at the backbone's rate). ``recipes.format_comparison`` lists every
        departure. ``pretrained`` is ``default_pretrained``'s choice; ``pretrained=None`` trains
        from scratch.
        """
        from deeplab_edu import recipes
        from deeplab_edu.engine.pretrained import default_pretrained

        p = profile or get_profile()
        backbone = overrides.get("backbone")
        resnet = model != "deeplabv1" and backbone != "vgg16"
        options = {"blocks": (1, 1, 1, 1)} if resnet and p.width < 1 else {}
        if not resnet and p.width < 1:
            options["dropout"] = SMALL_VGG_DROPOUT
        options.update(overrides.pop("model_options", {}))
        values = dict(model=model, width=p.width, log_every=p.log_every, model_options=options,
                      pretrained=default_pretrained(model, backbone, p.width, options, profile=p.name))
        values.update(recipes.config_overrides(model))
        values.pop("output_stride", None)  # the model's own default; chapters pass it when they mean it
        if p.name == "gpu":  # the paper's recipe, only shorter: its crop, batch and iterations
            values.update(crop_size=p.crop_size, batch_size=p.batch_size, iterations=p.iterations)
            if values.get("schedule") == "step":  # v1's three steps, at the run's length
                values["step_size"] = max(p.iterations // 3, 1)
        elif p.name != "full":
            iterations = p.iterations if resnet else max(round(p.iterations * VGG_ITERATION_SHARE), 1)
            values.update(crop_size=p.crop_size, batch_size=p.batch_size, iterations=iterations,
                          **LAPTOP_DEPARTURES[model])
            if values.get("schedule") == "step":  # v1's three steps, at the run's length
                values["step_size"] = max(iterations // 3, 1)
            lo, hi = values["scale"]
            values["scale"] = (max(lo, 0.75), min(hi, 1.5))
            if values.get("batchnorm") == "frozen":  # v2's frozen BN: the small backbones must adapt
                values["batchnorm"] = "train"
            values.pop("head_layers", None)
            for name in SMALL_PROFILE_GROUPS:
                values.pop(name, None)
            if p.name == "laptop" and native_bf16() and model not in DEPTHWISE_MODELS:
                # benchmarks/bench_speed.py: bf16 autocast with channels-last memory is the fastest
                # CPU step where the CPU computes bf16 natively; elsewhere it is emulated and slower.
                values.update(amp="bf16", channels_last=True)
        values.update(overrides)
        momentum = values.get("bn_momentum")
        if "bn_momentum" not in overrides and momentum is not None \
                and (1 - momentum) ** values["iterations"] > BN_START_LEFT:
            values["bn_momentum"] = None
        return cls(**values)

    @property
    def checkpoint_interval(self) -> int:
        """``checkpoint_every``, or a quarter of the run: every run saves at least at its end."""
        return self.checkpoint_every if self.checkpoint_every is not None else max(self.iterations // 4, 1)

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first field that is out of range."""
        for name in ("iterations", "batch_size", "accumulate", "log_every", "crop_size", "step_size"):
            validate.integer(getattr(self, name), name, minimum=1)
        for name in ("checkpoint_every", "validate_every", "stop_at"):
            if getattr(self, name) is not None:
                validate.integer(getattr(self, name), name, minimum=1)
        for name in ("seed", "num_workers"):
            validate.integer(getattr(self, name), name, minimum=0)
        for name, allowed in (("schedule", SCHEDULES), ("loss", LOSSES), ("batchnorm", BATCHNORM),
                              ("amp", AMP)):
            validate.choice(getattr(self, name), name, allowed)
        for name in ("lr", "width", "head_lr_mult", "bias_lr_mult"):
            validate.number(getattr(self, name), name, positive=True)
        for name in ("momentum", "weight_decay", "power", "gamma", "aux_weight", "bias_decay_mult",
                     "norm_decay_mult", "depthwise_decay_mult"):
            validate.number(getattr(self, name), name, minimum=0)
        for name in ("crf_lr_mult", "clip_grad_norm"):
            if getattr(self, name) is not None:
                validate.number(getattr(self, name), name, positive=True)
        if self.bn_momentum is not None:
            validate.number(self.bn_momentum, "bn_momentum", minimum=0, maximum=1,
                            unit="(PyTorch's convention, 1 - TF's decay: 0.0003 for decay 0.9997) or None")
        scale = tuple(self.scale) if isinstance(self.scale, (tuple, list)) else ()
        if len(scale) != 2 or not all(_is_finite(v) for v in scale) or not 0 < scale[0] <= scale[1]:
            raise ValueError(f"scale must be two finite numbers 0 < low <= high, got {self.scale!r}")
        if self.batch_size % self.accumulate:
            raise ValueError(f"batch_size {self.batch_size} must be divisible by accumulate {self.accumulate}")
        if self.aux_weight and self.model != "deeplabv3":
            raise ValueError(f"aux_weight applies to deeplabv3's auxiliary head, not to {self.model!r}")
        if self.aux_weight and self.loss != "upsampled":
            raise ValueError("aux_weight needs loss='upsampled': the auxiliary head's logits come at the "
                             "image's resolution (v3's loss, §4.1)")
        if self.head_layers is not None and (isinstance(self.head_layers, str) or not all(
                isinstance(name, str) and name for name in self.head_layers)):
            raise ValueError(f"head_layers must be a tuple of module names (e.g. ('fc8',)) or None, "
                             f"got {self.head_layers!r}")
        if self.crf_rnn is not None and not isinstance(self.crf_rnn, dict):
            raise ValueError(f"crf_rnn must be a dict of CRFParams fields or None, got {self.crf_rnn!r}")

    def resolved(self) -> "TrainConfig":
        """This config with the defaults written out, so a saved config says what was built and
        ``--output-stride 16`` matches a run that left it at its default."""
        from deeplab_edu.models import DEFAULT_BACKBONES, DEFAULT_OUTPUT_STRIDES

        if self.model not in DEFAULT_BACKBONES:
            raise ValueError(f"model must be one of {sorted(DEFAULT_BACKBONES)}, got {self.model!r}")
        options = dict(self.model_options)
        if self.aux_weight:
            options["aux_loss"] = True
        data_root = self.data_root
        if data_root is None and self.dataset == "builtin":
            from deeplab_edu.datasets import default_builtin_root
            data_root = str(default_builtin_root())
        return dataclasses.replace(
            self, data_root=data_root, backbone=self.backbone or DEFAULT_BACKBONES[self.model],
            output_stride=self.output_stride or DEFAULT_OUTPUT_STRIDES[self.model], model_options=options,
            scale=tuple(float(s) for s in self.scale),
            head_layers=None if self.head_layers is None else tuple(self.head_layers))

    def optimizer_groups(self) -> dict[str, float | None]:
        """The keyword arguments of ``schedules.make_optimizer`` that split the parameter groups."""
        return dict(bias_lr_mult=self.bias_lr_mult, bias_decay_mult=self.bias_decay_mult,
                    norm_decay_mult=self.norm_decay_mult, depthwise_decay_mult=self.depthwise_decay_mult,
                    crf_lr_mult=self.crf_lr_mult)

    def initialisation(self) -> str:
        """Where the weights start: ``"imagenet"`` (torchvision's ImageNet file), ``"miniature-imagenet"``
        (another backbone file: the book's miniature-ImageNet weights), ``"coco"`` (torchvision's
        COCO-trained DeepLab v3), ``"checkpoint"`` (``init_from``) or ``"random"``."""
        from deeplab_edu.weights import TORCHVISION_URLS

        if self.init_from:
            return "checkpoint"
        if not self.pretrained:
            return "random"
        name = Path(self.pretrained).name
        if name not in {url.rsplit("/", 1)[1] for url in TORCHVISION_URLS.values()}:
            return "miniature-imagenet"
        return "coco" if "coco" in name else "imagenet"

    def model_config(self, num_classes: int) -> dict:
        """How to rebuild the model: stored in every checkpoint, compared on load."""
        config = {"model": self.model, "num_classes": num_classes, "backbone": self.backbone,
                  "output_stride": self.output_stride, "width": float(self.width),
                  "options": dict(self.model_options)}
        if self.crf_rnn is not None:
            config["crf_rnn"] = dict(self.crf_rnn)
        return config

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    def recipe(self) -> dict:
        """The fields that decide what the run computes, as plain JSON values."""
        values = json.loads(self.to_json())
        return {k: v for k, v in values.items() if k not in EXECUTION_FIELDS}


def _is_finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
