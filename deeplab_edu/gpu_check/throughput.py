"""Stage 2, the race against torchvision: DeepLabV3-ResNet-101 (output stride 8, 513², batch 16)
trained and run by the engine's own step and by the loop a user writes around
``torchvision.models.segmentation.deeplabv3_resnet101``: images/s, peak memory, achieved
TFLOP/s (``engine.estimate.count_flops``) and share of the bf16 peak."""

from __future__ import annotations

import dataclasses
import importlib
import time
from collections.abc import Callable
from contextlib import nullcontext

import torch
import torch.nn.functional as F

from deeplab_edu.engine.estimate import count_flops
from deeplab_edu.gpu_check.markdown import fmt
from deeplab_edu.gpu_check.sizes import COMPILE_SECONDS, Sizes
from deeplab_edu.gpu_check.stage import Context, StageResult, free, random_batch, short_error, sync


def _build_ours(sizes: Sizes, classes: int = 21) -> torch.nn.Module:
    from deeplab_edu.models import build_model

    options = {} if sizes.blocks is None else {"blocks": sizes.blocks}
    return build_model("deeplabv3", classes, output_stride=8, width=sizes.width, **options)


def _torchvision_missing() -> str | None:
    """None when torchvision's segmentation models import, else why not (a torchvision built
    for another torch fails with RuntimeError, not ImportError)."""
    try:
        importlib.import_module("torchvision.models.segmentation")
    except Exception as error:
        return short_error(error)
    return None


def _build_torchvision(classes: int = 21) -> torch.nn.Module:
    from torchvision.models.segmentation import deeplabv3_resnet101

    # replace_stride_with_dilation=[False, True, True] inside: output stride 8, like ours.
    return deeplabv3_resnet101(weights=None, weights_backbone=None, num_classes=classes, aux_loss=False)


@dataclasses.dataclass(frozen=True)
class Variant:
    """One measured configuration: whose model, training or inference, and how it runs."""

    label: str
    model: str  # "ours" or "torchvision"
    mode: str  # "train" or "infer"
    amp: bool = True
    channels_last: bool = True
    compile: bool = False
    fused: bool = False  # fused SGD kernel (CUDA); else PyTorch's default (foreach on CUDA)
    cudnn_benchmark: bool = True
    host_sync: bool = False  # read the loss on the host every step, as train()'s NaN check does


VARIANTS: tuple[Variant, ...] = (
    # Cheap eager rows first; the compiled ones run while the stage's budget allows.
    Variant("torchvision fp32", "torchvision", "train", amp=False, channels_last=False),
    Variant("torchvision bf16", "torchvision", "train", channels_last=False),
    Variant("torchvision bf16+CL", "torchvision", "train"),
    # train()'s loop today: isfinite(loss) read on the host every step, cuDNN's heuristics, foreach SGD
    Variant("ours engine loop as is (per-step loss sync, no cudnn.benchmark, foreach SGD)", "ours", "train",
            cudnn_benchmark=False, host_sync=True),
    Variant("ours bf16+CL, foreach SGD", "ours", "train"),
    Variant("ours bf16+CL, fused SGD", "ours", "train", fused=True),
    Variant("torchvision bf16+CL infer", "torchvision", "infer"),
    Variant("ours bf16+CL infer", "ours", "infer"),
    Variant("ours bf16+CL+compile, fused SGD", "ours", "train", compile=True, fused=True),
    Variant("torchvision bf16+CL+compile", "torchvision", "train", compile=True),
    Variant("ours bf16+CL+compile infer", "ours", "infer", compile=True),
    Variant("torchvision bf16+CL+compile infer", "torchvision", "infer", compile=True),
)


