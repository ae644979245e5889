"""The CRF explorer: sliders for w1, σα, σβ, w2, σγ and the iteration count over ``crf.dense_crf``."""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from deeplab_edu.crf import CRFParams, dense_crf
from deeplab_edu.metrics import ConfusionMatrix
from deeplab_edu.viz.crf import plot_refinement

# (min, max, step) for each slider; iterations is an integer slider.
LIMITS = {"w1": (0.0, 20.0, 0.5), "sigma_alpha": (1.0, 150.0, 1.0), "sigma_beta": (1.0, 60.0, 1.0),
          "w2": (0.0, 10.0, 0.5), "sigma_gamma": (0.5, 10.0, 0.5), "iterations": (0, 20, 1)}


def crf_explorer(image: np.ndarray, probs: np.ndarray, label: np.ndarray | None = None,
                 params: CRFParams = CRFParams(), method: str = "pydensecrf") -> widgets.interactive:
    """Sliders wired to ``dense_crf`` and a before/after figure.

    ``.result`` is the refined label map (argmax of the refined probabilities); with a
    ``label`` the figure's title states the mean IoU before and after.
    """
    def refine(**values) -> np.ndarray:
        refined = dense_crf(image, probs, CRFParams(**values), method=method)
        fig = plot_refinement(image, label if label is not None else probs.argmax(0), probs, refined)
        if label is not None:
            num_classes = probs.shape[0]
            before = ConfusionMatrix(num_classes).update(probs.argmax(0), label).miou()
            after = ConfusionMatrix(num_classes).update(refined.argmax(0), label).miou()
            fig.suptitle(f"mean IoU {before:.3f} → {after:.3f}", fontsize=10)
        plt.show()
        return refined.argmax(0)

    sliders = {}
    for name, (low, high, step) in LIMITS.items():
        value = getattr(params, name)
        if not low <= value <= high:
            raise ValueError(f"{name}={value!r} lies outside the explorer's range [{low}, {high}]")
        kind = widgets.IntSlider if name == "iterations" else widgets.FloatSlider
        sliders[name] = kind(value=value, min=low, max=high, step=step, description=name,
                             continuous_update=False)
    return widgets.interactive(refine, **sliders)
