"""Datasets: PASCAL VOC 2012, SBD, the 10,582-image trainaug split, and the offline built-in set.

Every reader yields ``(image float32 3×H×W, ImageNet-normalised; label int64 H×W)`` with
255 marking pixels to ignore. ``build_dataset(name, split)`` is the one entry point.
"""

from .build import DATASETS, build_dataset, default_builtin_root, default_training_data, ensure_builtin
from .palette import IGNORE_INDEX, VOC_CLASSES, VOC_PALETTE, colorize, to_index, voc_colormap
from .transforms import EvalTransform, TrainTransform, denormalize, normalize
from .voc import VOCSegmentation

__all__ = ["DATASETS", "EvalTransform", "IGNORE_INDEX", "TrainTransform", "VOCSegmentation",
           "VOC_CLASSES", "VOC_PALETTE", "build_dataset", "colorize", "denormalize",
           "default_builtin_root", "default_training_data", "ensure_builtin", "normalize", "to_index", "voc_colormap"]
