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


def vgg16_fc_to_conv(state_dict: Mapping[str, torch.Tensor], fc6: str = "largefov") -> StateDict:
    """VGG-16's fc6 / fc7 as DeepLab v1's convolutional fc6 / fc7, for the chosen variant.

    fc6 (4096 × 25088) is a 7×7 convolution over 512 channels, reshaped. The smaller variants
    keep every other (4×4: taps 0, 2, 4, 6) or every third (3×3: taps 0, 3, 6) tap; LargeFOV also
    keeps every 4th of the 4096 channels in fc6 and fc7. Returns ``classifier.fc6/fc7.*`` keys.
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
    taps = torch.linspace(0, 6, variant.kernel).round().long()
    keep = torch.arange(0, 4096, 4096 // variant.channels)
    w6 = state_dict["classifier.0.weight"].reshape(4096, 512, 7, 7)[keep][:, :, taps][:, :, :, taps]
    w7 = state_dict["classifier.3.weight"][keep][:, keep]
    return {"classifier.fc6.weight": w6.contiguous(), "classifier.fc6.bias": state_dict["classifier.0.bias"][keep],
            "classifier.fc7.weight": w7.reshape(len(keep), len(keep), 1, 1).contiguous(),
            "classifier.fc7.bias": state_dict["classifier.3.bias"][keep]}


def load_vgg16_imagenet(model: nn.Module, source: str | Path | Mapping[str, torch.Tensor]) -> nn.Module:
    """Initialise a full-width ``DeepLabV1`` from a torchvision ``vgg16`` checkpoint (fc8 stays new)."""
    state = _state(source)
    load_backbone(model.backbone, {k: v for k, v in state.items() if k.startswith("features.")})
    converted = vgg16_fc_to_conv(state, model.fc6_variant)
    own = model.state_dict()
    shapes = [f"{k}: {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in converted.items()
              if own[k].shape != v.shape]
    if shapes:
        raise CheckpointMismatchError(f"vgg16 fc6/fc7 do not fit this model (width < 1?): {_listing(shapes)}")
    model.load_state_dict(converted, strict=False)
    return model


def load_pretrained(model: nn.Module, source: str | Path | Mapping[str, torch.Tensor]) -> nn.Module:
    """Classification weights into a DeepLab before training (``TrainConfig.pretrained``): the backbone
    alone, and from a torchvision ``vgg16`` file into DeepLab v1 also fc6 / fc7."""
    state = _state(source)
    if "classifier.0.weight" in state and hasattr(model, "fc6_variant"):
        return load_vgg16_imagenet(model, state)
    load_backbone(model.backbone, state)
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
