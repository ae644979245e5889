"""ImageNet pretraining in miniature: why every DeepLab starts from a classifier.

No DeepLab trains its backbone from scratch: v1 (ICLR 2015, §4) starts from "the publicly
available ImageNet-pretrained VGG-16", v2 (TPAMI 2017, §4) and v3 from ImageNet ResNet-101.
A segmentation set is too small to learn both *what* edges, textures and shapes look like and
*where* one object ends. The book cannot download ImageNet, so it runs the recipe in miniature:
classify one object of the built-in set's 7 classes on a textured background
(``synthetic.make_object_image``) with the backbone + global average pooling + a linear layer,
then throw the classifier away and load the backbone into DeepLab (``weights.load_backbone``).

ImageNet's VGG-16 also has a classifier DeepLab v1 keeps: fc6 (7×7 over pool5) and fc7, made
convolutions and subsampled (v1 §3.1; ``weights.decimate_fc``). ``fc6_rate`` trains that classifier
in miniature too — fc6 a 7×7 convolution at rate ``fc6_rate`` on the stride-8 features, fc7 1×1,
both before the pooling — so that a DeepLab v1 head can start from it as the paper's does.

ResNet is trained at output stride 32, as on ImageNet, and made dense afterwards by the hole
algorithm (only strides and rates change). VGG-16 has no BatchNorm, and 13 plain ReLU layers
learn little in a few hundred steps, so it is trained with a BatchNorm after every convolution
that is then folded into it (``fold_batchnorm``): a plain VGG-16 that DeepLab v1 fine-tunes.

``data/pretrained/`` ships the result for the laptop profile's models (``python -m deeplab_edu
pretrain``); ``shipped_weights`` finds the file that fits a model.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from deeplab_edu import validate
from deeplab_edu.backbones.resnet import ResNet
from deeplab_edu.backbones.vgg import VGG16
from deeplab_edu.checkpoint import atomic_save
from deeplab_edu.datasets.synthetic import CLASSES, make_object_image
from deeplab_edu.datasets.transforms import IMAGENET_MEAN, IMAGENET_STD
from deeplab_edu.paths import REPO_ROOT
from deeplab_edu.runtime import seed_everything

PRETRAIN_BACKBONES = ("resnet", "vgg16")
NUM_CLASSES = len(CLASSES) - 1  # the object classes; a classification image has no "background"
SHIPPED_DIR = REPO_ROOT / "data" / "pretrained"
# Object-image seeds, away from the default built-in set's scene seeds (0 … 999 999): an object
# image and a scene with one seed would share their background.
TRAIN_SEED_OFFSET = 10_000_000
VAL_SEED_OFFSET = 20_000_000
# Peak rates found by trial (VGG-16 is trained with BatchNorm, folded afterwards).
DEFAULT_LR = {"resnet": 0.2, "vgg16": 0.1}


@dataclasses.dataclass
class PretrainConfig:
    """One pretraining run. The defaults made the shipped weights."""

    backbone: str = "resnet"
    width: float = 0.25
    blocks: tuple[int, int, int, int] = (1, 1, 1, 1)  # ResNet units per stage
    train_images: int = 10_000
    val_images: int = 500
    image_size: int = 64
    batch_size: int = 64
    iterations: int = 600
    lr: float | None = None  # the one-cycle schedule's peak; None: DEFAULT_LR[backbone]
    momentum: float = 0.9
    weight_decay: float = 1e-4
    seed: int = 0
    # vgg16 only: also train VGG's fc6 (7×7 at this rate on the stride-8 features, no padding:
    # one window per position as in VGG) and fc7 before the pooling; None: pool the backbone.
    fc6_rate: int | None = None
    progress: bool = True

    def validate(self) -> None:
        validate.choice(self.backbone, "backbone", PRETRAIN_BACKBONES)
        if self.fc6_rate is not None:
            if self.backbone != "vgg16":
                raise validate.ArgumentError(f"fc6_rate trains VGG-16's fc6 / fc7; the {self.backbone} "
                                             "classifier has none (leave fc6_rate None)")
            rate = validate.integer(self.fc6_rate, "fc6_rate", minimum=1)
            cells = -(-self.image_size // VGG16.output_stride)
            if rate * (FC6_KERNEL - 1) + 1 > cells:
                raise validate.ArgumentError(
                    f"fc6 7×7 at rate {rate} spans {rate * (FC6_KERNEL - 1) + 1} cells of the stride-8 map, "
                    f"but a {self.image_size}-px image gives {cells}: raise image_size or lower fc6_rate")
        for name in ("train_images", "val_images", "batch_size", "iterations"):
            validate.integer(getattr(self, name), name, minimum=1)
        for name in ("width",) if self.lr is None else ("width", "lr"):
            validate.number(getattr(self, name), name, positive=True)

    @property
    def peak_lr(self) -> float:
        return DEFAULT_LR[self.backbone] if self.lr is None else self.lr


class Classifier(nn.Module):
    """A backbone, global average pooling and one linear layer: the ImageNet classifier's shape;
    with ``classifier`` (VGG's fc6 / fc7 as convolutions, ``vgg_fc_layers``) between backbone and pooling."""

    def __init__(self, backbone: nn.Module, num_classes: int = NUM_CLASSES,
                 classifier: nn.Sequential | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.classifier = classifier
        channels = backbone.out_channels if classifier is None else classifier.fc7.out_channels
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.backbone(x)["out"]
        if self.classifier is not None:
            features = self.classifier(features)
        return self.fc(features.mean(dim=(2, 3)))


FC6_KERNEL = 7  # VGG's fc6 reads a 7 × 7 window of pool5


def vgg_fc_layers(in_channels: int, width: float, rate: int, batch_norm: bool = False) -> nn.Sequential:
    """VGG-16's fc6 (7×7 at ``rate``, 4 096·width channels) and fc7 (1×1), as convolutions with ReLU;
    ``batch_norm`` puts a BatchNorm after each (for training; ``fold_sequential`` removes them)."""
    from deeplab_edu.models.base import scaled

    channels = scaled(4096, width)
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for name, conv in (("6", nn.Conv2d(in_channels, channels, FC6_KERNEL, dilation=rate)),
                       ("7", nn.Conv2d(channels, channels, 1))):
        nn.init.kaiming_normal_(conv.weight, mode="fan_in", nonlinearity="relu")
        nn.init.zeros_(conv.bias)
        layers[f"fc{name}"] = conv
        if batch_norm:
            layers[f"bn{name}"] = nn.BatchNorm2d(channels)
        layers[f"relu{name}"] = nn.ReLU(inplace=True)
    return nn.Sequential(layers)


@torch.no_grad()
def fold_sequential(layers: nn.Sequential) -> nn.Sequential:
    """``layers`` with every BatchNorm folded into the convolution before it and removed (eval-mode BN)."""
    named = list(layers.named_children())
    kept: OrderedDict[str, nn.Module] = OrderedDict()
    for (name, layer), (_, following) in zip(named, named[1:] + [("", None)]):
        if isinstance(layer, nn.BatchNorm2d):
            continue
        if isinstance(layer, nn.Conv2d) and isinstance(following, nn.BatchNorm2d):
            fold_batchnorm(layer, following)
        kept[name] = layer
    return nn.Sequential(kept)


def build_pretrain_backbone(config: PretrainConfig) -> nn.Module:
    """The backbone exactly as DeepLab builds it, so the state dict loads key for key."""
    if config.backbone == "resnet":
        return ResNet(output_stride=32, width=config.width, blocks=config.blocks)
    backbone = VGG16(width=config.width)
    # He et al.'s (ICCV 2015, Eq. 10) Var[w] = 2 / fan_in keeps the variance constant through
    # 13 ReLU layers, which matters once the BatchNorms are folded away.
    for module in backbone.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
            nn.init.zeros_(module.bias)
    return backbone


class BatchNormVGG(nn.Module):
    """``vgg`` with a BatchNorm after every convolution (shared convolutions); ``fold()`` returns ``vgg``."""

    def __init__(self, vgg: VGG16) -> None:
        super().__init__()
        self.vgg = vgg
        layers: list[nn.Module] = []
        for layer in vgg.features:
            layers.append(layer)
            if isinstance(layer, nn.Conv2d):
                layers.append(nn.BatchNorm2d(layer.out_channels))
        self.features = nn.Sequential(*layers)
        self.out_channels = vgg.out_channels

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"out": self.features(x)}

    @torch.no_grad()
    def fold(self) -> VGG16:
        layers = list(self.features)
        for conv, bn in zip(layers, layers[1:]):
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                fold_batchnorm(conv, bn)
        return self.vgg


def fold_batchnorm(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """Fold an eval-mode ``bn`` into the ``conv`` before it, in place (Ioffe & Szegedy 2015, Alg. 2).

    BN at inference is y = γ·(x − μ) / √(σ² + ε) + β per channel with the running μ, σ²; applied
    to x = w * z + b it is again a convolution, with w' = γ·w / √(σ² + ε) and
    b' = γ·(b − μ) / √(σ² + ε) + β. PyTorch's ``fuse_conv_bn_weights`` does the arithmetic.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_weights

    weight, bias = fuse_conv_bn_weights(conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps,
                                        bn.weight, bn.bias)
    conv.weight.copy_(weight)
    if conv.bias is None:
        conv.bias = nn.Parameter(bias.detach().clone())
    else:
        conv.bias.copy_(bias)


def object_images(count: int, size: int, seed_offset: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` object images as uint8 (N, 3, size, size) and their labels 0..6 (class − 1)."""
    images = np.empty((count, size, size, 3), dtype=np.uint8)
    labels = np.empty(count, dtype=np.int64)
    for i in range(count):
        images[i], cls = make_object_image(seed_offset + i, size)
        labels[i] = cls - 1
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels)


def normalize_batch(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, H, W) → float, ImageNet mean / std: the same input statistics as DeepLab's."""
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255
    return (images.float() - mean) / std


@torch.no_grad()
def accuracy(model: Classifier, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 250) -> float:
    """The share of ``images`` whose object ``model`` names correctly."""
    was_training = model.training
    model.eval()
    correct = sum(int((model(normalize_batch(images[i:i + batch_size])).argmax(1)
                       == labels[i:i + batch_size]).sum()) for i in range(0, len(images), batch_size))
    model.train(was_training)
    return correct / len(images)


@dataclasses.dataclass
class PretrainResult:
    model: Classifier  # DeepLab takes ``model.backbone``
    val_accuracy: float
    history: list[dict]  # step, loss, lr
    seconds: float


def pretrain(config: PretrainConfig) -> PretrainResult:
    """Train ``config.backbone`` to classify object images; return it with its val accuracy."""
    from deeplab_edu.progress import tqdm

    config.validate()
    generator = seed_everything(config.seed)
    train_x, train_y = object_images(config.train_images, config.image_size, TRAIN_SEED_OFFSET)
    val_x, val_y = object_images(config.val_images, config.image_size, VAL_SEED_OFFSET)
    backbone = build_pretrain_backbone(config)
    fc = (None if config.fc6_rate is None else
          vgg_fc_layers(backbone.out_channels, config.width, config.fc6_rate, batch_norm=True))
    model = Classifier(BatchNormVGG(backbone) if config.backbone == "vgg16" else backbone, classifier=fc)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=config.peak_lr, momentum=config.momentum,
                                weight_decay=config.weight_decay, nesterov=True)
    # One cycle (warm up, then anneal): the short-run schedule that tolerates a large peak rate.
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.peak_lr, total_steps=config.iterations)
    loss_fn = nn.CrossEntropyLoss()
    history = []
    start = time.perf_counter()
    bar = tqdm(range(config.iterations), desc=f"pretraining {config.backbone}", disable=not config.progress)
    for step in bar:
        index = torch.randint(len(train_x), (config.batch_size,), generator=generator)
        images = train_x[index]
        flip = torch.rand(config.batch_size, generator=generator) < 0.5
        images[flip] = images[flip].flip(-1)
        loss = loss_fn(model(normalize_batch(images)), train_y[index])
        if not torch.isfinite(loss):
            raise FloatingPointError(f"pretraining loss is {loss.item()} at step {step}; lower the lr "
                                     f"(now {config.peak_lr})")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history.append({"step": step + 1, "loss": loss.item(), "lr": schedule.get_last_lr()[0]})
        schedule.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
    seconds = time.perf_counter() - start
    if isinstance(model.backbone, BatchNormVGG):
        model.eval()  # the folded weights use BatchNorm's running statistics
        model.backbone = model.backbone.fold()
        if model.classifier is not None:
            model.classifier = fold_sequential(model.classifier)
    return PretrainResult(model, accuracy(model, val_x, val_y), history, seconds)


