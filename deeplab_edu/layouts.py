"""The networks' layouts as the papers give them: the backbones build their layers and the
receptive-field lesson its layer specs from these, so the chapters print the geometry the models run.

* **VGG-16** (Simonyan & Zisserman, 2015): five stages of 3×3 convolutions, each ended by a
  max-pool. DeepLab v1 (ICLR 2015, §3.1) keeps output stride 8 by the hole algorithm: pool4
  and pool5 get stride 1, and conv5_x rate r = 2 to make up for pool4's lost stride.
* **ResNet-50/101** (He et al., 2016): four stages of bottleneck units after a stride-4 stem.
  ``stage_geometry`` is the hole algorithm for them (v2 §3.1, v3 §3.1): once the running
  stride would pass the output stride, a stage's stride 2 becomes 1 and every later 3×3
  convolution's rate r is multiplied by the stride given up. The first unit of such a stage
  keeps the *previous* rate: its window still sees what it saw, only its output is no longer
  subsampled, so the dense network computes the sparse one's values (and torchvision's
  DeepLabV3 uses the same rule). **Multi-grid** (v3 §4.1) multiplies the last stage's units
  by (r1, r2, r3), the first unit included.
* **DeepLab v1's fc6 designs** (ICLR 2015, Table 2), with the paper's figures.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from deeplab_edu import validate

# VGG-16: the channels of each stage's 3×3 convolutions.
VGG16_STAGES = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
# DeepLab's VGG-16: the stride of each stage's pool (3×3, padding 1) and the rate of its convolutions.
DEEPLAB_POOL_STRIDES = (2, 2, 2, 1, 1)
DEEPLAB_CONV_RATES = (1, 1, 1, 1, 2)

RESNET_DEPTHS: dict[int, tuple[int, int, int, int]] = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}
RESNET_STAGE_PLANES = (64, 128, 256, 512)  # bottleneck (inner) channels; outputs are 4× these
OUTPUT_STRIDES = (8, 16, 32)
V3_MULTI_GRID = (1, 2, 4)  # v3 §4.1: Multi_Grid = (1, 2, 4) in block4


def check_output_stride(output_stride: int) -> int:
    """``output_stride`` if it is 8, 16 or 32; a ValueError naming those values otherwise."""
    return validate.choice(output_stride, "output_stride", OUTPUT_STRIDES)


def scaled(channels: int, width: float) -> int:
    """``channels × width``, rounded, never below 8: the "small version of the same" model."""
    return max(8, int(round(channels * width)))


def stage_geometry(output_stride: int, blocks: Sequence[int],
                   multi_grid: Sequence[int] | None = None) -> list[list[tuple[int, int]]]:
    """(stride, rate) of every unit's 3×3 convolution, stage by stage: the hole algorithm.

    ``multi_grid`` (None: plain hole-algorithm rates) gives the last stage's unit rates, cycled
    through for other than three units, as v3's cascaded blocks repeat the grid (§3.2).
    """
    check_output_stride(output_stride)
    if multi_grid is not None:
        validate.integers(tuple(multi_grid), "multi_grid", minimum=1)
    current_stride, rate = 4, 1  # after the stem: conv1 (stride 2) and the max-pool (stride 2)
    geometry = []
    for index, units in enumerate(blocks):
        stride = 1 if index == 0 else 2
        previous_rate = rate
        if stride == 2 and current_stride * stride > output_stride:
            rate *= stride  # drop the stride, dilate everything after it instead
            stride = 1
        current_stride *= stride
        rates = [previous_rate] + [rate] * (units - 1)
        if index == len(blocks) - 1 and multi_grid:
            rates = [rate * multi_grid[unit % len(multi_grid)] for unit in range(units)]
        geometry.append([(stride if unit == 0 else 1, unit_rate) for unit, unit_rate in enumerate(rates)])
    return geometry


@dataclasses.dataclass(frozen=True)
class Fc6Variant:
    """One fc6 design of DeepLab v1 (ICLR 2015), Table 2, with the figures the paper prints."""

    model: str  # the paper's name for the network
    kernel: int
    rate: int  # the paper's "input stride"
    channels: int  # of fc6 and fc7
    paper_receptive_field: int
    paper_parameters_millions: float  # the whole network's


FC6_VARIANTS: dict[str, Fc6Variant] = {
    "7x7": Fc6Variant("DeepLab-CRF-7x7", 7, 4, 4096, 224, 134.3),
    "4x4": Fc6Variant("DeepLab-CRF", 4, 4, 4096, 128, 65.1),
    "4x4-rate8": Fc6Variant("DeepLab-CRF-4x4", 4, 8, 4096, 224, 65.1),
    "largefov": Fc6Variant("DeepLab-CRF-LargeFOV", 3, 12, 1024, 224, 20.5),
}