def _make_step(variant: Variant, model: torch.nn.Module, device: torch.device) -> Callable:
    """The function one timed call runs: an SGD step, or one batch of inference."""
    amp = variant.amp and device.type == "cuda"
    cl = variant.channels_last and device.type == "cuda"

    if variant.mode == "infer":
        model.eval()
        net = torch.compile(model) if variant.compile else model

        def infer(x, y):
            with torch.inference_mode(), (torch.autocast("cuda", dtype=torch.bfloat16) if amp else nullcontext()):
                out = net(x.contiguous(memory_format=torch.channels_last) if cl else x)
                return out["out"] if isinstance(out, dict) else out
        return infer

    model.train()
    fused = variant.fused and device.type == "cuda"
    if variant.model == "ours":
        from deeplab_edu.schedules import make_optimizer
        from deeplab_edu.train import TrainingScores, forward_backward

        optimizer = make_optimizer(model, 1e-3, 0.9, 1e-4)
        if fused:  # the same two parameter groups and rates, the fused kernel
            groups = [{"params": g["params"], "lr": g["lr"], "name": g["name"]} for g in optimizer.param_groups]
            optimizer = torch.optim.SGD(groups, lr=1e-3, momentum=0.9, weight_decay=1e-4, fused=True)
        net = TrainingScores(model)
        if variant.compile:
            net = torch.compile(net)

        def train_step(x, y):
            optimizer.zero_grad(set_to_none=True)
            loss = forward_backward(net, x, y, "upsampled", "bf16" if amp else "off", cl)
            if variant.host_sync and not torch.isfinite(loss):  # waits for the GPU to finish
                raise FloatingPointError(f"loss is {loss.item()}")
            optimizer.step()
            return loss
        return train_step

    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=1e-4,
                                **({"fused": True} if fused else {}))
    net = torch.compile(model) if variant.compile else model

    def user_step(x, y):  # what a user writes around torchvision's model
        if cl:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cuda", dtype=torch.bfloat16) if amp else nullcontext():
            loss = F.cross_entropy(net(x)["out"], y, ignore_index=255)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.detach()
    return user_step


def measure_variant(variant: Variant, sizes: Sizes, device: torch.device, flops_cache: dict,
                    peak: float | None) -> dict:
    """Images/s, peak memory, TFLOP/s and share of peak of one configuration."""
    torch.manual_seed(0)
    previous_benchmark = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = variant.cudnn_benchmark
    model = step = None
    try:
        model = _build_ours(sizes) if variant.model == "ours" else _build_torchvision()
        model.to(device)
        if variant.channels_last and device.type == "cuda":
            model.to(memory_format=torch.channels_last)
        x, y = random_batch(sizes.batch, sizes.crop, 21, device)
        step = _make_step(variant, model, device)
        key = (variant.model, variant.mode)
        if key not in flops_cache:  # the same model does the same FLOPs in every configuration
            flops_cache[key] = count_flops(_make_step(dataclasses.replace(variant, compile=False), model, device)
                                           if variant.compile else step, x, y)
        t0 = time.perf_counter()
        for _ in range(sizes.warmup):
            step(x, y)
        sync(device)
        warmup_s = time.perf_counter() - t0
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        # One clock around all the steps, no synchronisation between them: the host may queue
        # step k+1 while the GPU runs step k, as in a real loop (a sync per step would hide
        # exactly the cost the host_sync row measures).
        t = time.perf_counter()
        for _ in range(sizes.steps):
            step(x, y)
        sync(device)
        seconds = (time.perf_counter() - t) / sizes.steps
        flops = flops_cache[key]
        tflops = flops / seconds / 1e12 if flops else None
        return {"config": variant.label, "model": variant.model, "mode": variant.mode,
                "images_s": sizes.batch / seconds, "ms_per_step": seconds * 1e3,
                "peak_gib": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None,
                "tflops": tflops, "share_of_peak": tflops / peak if tflops and peak else None,
                "warmup_s": warmup_s, "error": None}
    finally:
        torch.backends.cudnn.benchmark = previous_benchmark
        del model, step
        if variant.compile:
            torch._dynamo.reset()
        free(device)


TARGET_SPEEDUP = 1.3  # the issue's: the engine ≥ 1.3× torchvision's fastest configuration


