"""``python -m deeplab_edu predict``: colour a photo with a trained DeepLab (``deeplab_edu.predict``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from deeplab_edu.cli import add_device, checkpoint_file, configure, existing_file, scale_value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    configure(parser, "Colour an image with a trained DeepLab and write an overlay PNG with a class legend "
                      "(and the label PNG). A model trained on the built-in set knows only its shapes.")
    parser.add_argument("image", type=Path, help="a JPEG or PNG photo")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", type=Path, help="checkpoint.pt written by `train`")
    source.add_argument("--torchvision", type=Path, help="a local deeplabv3_resnet101 state_dict (.pth)")
    parser.add_argument("--out", type=Path, default=None,
                        help="overlay image file (default: IMAGE-STEM_overlay.png in the working directory)")
    parser.add_argument("--scales", type=scale_value, nargs="+", default=[1.0],
                        help="inference scales in [0.25, 4], averaged")
    parser.add_argument("--flip", action="store_true", help="also score the mirrored image")
    parser.add_argument("--alpha", type=float, default=0.6, help="opacity of the class colours")
    add_device(parser)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    from PIL import Image

    from deeplab_edu.datasets.palette import palette_bytes
    from deeplab_edu.datasets.voc import read_image
    from deeplab_edu.predict import default_output, load_predictor, overlay_with_legend, predict_label
    from deeplab_edu.runtime import resolve_device

    if not 0.0 <= args.alpha <= 1.0:
        raise ValueError(f"--alpha must lie in [0, 1], got {args.alpha}")
    out = default_output(args.image, args.out)  # checked before the model is loaded
    existing_file(args.image, "image", "; give a JPEG or PNG photo")
    if args.checkpoint is not None:
        checkpoint_file(args.checkpoint, "--checkpoint")
    else:
        existing_file(args.torchvision, "--torchvision", "; give a deeplabv3_resnet101 state_dict (.pth)")
    device = resolve_device(args.device)
    image = read_image(args.image)
    model, names = load_predictor(args.checkpoint, args.torchvision, device)
    label = predict_label(model, image, args.scales, args.flip, device)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(overlay_with_legend(image, label, names, args.alpha)).save(out)
    label_png = Image.fromarray(label, mode="P")
    label_png.putpalette(palette_bytes())
    label_path = out.with_name(f"{out.stem}_label.png")
    label_png.save(label_path)
    counts = np.bincount(label.ravel(), minlength=len(names))
    shares = ", ".join(f"{names[c]} {counts[c] / label.size:.1%}" for c in np.argsort(-counts) if counts[c])
    print(f"wrote {out} and {label_path}; classes: {shares}")
    return 0
