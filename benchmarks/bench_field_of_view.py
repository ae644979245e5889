"""The heads' field of view at the paper's crop: chapters 07 and 08's pairs on a 41 × 41 score map.

    python benchmarks/bench_field_of_view.py --pair v1   # LargeFOV vs fc6 4×4 (v1 Table 2), 321-px crops
    python benchmarks/bench_field_of_view.py --pair v2   # ASPP-L vs LargeFOV on VGG-16 (v2 Table 3)
    python benchmarks/bench_field_of_view.py --pair v1 --crop 129 --size 160   # chapter 07's own size
    python benchmarks/bench_field_of_view.py --pair v1 --crop 129 --size 160 --iterations 1200   # 4x longer

Chapter 07 compares v1's LargeFOV head (fc6 3×3 at rate 12) with the paper's first "DeepLab" head
(fc6 4×4 at rate 4, Table 2), chapter 08 v2's ASPP-L (rates 6, 12, 18, 24) with LargeFOV, at the
``laptop`` profile's 129-px crops, where the score map is 17 × 17 and a rate-12 filter reads 28 %
of its taps inside it. This script runs a pair, with the paper's rates and backbone (VGG-16 for
both tables; ``--backbone resnet`` runs v2's pair on chapter 08's small ResNet), at the paper's
321-px crops (a 41 × 41 map) of a built-in set painted at 352 px, so
that every object covers the same share of its scene as in the chapters but as many pixels as
the paper's. Everything else is the chapters' recipe; the CRF is the paper's released LargeFOV
setting (``CRFParams()``), made for images of this size. It costs about six times a chapter's
pair per step, which is why it is a benchmark and not a cell. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable from a clone

from benchmarks.provenance import provenance
from benchmarks.scenes import scenes_at
from deeplab_edu import book
from deeplab_edu.aspp import ASPP_L
from deeplab_edu.crf import CRFParams

# Each pair: the model, its two arms (A, then the one the paper reports better) as model options,
# and the paper's B − A per metric (v1's Table 2 reports only after the CRF).
PAIRS = {
    "v1": ("deeplabv1", {"4x4": {"fc6": "4x4"}, "largefov": {"fc6": "largefov"}},
           {"mIoU + CRF": ("v1_field_of_view", ("DeepLab-CRF-LargeFOV", "mean IoU (%)"),
                           ("DeepLab-CRF", "mean IoU (%)"))}),
    "v2": ("deeplabv2", {"LargeFOV": {"rates": (12,)}, "ASPP-L": {"rates": ASPP_L}},
           {"mIoU": ("v2_aspp", ("ASPP-L", "before CRF"), ("LargeFOV", "before CRF")),
            "mIoU + CRF": ("v2_aspp", ("ASPP-L", "after CRF"), ("LargeFOV", "after CRF"))}),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pair", choices=sorted(PAIRS), default="v1", help="v1: Table 2's fc6 pair; v2: Table 3's")
    parser.add_argument("--backbone", choices=("vgg16", "resnet"), default="vgg16",
                        help="v2's backbone: VGG-16 as in its Table 3, or chapter 08's small ResNet")
    parser.add_argument("--crop", type=int, default=321, help="training crop (8k + 1)")
    parser.add_argument("--size", type=int, default=352, help="side of the painted scenes")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--lr", type=float, default=None,
                        help="base learning rate for both arms (default: the profile's); at 321-px crops the "
                             "laptop rate 0.01 made the 4x4 head diverge (the loss nan at step 68), 0.005 does not")
    parser.add_argument("--iterations", type=int, default=None,
                        help="training steps for both arms (default: the profile's); the poly schedule stretches")
    parser.add_argument("--profile", default="laptop", help="run profile for everything but the crop (smoke: a quick check)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench_field_of_view"))
    parser.add_argument("--record", type=Path, default=None,
                        help="also write the values per seed as JSON here (chapters 07 and 08 read "
                             "benchmarks/results/field_of_view_<pair>_321.json)")
    args = parser.parse_args(argv)
    print(provenance())

    profile, root, val_set = scenes_at(args.size, args.out, args.profile)
    model, arms, paper = PAIRS[args.pair]
    cells = book.score_map_size(args.crop, 8)
    print(f"\n{args.crop}-px crops of {args.size}-px scenes: the score map is {cells} x {cells} at output stride 8; "
          f"a 3 x 3 filter at rate 12 reads {book.valid_tap_fraction(cells, 12):.0%} of its taps inside it")
    on_vgg = model == "deeplabv2" and args.backbone == "vgg16"
    base = book.TrainConfig.from_profile(model, profile, dataset="builtin", data_root=str(root),
                                         **({"backbone": "vgg16"} if on_vgg else {}))
    if args.lr is not None:
        base = dataclasses.replace(base, lr=args.lr)
    if args.iterations is not None:
        base = dataclasses.replace(base, iterations=args.iterations)
    crf = CRFParams(iterations=profile.crf_iterations)
    trials = {}
    for key, options in arms.items():
        config = dataclasses.replace(base, crop_size=args.crop,
                                     out_dir=str(args.out / f"crop{args.crop}_it{base.iterations}" / args.pair
                                                 / args.backbone / key),
                                     model_options={**base.model_options, **options})
        if not trials:
            print(f"started from {Path(config.pretrained).name if config.pretrained else 'random weights'}; "
                  f"base lr {config.lr:g}, {config.iterations} iterations; CRF {crf}")
        trials[key] = book.run_trial(key, config, args.seeds, val_set, crf_params=crf, trimap_widths=(),
                                     device="cpu")
        print(f"{key}: val mIoU per seed {', '.join(f'{v:.3f}' for v in trials[key].values())}, after the CRF "
              f"{', '.join(f'{v:.3f}' for v in trials[key].values(crf=True))}; {trials[key].seconds:.0f} s per run",
              flush=True)
    a, b = arms
    for crf_applied in (False, True):
        metric = "mIoU + CRF" if crf_applied else "mIoU"
        effect = book.compare(metric, a, trials[a].values(crf=crf_applied), b, trials[b].values(crf=crf_applied),
                              paper=book.paper_difference(*paper[metric]) if metric in paper else None)
        print(effect.sentence())
    if args.record is not None:
        args.record.write_text(json.dumps({
            "provenance": provenance(), "pair": args.pair, "backbone": args.backbone if model == "deeplabv2" else "vgg16",
            "crop": args.crop, "size": args.size, "seeds": args.seeds,
            "lr": base.lr, "iterations": base.iterations,
            "mIoU": {key: trials[key].values() for key in arms},
            "mIoU + CRF": {key: trials[key].values(crf=True) for key in arms},
            "seconds_per_run": {key: trials[key].seconds for key in arms}}, indent=1) + "\n")


if __name__ == "__main__":
    main()
