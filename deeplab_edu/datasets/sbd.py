"""The Semantic Boundaries Dataset (SBD, Hariharan et al., ICCV 2011) reader.

SBD re-annotated 11,355 VOC 2011 images (train 8,498, val 2,857) with the same 20 classes.
Its layout (``benchmark_RELEASE/dataset``)::

    img/<id>.jpg          the photos (the same files as VOC's JPEGImages)
    cls/<id>.mat          MATLAB struct GTcls; GTcls.Segmentation is an (H, W) array of
                          class indices 0..20 (no 255 "void" band, unlike VOC)
    train.txt, val.txt    one id per line

DeepLab trains on VOC + SBD (the "trainaug" split, ``datasets.trainaug``); SBD's ``.mat``
labels are converted once to palette PNGs so one reader serves both.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io
import torch

from .palette import IGNORE_INDEX, VOC_CLASSES
from .transforms import EvalTransform
from .voc import Transform, check_label_values, check_pairs, check_same_size, read_image, read_split


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


class SBDSegmentation(torch.utils.data.Dataset):
    """``(image, label)`` pairs of SBD's ``train`` or ``val`` list, read from the ``.mat`` files."""

    def __init__(self, root: str | Path, split: str, transform: Transform | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"SBD folder {self.root} does not exist; expected "
                                    "benchmark_RELEASE/dataset with img/, cls/, train.txt, val.txt")
        self.split, self.transform = split, transform or EvalTransform()
        self.class_names, self.num_classes = VOC_CLASSES, len(VOC_CLASSES)
        self.split_file = self.root / f"{split}.txt"
        self.ids = read_split(self.split_file)
        check_pairs(self.ids, self.split_file, self.image_path, self.label_path)

    def image_path(self, image_id: str) -> Path:
        return self.root / "img" / f"{image_id}.jpg"

    def label_path(self, image_id: str) -> Path:
        return self.root / "cls" / f"{image_id}.mat"

    def __len__(self) -> int:
        return len(self.ids)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        image_id = self.ids[index]
        image = read_image(self.image_path(image_id))
        label = read_sbd_label(self.label_path(image_id), self.num_classes)
        check_same_size(image, label, self.label_path(image_id), kind="SBD label file")
        return image, label

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.transform(*self.load(index))
