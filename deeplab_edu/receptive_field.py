"""Receptive field, jump and output stride of a chain of convolutions and poolings.

A layer with kernel k, stride s, rate r (dilation) and padding p, applied to a signal whose
neighbouring samples lie j_{l-1} input pixels apart, grows the receptive field and the jump
(Araujo, Norris & Sim, "Computing Receptive Fields of CNNs", Distill 2019, Eq. 1–2):

    k_e   = k + (k - 1)(r - 1)                    effective kernel size (DeepLab v2, Sec. 3.1)
    RF_l  = RF_{l-1} + (k_e - 1) · j_{l-1}        receptive field, in input pixels
    j_l   = j_{l-1} · s_l                         jump: input pixels between neighbouring outputs
    a_l   = a_{l-1} - p_l · j_{l-1}               first input pixel seen by output 0

with RF_0 = j_0 = 1 and a_0 = 0. The jump of the last layer is what the DeepLab papers call
the **output stride**: the ratio of input to output resolution (32 for VGG-16 and ResNet,
8 for DeepLab v1, 16 or 8 for v3). Output i of layer l sees input pixels a_l + i·j_l up to
a_l + i·j_l + RF_l - 1.

Three ways, held equal by the tests: ``field_table`` (the recurrence); ``dependency_tree_1d``
(loops over layers and taps collecting the inputs one output reads, holes included: the study
notes' "{1,2,3,4}" picture); ``measure_support`` (back-propagate a one-hot gradient through a
torch network built from the spec and read the input gradient's support).

Ready specs: ``vgg16`` (FCN's, output stride 32), ``deeplab_v1`` with each fc6 of DeepLab v1's
Table 2 (``FC6_VARIANTS``), ``resnet101_layers`` at output stride 32, 16 or 8, ``seed_example``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
from torch import nn

from deeplab_edu import validate
from deeplab_edu.atrous import effective_kernel_size
from deeplab_edu.layouts import (DEEPLAB_CONV_RATES, DEEPLAB_POOL_STRIDES, FC6_VARIANTS, RESNET_DEPTHS, VGG16_STAGES,
                                 Fc6Variant, stage_geometry)

KINDS = ("conv", "maxpool", "avgpool")


@dataclasses.dataclass(frozen=True)
class Layer:
    """One convolution or pooling layer's geometry: ``dilation`` is the rate r; the (optional)
    channels count ``parameters``.
    """

    name: str
    kernel: int = 1
    stride: int = 1
    dilation: int = 1
    padding: int = 0
    kind: str = "conv"
    in_channels: int | None = None
    out_channels: int | None = None
    bias: bool = True

    def __post_init__(self) -> None:
        validate.integer(self.kernel, f"{self.name}: kernel", minimum=1)
        validate.integer(self.stride, f"{self.name}: stride", minimum=1)
        validate.integer(self.dilation, f"{self.name}: dilation (the rate r)", minimum=1)
        validate.integer(self.padding, f"{self.name}: padding", minimum=0)
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind != "conv" and self.dilation != 1:
            raise ValueError(f"{self.name}: a pooling layer takes dilation 1, got {self.dilation}")
        if self.kind != "conv" and self.padding > self.kernel // 2:
            # A window made mostly of padding pools nothing; PyTorch refuses it too.
            raise ValueError(f"{self.name}: a pooling layer's padding must be ≤ kernel // 2 = "
                             f"{self.kernel // 2}, got {self.padding}")
        for label in ("in_channels", "out_channels"):
            value = getattr(self, label)
            if value is not None:
                validate.integer(value, f"{self.name}: {label}", minimum=1)

    @property
    def effective_kernel(self) -> int:
        """k_e = k + (k - 1)(r - 1): the span of the kernel's taps once r - 1 holes separate them."""
        return effective_kernel_size(self.kernel, self.dilation)

    @property
    def parameters(self) -> int:
        """C_in · C_out · k² (+ C_out bias), 0 for pooling: the rate adds no weight."""
        if self.kind != "conv":
            return 0
        if self.in_channels is None or self.out_channels is None:
            raise ValueError(f"{self.name}: in_channels and out_channels are needed to count parameters")
        weights = self.in_channels * self.out_channels * self.kernel**2
        return weights + (self.out_channels if self.bias else 0)


