"""A model's anatomy: its parts' strides, rates, receptive fields, parameters and FLOPs.

Two ways to know a receptive field, held equal by ``tests/test_models.py``: the calculator over
the model's layer specs (``model.receptive_field()``), and ``measure_receptive_field``, the extent
of the input pixels that receive gradient from one score of a copy with positive weights and
average-pools (a max-pool sends the gradient to one input only). FLOPs come from
``FlopCounterMode`` (a multiply-add counts 2); on the ``meta`` device nothing is computed.
"""

from __future__ import annotations

import copy
import dataclasses

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from deeplab_edu import receptive_field as rf
from deeplab_edu.models.base import SegmentationModel


def measure_receptive_field(model: SegmentationModel, input_size: int | tuple[int, int]) -> tuple[int, int]:
    """(height, width) extent of the input pixels that the centre score depends on."""
    size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
    probe = copy.deepcopy(model).double().eval()
    for name, module in list(probe.named_modules()):
        if isinstance(module, nn.MaxPool2d):
            parent = probe.get_submodule(name.rsplit(".", 1)[0]) if "." in name else probe
            setattr(parent, name.rsplit(".", 1)[-1],
                    nn.AvgPool2d(module.kernel_size, module.stride, module.padding, count_include_pad=True))
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in probe.modules():
            if isinstance(module, nn.Conv2d):
                # Positive weights: no path can cancel another, so every dependency shows.
                weight = torch.rand(module.weight.shape, generator=generator, dtype=torch.float64) + 0.5
                module.weight.copy_(weight / weight[0].sum())
                if module.bias is not None:
                    module.bias.zero_()
            elif isinstance(module, nn.BatchNorm2d):
                module.reset_parameters()  # identity: mean 0, variance 1, γ = 1, β = 0
    x = torch.ones((1, 3) + size, dtype=torch.float64, requires_grad=True)
    scores = probe.forward_scores(x)
    scores[0, 0, scores.shape[-2] // 2, scores.shape[-1] // 2].backward()
    height, width = rf.support_extent(x.grad[0].abs().sum(0) != 0)
    return height, width


@dataclasses.dataclass(frozen=True)
class PartRow:
    """One row of the layer table: a stage of the backbone or a part of the head."""

    name: str
    output_stride: int  # jump at the part's output (for the decoder: its 4)
    rates: tuple[int, ...]  # the distinct atrous rates of its 3×3 (or larger) convolutions
    receptive_field: int | None  # at the part's output, from the calculator (None: not a chain)
    parameters: int
    flops: int  # at the counted input size


def _parts(model: SegmentationModel) -> list[tuple[str, list[str]]]:
    """(label, module paths) for each row: backbone stages, then the head's parts."""
    base = getattr(model, "base", model)
    prefix = "base." if base is not model else ""
    backbone = base.backbone
    if hasattr(backbone, "features"):  # VGG: a stage ends at each pool
        rows, start = [], 0
        for index, layer in enumerate(backbone.features):
            if isinstance(layer, nn.MaxPool2d):
                rows.append((f"conv{len(rows) + 1} + pool{len(rows) + 1}",
                             [f"{prefix}backbone.features.{i}" for i in range(start, index + 1)]))
                start = index + 1
    else:
        rows = [("stem (conv1 + maxpool)", [f"{prefix}backbone.conv1", f"{prefix}backbone.bn1",
                                             f"{prefix}backbone.maxpool"])]
        rows += [(f"layer{i}", [f"{prefix}backbone.layer{i}"]) for i in range(1, 5)]
    for name, _ in base.named_children():
        if name != "backbone":
            rows.append((name, [f"{prefix}{name}"]))
    return rows


def flop_counts(model: nn.Module, input_size: int | tuple[int, int] = 513) -> dict[str, int]:
    """FLOPs of one forward pass per module path (and ``"total"``), by ``FlopCounterMode``."""
    size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
    device = next(model.parameters()).device
    x = torch.zeros((1, 3) + size, device=device)
    was_training = model.training
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False, depth=None) as counter:
        model(x)
    model.train(was_training)
    root = type(model).__name__
    counts = {name[len(root) + 1:]: sum(ops.values()) for name, ops in counter.get_flop_counts().items()
              if name.startswith(root + ".")}
    counts["total"] = counter.get_total_flops()
    return counts


def layer_table(model: SegmentationModel, input_size: int = 513) -> list[PartRow]:
    """Stride, rates, receptive field, parameters and FLOPs of each part of ``model``.

    Build the model on the meta device (``with torch.device("meta"): ...``) to count a
    full-size one at 513×513 in a second.
    """
    flops = flop_counts(model, input_size)
    table = rf.field_table(model.layer_specs())
    modules = dict(model.named_modules())
    rows = []
    for label, paths in _parts(model):
        params = sum(p.numel() for path in paths for p in modules[path].parameters())
        rates = sorted({m.dilation[0] for path in paths for m in modules[path].modules()
                        if isinstance(m, nn.Conv2d) and m.kernel_size[0] > 1})
        spec_paths = [path.removeprefix("base.") for path in paths]
        hits = [row for row in table if any(row.layer.name == p or row.layer.name.startswith(p + ".")
                                            for p in spec_paths)]
        # The decoder upsamples, which the calculator's chain cannot express (see v3plus).
        field = hits[-1].receptive_field if hits and label != "decoder" else None
        stride = hits[-1].jump if hits and label != "decoder" else model.score_stride
        rows.append(PartRow(label, stride, tuple(rates), field, params,
                            sum(flops.get(path, 0) for path in paths)))
    return rows


def format_layer_table(rows: list[PartRow]) -> str:
    """The rows as aligned text, parameters in millions and FLOPs in G (2 per multiply-add)."""
    lines = [f"{'part':<24} {'OS':>3} {'rates':<12} {'RF':>6} {'params (M)':>11} {'GFLOPs':>8}"]
    for row in rows:
        rates = ",".join(map(str, row.rates)) or "-"
        field = "-" if row.receptive_field is None else str(row.receptive_field)
        lines.append(f"{row.name:<24} {row.output_stride:>3} {rates:<12} {field:>6} "
                     f"{row.parameters / 1e6:>11.2f} {row.flops / 1e9:>8.2f}")
    total_p, total_f = sum(r.parameters for r in rows), sum(r.flops for r in rows)
    lines.append(f"{'total':<24} {'':>3} {'':<12} {'':>6} {total_p / 1e6:>11.2f} {total_f / 1e9:>8.2f}")
    return "\n".join(lines)
