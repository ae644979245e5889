"""Stage 4, training: full-width v3-ResNet-101 from random weights (on purpose: the stage measures
speed and that the loss falls, not ImageNet transfer) on the built-in set, through the public
``TrainConfig`` / ``train`` API for a time budget, then whole-image evaluation."""

from __future__ import annotations

import dataclasses
import os
import statistics
import time
from pathlib import Path

import torch

from deeplab_edu.gpu_check.markdown import fmt
from deeplab_edu.gpu_check.stage import Context, StageResult, free, write_atomic


def write_dataset(root: str, train: int, val: int, size: int) -> None:
    """``synthetic.write_builtin``, run in a child process on a GPU machine."""
    from deeplab_edu.datasets.synthetic import write_builtin

    write_builtin(root, train=train, val=val, size=size, progress=False)


def start_dataset(ctx: Context) -> None:
    """Generate the built-in set for stages 4 and 5: in the background on a GPU machine (it
    overlaps the GPU-bound stages 2 and 3), at once for the tiny size."""
    if ctx.shared.get("data_root"):
        return
    root = ctx.work / "builtin"
    ctx.shared["data_root"] = str(root)
    if (root / "builtin.json").is_file():
        return
    s = ctx.sizes
    if s.name == "tiny":
        write_dataset(str(root), s.data_train, s.data_val, s.data_size)
        return
    import multiprocessing

    process = multiprocessing.get_context("spawn").Process(
        target=write_dataset, args=(str(root), s.data_train, s.data_val, s.data_size), daemon=True)
    process.start()
    ctx.shared["data_process"] = process


def wait_for_dataset(ctx: Context) -> Path:
    process = ctx.shared.get("data_process")
    if process is not None:
        process.join(timeout=max(ctx.budget.left() - 60, 1))
        if process.is_alive():
            raise TimeoutError("the built-in set is still being generated; no time left to train on it")
        if process.exitcode != 0:
            raise RuntimeError(f"generating the built-in set failed (exit code {process.exitcode})")
        ctx.shared["data_process"] = None
    root = Path(ctx.shared["data_root"])
    if not (root / "builtin.json").is_file():
        raise FileNotFoundError(f"{root / 'builtin.json'} is missing: the built-in set was not written")
    return root


def _train_config(ctx: Context, root: Path, out_dir: Path, iterations: int, stop_at: int | None):
    from deeplab_edu.train import TrainConfig

    s = ctx.sizes
    options = {} if s.blocks is None else {"blocks": s.blocks}
    workers = min(8, max((os.cpu_count() or 1) - 2, 0)) if ctx.device.type == "cuda" else 0
    return TrainConfig(model="deeplabv3", width=s.width, model_options=options, pretrained=None,
                       dataset="builtin", data_root=str(root), crop_size=s.train_crop,
                       batch_size=s.train_batch, iterations=iterations, stop_at=stop_at,
                       num_workers=workers, device=str(ctx.device), out_dir=str(out_dir),
                       log_every=5 if s.name == "gpu" else 1, checkpoint_every=iterations,
                       progress=False, seed=0)


def loader_images_per_s(config, seconds: float) -> float:
    """How fast the training data path alone delivers crops (no model): the GPU's supply line."""
    from deeplab_edu import distributed as ddp
    from deeplab_edu.datasets import TrainTransform
    from deeplab_edu.train import DrawSampler, SeededAugmentation, open_dataset

    transform = TrainTransform(config.crop_size, scale=tuple(config.scale))
    dataset = open_dataset(config, "train", transform)
    steps = 10_000
    loader = torch.utils.data.DataLoader(
        SeededAugmentation(dataset, transform, config.seed), batch_size=config.batch_size,
        sampler=DrawSampler(len(dataset), config.seed, 0, steps, config.batch_size, ddp.DistEnv()),
        num_workers=config.num_workers, pin_memory=config.device.startswith("cuda"))
    batches = iter(loader)
    next(batches)  # worker start-up is not throughput
    start, images = time.perf_counter(), 0
    for images_batch, _ in batches:
        images += images_batch.shape[0]
        if time.perf_counter() - start >= seconds:
            break
    rate = images / (time.perf_counter() - start)
    del batches, loader
    return rate


