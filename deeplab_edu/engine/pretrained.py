"""Which weights a run starts from when not told: DeepLab always starts from ImageNet.

Full-size models: torchvision's ImageNet file for the backbone, if it lies in
``paths.imagenet_root()`` (nothing is downloaded). Small models: the book's miniature-ImageNet
weights (``deeplab_edu.pretrain``), if it ships a file of that shape. Otherwise random weights.
"""

from __future__ import annotations


def default_pretrained(model: str, backbone: str | None, width: float, options: dict) -> str | None:
    """The weights file a run starts from unless told otherwise, or ``None`` (random weights)."""
    from deeplab_edu.models import DEFAULT_BACKBONES
    from deeplab_edu.paths import imagenet_root
    from deeplab_edu.pretrain import shipped_weights
    from deeplab_edu.weights import TORCHVISION_URLS

    backbone = backbone or DEFAULT_BACKBONES.get(model, "resnet101")
    if width == 1 and options.get("blocks") is None:
        url = TORCHVISION_URLS.get(backbone)
        path = None if url is None else imagenet_root() / url.rsplit("/", 1)[1]
        return str(path) if path is not None and path.is_file() else None
    path = shipped_weights(backbone, width, options.get("blocks"))
    return None if path is None else str(path)
