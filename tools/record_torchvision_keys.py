"""Record torchvision's state_dict keys and shapes as a small test fixture.

torchvision cannot be installed next to the book's CPU torch pin, so this script runs in a
separate environment that has it::

    python3 -m venv /tmp/tvenv && /tmp/tvenv/bin/pip install torch torchvision
    /tmp/tvenv/bin/python tools/record_torchvision_keys.py

It writes ``tests/fixtures/torchvision_state_dicts.json``: for each architecture (built with
``weights=None``, nothing is downloaded) every state_dict key with its shape, and the
parameter count. ``tests/test_backbones.py`` and ``tests/test_models.py`` hold the book's
models to it, so a user's torchvision checkpoint loads unchanged.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import torchvision
from torchvision.models import resnet50, resnet101, vgg16
from torchvision.models.segmentation import deeplabv3_resnet50, deeplabv3_resnet101

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "torchvision_state_dicts.json"

ARCHITECTURES = {
    "vgg16": lambda: vgg16(weights=None),
    "resnet50": lambda: resnet50(weights=None),
    "resnet101": lambda: resnet101(weights=None),
    # The published VOC-label checkpoints are trained with the auxiliary head.
    "deeplabv3_resnet101": lambda: deeplabv3_resnet101(weights=None, weights_backbone=None, num_classes=21),
    "deeplabv3_resnet101_aux": lambda: deeplabv3_resnet101(weights=None, weights_backbone=None,
                                                           num_classes=21, aux_loss=True),
    "deeplabv3_resnet50_aux": lambda: deeplabv3_resnet50(weights=None, weights_backbone=None,
                                                         num_classes=21, aux_loss=True),
}


def record(model: torch.nn.Module) -> dict:
    return {"parameters": sum(p.numel() for p in model.parameters()),
            "state_dict": {key: list(value.shape) for key, value in model.state_dict().items()}}


def to_json(fixture: dict) -> str:
    """JSON with one state_dict key per line: small, and diffs read well."""
    lines = ["{", f'"torch": {json.dumps(fixture["torch"])},', f'"torchvision": {json.dumps(fixture["torchvision"])},',
             '"architectures": {']
    names = list(fixture["architectures"])
    for n, name in enumerate(names):
        entry = fixture["architectures"][name]
        lines.append(f'{json.dumps(name)}: {{"parameters": {entry["parameters"]}, "state_dict": {{')
        items = [f"{json.dumps(key)}: {json.dumps(shape)}" for key, shape in entry["state_dict"].items()]
        lines.append(",\n".join(items))
        lines.append("}}" + ("," if n < len(names) - 1 else ""))
    return "\n".join(lines + ["}", "}"]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=FIXTURE)
    args = parser.parse_args(argv)
    fixture = {"torch": torch.__version__.split("+")[0], "torchvision": torchvision.__version__.split("+")[0],
               "architectures": {name: record(build()) for name, build in ARCHITECTURES.items()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(to_json(fixture))
    for name, entry in fixture["architectures"].items():
        print(f"{name:<26} {len(entry['state_dict']):>4} keys {entry['parameters']:>12,} parameters")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
