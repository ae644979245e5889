"""Where the book reads data from; nothing is ever downloaded. Each location can be moved with the
environment variable its function names (``data/README.md`` lists them), so the chapters, the tests
and the command line all find the same files.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _from_env(variable: str, default: Path) -> Path:
    value = os.environ.get(variable, "").strip()
    return Path(value).expanduser() if value else default


def data_root() -> Path:
    """The folder that holds datasets, ``$DEEPLAB_EDU_DATA`` or the repository's ``data/``."""
    return _from_env("DEEPLAB_EDU_DATA", REPO_ROOT / "data")


def voc_root() -> Path:
    """The ``VOCdevkit/VOC2012`` folder (JPEGImages, SegmentationClass, ImageSets)."""
    return _from_env("DEEPLAB_EDU_VOC", data_root() / "VOCdevkit" / "VOC2012")


def sbd_root() -> Path:
    """SBD's ``benchmark_RELEASE/dataset`` folder (img, cls, train.txt, val.txt)."""
    return _from_env("DEEPLAB_EDU_SBD", data_root() / "benchmark_RELEASE" / "dataset")


def builtin_root() -> Path:
    """Where ``python -m deeplab_edu make-data`` writes the offline dataset."""
    return _from_env("DEEPLAB_EDU_BUILTIN", data_root() / "builtin")


def imagenet_root() -> Path:
    """Where full-width models look for torchvision's ImageNet files (``resnet101-63fe2227.pth`` …)."""
    return _from_env("DEEPLAB_EDU_IMAGENET", data_root() / "imagenet")


def sample_root() -> Path:
    """The small sample committed under ``data/sample`` for the chapters' figures."""
    return REPO_ROOT / "data" / "sample"
