"""Invariance against localisation: a trained classifier's class scores at output stride 32 and 8.

DeepLab v2 (TPAMI 2017, §1; v1, ICLR 2015, §1) names the third challenge of DCNNs for labelling
pixels: "an object-centric classifier requires invariance to spatial transformations, inherently
limiting the spatial accuracy of a DCNN". This module measures it on a trained network.

The classifier's ``fc`` applied per position, as a 1 × 1 convolution (:func:`class_score_map`),
gives one class score per cell of the output stride (their mean is exactly the logits: pooling and
``fc`` are linear). At output stride 32 the map's peak stays put as the object shifts by a few
pixels, then jumps by 32; the same weights rebuilt at output stride 8 by the hole algorithm
(:func:`with_output_stride`) move it in steps of 8. :func:`shift_study` records both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deeplab_edu import validate
from deeplab_edu.backbones.resnet import ResNet
from deeplab_edu.layouts import RESNET_STAGE_PLANES

__all__ = ["with_output_stride", "class_score_map", "place_object", "peak_column", "ShiftStudy", "shift_study"]


def with_output_stride(backbone: ResNet, output_stride: int) -> ResNet:
    """``backbone`` rebuilt at ``output_stride`` (32, 16 or 8) with the same weights, in eval mode: only
    strides and rates change (``layouts.stage_geometry``), so the state dict loads key for key."""
    # Rebuilt, not patched in place: one code path for every stride. The width is read back from
    # layer4 (512 · width inner channels); the strict load catches any mismatch.
    width = backbone.layer4[0].conv1.out_channels / RESNET_STAGE_PLANES[-1]
    dense = ResNet(output_stride=output_stride, width=width, blocks=backbone.blocks)
    dense.load_state_dict(backbone.state_dict())
    return dense.eval()


def class_score_map(backbone: nn.Module, fc: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """The classifier's ``fc`` as a 1 × 1 convolution over ``backbone(x)["out"]`` (as DeepLab v1 §3.1
    converts VGG's fully connected layers): (N, classes, h, w)."""
    features = backbone(x)["out"]
    return F.conv2d(features, fc.weight[:, :, None, None], fc.bias)


def place_object(image: np.ndarray, canvas: int, shift: int) -> np.ndarray:
    """``image`` (H, W, 3) at the centre of a ``canvas``² frame of its border's mean colour, moved
    ``shift`` px right: only the image moves between two shifts."""
    height, width = image.shape[:2]
    top, left = (canvas - height) // 2, (canvas - width) // 2 + shift
    if top < 0 or left < 0 or left + width > canvas:
        raise ValueError(f"a {height}x{width} image shifted by {shift} does not fit a {canvas}x{canvas} canvas")
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]]).mean(axis=0)
    out = np.empty((canvas, canvas, image.shape[2]), dtype=image.dtype)
    out[:] = np.round(border).astype(image.dtype)
    out[top:top + height, left:left + width] = image
    return out


def peak_column(score_map: torch.Tensor | np.ndarray, output_stride: int) -> float:
    """The input column of the centre of a (h, w) score map's highest cell: cell j at output stride s
    covers columns s·j … s·j + s − 1, so the peak moves in steps of s."""
    scores = score_map.detach().cpu().numpy() if isinstance(score_map, torch.Tensor) else np.asarray(score_map)
    _, column = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return float(output_stride * column + (output_stride - 1) / 2)


@dataclass(frozen=True)
class ShiftStudy:
    """One object at several horizontal shifts, seen at several output strides: ``maps[s]`` the class's
    score maps at output stride s (shifts, h, w), ``peaks[s]`` their peak column per shift."""

    shifts: np.ndarray
    maps: dict[int, np.ndarray]
    peaks: dict[int, np.ndarray]

    def displacement(self, output_stride: int) -> np.ndarray:
        """How far the peak moved from its place at the first shift, per shift (input pixels)."""
        peaks = self.peaks[output_stride]
        return peaks - peaks[0]

    def tracking_error(self, output_stride: int) -> np.ndarray:
        """|peak displacement − object shift| per shift: how badly the map follows the object."""
        return np.abs(self.displacement(output_stride) - (self.shifts - self.shifts[0]))


@torch.no_grad()
def shift_study(backbone: ResNet, fc: nn.Linear, image: np.ndarray, class_index: int,
                shifts: Sequence[int], prepare: Callable[[torch.Tensor], torch.Tensor],
                output_strides: Sequence[int] = (32, 8), canvas: int = 128) -> ShiftStudy:
    """Place ``image`` at each of ``shifts`` (:func:`place_object`) and score it at each output stride.

    ``backbone`` and ``fc`` are the trained classifier's, ``class_index`` the row of ``fc`` to follow;
    ``prepare`` turns a uint8 (N, 3, H, W) batch into the network's input (``pretrain.normalize_batch``).
    """
    shifts_ = np.asarray(validate.integers(list(shifts), "shifts"), dtype=np.int64)
    validate.integer(class_index, "class_index", minimum=0, maximum=fc.out_features - 1)
    batch = np.stack([place_object(image, canvas, int(s)) for s in shifts_])
    x = prepare(torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous())
    maps, peaks = {}, {}
    for stride in output_strides:
        network = with_output_stride(backbone, stride)
        scores = class_score_map(network, fc, x)
        maps[stride] = scores[:, class_index].numpy()
        peaks[stride] = np.array([peak_column(m, stride) for m in maps[stride]])
    return ShiftStudy(shifts_, maps, peaks)
