"""Which weights a run starts from when not told: DeepLab always starts from ImageNet.

Full-size models: torchvision's ImageNet file for the backbone, from ``paths.imagenet_root()``
(nothing is downloaded). In the ``gpu`` and ``full`` profiles that file is required: no DeepLab
paper trains a full ResNet-101 or VGG-16 from random weights, and such a run would not learn VOC
in any sitting. There the expected path is returned even when the file is missing, so the run
stops at its start with ``weights.missing_imagenet_message`` (where to put the file, and how to
train from scratch on purpose). Small models: the book's miniature-ImageNet weights
(``deeplab_edu.pretrain``), if it ships a file of that shape. Otherwise random weights.
"""

from __future__ import annotations

#: Profiles whose full-size runs must start from ImageNet: a missing file stops the run.
IMAGENET_REQUIRED = ("gpu", "full")


def default_pretrained(model: str, backbone: str | None, width: float, options: dict,
                       profile: str | None = None) -> str | None:
    """The weights file a run starts from unless told otherwise, or ``None`` (random weights).

    ``profile`` (default: the active one, ``DEEPLAB_EDU_PROFILE``) decides what a missing
    ImageNet file means at full width: random weights in ``smoke`` / ``laptop``, a stop in
    ``IMAGENET_REQUIRED``.
    """
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