def load_classifier(path: str | Path, config: PretrainConfig) -> Classifier:
    """The classifier a ``save_classifier`` file holds, built as ``config`` says."""
    from deeplab_edu import weights

    state = weights.read_state_dict(path)
    backbone = build_pretrain_backbone(config)
    fc = None if config.fc6_rate is None else vgg_fc_layers(backbone.out_channels, config.width, config.fc6_rate)
    model = Classifier(backbone, classifier=fc)
    weights.load_weights(model, {(k if k.startswith(("fc.", "classifier.")) else f"backbone.{k}"): v
                                 for k, v in state.items()}, what=f"pretrained classifier {path}")
    return model


# ----------------------------------------------------------------------------- shipped weights

def weights_name(backbone: str, width: float, blocks: tuple[int, ...] | None = None) -> str:
    """The file name that identifies a backbone's shape: ``resnet-w0.25-b1111.pt``, ``vgg16-w0.25.pt``."""
    name = f"{backbone}-w{width:g}"
    if backbone == "resnet":
        name += "-b" + "".join(str(b) for b in blocks or ())
    return name + ".pt"


def shipped_weights(backbone: str, width: float, blocks: tuple[int, ...] | None = None) -> Path | None:
    """The pretrained file under ``data/pretrained/`` that fits this backbone, or ``None``.

    A small ResNet has ``blocks`` units per stage whatever its depth name (``resnet50``,
    ``resnet101``), so only width and blocks decide.
    """
    kind = "vgg16" if backbone == "vgg16" else "resnet"
    if kind == "resnet" and blocks is None:
        return None  # a full-depth ResNet-50/101: nothing this small set could pretrain
    path = SHIPPED_DIR / weights_name(kind, width, tuple(blocks) if blocks else None)
    return path if path.is_file() else None


