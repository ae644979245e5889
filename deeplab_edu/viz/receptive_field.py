"""Pictures of receptive fields: which inputs feed one output, measured supports, fields per layer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Rectangle

from deeplab_edu import receptive_field as rf

TREE_COLOUR = "tab:red"


def _level_positions(layers: Sequence[rf.Layer], sizes: Sequence[int]) -> list[np.ndarray]:
    """x of every sample of every level: the centre of its field, in input pixels."""
    positions = [np.arange(sizes[0], dtype=float)]
    for row, size in zip(rf.field_table(layers), sizes[1:]):
        positions.append(row.first + np.arange(size) * row.jump + (row.receptive_field - 1) / 2)
    return positions


def plot_dependency_tree(layers: Sequence[rf.Layer], input_length: int | None = None,
                         output_index: int | None = None, ax: plt.Axes | None = None,
                         title: str | None = None) -> plt.Axes:
    """Every level of a 1-D network as a row of dots; the inputs one output reads, and the lines it reads them by.

    By default the input is long enough for three outputs and the middle one is followed.
    """
    rows = rf.field_table(layers)
    if input_length is None:
        input_length = rows[-1].receptive_field + 2 * rows[-1].jump
    sizes = [input_length, *rf.output_sizes(layers, input_length)]
    index = sizes[-1] // 2 if output_index is None else output_index
    tree = rf.dependency_tree_1d(layers, index, input_length)
    xs = _level_positions(layers, sizes)
    ax = ax or plt.figure(figsize=(8, 1 + 0.7 * len(sizes))).gca()
    dot = max(4.0, 40.0 - 0.12 * input_length)
    for level, layer in enumerate(layers, start=1):  # the lines an output reads its taps along
        for o in tree[level]:
            for t in range(layer.kernel):
                i = layer.stride * o - layer.padding + layer.dilation * t
                if 0 <= i < sizes[level - 1]:
                    ax.plot([xs[level][o], xs[level - 1][i]], [level, level - 1],
                            color=TREE_COLOUR, alpha=0.35, lw=0.8, zorder=1)
    for level, x in enumerate(xs):
        ax.scatter(x, np.full_like(x, level), s=dot, color="0.8", zorder=2)
        ax.scatter(x[tree[level]], np.full(len(tree[level]), level), s=dot, color=TREE_COLOUR, zorder=3)
    ax.set_yticks(range(len(xs)), ["input", *[layer.name for layer in layers]])
    ax.set_xlabel("input pixel")
    ax.set_xlim(-1, input_length)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    field = rows[-1]
    ax.set_title(title or f"RF {field.receptive_field}, output stride {field.output_stride}, "
                          f"{len(tree[0])} of the {field.receptive_field} pixels in the field are read")
    return ax


def plot_support_2d(mask: torch.Tensor, field: int, ax: plt.Axes | None = None,
                    title: str = "measured: input pixels with a non-zero gradient") -> plt.Axes:
    """The measured support of one output (blue: read, grey: not read) on pixel axes, with the
    analytic field drawn as a red square; the title counts the pixels read."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    ax = ax or plt.figure(figsize=(4.4, 4.4)).gca()
    image = mask.cpu().numpy()
    ax.imshow(image, cmap=ListedColormap(["0.3", "#9ecae1"]), vmin=0, vmax=1, interpolation="nearest")
    handles = [Patch(color="#9ecae1", label="read"), Patch(color="0.3", label="not read")]
    rows, cols = np.nonzero(image)
    if len(rows):
        centre_r, centre_c = (rows.min() + rows.max()) / 2, (cols.min() + cols.max()) / 2
        handles.append(ax.add_patch(Rectangle((centre_c - field / 2, centre_r - field / 2), field, field,
                                              fill=False, ec=TREE_COLOUR, lw=1.5, label=f"analytic RF = {field}")))
    ax.legend(handles=handles, loc="lower right", fontsize=7, framealpha=0.9)
    ax.set_title(f"{title}\n{int(image.sum()):,} of the {image.shape[0]}×{image.shape[1]} input pixels "
                 f"(the field: {field}² = {field * field:,})", fontsize=9)
    ax.set_xlabel("input column (px)", fontsize=8)
    ax.set_ylabel("input row (px)", fontsize=8)
    ax.tick_params(labelsize=7)
    return ax


def plot_explorer(layers: Sequence[rf.Layer]) -> plt.Figure:
    """The explorer's figure: the 1-D dependency tree and the measured 2-D support, side by side."""
    rows = rf.field_table(layers)
    field, jump = rows[-1].receptive_field, rows[-1].jump
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6), gridspec_kw={"width_ratios": [2.2, 1]})
    plot_dependency_tree(layers, ax=left)
    mask = rf.measure_support(layers, field + 2 * jump, dims=2)
    plot_support_2d(mask, field, ax=right)
    figure.tight_layout()
    return figure


def plot_field_growth(networks: Mapping[str, Sequence[rf.Layer]]) -> plt.Figure:
    """Receptive field and output stride after every layer, one line per network."""
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    for name, layers in networks.items():
        rows = rf.field_table(layers)
        top.plot([row.receptive_field for row in rows], marker=".", label=name)
        bottom.plot([row.output_stride for row in rows], marker=".", label=name)
    longest = max(networks.values(), key=len)
    bottom.set_xticks(range(len(longest)), [layer.name for layer in longest], rotation=90, fontsize=7)
    top.set_ylabel("receptive field (px)")
    bottom.set_ylabel("output stride")
    bottom.set_yscale("log", base=2)
    top.legend()
    figure.tight_layout()
    return figure


def plot_parameters_vs_field(fields: Sequence[int]) -> plt.Axes:
    """Weights per channel pair to span a field: a dense k×k kernel against a 3×3 kernel at rate r."""
    counts = [rf.parameters_for_field(field) for field in fields]
    ax = plt.figure(figsize=(6, 3.5)).gca()
    ax.plot(fields, [c["dense kernel"] for c in counts], marker="o", label="dense kernel, k = field")
    ax.plot(fields, [c["3x3 atrous"] for c in counts], marker="o", label="3×3 atrous, r = (field - 1) / 2")
    ax.set_yscale("log")
    ax.set_xlabel("field of one layer (px)")
    ax.set_ylabel("weights per input-output channel pair")
    ax.legend()
    return ax
