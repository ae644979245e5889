"""Where CRF-as-RNN's stage 2 ends, against where it starts, for several rates and lengths.

    python benchmarks/bench_crf_rnn_stage2.py                          # every setting, seeds 0 and 1
    python benchmarks/bench_crf_rnn_stage2.py --settings chapter lr100-crf100-100

Chapter 11 trains its v2 network without a CRF (stage 1), cross-validates the dense CRF on the
held-out training images, then puts a ``CRFasRNN`` layer holding those parameters on top and
trains both end to end (stage 2: T = 5 in training, T = 10 at test). Before stage 2 the layer *is*
the cross-validated CRF, so its validation mIoU then is the score end-to-end training must raise.
This script repeats the chapter's procedure in the ``laptop`` profile and runs stage 2 under each
setting — the network's rate (a fraction of stage 1's), the layer's group multiplier on top of it,
and the number of steps — and prints, per setting, the validation mIoU at the start and at the end
of each seed. It is how the chapter's stage-2 setting was chosen; a measurement, not a test.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable from a clone

from benchmarks.provenance import provenance
from deeplab_edu import book

# name: (network rate as a fraction of stage 1's, the layer's multiplier on that rate, steps as a fraction of stage 1's)
SETTINGS = {
    "chapter-before": (1 / 10, 100.0, 1 / 2),
    "lr100-crf1000": (1 / 100, 1000.0, 1 / 2),
    "lr100-crf100": (1 / 100, 100.0, 1 / 2),
    "lr10-crf10-100": (1 / 10, 10.0, 1 / 8),
    "lr100-crf100-100": (1 / 100, 100.0, 1 / 8),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--out", type=Path, default=Path("runs/bench_crf_rnn_stage2"))
    args = parser.parse_args(argv)
    print(provenance())

    book.seed_everything(0)
    profile, device = book.get_profile("laptop"), "cpu"
    dataset, root = book.default_training_data(profile.name)
    val_set = book.build_dataset(dataset, "val", root=root)
    config = book.TrainConfig.from_profile("deeplabv2", profile, backbone="resnet50", dataset=dataset,
                                           data_root=root, out_dir=str(args.out / "stage1"))
    stage1 = book.run_trial("stage 1", config, (0,), val_set, trimap_widths=(), device=device)
    num_classes = stage1.runs[0].num_classes
    crf = book.tune_crf(stage1.runs[0].model, book.holdout_split(dataset, root), iterations=profile.crf_iterations,
                        max_extensions=2, device=device).params
    kernels = {f: getattr(crf, f) for f in ("w1", "sigma_alpha", "sigma_beta", "w2", "sigma_gamma")}
    base = dataclasses.replace(config, init_from=str(stage1.runs[0].checkpoint), pretrained=None,
                               crf_rnn={**kernels, "iterations": 5, "test_iterations": 10})
    # The chapter clips stage 2's gradient at about the network's own norm on one batch.
    crops = book.build_dataset(dataset, "train", root=root,
                               transform=book.TrainTransform(config.crop_size, scale=config.scale,
                                                             generator=torch.Generator().manual_seed(0)))
    images, labels = (torch.stack(t) for t in zip(*(crops[i] for i in range(config.batch_size))))
    plain = dataclasses.replace(base, crf_rnn=None, lr=config.lr / 10)
    norm = book.gradient_norm(book.build_training_model(plain.resolved(), num_classes, torch.device(device))[0],
                              images, labels, plain.loss)["all"]
    clip = float(f"{norm:.2g}")
    start = book.build_training_model(base.resolved(), num_classes, torch.device(device))[0]
    at_start = book.evaluate(start, val_set, trimap_widths=(), device=device, progress=False).summary()["mIoU"]

    print(f"\nstage 1: val mIoU {stage1.values()[0]:.3f}; the layer with the cross-validated CRF on top: "
          f"{at_start:.3f} (the start); gradient clipped at {clip:g}\n")
    print("| setting | network lr | layer lr | steps | end, per seed | end − start (points) |\n|---|---|---|---|---|---|")
    for name in args.settings:
        lr_fraction, crf_mult, length = SETTINGS[name]
        run = dataclasses.replace(base, lr=config.lr * lr_fraction, crf_lr_mult=crf_mult, clip_grad_norm=clip,
                                  iterations=max(int(config.iterations * length), 1), out_dir=str(args.out / name))
        trial = book.run_trial(name, run, args.seeds, val_set, trimap_widths=(), device=device)
        end = book.Spread.of(trial.values())
        print(f"| {name} | {run.lr:g} | {run.lr * crf_mult:g} | {run.iterations} | "
              f"{', '.join(f'{v:.3f}' for v in end.values)} | {100 * (end.mean - at_start):+.1f} ± "
              f"{100 * max(end.range, book.MIN_NOISE):.1f} |", flush=True)


if __name__ == "__main__":
    main()