def conv(name: str, in_channels: int | None = None, out_channels: int | None = None,
         kernel: int = 3, stride: int = 1, dilation: int = 1, padding: int | None = None,
         bias: bool = True) -> Layer:
    """A convolution; by default padded by r(k - 1)/2 so that stride 1 keeps the size ("same")."""
    if padding is None:
        padding = dilation * (kernel - 1) // 2
    return Layer(name, kernel, stride, dilation, padding, "conv", in_channels, out_channels, bias)


def pool(name: str, kernel: int = 2, stride: int = 2, padding: int = 0, kind: str = "maxpool") -> Layer:
    """A max (or average) pooling layer."""
    return Layer(name, kernel, stride, 1, padding, kind)


@dataclasses.dataclass(frozen=True)
class FieldRow:
    """What one layer's output sees. ``output_stride`` is the jump under the name DeepLab uses."""

    layer: Layer
    receptive_field: int  # RF_l, in input pixels
    jump: int  # j_l, input pixels between neighbouring outputs
    tap_spacing: int  # j_{l-1} · r: input pixels between neighbouring taps of this layer's kernel
    first: int  # a_l: first input pixel seen by output 0 (negative: it reads padding)

    @property
    def output_stride(self) -> int:
        return self.jump

    def span(self, index: int) -> tuple[int, int]:
        """First and last input pixel seen by output ``index`` of this layer."""
        start = self.first + index * self.jump
        return start, start + self.receptive_field - 1


def _check_layers(layers: Sequence[Layer]) -> list[Layer]:
    layers = list(layers)
    if not layers:
        raise ValueError("layers must be a non-empty sequence of Layer")
    for position, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(f"layers[{position}] must be a Layer, got {type(layer).__name__}")
    return layers


def field_table(layers: Sequence[Layer]) -> list[FieldRow]:
    """The recurrence in the module docstring, one ``FieldRow`` per layer."""
    rows, field, jump, first = [], 1, 1, 0
    for layer in _check_layers(layers):
        tap_spacing = jump * layer.dilation
        field += (layer.effective_kernel - 1) * jump
        first -= layer.padding * jump
        jump *= layer.stride
        rows.append(FieldRow(layer, field, jump, tap_spacing, first))
    return rows


def receptive_field(layers: Sequence[Layer]) -> int:
    """RF of the last layer, in input pixels."""
    return field_table(layers)[-1].receptive_field


def output_stride(layers: Sequence[Layer]) -> int:
    """The product of the strides: input resolution / output resolution."""
    return field_table(layers)[-1].jump


def total_parameters(layers: Sequence[Layer]) -> int:
    """Sum of ``Layer.parameters`` (every convolution must know its channels)."""
    return sum(layer.parameters for layer in _check_layers(layers))


def output_sizes(layers: Sequence[Layer], input_size: int) -> list[int]:
    """Output length of every layer: n_l = ⌊(n_{l-1} + 2p - k_e) / s⌋ + 1 (PyTorch's floor mode)."""
    size = validate.integer(input_size, "input_size", minimum=1)
    sizes = []
    for layer in _check_layers(layers):
        padded = size + 2 * layer.padding
        if padded < layer.effective_kernel:
            raise ValueError(f"input_size {input_size} is too small: {layer.name} has an effective kernel "
                             f"of {layer.effective_kernel} but its padded input is only {padded} long")
        size = (padded - layer.effective_kernel) // layer.stride + 1
        sizes.append(size)
    return sizes


