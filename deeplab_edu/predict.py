"""``python -m deeplab_edu predict``: colour a user's image with a trained DeepLab (a training
checkpoint, or torchvision's ``deeplabv3_resnet101`` weights from a local file): scored whole, each
pixel's most probable class painted in the PASCAL VOC palette over the photo where it is not background.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from deeplab_edu.datasets import VOC_CLASSES, colorize, normalize


@torch.no_grad()
def predict_label(model: torch.nn.Module, image: np.ndarray, scales: Sequence[float] = (1.0,),
                  flip: bool = False, device: torch.device | str | None = None) -> np.ndarray:
    """Class index per pixel, uint8 (H, W), for a uint8 (H, W, 3) RGB image."""
    from deeplab_edu.engine.inference import predict_probs

    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be a uint8 (H, W, 3) RGB array, got {image.dtype} {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image is {image.shape[0]}×{image.shape[1]} pixels; there is nothing to segment")
    smallest = smallest_side(scales)
    if min(image.shape[:2]) < smallest:
        raise ValueError(f"image is {image.shape[1]}×{image.shape[0]} pixels: at scale {min(scales):g} its short "
                         f"side would shrink to {math.floor(min(image.shape[:2]) * min(scales))} pixels; the "
                         f"smallest image --scales {' '.join(f'{s:g}' for s in scales)} can score is "
                         f"{smallest}×{smallest} (or leave out the smallest scales)")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.eval()
    probs = predict_probs(model, normalize(image)[None].to(device), scales, flip)
    return probs[0].argmax(0).to(torch.uint8).cpu().numpy()


def smallest_side(scales: Sequence[float]) -> int:
    """The shortest image side that every scale keeps at least one pixel wide (``floor(n·s) >= 1``)."""
    low = min(scales)
    n = max(1, math.ceil(1 / low))
    while math.floor(n * low) < 1:
        n += 1
    return n


def overlay(image: np.ndarray, label: np.ndarray, alpha: float = 0.6, background: int = 0) -> np.ndarray:
    """``image`` with the label's VOC colours blended in at ``alpha`` wherever label ≠ background."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}")
    image, label = np.asarray(image), np.asarray(label)
    if label.shape != image.shape[:2]:
        raise ValueError(f"label shape {label.shape} must match the image's (H, W) = {image.shape[:2]}")
    colours = colorize(label).astype(np.float32)
    blend = image.astype(np.float32)
    mask = label != background
    blend[mask] = (1 - alpha) * blend[mask] + alpha * colours[mask]
    return blend.round().clip(0, 255).astype(np.uint8)


def load_predictor(checkpoint: str | Path | None = None, torchvision: str | Path | None = None,
                   device: torch.device | str = "cpu") -> tuple[torch.nn.Module, tuple[str, ...]]:
    """(model, class names) from a training ``checkpoint`` or torchvision DeepLabV3 weights."""
    if (checkpoint is None) == (torchvision is None):
        raise ValueError("give exactly one of checkpoint= (a training checkpoint) or torchvision= "
                         "(a deeplabv3_resnet101 weights file)")
    if torchvision is not None:
        from deeplab_edu.models import build_model
        from deeplab_edu.weights import TORCHVISION_DEEPLABV3, load_torchvision_deeplabv3

        model = build_model("deeplabv3", len(VOC_CLASSES), **TORCHVISION_DEEPLABV3)
        load_torchvision_deeplabv3(model, torchvision)
        return model.to(device).eval(), VOC_CLASSES
    from deeplab_edu.checkpoint import load_trained, read_checkpoint

    model, config = load_trained(checkpoint, device)
    names = read_checkpoint(checkpoint)["extra"].get("class_names")
    return model, tuple(names) if names else tuple(f"class {i}" for i in range(config["num_classes"]))


def legend(names: Sequence[str], classes: Sequence[int], width: int, row_height: int = 14) -> np.ndarray:
    """A strip (uint8 (rows·row_height, width, 3)) naming ``classes`` next to their VOC colour swatch."""
    from PIL import Image, ImageDraw

    classes = list(classes)
    per_row = max(1, width // 110)
    rows = max(1, -(-len(classes) // per_row))
    strip = Image.new("RGB", (width, rows * row_height), (255, 255, 255))
    draw = ImageDraw.Draw(strip)
    colours = colorize(np.array(classes, dtype=np.uint8).reshape(1, -1))[0] if classes else []
    for n, (cls, colour) in enumerate(zip(classes, colours)):
        x, y = (n % per_row) * 110 + 2, (n // per_row) * row_height + 2
        draw.rectangle([x, y, x + row_height - 5, y + row_height - 5], fill=tuple(int(c) for c in colour),
                       outline=(0, 0, 0))
        draw.text((x + row_height, y - 1), str(names[cls]), fill=(0, 0, 0))
    return np.asarray(strip)


def overlay_with_legend(image: np.ndarray, label: np.ndarray, names: Sequence[str], alpha: float = 0.6,
                        background: int = 0) -> np.ndarray:
    """``overlay`` with a legend strip below it naming every predicted class but the background."""
    blended = overlay(image, label, alpha, background)
    present = [int(c) for c in np.unique(label) if c != background]
    return np.concatenate([blended, legend(names, present, blended.shape[1])], axis=0)


def default_output(image_path: str | Path, out: str | Path | None = None) -> Path:
    """``out``, or ``<stem>_overlay.png`` in the working directory (never beside, or onto, the input)."""
    from PIL import Image

    image_path = Path(image_path)
    target = Path(out) if out is not None else Path.cwd() / f"{image_path.stem}_overlay.png"
    if target.suffix.lower() not in Image.registered_extensions():
        raise ValueError(f"--out {target}: give a file name with an image extension such as .png")
    if target.exists() and image_path.exists() and target.resolve() == image_path.resolve():
        raise ValueError(f"--out {target} is the input image; choose another file name")
    if target.with_name(f"{target.stem}_label.png").resolve() == image_path.resolve():
        raise ValueError(f"--out {target} would overwrite the input image with its label PNG; choose another name")
    return target
