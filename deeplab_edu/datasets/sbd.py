"""The Semantic Boundaries Dataset (SBD, Hariharan et al., ICCV 2011) reader.

SBD re-annotated 11,355 VOC 2011 images (train 8,498, val 2,857) with the same 20 classes.
Its layout (``benchmark_RELEASE/dataset``)::

    img/<id>.jpg          the photos (the same files as VOC's JPEGImages)
    cls/<id>.mat          MATLAB struct GTcls; GTcls.Segmentation is an (H, W) array of
                          class indices 0..20 (no 255 "void" band, unlike VOC)
    train.txt, val.txt    one id per line

DeepLab trains on VOC + SBD (the "trainaug" split, ``datasets.trainaug``): SBD's ``.mat``
labels are converted once to palette PNGs, so the VOC reader serves both.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io

from .palette import IGNORE_INDEX, VOC_CLASSES
from .voc import check_label_values


def read_sbd_label(path: str | Path, num_classes: int = len(VOC_CLASSES)) -> np.ndarray:
    """``GTcls.Segmentation`` of an SBD ``cls/*.mat`` file as uint8 (H, W) class indices."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"SBD label file {path} does not exist")
    try:
        mat = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)
    except Exception as err:  # scipy raises several types for a damaged file
        raise ValueError(f"SBD label file {path} is corrupt or not a MATLAB .mat file ({err}); "
                         "expected a struct GTcls with a Segmentation field") from err
    if "GTcls" not in mat:
        found = sorted(k for k in mat if not k.startswith("__"))
        raise ValueError(f"SBD label file {path} has no variable 'GTcls' (found {found}); "
                         "expected a struct GTcls with a Segmentation field")
    segmentation = getattr(mat["GTcls"], "Segmentation", None)
    if segmentation is None:
        raise ValueError(f"SBD label file {path}: GTcls has no field 'Segmentation'; "
                         "expected the class-index map there")
    segmentation = np.asarray(segmentation)
    if segmentation.ndim != 2 or not np.issubdtype(segmentation.dtype, np.integer):
        raise ValueError(f"SBD label file {path}: GTcls.Segmentation is {segmentation.dtype} "
                         f"of shape {segmentation.shape}; expected a 2-D integer class-index map")
    check_label_values(segmentation, num_classes, IGNORE_INDEX, source=f"SBD label file {path}")
    return segmentation.astype(np.uint8)