def format_field_table(rows: Sequence[FieldRow]) -> str:
    """The rows as an aligned text table (what the chapter prints)."""
    lines = [f"{'layer':<10} {'k':>2} {'s':>2} {'r':>3} {'k_e':>4} {'RF':>5} {'jump=OS':>8} {'tap spacing':>12}"]
    for row in rows:
        layer = row.layer
        lines.append(f"{layer.name:<10} {layer.kernel:>2} {layer.stride:>2} {layer.dilation:>3} "
                     f"{layer.effective_kernel:>4} {row.receptive_field:>5} {row.jump:>8} {row.tap_spacing:>12}")
    return "\n".join(lines)


# --- the readable way: follow the taps with explicit loops ----------------------------------------

def dependency_tree_1d(layers: Sequence[Layer], output_index: int, input_length: int) -> list[list[int]]:
    """Which samples of every level (0: the input) feed output ``output_index`` of the last layer.

    Output o reads its input at s·o - p + r·t for the taps t = 0 … k-1 (padding reads nothing), so
    the holes between taps survive: the true support, not just its span.
    """
    layers = _check_layers(layers)
    sizes = [validate.integer(input_length, "input_length", minimum=1), *output_sizes(layers, input_length)]
    validate.integer(output_index, "output_index", minimum=0)
    if output_index >= sizes[-1]:
        raise ValueError(f"output_index must be < {sizes[-1]} (the last layer's length "
                         f"for input_length {input_length}), got {output_index}")
    levels = [[output_index]]
    for layer, below in zip(reversed(layers), reversed(sizes[:-1])):
        seen = set()
        for o in levels[0]:
            for t in range(layer.kernel):
                i = layer.stride * o - layer.padding + layer.dilation * t
                if 0 <= i < below:
                    seen.add(i)
        levels.insert(0, sorted(seen))
    return levels


def input_support_1d(layers: Sequence[Layer], output_index: int, input_length: int) -> list[int]:
    """The input indices that output ``output_index`` of the last layer depends on."""
    return dependency_tree_1d(layers, output_index, input_length)[0]


# --- the measured way: back-propagate a one-hot gradient -------------------------------------------

def build_network(layers: Sequence[Layer], dims: int = 2, seed: int = 0) -> nn.Sequential:
    """A one-channel float64 network with the spec's geometry and random positive weights.

    So that no part of the field hides from the gradient: no ReLU (it zeroes paths), average pooling
    (max routes the gradient to one input), positive weights (signed ones could cancel) summing to
    one per kernel (finite values over ~100 layers).
    """
    if dims not in (1, 2):
        raise ValueError(f"dims must be 1 or 2, got {dims!r}")
    generator = torch.Generator().manual_seed(seed)
    modules = []
    for layer in _check_layers(layers):
        if layer.kind == "conv":
            module = (nn.Conv1d if dims == 1 else nn.Conv2d)(
                1, 1, layer.kernel, stride=layer.stride, padding=layer.padding,
                dilation=layer.dilation, bias=False).double()
            with torch.no_grad():
                weight = torch.rand(module.weight.shape, generator=generator, dtype=torch.float64) + 0.5
                module.weight.copy_(weight / weight.sum())
        else:
            module = (nn.AvgPool1d if dims == 1 else nn.AvgPool2d)(
                layer.kernel, stride=layer.stride, padding=layer.padding, count_include_pad=True)
        modules.append(module)
    return nn.Sequential(*modules)


def measure_support(layers: Sequence[Layer], input_size: int, output_index: int | None = None,
                    dims: int = 2, seed: int = 0) -> torch.Tensor:
    """Boolean mask of the input pixels (a line or square of side ``input_size``) whose gradient is
    non-zero for output ``output_index`` along every axis (default: the centre).
    """
    sizes = output_sizes(layers, input_size)
    index = sizes[-1] // 2 if output_index is None else output_index
    validate.integer(index, "output_index", minimum=0)
    if index >= sizes[-1]:
        raise ValueError(f"output_index must be < {sizes[-1]}, got {index}")
    network = build_network(layers, dims, seed)
    x = torch.zeros((1, 1) + (input_size,) * dims, dtype=torch.float64, requires_grad=True)
    y = network(x)
    y[(0, 0) + (index,) * dims].backward()
    return x.grad[0, 0] != 0


