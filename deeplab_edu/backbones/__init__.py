"""Backbones: DeepLab's VGG-16 (output stride 8), ResNet-50/101 (output stride 32/16/8) and
v3+'s aligned Xception-65 (output stride 32/16/8)."""

from __future__ import annotations

from torch import nn

from deeplab_edu.backbones.resnet import ResNet
from deeplab_edu.backbones.vgg import VGG16
from deeplab_edu.backbones.xception import Xception65

BACKBONES = ("vgg16", "resnet50", "resnet101", "xception65")


def build_backbone(name: str, output_stride: int = 8, multi_grid=None, width: float = 1.0,
                   blocks=None) -> nn.Module:
    """A backbone by name. VGG-16 exists only at DeepLab's output stride 8."""
    if name == "vgg16":
        if output_stride != 8:
            raise ValueError(f"output_stride must be 8 for DeepLab's VGG-16, got {output_stride!r}")
        if multi_grid is not None or blocks is not None:
            raise ValueError("multi_grid and blocks apply to ResNet backbones, not vgg16")
        return VGG16(width=width)
    if name in ("resnet50", "resnet101"):
        return ResNet(depth=int(name[6:]), output_stride=output_stride, multi_grid=multi_grid,
                      width=width, blocks=blocks)
    if name == "xception65":
        if blocks is not None:
            raise ValueError("blocks applies to ResNet backbones; Xception65 takes middle_units")
        return Xception65(output_stride=output_stride, multi_grid=multi_grid, width=width)
    raise ValueError(f"unknown backbone {name!r}; choose one of {BACKBONES}")


__all__ = ["BACKBONES", "ResNet", "VGG16", "Xception65", "build_backbone"]
