"""Multi-grid on a map its rates fit: chapter 09's arm at a larger crop.

    python benchmarks/bench_multigrid.py                      # 257-px crops of 288-px scenes, seeds 0 and 1
    python benchmarks/bench_multigrid.py --crop 129 --size 160   # chapter 09's own size, for comparison

Chapter 09 compares multi-grid (1, 2, 4) with (1, 1, 1) in the last stage of a ResNet with three
units there (v3, Table 3) at the ``laptop`` profile's 129-px crops, where the stage-4 map at output
stride 16 is 9 × 9 and the grid's rate-8 unit reads 17 % of its taps inside it. This script runs
the same pair where that map is 17 × 17 (257-px crops, from a built-in set painted at 288 px so
that a crop is a crop, not padding), everything else as the chapter's, and prints both arms per
seed with the share of taps each rate reads. It costs about four times the chapter's pair per
step, which is why it is a benchmark and not a cell. A measurement, not a test.
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

GRIDS = ((1, 1, 1), (1, 2, 4))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crop", type=int, default=257, help="training crop (16k + 1)")
    parser.add_argument("--size", type=int, default=288, help="side of the painted scenes")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--head-rates", type=int, nargs="+", default=None,
                        help="the ASPP's rates (default: v3's); 1 with --no-pooling leaves a head without a large "
                             "field, like v3's cascaded models (Table 3), so the grid is the field's only source")
    parser.add_argument("--no-pooling", action="store_true", help="drop the ASPP's image-pooling branch")
    parser.add_argument("--profile", default="laptop", help="run profile for everything but the crop (smoke: a quick check)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench_multigrid"))
    parser.add_argument("--record", type=Path, default=None,
                        help="also write the values per seed as JSON here (chapter 09 reads "
                             "benchmarks/results/multigrid_257.json)")
    args = parser.parse_args(argv)
    print(provenance())

    profile, root, val_set = scenes_at(args.size, args.out, args.profile)
    cells = book.score_map_size(args.crop, 16)
    print(f"\n{args.crop}-px crops of {args.size}-px scenes: the stage-4 map is {cells} x {cells} at output stride 16; "
          + ", ".join(f"rate {r} reads {book.valid_tap_fraction(cells, r, 3):.0%} of its taps" for r in (2, 4, 8)))
    base = book.TrainConfig.from_profile("deeplabv3", profile, dataset="builtin", data_root=str(root), output_stride=16)
    trials = {}
    for grid in GRIDS:
        options = {**base.model_options, "blocks": (1, 1, 1, 3), "multi_grid": grid}
        if args.head_rates is not None:
            options["rates"] = tuple(args.head_rates)
        if args.no_pooling:
            options["image_pooling"] = False
        config = book.TrainConfig.from_profile("deeplabv3", profile, dataset="builtin", data_root=str(root),
                                               output_stride=16, model_options=options,
                                               out_dir=str(args.out / f"grid{''.join(map(str, grid))}"))
        config = dataclasses.replace(config, crop_size=args.crop)
        if grid == GRIDS[0]:
            print(f"started from {Path(config.pretrained).name if config.pretrained else 'random weights'}")
        trials[grid] = book.run_trial(f"grid {grid}", config, args.seeds, val_set, trimap_widths=(), device="cpu")
        print(f"grid {grid}: val mIoU per seed {', '.join(f'{v:.3f}' for v in trials[grid].values())}; "
              f"{trials[grid].seconds:.0f} s per run", flush=True)
    # v3 measures the grid without ASPP (Table 3, block4) and under ASPP (6, 12, 18) (Table 5).
    paper = (book.paper_difference("v3_multi_grid", ("(1, 2, 4)", "block4"), ("(1, 1, 1)", "block4"))
             if args.head_rates is not None else
             book.paper_difference("v3_aspp_multi_grid", ("(1, 2, 4), ASPP (6, 12, 18)", "mean IoU (%)"),
                                   ("(1, 1, 1), ASPP (6, 12, 18)", "mean IoU (%)")))
    effect = book.compare("mIoU", f"grid {GRIDS[0]}", trials[GRIDS[0]].values(), f"grid {GRIDS[1]}",
                          trials[GRIDS[1]].values(),
                          paper=paper)
    print("\n" + effect.sentence())
    if args.record is not None:
        args.record.write_text(json.dumps({
            "provenance": provenance(), "crop": args.crop, "size": args.size, "seeds": args.seeds,
            "head_rates": args.head_rates, "image_pooling": not args.no_pooling,
            "mIoU": {str(grid): trials[grid].values() for grid in GRIDS},
            "seconds_per_run": {str(grid): trials[grid].seconds for grid in GRIDS}}, indent=1) + "\n")


if __name__ == "__main__":
    main()
