"""``python -m deeplab_edu predict``: colour a user's image with a trained DeepLab.

The image is scored whole (``evaluate.predict_probs``: padded to output_stride·k + 1,
optionally multi-scale + flip), each pixel gets its most probable class, the classes are
painted in the PASCAL VOC palette, and the colours are blended over the photo where the
prediction is not background. The model comes from a training checkpoint of this book or
from torchvision's ``deeplabv3_resnet101`` weights (a local file; nothing is downloaded).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from deeplab_edu.datasets import VOC_CLASSES, colorize, normalize


@torch.no_grad()
def predict_label(model: torch.nn.Module, image: np.ndarray, scales: Sequence[float] = (1.0,),
                  flip: bool = False, device: torch.device | str | None = None) -> np.ndarray:
    """Class index per pixel, uint8 (H, W), for a uint8 (H, W, 3) RGB image."""
    from deeplab_edu.evaluate import predict_probs

    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be a uint8 (H, W, 3) RGB array, got {image.dtype} {image.shape}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.eval()
    probs = predict_probs(model, normalize(image)[None].to(device), scales, flip)
    return probs[0].argmax(0).to(torch.uint8).cpu().numpy()


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
        from deeplab_edu.weights import load_torchvision_deeplabv3

        model = build_model("deeplabv3", len(VOC_CLASSES), output_stride=8, multi_grid=None, head="torchvision")
        load_torchvision_deeplabv3(model, torchvision)
        return model.to(device).eval(), VOC_CLASSES
    from deeplab_edu.checkpoint import read_checkpoint
    from deeplab_edu.evaluate import load_trained

    model, config = load_trained(checkpoint, device)
    names = read_checkpoint(checkpoint)["extra"].get("class_names")
    return model, tuple(names) if names else tuple(f"class {i}" for i in range(config["num_classes"]))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    parser.description = "Colour an image with a trained DeepLab and write an overlay PNG (and the label PNG)."
    parser.add_argument("image", type=Path, help="a JPEG or PNG photo")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", type=Path, help="checkpoint.pt written by `train`")
    source.add_argument("--torchvision", type=Path, help="a local deeplabv3_resnet101 state_dict (.pth)")
    parser.add_argument("--out", type=Path, default=None, help="overlay PNG (default: IMAGE_overlay.png)")
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0])
    parser.add_argument("--flip", action="store_true")
    parser.add_argument("--alpha", type=float, default=0.6, help="opacity of the class colours")
    parser.add_argument("--device", default=None)


def run(args: argparse.Namespace) -> int:
    from PIL import Image

    from deeplab_edu.datasets.palette import palette_bytes
    from deeplab_edu.datasets.voc import read_image
    from deeplab_edu.runtime import default_device

    device = torch.device(args.device) if args.device else default_device()
    model, names = load_predictor(args.checkpoint, args.torchvision, device)
    image = read_image(args.image)
    label = predict_label(model, image, args.scales, args.flip, device)
    out = args.out or args.image.with_name(f"{args.image.stem}_overlay.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(overlay(image, label, args.alpha)).save(out)
    label_png = Image.fromarray(label, mode="P")
    label_png.putpalette(palette_bytes())
    label_path = out.with_name(f"{out.stem}_label.png")
    label_png.save(label_path)
    counts = np.bincount(label.ravel(), minlength=len(names))
    shares = ", ".join(f"{names[c]} {counts[c] / label.size:.1%}" for c in np.argsort(-counts) if counts[c])
    print(f"wrote {out} and {label_path}; classes: {shares}")
    return 0