def compare_throughput(rows: list[dict], on_gpu: bool) -> dict:
    """The engine's best row against torchvision's fastest training row, and (inference) its eager
    bf16 + channels-last row (the issue's); ``*_target_met`` is judged on a GPU only."""
    def best(model: str, mode: str) -> dict | None:
        found = [r for r in rows if r["model"] == model and r["mode"] == mode and r.get("images_s")]
        return max(found, key=lambda r: r["images_s"]) if found else None

    f: dict = {}
    for mode in ("train", "infer"):
        ours, ref = best("ours", mode), best("torchvision", mode)
        if mode == "infer":
            ref = next((r for r in rows if r["config"] == "torchvision bf16+CL infer" and r.get("images_s")), None)
        speedup = ours["images_s"] / ref["images_s"] if ours and ref else None
        f[f"{mode}_ours_best"] = ours and ours["config"]
        f[f"{mode}_ours_images_s"] = ours and ours["images_s"]
        f[f"{mode}_reference"] = ref and ref["config"]
        f[f"{mode}_reference_images_s"] = ref and ref["images_s"]
        f[f"{mode}_speedup"] = speedup
        f[f"{mode}_target_met"] = speedup >= TARGET_SPEEDUP if speedup is not None and on_gpu else None
    return f


def stage_throughput(ctx: Context, result: StageResult) -> None:
    sizes, device = ctx.sizes, ctx.device
    why_not = _torchvision_missing()
    if why_not:
        result.notes.append(f"torchvision is not importable ({why_not}): no reference rows")
    if device.type != "cuda":
        result.notes.append("CPU: tiny model and crop, no bf16, no channels-last, no compile — the rows "
                            "prove the code path; their speeds mean nothing for a GPU")
    result.figures.update(crop=sizes.crop, batch=sizes.batch, output_stride=8, timed_steps=sizes.steps,
                          warmup_steps=sizes.warmup, ours_width=sizes.width)
    flops_cache: dict = {}
    peak = ctx.shared.get("peak")
    measured_on_cpu: dict[tuple, str] = {}
    for variant in VARIANTS:
        row = {"config": variant.label, "model": variant.model, "mode": variant.mode}
        if variant.model == "torchvision" and why_not:
            continue
        same = (variant.model, variant.mode, variant.compile)  # bf16, CL, fused, cudnn: CUDA only
        if device.type != "cuda" and same in measured_on_cpu:
            row["error"] = f"skipped: on a CPU the same computation as {measured_on_cpu[same]!r}"
        elif variant.compile and device.type != "cuda":
            row["error"] = "skipped: compile is measured on CUDA only"
        elif variant.compile and ctx.shared.get("no_compile"):
            row["error"] = "skipped: --no-compile"
        elif not ctx.budget.fits(COMPILE_SECONDS[variant.mode] if variant.compile else 5.0):
            row["error"] = f"skipped: {ctx.budget.left():.0f} s of the stage's budget left"
        else:
            try:
                row = measure_variant(variant, sizes, device, flops_cache, peak)
                measured_on_cpu[same] = variant.label
            except Exception as error:  # one configuration's failure (OOM, compile) is a row
                row["error"] = short_error(error)
            free(device)  # here, once the traceback (which holds the model) is gone
        result.rows.append(row)
        speed = f"{row['images_s']:.1f} img/s" if row.get("images_s") else row.get("error")
        print(f"      {variant.label}: {speed}", flush=True)

    result.figures.update(compare_throughput(result.rows, on_gpu=device.type == "cuda"))
    f = result.figures
    if f["train_speedup"] is not None:
        result.summary = (f"train: ours {f['train_ours_images_s']:.1f} img/s = {f['train_speedup']:.2f}× "
                          f"torchvision's best ({f['train_reference_images_s']:.1f}); infer: "
                          f"{fmt(f['infer_speedup'])}× (target 1.3×)")
    elif f["train_ours_images_s"]:
        result.summary = f"train: ours {f['train_ours_images_s']:.1f} img/s (no torchvision reference)"
    failed = [r for r in result.rows if r.get("error") and not r["error"].startswith("skipped")]
    if failed and not any(r.get("images_s") for r in result.rows):
        raise RuntimeError(f"every configuration failed; first: {failed[0]['error']}")
