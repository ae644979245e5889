"""Which weights a run starts from when not told: DeepLab always starts from ImageNet.

Full-size models: torchvision's ImageNet file from ``paths.imagenet_root()``, required in the
``gpu`` and ``full`` profiles (no paper trains a full backbone from random weights), so there the
path is returned even when missing and the run stops at its start saying where to put it. Small
models: the book's miniature-ImageNet weights, when it ships a file of that shape.
"""

from __future__ import annotations

#: Profiles whose full-size runs must start from ImageNet: a missing file stops the run.
IMAGENET_REQUIRED = ("gpu", "full")


def default_pretrained(model: str, backbone: str | None, width: float, options: dict,
                       profile: str | None = None) -> str | None:
    """The weights file a run starts from unless told otherwise, or ``None`` (random weights); ``profile``
    (default: the active one) decides whether a missing ImageNet file means random weights or a stop."""
    from deeplab_edu.models import DEFAULT_BACKBONES
    from deeplab_edu.paths import imagenet_root
    from deeplab_edu.pretrain import shipped_weights
    from deeplab_edu.profiles import get_profile
    from deeplab_edu.weights import TORCHVISION_URLS

    backbone = backbone or DEFAULT_BACKBONES.get(model, "resnet101")
    if width == 1 and options.get("blocks") is None:
        url = TORCHVISION_URLS.get(backbone)
        if url is None:  # a backbone torchvision has no ImageNet file for (Xception)
            return None
        path = imagenet_root() / url.rsplit("/", 1)[1]
        required = get_profile(profile).name in IMAGENET_REQUIRED
        return str(path) if path.is_file() or required else None
    path = shipped_weights(backbone, width, options.get("blocks"))
    return None if path is None else str(path)
