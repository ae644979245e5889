"""The receptive-field explorer: sliders for kernel, stride, rate and depth over ``receptive_field.stack``."""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt

from deeplab_edu import receptive_field as rf
from deeplab_edu.viz.receptive_field import plot_explorer

# Ranges that keep the largest field (k=5, r=4, s=2, depth 5: 497 px) quick to measure and draw.
LIMITS = {"kernel": (1, 5), "stride": (1, 2), "rate": (1, 4), "depth": (1, 5)}


def show_stack(kernel: int, stride: int, rate: int, depth: int) -> rf.FieldRow:
    """Draw ``depth`` identical (kernel, stride, rate) convolutions; return the last layer's row."""
    layers = rf.stack(kernel, stride, rate, depth)
    plot_explorer(layers)
    plt.show()
    return rf.field_table(layers)[-1]


def field_explorer(kernel: int = 3, stride: int = 1, rate: int = 1, depth: int = 3) -> widgets.interactive:
    """Sliders wired to ``show_stack``; ``.result`` holds the last ``FieldRow`` (RF, output stride)."""
    start = {"kernel": kernel, "stride": stride, "rate": rate, "depth": depth}
    sliders = {}
    for name, (low, high) in LIMITS.items():
        if not low <= start[name] <= high:
            raise ValueError(f"{name} must be between {low} and {high} in the explorer, got {start[name]!r}")
        sliders[name] = widgets.IntSlider(value=start[name], min=low, max=high, description=name,
                                          continuous_update=False)
    return widgets.interactive(show_stack, **sliders)
