"""torchvision's state_dict keys and shapes: the recorded fixture, plus the live library if importable.

``tools/record_torchvision_keys.py`` wrote the fixture in an environment with torchvision.
Tests compare against every source returned here, so where torchvision imports they check
the live library with the same assertions.
"""

from __future__ import annotations

import json
from pathlib import Path

FIXTURE = Path(__file__).parent / "fixtures" / "torchvision_state_dicts.json"


def _live() -> dict | None:
    try:
        import torchvision  # noqa: F401
        from torchvision.models import resnet50, resnet101, vgg16
        from torchvision.models.segmentation import deeplabv3_resnet50, deeplabv3_resnet101
    except Exception:  # not installable next to the CPU torch pin; the fixture stands in
        return None
    import torch

    builders = {
        "vgg16": lambda: vgg16(weights=None), "resnet50": lambda: resnet50(weights=None),
        "resnet101": lambda: resnet101(weights=None),
        "deeplabv3_resnet101": lambda: deeplabv3_resnet101(weights=None, weights_backbone=None, num_classes=21),
        "deeplabv3_resnet101_aux": lambda: deeplabv3_resnet101(weights=None, weights_backbone=None,
                                                               num_classes=21, aux_loss=True),
        "deeplabv3_resnet50_aux": lambda: deeplabv3_resnet50(weights=None, weights_backbone=None,
                                                             num_classes=21, aux_loss=True)}
    out = {}
    with torch.device("meta"):
        for name, build in builders.items():
            model = build()
            out[name] = {"parameters": sum(p.numel() for p in model.parameters()),
                         "state_dict": {k: list(v.shape) for k, v in model.state_dict().items()}}
    return out


def references() -> list[tuple[str, dict]]:
    """[("fixture", architectures), ("torchvision", architectures)?]."""
    sources = [("fixture", json.loads(FIXTURE.read_text())["architectures"])]
    live = _live()
    if live is not None:
        sources.append(("torchvision", live))
    return sources


def shapes(module) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in module.state_dict().items()}
