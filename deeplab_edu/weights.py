"""Pretrained weights: torchvision-format checkpoints from a local file or a URL.

Nothing is downloaded unless a URL is passed. The book's modules carry torchvision's parameter
names, so torchvision's ``resnet50`` / ``resnet101`` / ``vgg16`` ImageNet files and the book's
miniature-ImageNet backbones (``deeplab_edu.pretrain``) load into the backbones (the classifier
dropped); VGG-16's classifier becomes v1's fc6 / fc7 by ``vgg16_fc_to_conv`` (DeepLab v1, §4:
"we subsample (by decimation) the first FC layer to 4×4 (or 3×3) spatial size", and LargeFOV
keeps 1 024 of the 4 096 channels); and torchvision's ``deeplabv3_resnet101`` loads strictly
into ``build_model("deeplabv3", 21, **TORCHVISION_DEEPLABV3, aux_loss=True)``, torchvision's
geometry and head rather than the paper's.

Files are read with ``torch.load(..., weights_only=True)``: unpickling arbitrary objects from a
downloaded file would run arbitrary code. A checkpoint of another architecture is refused by a
``CheckpointMismatchError`` naming the missing, unexpected and mis-shaped keys.
"""

from __future__ import annotations

import pickle
import urllib.error
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from torch import nn

StateDict = dict[str, torch.Tensor]

#: torchvision's ImageNet checkpoints (the addresses torchvision itself uses).
TORCHVISION_URLS = {
    "vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",
    "resnet50": "https://download.pytorch.org/models/resnet50-0676ba61.pth",
    "resnet101": "https://download.pytorch.org/models/resnet101-63fe2227.pth",
    "deeplabv3_resnet101": "https://download.pytorch.org/models/deeplabv3_resnet101_coco-586e9e4e.pth",
}


#: The file name of each backbone's ImageNet checkpoint, as torchvision saves it.
IMAGENET_FILES = {url.rsplit("/", 1)[1]: name for name, url in TORCHVISION_URLS.items()
                  if name in ("vgg16", "resnet50", "resnet101")}


def missing_imagenet_message(path: str | Path) -> str:
    """Why a full-size run stops when its backbone's ImageNet file is not on disk, and the ways on."""
    path = Path(path)
    backbone = IMAGENET_FILES.get(path.name, "the backbone")
    url = TORCHVISION_URLS.get(backbone, "torchvision's model page")
    return (f"{backbone}'s ImageNet weights are not at {path}: DeepLab fine-tunes an ImageNet-trained "
            f"backbone, and a full-size {backbone} from random weights will not learn in one sitting. "
            f"Download {url} on any machine and put it in {path.parent} (the folder "
            f"DEEPLAB_EDU_IMAGENET names; see data/README.md), or pass --pretrained none "
            f"(pretrained=None) to train from scratch on purpose, or choose a smaller run profile "
            f"(DEEPLAB_EDU_PROFILE=laptop)")


#: ``build_model("deeplabv3", …)`` options that make our DeepLabV3 torchvision's, key for key.
TORCHVISION_DEEPLABV3 = {"output_stride": 8, "multi_grid": None, "head": "torchvision"}


class WeightsUnavailableError(RuntimeError):
    """The checkpoint could not be fetched (no internet, wrong address)."""


class CheckpointMismatchError(ValueError):
    """The checkpoint's keys or shapes are not the model's."""


def _is_url(source: str | Path) -> bool:
    return isinstance(source, str) and source.split("://", 1)[0] in ("http", "https", "file")


def read_state_dict(source: str | Path, model_dir: str | Path | None = None) -> StateDict:
    """The tensors in a checkpoint file or at a URL (cached in ``model_dir``, torch hub's by default),
    unwrapped from a training checkpoint's ``{"model": ...}`` or ``{"state_dict": ...}``."""
    if _is_url(source):
        try:
            state = torch.hub.load_state_dict_from_url(str(source), model_dir=None if model_dir is None
                                                       else str(model_dir), map_location="cpu",
                                                       progress=False, weights_only=True)
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as error:
            raise WeightsUnavailableError(
                f"could not download {source} ({getattr(error, 'reason', error)}). Without internet, "
                f"download the file on another machine and pass its local path instead; the model "
                f"keeps its random initialisation until then.") from None
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            if path.name in IMAGENET_FILES:
                raise FileNotFoundError(missing_imagenet_message(path))
            raise FileNotFoundError(f"checkpoint file not found: {path}")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as error:
            raise ValueError(f"could not read checkpoint {path}: not a PyTorch weights file, or corrupt "
                             f"({type(error).__name__}: {str(error).splitlines()[0][:200]})") from None
    for wrapper in ("model", "state_dict"):
        if isinstance(state, Mapping) and isinstance(state.get(wrapper), Mapping):
            state = state[wrapper]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"checkpoint {source} does not hold a state_dict (a mapping of names to tensors)")
    return dict(state)


