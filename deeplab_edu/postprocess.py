"""``python -m deeplab_edu crf``: refine saved network probabilities with the dense CRF.

DeepLab v1/v2 apply the fully-connected CRF after the network, as a separate step
(v1 §4.3, v2 §3.3). Kept apart as in kazuto1011/deeplab-pytorch: ``evaluate --save-scores
DIR`` writes each image's probabilities once; this command reads them back and runs
``crf.dense_crf`` over the images (``evaluate.crf_evaluate``): the permutohedral lattice in
PyTorch on the GPU when there is one, else on all CPU cores (pydensecrf: worker processes),
then prints the scores before and after the CRF, computed from the same saved probabilities.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from deeplab_edu.crf import METHODS, CRFParams


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = CRFParams()
    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    parser.description = ("Refine probabilities saved by `evaluate --save-scores DIR` with the fully-connected "
                          "CRF (w1, σα, σβ, w2, σγ as in DeepLab v2) in parallel, and score before and after.")
    parser.add_argument("scores", type=Path, help="folder of <id>.npy probabilities from `evaluate --save-scores`")
    parser.add_argument("--dataset", default="builtin", choices=["builtin", "sample", "voc", "voc_aug"])
    parser.add_argument("--data-root", default=None, help="dataset folder (default: from deeplab_edu.paths)")
    parser.add_argument("--split", default="val")
    parser.add_argument("--w1", type=float, default=defaults.w1, help="appearance kernel weight")
    parser.add_argument("--sigma-alpha", type=float, default=defaults.sigma_alpha, help="σα, position (px)")
    parser.add_argument("--sigma-beta", type=float, default=defaults.sigma_beta, help="σβ, colour")
    parser.add_argument("--w2", type=float, default=defaults.w2, help="smoothness kernel weight")
    parser.add_argument("--sigma-gamma", type=float, default=defaults.sigma_gamma, help="σγ, position (px)")
    parser.add_argument("--iterations", type=int, default=defaults.iterations, help="mean-field iterations")
    parser.add_argument("--method", default="lattice", choices=sorted(METHODS),
                        help="dense_crf method: lattice (PyTorch, any device), pydensecrf (C++, CPU), ...")
    parser.add_argument("--device", default=None, help="device of the PyTorch methods (default: cuda if available)")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes (default: 1 for the PyTorch methods, which use threads; "
                             "one per core up to 4 for pydensecrf)")
    parser.add_argument("--trimap", type=int, nargs="*", default=[2, 4, 8], help="trimap band widths (px)")


def run(args: argparse.Namespace) -> int:
    from deeplab_edu.datasets import build_dataset
    from deeplab_edu.evaluate import crf_evaluate

    params = CRFParams(w1=args.w1, sigma_alpha=args.sigma_alpha, sigma_beta=args.sigma_beta, w2=args.w2,
                       sigma_gamma=args.sigma_gamma, iterations=args.iterations)
    dataset = build_dataset(args.dataset, args.split, root=args.data_root)
    before, after = crf_evaluate(dataset, args.scores, params, args.method, args.workers, args.trimap,
                                 device=args.device)
    print(f"dense CRF {params} on {args.dataset}/{args.split} ({len(dataset)} images):")
    print(f"{'':>12}  {'before':>7}  {'after':>7}")
    for (key, b), a in zip(before.summary().items(), after.summary().values()):
        print(f"{key:>12}  {b:7.4f}  {a:7.4f}")
    return 0
