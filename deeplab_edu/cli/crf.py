"""``python -m deeplab_edu crf``: refine the probabilities ``evaluate --save-scores DIR`` wrote with the
dense CRF, a separate step after the network (v1 §4.3, v2 §3.3), and print the scores before and after.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from deeplab_edu.cli import add_dataset, add_device, configure, existing_folder, non_negative_int, positive_int
from deeplab_edu.engine.evaluation import DEFAULT_TRIMAP_WIDTHS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from deeplab_edu.crf import METHODS, CRFParams

    defaults = CRFParams()
    configure(parser, "Refine probabilities saved by `evaluate --save-scores DIR` with the fully-connected "
                      "CRF (w1, σα, σβ, w2, σγ as in DeepLab v2) in parallel, and score before and after.")
    parser.add_argument("scores", type=Path, help="folder of <id>.npy probabilities from `evaluate --save-scores`")
    add_dataset(parser)
    parser.add_argument("--w1", type=float, default=defaults.w1, help="appearance kernel weight")
    parser.add_argument("--sigma-alpha", type=float, default=defaults.sigma_alpha, help="σα, position (px)")
    parser.add_argument("--sigma-beta", type=float, default=defaults.sigma_beta, help="σβ, colour")
    parser.add_argument("--w2", type=float, default=defaults.w2, help="smoothness kernel weight")
    parser.add_argument("--sigma-gamma", type=float, default=defaults.sigma_gamma, help="σγ, position (px)")
    parser.add_argument("--iterations", type=non_negative_int, default=defaults.iterations,
                        help="mean-field iterations")
    parser.add_argument("--method", default="lattice", choices=sorted(METHODS),
                        help="dense_crf method: lattice (PyTorch, any device), pydensecrf (C++, CPU), ...")
    add_device(parser, " for the PyTorch methods")
    parser.add_argument("--workers", type=positive_int, default=None,
                        help="worker processes (default: 1 for the PyTorch methods, which use threads; "
                             "one per core up to 4 for pydensecrf)")
    parser.add_argument("--trimap", type=positive_int, nargs="*", default=list(DEFAULT_TRIMAP_WIDTHS),
                        help="trimap band widths (px)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def check_score_files(folder: Path, ids) -> None:
    """Name a saved score file that holds no probabilities (all zero, or negative somewhere), which the
    CRF step sees only as NaN (0/0); run after that step failed, so good files are read once."""
    import numpy as np

    for image_id in ids:
        path = folder / f"{image_id}.npy"
        if not path.is_file():
            continue  # the CRF step names a missing file itself
        try:
            scores = np.load(path, mmap_mode="r")
        except (OSError, ValueError):
            continue  # a damaged file: named by the CRF step
        if scores.ndim == 3 and scores.size and np.isfinite(scores).all():
            total = np.asarray(scores, dtype=np.float32).sum(0)
            if not (total > 0).all() or (scores < 0).any():
                zero = int((total <= 0).sum())
                raise ValueError(f"saved scores {path} are not probabilities: {zero} of {total.size} pixels sum to "
                                 "0 over the classes (all zero?) or hold negative values; expected the softmax "
                                 "that `evaluate --save-scores` writes")


def run(args: argparse.Namespace) -> int:
    from deeplab_edu.crf import CRFParams
    from deeplab_edu.datasets import build_dataset
    from deeplab_edu.engine.crf_scores import crf_evaluate
    from deeplab_edu.runtime import resolve_device

    params = CRFParams(w1=args.w1, sigma_alpha=args.sigma_alpha, sigma_beta=args.sigma_beta, w2=args.w2,
                       sigma_gamma=args.sigma_gamma, iterations=args.iterations)
    if args.device is not None:
        resolve_device(args.device)
    existing_folder(args.scores, "scores folder", "; write it with "
                    "`python -m deeplab_edu evaluate CHECKPOINT --save-scores DIR`")
    progress = not args.no_progress
    dataset = build_dataset(args.dataset, args.split, root=args.data_root, progress=progress)
    try:
        before, after = crf_evaluate(dataset, args.scores, params, args.method, args.workers, args.trimap,
                                     progress=progress, device=args.device)
    except ValueError:
        check_score_files(args.scores, dataset.ids)  # a file that holds no probabilities, named
        raise
    print(f"dense CRF {params} on {args.dataset}/{args.split} ({len(dataset)} images):")
    print(f"{'':>12}  {'before':>7}  {'after':>7}")
    for (key, b), a in zip(before.summary().items(), after.summary().values()):
        print(f"{key:>12}  {b:7.4f}  {a:7.4f}")
    return 0