def support_extent(mask: torch.Tensor) -> list[int]:
    """Per axis, the distance from the first to the last non-zero pixel plus one (the measured RF)."""
    extents = []
    for axis in range(mask.dim()):
        other = tuple(a for a in range(mask.dim()) if a != axis)
        hit = mask.any(dim=other) if other else mask
        where = torch.nonzero(hit).flatten()
        extents.append(int(where[-1] - where[0] + 1) if len(where) else 0)
    return extents


# --- ready specs --------------------------------------------------------------------------------

def _vgg_stages(pool_kernel: int, pool_strides: Sequence[int], rates: Sequence[int]) -> list[Layer]:
    layers, channels = [], 3
    for block, (widths, pool_stride, rate) in enumerate(zip(VGG16_STAGES, pool_strides, rates), start=1):
        for i, width in enumerate(widths, start=1):
            layers.append(conv(f"conv{block}_{i}", channels, width, dilation=rate))
            channels = width
        layers.append(pool(f"pool{block}", pool_kernel, pool_stride, padding=(pool_kernel - 1) // 2))
    return layers


def vgg16(num_classes: int = 21) -> list[Layer]:
    """VGG-16 made fully convolutional, as FCN-32s uses it: fc6 a 7×7 convolution, output stride 32."""
    return _vgg_stages(2, (2,) * 5, (1,) * 5) + [conv("fc6", 512, 4096, kernel=7, padding=0),
                                                 conv("fc7", 4096, 4096, kernel=1),
                                                 conv("fc8", 4096, num_classes, kernel=1)]


def deeplab_v1(fc6: str = "4x4", num_classes: int = 21) -> list[Layer]:
    """DeepLab v1's VGG-16 (ICLR 2015, Sec. 3.1), output stride 8: the layout of ``layouts`` (and
    ``backbones.VGG16``), fc6 as the chosen variant."""
    if fc6 not in FC6_VARIANTS:
        raise ValueError(f"fc6 must be one of {sorted(FC6_VARIANTS)}, got {fc6!r}")
    variant = FC6_VARIANTS[fc6]
    width = variant.channels
    return _vgg_stages(3, DEEPLAB_POOL_STRIDES, DEEPLAB_CONV_RATES) + [
        conv("fc6", 512, width, kernel=variant.kernel, dilation=variant.rate),
        conv("fc7", width, width, kernel=1),
        conv("fc8", width, num_classes, kernel=1)]


def deeplab_v1_largefov(num_classes: int = 21) -> list[Layer]:
    """DeepLab-LargeFOV: DeepLab v1 with a 3×3 fc6 at rate 12 and 1024 channels in fc6 and fc7."""
    return deeplab_v1("largefov", num_classes)


@dataclasses.dataclass(frozen=True)
class Fc6Row:
    """One row of the fc6 comparison: our computation next to the paper's figures."""

    name: str
    variant: Fc6Variant
    effective_kernel: int
    fc6_parameters: int
    network_parameters: int
    receptive_field: int  # analytic RF of fc6's output through the whole network
    fc6_span: int  # input pixels from fc6's first tap to its last: (k - 1) · r · j


def fc6_table(num_classes: int = 21) -> list[Fc6Row]:
    """Every fc6 design of DeepLab v1's Table 2, computed from its layer spec."""
    rows = []
    for name, variant in FC6_VARIANTS.items():
        layers = deeplab_v1(name, num_classes)
        table = {row.layer.name: row for row in field_table(layers)}
        fc6 = table["fc6"]
        rows.append(Fc6Row(name, variant, fc6.layer.effective_kernel, fc6.layer.parameters,
                           total_parameters(layers), fc6.receptive_field,
                           (fc6.layer.kernel - 1) * fc6.tap_spacing))
    return rows


def resnet101_layers(output_stride: int = 32, multi_grid: Sequence[int] | None = None) -> list[Layer]:
    """ResNet-101's longest path (conv1, max pool, then 1×1 → 3×3 → 1×1 per bottleneck).

    The shortcut sees a subset of the 3×3 branch's field, so the chain of branches gives the
    network's. Each 3×3's stride and rate come from ``layouts.stage_geometry`` (the backbone's
    hole algorithm): the field does not change with the output stride.
    """
    layers = [conv("conv1", kernel=7, stride=2, bias=False),
              pool("maxpool", kernel=3, stride=2, padding=1)]
    geometry = stage_geometry(output_stride, RESNET_DEPTHS[101], multi_grid)
    for stage, units in enumerate(geometry, start=2):
        for b, (stride, rate) in enumerate(units):
            tag = f"res{stage}_{b + 1}"
            layers += [conv(f"{tag}_1x1a", kernel=1, bias=False),
                       conv(f"{tag}_3x3", kernel=3, stride=stride, dilation=rate, bias=False),
                       conv(f"{tag}_1x1b", kernel=1, bias=False)]
    return layers


def seed_example() -> dict[str, list[Layer]]:
    """The study notes' picture: pool then a k=2 conv sees {1,2,3,4}; pool stride 1 only {1,2,3};
    pool stride 1 then the conv at rate 2 (the hole algorithm) {1,2,3,4} again.
    """
    return {
        "pool stride 2, conv k=2": [pool("pool", 2, 2), conv("conv", kernel=2, padding=0)],
        "pool stride 1, conv k=2": [pool("pool", 2, 1), conv("conv", kernel=2, padding=0)],
        "pool stride 1, conv k=2 rate 2": [pool("pool", 2, 1), conv("conv", kernel=2, dilation=2, padding=0)],
    }


def stack(kernel: int, stride: int, rate: int, depth: int) -> list[Layer]:
    """``depth`` identical convolutions (kernel, stride, rate): what the chapter's explorer draws."""
    validate.integer(depth, "depth", minimum=1)
    return [conv(f"conv{i}", kernel=kernel, stride=stride, dilation=rate, padding=0)
            for i in range(1, depth + 1)]


def stack_field(kernel: int, stride: int, rate: int, depth: int) -> int:
    """Closed form for ``stack``, held equal to the recurrence: RF = 1 + (k_e - 1)(1 + s + … + s^(depth-1))."""
    effective = effective_kernel_size(kernel, rate)
    geometric = depth if stride == 1 else (stride**depth - 1) // (stride - 1)
    return 1 + (effective - 1) * geometric


def rate_for_field(field: int, kernel: int = 3) -> int:
    """The rate r that gives one k×k layer a span of ``field`` pixels: (field - 1)/(k - 1)."""
    validate.integer(field, "field", minimum=1)
    validate.integer(kernel, "kernel", minimum=2)
    if (field - 1) % (kernel - 1):
        raise ValueError(f"field must be 1 + (kernel - 1)·r for an integer r; {field} is not for kernel {kernel}")
    return (field - 1) // (kernel - 1)


def parameters_for_field(field: int, channels: int = 1) -> dict[str, int]:
    """Weights one layer needs to span ``field`` pixels: a dense field×field kernel vs a 3×3 at rate r."""
    rate = rate_for_field(field, 3)
    return {"dense kernel": conv("dense", channels, channels, kernel=field, bias=False).parameters,
            "3x3 atrous": conv("atrous", channels, channels, kernel=3, dilation=rate, bias=False).parameters,
            "rate": rate}

