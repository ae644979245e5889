"""Aligned Xception-65, DeepLab v3+'s backbone (Chen et al., ECCV 2018, §3.2, Fig. 4).

Chollet's Xception (2017), "aligned" by MSRA for dense prediction and changed by v3+ (§3.2):
a middle flow of 16 units instead of 8, every max pooling a stride-2 separable convolution (so
atrous convolution can replace any stride), BatchNorm + ReLU after each depthwise convolution.
The layers are the authors' TF code's (``research/deeplab/core/xception.py``,
``xception_65_factory``):

==========================  ====================  ============  ======  =====
flow / block                channels (3 sep convs) shortcut      stride  units
==========================  ====================  ============  ======  =====
entry stem                  conv 3×3 32 /2, 3×3 64              2
entry_flow/block1           128, 128, 128         1×1 conv      2       1
entry_flow/block2           256, 256, 256         1×1 conv      2       1
entry_flow/block3           728, 728, 728         1×1 conv      2       1
middle_flow/block1          728, 728, 728         identity      1       16
exit_flow/block1            728, 1024, 1024       1×1 conv      2       1
exit_flow/block2            1536, 1536, 2048      none          1       1
==========================  ====================  ============  ======  =====

A separable convolution is depthwise 3×3 → BN → pointwise 1×1 → BN, no biases. ReLU comes
*before* each separable conv, except in exit_flow/block2 (``activation_fn_in_separable_conv``),
where it follows each BN. A unit's stride sits on its third separable conv and on its shortcut.

**Output stride** (``stack_blocks_dense``): once the running stride (the stem's 2 first) reaches
the target, later units run at stride 1 with the current rate r on all three depthwise convs
(times ``multi_grid`` in exit_flow/block2), and r grows by the stride given up: at output stride
16 exit_flow/block2 runs at r = 2; at 8 the middle flow and exit_flow/block1 at 2, block2 at 4.

``forward`` returns ``{"low_level", "out"}``: ``low_level`` is entry_flow/block2's second
separable conv (256 channels, stride 4: the TF decoder's end point), ``out`` the exit flow.
``width`` and ``middle_units`` make the small models of the CPU profiles.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from deeplab_edu import receptive_field as rf
from deeplab_edu import validate
from deeplab_edu.layouts import check_output_stride, scaled

# (scope, depth list, shortcut, stride, units, activation inside the separable conv)
XCEPTION65_BLOCKS: tuple[tuple[str, tuple[int, int, int], str, int, int, bool], ...] = (
    ("entry_flow.block1", (128, 128, 128), "conv", 2, 1, False),
    ("entry_flow.block2", (256, 256, 256), "conv", 2, 1, False),
    ("entry_flow.block3", (728, 728, 728), "conv", 2, 1, False),
    ("middle_flow.block1", (728, 728, 728), "sum", 1, 16, False),
    ("exit_flow.block1", (728, 1024, 1024), "conv", 2, 1, False),
    ("exit_flow.block2", (1536, 1536, 2048), "none", 1, 1, True),
)


class SeparableConvBN(nn.Module):
    """depthwise k×k (stride s, rate r) → BN [→ ReLU] → pointwise 1×1 → BN [→ ReLU]."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, rate: int = 1,
                 activation: bool = False) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, 3, stride, padding=rate, dilation=rate,
                                   groups=in_channels, bias=False)
        self.depthwise_bn = nn.BatchNorm2d(in_channels, eps=1e-3)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.pointwise_bn = nn.BatchNorm2d(out_channels, eps=1e-3)
        self.act = nn.ReLU() if activation else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.pointwise_bn(self.pointwise(self.act(self.depthwise_bn(self.depthwise(x))))))