def _state(source: str | Path | Mapping[str, torch.Tensor]) -> StateDict:
    return dict(source) if isinstance(source, Mapping) else read_state_dict(source)


def _listing(keys: Iterable[str], limit: int = 6) -> str:
    keys = list(keys)
    shown = ", ".join(keys[:limit])
    return shown + (f" … ({len(keys)} in all)" if len(keys) > limit else "")


def check_compatible(model: nn.Module, state_dict: Mapping[str, torch.Tensor], what: str = "checkpoint") -> None:
    """Raise ``CheckpointMismatchError`` naming every difference in keys or shapes."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    shapes = [f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(v.shape)}"
              for k, v in expected.items() if k in state_dict and state_dict[k].shape != v.shape]
    problems = [f"{label}: {_listing(keys, limit)}" for label, keys, limit in
                (("missing keys", missing, 6), ("unexpected keys", unexpected, 6), ("shape mismatches", shapes, 4))
                if keys]
    if problems:
        raise CheckpointMismatchError(f"the {what} does not fit {type(model).__name__} (is it another "
                                      f"architecture, width or class count?) — " + "; ".join(problems))


def load_weights(model: nn.Module, source: str | Path | Mapping[str, torch.Tensor],
                 drop_prefixes: Iterable[str] = (), what: str = "checkpoint") -> nn.Module:
    """Strictly load ``source`` (path, URL or state_dict) into ``model``, minus ``drop_prefixes``."""
    drop = tuple(drop_prefixes)
    state = {k: v for k, v in _state(source).items() if not (drop and k.startswith(drop))}
    check_compatible(model, state, what)
    model.load_state_dict(state, strict=True)
    return model


def load_backbone(backbone: nn.Module, source: str | Path | Mapping[str, torch.Tensor]) -> nn.Module:
    """An ImageNet ``resnet50``/``resnet101``/``vgg16`` checkpoint into the matching backbone, minus
    the classifier that DeepLab replaces (ResNet's ``fc``, VGG's ``classifier``)."""
    drop = () if hasattr(backbone, "fc") else ("fc.", "classifier.")
    return load_weights(backbone, source, drop, what="ImageNet checkpoint")


def decimate_fc(fc6: Mapping[str, torch.Tensor], fc7: Mapping[str, torch.Tensor], kernel: int,
                channels: int, compensate: bool = False) -> StateDict:
    """VGG's fc6 / fc7 (as convolutions) subsampled into DeepLab v1's, by decimation (v1 §3.1).

    ``fc6``'s weight is (C, C_in, 7, 7): keep every other tap (4×4: taps 0, 2, 4, 6) or every third
    (3×3: taps 0, 3, 6) in each direction, and every (C / ``channels``)-th filter (LargeFOV: 4 096 →
    1 024); ``fc7`` loses the same channels on both sides. The kept taps are as far apart in the
    image as they were in training only when the new fc6's rate is the decimation factor times the
    old one — v1 Table 2's 4×4 at rate 8 and 3×3 at rate 12; its 4×4 at rate 4 squeezes the filter
    into half its span (a 128-px field of view instead of 224). ``compensate`` multiplies fc7's kept
    inputs by C / ``channels``, so that each fc7 unit starts with as large an input as before the
    decimation dropped the rest (the paper says nothing of it; a run of a few hundred steps needs it).
    Returns ``classifier.fc6/fc7.*`` keys.
    """
    w6, w7 = fc6["weight"], fc7["weight"]
    full, taps_in = w6.shape[0], w6.shape[-1]
    if not 1 <= kernel <= taps_in:
        raise ValueError(f"kernel must lie in 1..{taps_in} (the pretrained fc6 is {taps_in}×{taps_in}), "
                         f"got {kernel!r}")
    if not (1 <= channels <= full and full % channels == 0):
        raise ValueError(f"channels must divide the pretrained fc6's {full}, got {channels!r}")
    taps = torch.linspace(0, taps_in - 1, kernel).round().long()
    keep = torch.arange(0, full, full // channels)
    return {"classifier.fc6.weight": w6[keep][:, :, taps][:, :, :, taps].contiguous(),
            "classifier.fc6.bias": fc6["bias"][keep],
            "classifier.fc7.weight": (w7.reshape(full, full, 1, 1)[keep][:, keep]
                                      * (full // channels if compensate else 1)).contiguous(),
            "classifier.fc7.bias": fc7["bias"][keep]}


def vgg16_fc_to_conv(state_dict: Mapping[str, torch.Tensor], fc6: str = "largefov") -> StateDict:
    """torchvision VGG-16's fc6 / fc7 as DeepLab v1's convolutional fc6 / fc7, for the chosen variant.

    fc6 (4096 × 25088) is a 7×7 convolution over 512 channels, reshaped, then ``decimate_fc``.
    """
    from deeplab_edu.layouts import FC6_VARIANTS

    if fc6 not in FC6_VARIANTS:
        raise ValueError(f"fc6 must be one of {sorted(FC6_VARIANTS)}, got {fc6!r}")
    variant = FC6_VARIANTS[fc6]
    for key, shape in (("classifier.0.weight", (4096, 25088)), ("classifier.3.weight", (4096, 4096))):
        if key not in state_dict or tuple(state_dict[key].shape) != shape:
            found = tuple(state_dict[key].shape) if key in state_dict else "absent"
            raise CheckpointMismatchError(f"not a torchvision vgg16 checkpoint: {key} should be {shape}, "
                                          f"found {found}")
    return decimate_fc({"weight": state_dict["classifier.0.weight"].reshape(4096, 512, 7, 7),
                        "bias": state_dict["classifier.0.bias"]},
                       {"weight": state_dict["classifier.3.weight"], "bias": state_dict["classifier.3.bias"]},
                       variant.kernel, variant.channels)


def load_vgg16_imagenet(model: nn.Module, source: str | Path | Mapping[str, torch.Tensor]) -> nn.Module:
    """Initialise a full-width ``DeepLabV1`` from a torchvision ``vgg16`` checkpoint (fc8 stays new)."""
    state = _state(source)
    load_backbone(model.backbone, {k: v for k, v in state.items() if k.startswith("features.")})
    return _load_fc(model, vgg16_fc_to_conv(state, model.fc6_variant), "vgg16 fc6/fc7 (width < 1?)")


def _load_fc(model: nn.Module, converted: Mapping[str, torch.Tensor], what: str) -> nn.Module:
    own = model.state_dict()
    shapes = [f"{k}: {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in converted.items()
              if own[k].shape != v.shape]
    if shapes:
        raise CheckpointMismatchError(f"{what} do not fit this model: {_listing(shapes)}")
    model.load_state_dict(converted, strict=False)
    return model


def load_miniature_fc(model: nn.Module, state: Mapping[str, torch.Tensor]) -> nn.Module:
    """A miniature VGG classifier's fc6 / fc7 (``pretrain``, ``fc6_rate``) decimated into a DeepLab v1
    whatever its fc6 kernel and width (``decimate_fc``, compensated: the miniature runs are short, and
    LargeFOV's 256 of 1 024 channels would start fc7 at a quarter of its input); its fc6 rate is the
    model's own."""
    fc6 = model.classifier.fc6
    try:
        converted = decimate_fc({"weight": state["classifier.fc6.weight"], "bias": state["classifier.fc6.bias"]},
                                {"weight": state["classifier.fc7.weight"], "bias": state["classifier.fc7.bias"]},
                                fc6.kernel_size[0], fc6.out_channels, compensate=True)
    except (KeyError, ValueError) as err:
        raise CheckpointMismatchError(f"the miniature fc6 / fc7 do not fit this model's fc6 "
                                      f"{tuple(fc6.weight.shape)}: {err}") from err
    return _load_fc(model, converted, "the miniature fc6 / fc7")


def load_pretrained(model: nn.Module, source: str | Path | Mapping[str, torch.Tensor]) -> nn.Module:
    """Classification weights into a DeepLab before training (``TrainConfig.pretrained``): the backbone
    alone, and into DeepLab v1 also fc6 / fc7 from a torchvision ``vgg16`` file or a miniature one
    pretrained with them."""
    state = _state(source)
    if "classifier.0.weight" in state and hasattr(model, "fc6_variant"):
        return load_vgg16_imagenet(model, state)
    load_backbone(model.backbone, state)
    if "classifier.fc6.weight" in state and hasattr(model, "fc6_variant"):
        load_miniature_fc(model, state)
    return model


def load_torchvision_deeplabv3(model: nn.Module, source: str | Path | Mapping[str, torch.Tensor]) -> nn.Module:
    """torchvision's ``deeplabv3_resnet101`` checkpoint, strictly, into a ``DeepLabV3`` built with
    ``TORCHVISION_DEEPLABV3``; a model without the auxiliary head ignores ``aux_classifier.*``."""
    if getattr(model, "head_type", "torchvision") != "torchvision":
        raise CheckpointMismatchError(
            f"this DeepLabV3 has the {model.head_type!r} head; torchvision's checkpoint has its own "
            "(an extra 3×3 conv after ASPP): build the model with "
            "build_model('deeplabv3', 21, **weights.TORCHVISION_DEEPLABV3)")
    drop = ("aux_classifier.",) if getattr(model, "aux_classifier", None) is None else ()
    return load_weights(model, source, drop, what="torchvision DeepLabV3 checkpoint")
