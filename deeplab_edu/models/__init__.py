"""The DeepLab models, one file per version, and ``build_model``, the one factory.

=================  =======================================  ===========================================
name               what                                     file
=================  =======================================  ===========================================
``deeplabv1``      VGG-16 LargeFOV (or another fc6 variant)  ``v1.py``
``deeplabv2``      VGG-16 / ResNet-101 + ASPP-L / ASPP-S     ``v2.py``, ``multiscale.py``
``deeplabv3``      ResNet + ASPP with image pooling          ``v3.py``
``deeplabv3plus``  v3 encoder + decoder, separable convs     ``v3plus.py``, ``backbones/xception.py``
=================  =======================================  ===========================================

Wrappers of any of them: ``MultiScale`` (v2's multi-scale inputs), ``LearnedUpsampling`` (FCN's
deconvolution) and ``CRFRNNSegmenter`` (CRF-as-RNN on top); ``build_from_config`` builds what a
``model_config`` describes, wrappers included. The training contract is ``base.py``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from deeplab_edu import validate
from deeplab_edu.aspp import ASPP_L, ASPP_S
from deeplab_edu.crf.crf_rnn import CRFasRNN
from deeplab_edu.crf.params import CRFParams
from deeplab_edu.layouts import V3_MULTI_GRID
from deeplab_edu.models.base import SegmentationModel, TrainingOutput, check_output_stride
from deeplab_edu.models.crf_rnn import CRFRNNSegmenter
from deeplab_edu.models.learned_upsampling import LearnedUpsampling
from deeplab_edu.models.multiscale import MultiScale
from deeplab_edu.models.v1 import DeepLabV1
from deeplab_edu.models.v2 import DeepLabV2
from deeplab_edu.models.v3 import DeepLabV3
from deeplab_edu.models.v3plus import DeepLabV3Plus

MODELS = ("deeplabv1", "deeplabv2", "deeplabv3", "deeplabv3plus")
DEFAULT_BACKBONES = {"deeplabv1": "vgg16", "deeplabv2": "resnet101", "deeplabv3": "resnet101",
                     "deeplabv3plus": "resnet101"}
DEFAULT_OUTPUT_STRIDES = {"deeplabv1": 8, "deeplabv2": 8, "deeplabv3": 16, "deeplabv3plus": 16}
# v3's Multi_Grid (§4.1) in ResNet's layer4; the TF code's plain rates in Xception's exit flow.
DEFAULT_MULTI_GRID = {"resnet50": V3_MULTI_GRID, "resnet101": V3_MULTI_GRID, "xception65": None}
ASPP_PRESETS = {"aspp-l": ASPP_L, "aspp-s": ASPP_S}
UPSAMPLING = ("bilinear", "deconvolution")


def build_model(name: str, num_classes: int, output_stride: int | None = None, backbone: str | None = None,
                width: float = 1.0, **options) -> SegmentationModel:
    """Build a DeepLab by name. ``model(x)`` gives logits (N, C, H, W) at the input's size.

    ``output_stride`` and ``backbone`` default to each paper's (v1/v2: 8, v3/v3+: 16; VGG-16 for v1,
    ResNet-101 otherwise). ``width`` (channel scale, minimum 8) and ``blocks=(1, 1, 1, 1)`` (ResNet
    units per stage) make the small version of the same model. Other ``options``:

    * v1: ``fc6`` in ``"largefov"``, ``"7x7"``, ``"4x4"``, ``"4x4-rate8"``; ``dropout``.
    * v2: ``rates`` (a tuple, or ``"aspp-l"`` / ``"aspp-s"``), ``blocks``, ``scales`` (e.g.
      (1, 0.75, 0.5)) for multi-scale max fusion.
    * v3 / v3+: ``multi_grid`` (default ``DEFAULT_MULTI_GRID``; None: torchvision's plain rates),
      ``rates``, ``blocks``, ``image_pooling``; v3 ``aux_loss`` and ``head`` (``"paper"`` or
      ``"torchvision"``); v3+ ``separable`` and ``backbone="xception65"`` with ``middle_units``.
    * any: ``upsampling="deconvolution"``: FCN's learned upsampling (``learned_upsampling.py``).
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {MODELS}")
    validate.integer(num_classes, "num_classes", minimum=1)
    validate.number(width, "width", positive=True)
    output_stride = check_output_stride(DEFAULT_OUTPUT_STRIDES[name] if output_stride is None else output_stride)
    backbone = DEFAULT_BACKBONES[name] if backbone is None else backbone
    upsampling = options.pop("upsampling", "bilinear")
    if upsampling not in UPSAMPLING:
        raise ValueError(f"upsampling must be one of {UPSAMPLING}, got {upsampling!r}")
    if upsampling == "deconvolution":
        return LearnedUpsampling(build_model(name, num_classes, output_stride, backbone, width, **options))
    if isinstance(options.get("rates"), str):
        key = options["rates"].lower()
        if key not in ASPP_PRESETS:
            raise ValueError(f"rates must be a tuple of integers or one of {sorted(ASPP_PRESETS)}, "
                             f"got {options['rates']!r}")
        options["rates"] = ASPP_PRESETS[key]
    if name == "deeplabv1":
        if backbone != "vgg16":
            raise ValueError(f"DeepLab v1 is built on vgg16, got backbone={backbone!r}")
        if output_stride != 8:
            raise ValueError(f"output_stride must be 8 for DeepLab v1 (VGG-16), got {output_stride!r}")
        return DeepLabV1(num_classes, width=width, **options)
    if name == "deeplabv2":
        scales: Sequence[float] | None = options.pop("scales", None)
        model = DeepLabV2(num_classes, backbone, output_stride=output_stride, width=width, **options)
        return model if scales is None else MultiScale(model, scales)
    cls = DeepLabV3 if name == "deeplabv3" else DeepLabV3Plus
    options.setdefault("multi_grid", DEFAULT_MULTI_GRID.get(backbone))
    return cls(num_classes, backbone, output_stride=output_stride, width=width, **options)


CRF_LAYER_OPTIONS = ("kernels", "learn_weights", "learn_compatibility", "convention", "test_iterations")


def build_from_config(model_config: dict,
                      to_rgb: Callable[[torch.Tensor], torch.Tensor] | None = None) -> SegmentationModel:
    """The model a ``TrainConfig.model_config`` (or a checkpoint's) describes, freshly initialised.

    A ``crf_rnn`` entry (``CRFParams`` fields and ``CRF_LAYER_OPTIONS``) puts a ``CRFasRNN`` layer on
    top, fed colours by ``to_rgb`` (the engine's ``datasets.transforms.rgb_from_normalized``).
    """
    options = dict(model_config.get("options", {}))
    model = build_model(model_config["model"], model_config["num_classes"],
                        output_stride=model_config.get("output_stride"), backbone=model_config.get("backbone"),
                        width=model_config.get("width", 1.0), **options)
    if model_config.get("crf_rnn") is None:
        return model
    if to_rgb is None:
        raise ValueError("a model_config with crf_rnn needs to_rgb: how the CRF gets colours from the input")
    settings = dict(model_config["crf_rnn"])
    layer = {key: settings.pop(key) for key in CRF_LAYER_OPTIONS if key in settings}
    return CRFRNNSegmenter(model, CRFasRNN(model_config["num_classes"], CRFParams(**settings), **layer), to_rgb)


__all__ = ["MODELS", "CRFRNNSegmenter", "DeepLabV1", "DeepLabV2", "DeepLabV3", "DeepLabV3Plus", "LearnedUpsampling",
           "MultiScale", "SegmentationModel", "TrainingOutput", "build_from_config", "build_model"]