def recorded_settings(config: PretrainConfig) -> dict:
    """The settings a weights file's JSON record keeps (``save_classifier``): those that shape the
    weights — not ``progress``, nor ``blocks`` outside ResNet, nor an unset ``fc6_rate``."""
    settings = dataclasses.asdict(config)
    for key in ("progress",) + (("blocks",) if config.backbone != "resnet" else ()) + \
            (("fc6_rate",) if config.fc6_rate is None else ()):
        settings.pop(key)
    return settings


def save_classifier(result: PretrainResult, config: PretrainConfig, path: str | Path) -> Path:
    """Write the backbone's keys and ``fc.*`` atomically, plus a ``.json`` record of how they were made."""
    if Path(path).suffix.lower() == ".json":  # the record would be written over the weights
        raise ValueError(f"weights path {path} ends in .json, where its JSON record goes; give a .pt name")
    state = {key.removeprefix("backbone."): value for key, value in result.model.state_dict().items()}
    path = atomic_save(state, path)
    record = {"config": recorded_settings(config),
              **({"batch_norm": "after every convolution in training, folded into the convolutions"}
                 if config.backbone == "vgg16" else {}),
              "val_accuracy": round(result.val_accuracy, 4), "seconds": round(result.seconds, 1),
              "torch": torch.__version__}
    path.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    return path