class XceptionUnit(nn.Module):
    """Three separable convolutions (the last with the unit's stride) plus the shortcut."""

    def __init__(self, in_channels: int, depths: Sequence[int], shortcut: str, stride: int,
                 rates: Sequence[int], activation_inside: bool) -> None:
        super().__init__()
        if shortcut not in ("conv", "sum", "none"):
            raise ValueError(f"shortcut must be 'conv', 'sum' or 'none', got {shortcut!r}")
        self.activation_inside = activation_inside
        channels = [in_channels, *depths]
        self.convs = nn.ModuleList(
            SeparableConvBN(channels[i], channels[i + 1], stride if i == 2 else 1, rates[i], activation_inside)
            for i in range(3))
        self.shortcut_type = shortcut
        if shortcut == "conv":
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, depths[-1], 1, stride, bias=False),
                                          nn.BatchNorm2d(depths[-1], eps=1e-3))
        elif shortcut == "sum" and (in_channels != depths[-1] or stride != 1):
            raise ValueError("an identity shortcut needs equal channels and stride 1")
        self.relu = nn.ReLU()  # not in place: the shortcut reads the unit's input unchanged

    def forward(self, x: torch.Tensor, keep: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The unit's output, and (when ``keep`` is 0, 1 or 2) that separable conv's output."""
        residual, kept = x, None
        for i, conv in enumerate(self.convs):
            residual = conv(residual if self.activation_inside else self.relu(residual))
            if i == keep:
                kept = residual
        if self.shortcut_type == "conv":
            residual = residual + self.shortcut(x)
        elif self.shortcut_type == "sum":
            residual = residual + x
        return residual, kept


def unit_plan(output_stride: int | None, multi_grid: Sequence[int] | None = None,
              middle_units: int = 16) -> list[tuple[str, int, tuple[int, int, int]]]:
    """(name, stride, rates of the three depthwise convs) for every unit, by the TF code's rule."""
    if output_stride is not None:
        output_stride = check_output_stride(output_stride)
        target = output_stride // 2  # the stem's stride 2 comes first
    else:
        target = None
    grid = validate.integers(tuple(multi_grid) if multi_grid is not None else (1, 1, 1), "multi_grid",
                             minimum=1, length=3)
    plan, current, rate = [], 1, 1
    for scope, _, _, stride, units, _ in XCEPTION65_BLOCKS:
        units = middle_units if scope == "middle_flow.block1" else units
        unit_rates = grid if scope == "exit_flow.block2" else (1, 1, 1)
        for u in range(units):
            name = f"{scope}.{u}"
            if target is not None and current == target:
                plan.append((name, 1, tuple(rate * g for g in unit_rates)))
                rate *= stride
            else:
                plan.append((name, stride, unit_rates))
                current *= stride
    return plan


class Xception65(nn.Module):
    """Aligned Xception-65 returning ``{"low_level": stride-4, "out": exit flow}`` features."""

    def __init__(self, output_stride: int = 16, multi_grid: Sequence[int] | None = None, width: float = 1.0,
                 middle_units: int = 16) -> None:
        super().__init__()
        validate.integer(middle_units, "middle_units", minimum=1)
        self.output_stride = check_output_stride(output_stride)
        self.plan = unit_plan(output_stride, multi_grid, middle_units)
        c = lambda n: scaled(n, width)  # noqa: E731
        self.stem = nn.Sequential(
            nn.Conv2d(3, c(32), 3, 2, padding=1, bias=False), nn.BatchNorm2d(c(32), eps=1e-3), nn.ReLU(),
            nn.Conv2d(c(32), c(64), 3, 1, padding=1, bias=False), nn.BatchNorm2d(c(64), eps=1e-3), nn.ReLU())
        units, in_channels, steps = [], c(64), iter(self.plan)
        for scope, depths, shortcut, _, count, inside in XCEPTION65_BLOCKS:
            count = middle_units if scope == "middle_flow.block1" else count
            for _ in range(count):
                _, stride, rates = next(steps)
                depths_c = tuple(c(d) for d in depths)
                units.append(XceptionUnit(in_channels, depths_c, shortcut, stride, rates, inside))
                in_channels = depths_c[-1]
        self.units = nn.ModuleList(units)
        self.low_level_index = 1  # entry_flow.block2: its second separable conv is the end point
        self.low_level_channels = c(256)
        self.out_channels = in_channels
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.stem(x)
        low_level = None
        for index, unit in enumerate(self.units):
            x, kept = unit(x, keep=1 if index == self.low_level_index else None)
            if kept is not None:
                low_level = kept
        return {"low_level": low_level, "out": x}

    def layer_specs(self) -> list[rf.Layer]:
        """The longest path: the stem, then each unit's three depthwise 3×3 convolutions."""
        specs = [rf.conv("stem.0", kernel=3, stride=2, bias=False), rf.conv("stem.3", kernel=3, bias=False)]
        for index, (_, stride, rates) in enumerate(self.plan):
            for i in range(3):
                specs.append(rf.conv(f"units.{index}.convs.{i}.depthwise", kernel=3,
                                     stride=stride if i == 2 else 1, dilation=rates[i], bias=False))
        return specs