def stage_training(ctx: Context, result: StageResult) -> None:
    from deeplab_edu.datasets import build_dataset
    from deeplab_edu.evaluate import evaluate
    from deeplab_edu.train import train

    s, f = ctx.sizes, result.figures
    start_dataset(ctx)
    root = wait_for_dataset(ctx)
    f.update(model="deeplabv3", backbone="resnet101", width=s.width, output_stride=16, pretrained=None,
             crop=s.train_crop, batch=s.train_batch, train_images=s.data_train, val_images=s.data_val,
             image_size=s.data_size)
    # Calibrate: a few iterations give the seconds per iteration, so the real run's poly schedule
    # can end exactly at the budget (TrainConfig has no time limit; iterations set the schedule).
    calib_steps = 12 if s.name == "gpu" else 2
    calib = train(_train_config(ctx, root, ctx.work / "train_calibration", 100_000, calib_steps))
    rows = calib.history[-2:] if len(calib.history) > 1 else calib.history
    per_iteration = statistics.mean(s.train_batch / r["images_per_s"] for r in rows)
    del calib
    free(ctx.device)
    # what is left after evaluation and the loader probe (about 25 s on a GPU) bounds the run
    seconds = min(s.train_seconds, ctx.budget.left() - (35 if s.name == "gpu" else 5))
    iterations = max(int(seconds / per_iteration), 2)
    f["calibration_s_per_iteration"] = per_iteration
    f["iterations"] = iterations
    config = _train_config(ctx, root, ctx.work / "train_run", iterations, None)
    f["num_workers"] = config.num_workers
    run = train(config)
    write_atomic(ctx.out / "train_log.csv", (Path(config.out_dir) / "log.csv").read_text())
    history = run.history
    f["train_seconds"] = run.seconds
    f["loss_first"] = history[0]["loss"] if history else None
    f["loss_last"] = history[-1]["loss"] if history else None
    steady = history[1:] or history
    f["images_s_with_loader"] = statistics.mean(r["images_per_s"] for r in steady) if steady else None
    f["loader_only_images_s"] = loader_images_per_s(config, 8.0 if s.name == "gpu" else 1.0)
    if config.num_workers:  # train()'s default is 0 workers: the loader then runs between steps
        f["loader_only_images_s_0_workers"] = loader_images_per_s(
            dataclasses.replace(config, num_workers=0), 4.0)
    if f["images_s_with_loader"] and f["loader_only_images_s"] < 1.2 * f["images_s_with_loader"]:
        result.notes.append(f"the data loader ({f['loader_only_images_s']:.0f} img/s alone, "
                            f"{config.num_workers} workers) is within 20 % of the training rate: it "
                            "likely starves the GPU")
    t = time.perf_counter()
    val = build_dataset("builtin", "val", root=root)
    scores = evaluate(run.model, val, trimap_widths=(), device=config.device, progress=False).summary()
    f["eval_seconds"] = time.perf_counter() - t
    f["eval"] = "whole images, scale 1, no flip"
    f["mIoU"] = scores["mIoU"]
    f["pixel_acc"] = scores["pixel_acc"]
    f["seconds_to_mIoU"] = run.seconds + f["eval_seconds"]
    del run
    free(ctx.device)
    result.summary = (f"{iterations} iterations in {f['train_seconds']:.0f} s "
                      f"({fmt(f['images_s_with_loader'])} img/s with the loader; loader alone "
                      f"{fmt(f['loader_only_images_s'])}), loss {fmt(f['loss_first'])} → "
                      f"{fmt(f['loss_last'])}, val mIoU {f['mIoU']:.3f}")
