"""The datasets chapter's figures draw what they are given (headless)."""

import matplotlib.pyplot as plt
import numpy as np
import torch

from deeplab_edu.datasets import TrainTransform
from deeplab_edu.datasets.palette import VOC_PALETTE
from deeplab_edu.datasets.synthetic import CLASSES, make_scene, scene_statistics
from deeplab_edu.viz import datasets as viz


def test_label_anatomy_writes_the_stored_values():
    _, label = make_scene(2, 48)
    label = label.copy()
    label[10, 10] = 255
    fig = viz.plot_label_anatomy(label, (8, 8, 6), CLASSES)
    zoom = fig.axes[2]
    assert [t.get_text() for t in zoom.texts] == [str(v) for v in label[8:14, 8:14].ravel()]
    shown = zoom.images[0].get_array()
    assert np.array_equal(np.asarray(shown)[2, 2], VOC_PALETTE[255])
    plt.close(fig)


def test_pairs_statistics_and_augmentations_draw():
    pairs = [make_scene(s, 32) for s in range(3)]
    fig = viz.plot_pairs(pairs, CLASSES, titles=["a", "b", "c"], columns=2)
    assert sum(len(ax.images) for ax in fig.axes) == 6
    plt.close(fig)
    stats = scene_statistics(range(3), 32)
    fig = viz.plot_statistics(stats["pixel_fraction"], stats["region_area"], stats["region_class"], CLASSES, 32)
    assert len(fig.axes[0].patches) == len(CLASSES)
    plt.close(fig)
    image, label = pairs[0]
    t = TrainTransform(41, generator=torch.Generator().manual_seed(0))
    fig = viz.plot_augmentations(image, label, [t(image, label) for _ in range(2)], CLASSES)
    assert fig.axes[1].images[0].get_array().shape[:2] == (41, 41)
    plt.close(fig)

