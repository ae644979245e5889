"""``python -m deeplab_edu gpu-check --out DIR``: one command that measures the book's GPU path.

GPU time is rare and short, so everything the book claims about GPUs is measured by this one
prepared command, run once, in under 8 minutes on one H100-class GPU:

1. **environment** — GPU, memory, torch / CUDA / cuDNN / NCCL versions, the dense bf16 peak
   used for ratios (datasheet, by GPU name) and a measured bf16 matrix-product rate;
2. **throughput** — DeepLabV3-ResNet-101, output stride 8, 513², batch 16: the engine's own
   step (``train.forward_backward``: bf16 autocast, channels-last, SGD, ``torch.compile``)
   against ``torchvision.models.segmentation.deeplabv3_resnet101`` in the loop a user writes
   (fp32; bf16; bf16 + channels-last; + compile), training and inference: images/s, peak
   memory, achieved TFLOP/s (``torch.utils.flop_counter``) and share of the bf16 peak;
3. **crf** — the dense CRF (Krähenbühl & Koltun, NIPS 2011) by the permutohedral lattice in
   PyTorch, 500×375, 21 labels, 10 mean-field iterations, DeepLab v2's (w1, σα, σβ, w2, σγ):
   ms per image at batch 1 and batched, and label agreement with pydensecrf (or the CPU lattice);
4. **training** — full-width v3-ResNet-101 from random weights on the built-in set (generated
   on the spot), crop 321, through the public ``TrainConfig`` / ``train`` API for a time budget,
   then whole-image evaluation (mIoU) and the images/s of the real data path, loader included;
5. **distributed** — ``torchrun --nproc-per-node 1``: NCCL, SyncBatchNorm and DDP around the
   engine's step for a few iterations (gloo and no SyncBatchNorm on a CPU).

Each stage prints a progress line, has its own time budget, and a failing stage is reported
with its error without stopping the others. The result is ``DIR/report.md`` (for people) and
``DIR/report.json`` (schema ``SCHEMA``, checked by :func:`validate_report`).

Without CUDA every stage runs at a tiny size in seconds (so CI keeps the command from rotting)
and the report says the GPU figures are unmeasured. Needs only torch, NumPy and Pillow: tqdm
is replaced by a silent stand-in when absent (:func:`ensure_tqdm`); torchvision, SciPy and
pydensecrf are used when importable and their absence is reported, not fatal.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib
import importlib.machinery
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import types
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F

SCHEMA = "deeplab_edu.gpu_check/1"
STATUSES = ("ok", "failed", "skipped")
REPO_ROOT = Path(__file__).resolve().parent.parent

# Dense (no sparsity) bf16 tensor-core peaks in TFLOP/s from the vendors' datasheets, matched
# against torch.cuda.get_device_name in this order (the more specific name first).
BF16_PEAK_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H200 NVL", 835.0),
    ("GH200", 989.0), ("H100", 989.0), ("H200", 989.0), ("H800", 989.0), ("B200", 2250.0),
    ("A100", 312.0), ("A800", 312.0), ("L40S", 362.0), ("L4", 121.0),
    ("RTX 6000 Ada", 364.0), ("RTX A6000", 155.0), ("RTX 4090", 165.0), ("RTX 3090", 71.0),
)


def bf16_peak_tflops(gpu_name: str) -> float | None:
    """The datasheet's dense bf16 peak for a GPU named like ``NVIDIA H100 80GB HBM3``, or None."""
    return next((peak for key, peak in BF16_PEAK_TFLOPS if key.lower() in gpu_name.lower()), None)


# --------------------------------------------------------------------------- sizes and budgets

@dataclasses.dataclass(frozen=True)
class Sizes:
    """How big each stage runs: ``gpu`` is the issue's setting, ``tiny`` seconds on a CPU."""

    name: str
    # throughput (stage 2): DeepLabV3, output stride 8
    crop: int
    batch: int
    width: float
    blocks: tuple[int, int, int, int] | None
    warmup: int
    steps: int
    # crf (stage 3)
    crf_size: tuple[int, int]  # (height, width)
    crf_labels: int
    crf_iterations: int
    crf_batch: int
    crf_repeats: int
    # training (stage 4)
    train_crop: int
    train_batch: int
    train_seconds: float
    data_train: int
    data_val: int
    data_size: int
    # distributed (stage 5)
    ddp_crop: int
    ddp_batch: int
    ddp_iterations: int
    budgets: dict[str, float]  # seconds per stage


SIZES: dict[str, Sizes] = {
    "gpu": Sizes(name="gpu", crop=513, batch=16, width=1.0, blocks=None, warmup=3, steps=10,
                 crf_size=(375, 500), crf_labels=21, crf_iterations=10, crf_batch=8, crf_repeats=10,
                 train_crop=321, train_batch=16, train_seconds=120.0, data_train=400, data_val=50,
                 data_size=352, ddp_crop=321, ddp_batch=8, ddp_iterations=5,
                 # ≈ 7.5 min at most in all; what a stage leaves unused is not passed on
                 budgets={"environment": 20, "throughput": 230, "crf": 40, "training": 170,
                          "distributed": 60}),
    "tiny": Sizes(name="tiny", crop=33, batch=2, width=0.125, blocks=(1, 1, 1, 1), warmup=1, steps=2,
                  crf_size=(30, 40), crf_labels=21, crf_iterations=3, crf_batch=2, crf_repeats=2,
                  train_crop=33, train_batch=2, train_seconds=2.0, data_train=8, data_val=4,
                  data_size=48, ddp_crop=33, ddp_batch=2, ddp_iterations=2,
                  budgets={"environment": 30, "throughput": 60, "crf": 30, "training": 60,
                           "distributed": 90}),
}

# Seconds torch.compile (inductor, cold cache) is expected to take for a ResNet-101 training step
# and for inference on an H100: a compiled configuration starts only if this much budget is left.
COMPILE_SECONDS = {"train": 75.0, "infer": 40.0}


# --------------------------------------------------------------------------- results

@dataclasses.dataclass
class StageResult:
    """One stage's outcome. ``figures`` are scalars, ``rows`` a table, ``summary`` one line."""

    name: str
    title: str
    status: str = "ok"
    seconds: float = 0.0
    budget_s: float = 0.0
    summary: str = ""
    figures: dict = dataclasses.field(default_factory=dict)
    rows: list = dataclasses.field(default_factory=list)
    notes: list = dataclasses.field(default_factory=list)
    error: str | None = None


class Budget:
    """A stage's clock: what is left of its budget, and whether a task of ``need`` s still fits."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.start = float(seconds), time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float:
        return self.seconds - self.elapsed()

    def fits(self, need: float) -> bool:
        return self.left() >= need


@dataclasses.dataclass
class Context:
    """What every stage is given."""

    out: Path  # the reports and small logs only (a GPU lease brings back a few small files)
    work: Path  # the generated data set, checkpoints, worker files
    sizes: Sizes
    device: torch.device
    budget: Budget
    shared: dict  # results one stage leaves for a later one (environment's peak, the data set)


# --------------------------------------------------------------------------- small helpers

def ensure_tqdm() -> bool:
    """Make ``from tqdm.auto import tqdm`` work where tqdm is not installed (a bare PyTorch
    machine): a silent stand-in with the few methods the package calls. True if it is in use."""
    try:
        importlib.import_module("tqdm.auto")
        return False
    except ImportError:
        pass

    class SilentBar:
        def __init__(self, iterable=None, total=None, **kwargs) -> None:
            self.iterable, self.total, self.n = iterable, total, 0

        def __iter__(self):
            return iter(self.iterable if self.iterable is not None else ())

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.close()

        def update(self, n: int = 1) -> None:
            self.n += n

        def set_postfix(self, *args, **kwargs) -> None:
            pass

        def set_description(self, *args, **kwargs) -> None:
            pass

        def close(self) -> None:
            pass

        @staticmethod
        def write(text: str, *args, **kwargs) -> None:
            print(text)

    package, auto = types.ModuleType("tqdm"), types.ModuleType("tqdm.auto")
    # A spec, because importlib.util.find_spec (torch._dynamo calls it) refuses modules without one.
    package.__spec__ = importlib.machinery.ModuleSpec("tqdm", None, is_package=True)
    auto.__spec__ = importlib.machinery.ModuleSpec("tqdm.auto", None)
    package.tqdm = auto.tqdm = SilentBar
    package.auto = auto
    sys.modules["tqdm"], sys.modules["tqdm.auto"] = package, auto
    return True


def optional_packages() -> dict[str, str]:
    """Version (or why not) of each package gpu-check can use but does not need."""
    found = {}
    for name, module in (("numpy", "numpy"), ("pillow", "PIL"), ("torchvision", "torchvision"),
                         ("scipy", "scipy"), ("tqdm", "tqdm"), ("pydensecrf", "pydensecrf.densecrf"),
                         ("matplotlib", "matplotlib"), ("triton", "triton")):
        try:
            mod = importlib.import_module(module)
            top = sys.modules.get(module.split(".")[0], mod)
            found[name] = str(getattr(top, "__version__", getattr(mod, "__version__", "present")))
        except Exception as error:  # a broken binary extension raises anything
            found[name] = f"absent ({type(error).__name__})"
    return found


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _free(device: torch.device) -> None:
    import gc

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        return f"{value:.{digits}g}" if abs(value) < 10 ** digits else f"{value:.0f}"
    return str(value)


def _short_error(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".strip()
    return text if len(text) <= 400 else text[:400] + " …"


# --------------------------------------------------------------------------- stage 1: environment

def _driver_version() -> str | None:
    """The NVIDIA driver's version from nvidia-smi, or None where it cannot be asked."""
    if not shutil.which("nvidia-smi"):
        return None
    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip().splitlines()[0] if done.returncode == 0 and done.stdout.strip() else None


def stage_environment(ctx: Context, result: StageResult) -> None:
    device = ctx.device
    f = result.figures
    f["python"] = platform.python_version()
    f["torch"] = torch.__version__
    f["cuda_runtime"] = torch.version.cuda
    f["cudnn"] = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    f["cpu_count"] = os.cpu_count()
    f["tqdm_fallback"] = ctx.shared.get("tqdm_fallback", False)
    f["packages"] = optional_packages()
    if device.type != "cuda":
        f["gpu"] = None
        f["device"] = str(device)
        result.notes.append("no CUDA device: every GPU figure of this report is unmeasured; "
                            "the stages ran at the tiny size to prove the code path")
        result.summary = f"CPU only (torch {torch.__version__}); GPU figures unmeasured"
    else:
        props = torch.cuda.get_device_properties(device)
        f["gpu"] = props.name
        f["gpu_memory_gib"] = round(props.total_memory / 2**30, 1)
        f["multiprocessors"] = props.multi_processor_count
        f["compute_capability"] = f"{props.major}.{props.minor}"
        f["gpu_count"] = torch.cuda.device_count()
        try:
            version = torch.cuda.nccl.version()
            f["nccl"] = ".".join(map(str, version)) if isinstance(version, tuple) else str(version)
        except Exception as error:  # NCCL-less builds
            f["nccl"] = f"absent ({type(error).__name__})"
        f["driver"] = _driver_version()
        f["bf16_supported"] = torch.cuda.is_bf16_supported()
    peak = ctx.shared.get("peak_override") or (bf16_peak_tflops(f["gpu"]) if f["gpu"] else None)
    f["bf16_peak_tflops"] = peak
    if f["gpu"] and peak is None:
        result.notes.append(f"no datasheet bf16 peak known for {f['gpu']!r}: shares of peak are "
                            "unmeasured (pass --peak-tflops)")
    # A measured ceiling beside the datasheet's: one large bf16 matrix product, timed.
    n = 8192 if device.type == "cuda" else 256
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    _sync(device)
    reps = 20 if device.type == "cuda" else 2
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    _sync(device)
    rate = 2 * n**3 * reps / (time.perf_counter() - start) / 1e12
    f["matmul_tflops"] = round(rate, 1 if device.type == "cuda" else 4)
    f["matmul"] = f"{n}x{n}x{n} {str(dtype).replace('torch.', '')}, random data"
    del a, b
    _free(device)
    ctx.shared["peak"] = peak
    if f["gpu"]:
        result.summary = (f"{f['gpu']} ({f['gpu_memory_gib']} GiB), torch {torch.__version__}, CUDA "
                          f"{f['cuda_runtime']}, cuDNN {f['cudnn']}; bf16 peak {_fmt(peak)} TFLOP/s "
                          f"(datasheet), matmul {f['matmul_tflops']} TFLOP/s measured")


# --------------------------------------------------------------------------- stage 2: throughput

def _random_batch(batch: int, size: int, classes: int, device: torch.device, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, size, size, generator=g)
    y = torch.randint(0, classes, (batch, size, size), generator=g)
    y[:, :2] = 255  # a band of "void", as VOC's object outlines are
    return x.to(device), y.to(device)


def _build_ours(sizes: Sizes, classes: int = 21) -> torch.nn.Module:
    from deeplab_edu.models import build_model

    options = {} if sizes.blocks is None else {"blocks": sizes.blocks}
    return build_model("deeplabv3", classes, output_stride=8, width=sizes.width, **options)


def _torchvision_missing() -> str | None:
    """None when torchvision's segmentation models import, else why not (a torchvision built
    for another torch fails with RuntimeError, not ImportError)."""
    try:
        importlib.import_module("torchvision.models.segmentation")
        return None
    except Exception as error:
        return _short_error(error)


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
        from deeplab_edu.train import ScoresOnly, forward_backward

        optimizer = make_optimizer(model, 1e-3, 0.9, 1e-4)
        if fused:  # the same two parameter groups and rates, the fused kernel
            groups = [{"params": g["params"], "lr": g["lr"], "name": g["name"]} for g in optimizer.param_groups]
            optimizer = torch.optim.SGD(groups, lr=1e-3, momentum=0.9, weight_decay=1e-4, fused=True)
        net = ScoresOnly(model)
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


def count_flops(step: Callable, x: torch.Tensor, y: torch.Tensor) -> float | None:
    """FLOPs of one call of ``step`` (matrix products and convolutions), or None if uncountable."""
    try:
        from torch.utils.flop_counter import FlopCounterMode

        with FlopCounterMode(display=False) as counter:
            step(x, y)
        return float(counter.get_total_flops())
    except Exception:  # a diagnostic: the timing stands without it
        return None


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
        x, y = _random_batch(sizes.batch, sizes.crop, 21, device)
        step = _make_step(variant, model, device)
        key = (variant.model, variant.mode)
        if key not in flops_cache:  # the same model does the same FLOPs in every configuration
            flops_cache[key] = count_flops(_make_step(dataclasses.replace(variant, compile=False), model, device)
                                           if variant.compile else step, x, y)
        t0 = time.perf_counter()
        for _ in range(sizes.warmup):
            step(x, y)
        _sync(device)
        warmup_s = time.perf_counter() - t0
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        # One clock around all the steps, no synchronisation between them: the host may queue
        # step k+1 while the GPU runs step k, as in a real loop (a sync per step would hide
        # exactly the cost the host_sync row measures).
        t = time.perf_counter()
        for _ in range(sizes.steps):
            step(x, y)
        _sync(device)
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
        _free(device)


TARGET_SPEEDUP = 1.3  # the issue's: the engine ≥ 1.3× torchvision's fastest configuration


def compare_throughput(rows: list[dict], on_gpu: bool) -> dict:
    """The engine's best row against the reference, for training and inference.

    Training's reference is torchvision's fastest training row; inference's is torchvision's
    eager bf16 + channels-last (the issue's). ``*_target_met`` is judged on a GPU only.
    """
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
    have_torchvision = why_not is None
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
        if variant.model == "torchvision" and not have_torchvision:
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
                row["error"] = _short_error(error)
            _free(device)  # here, once the traceback (which holds the model) is gone
        result.rows.append(row)
        speed = f"{row['images_s']:.1f} img/s" if row.get("images_s") else row.get("error")
        print(f"      {variant.label}: {speed}", flush=True)

    result.figures.update(compare_throughput(result.rows, on_gpu=device.type == "cuda"))
    f = result.figures
    if f["train_speedup"] is not None:
        result.summary = (f"train: ours {f['train_ours_images_s']:.1f} img/s = {f['train_speedup']:.2f}× "
                          f"torchvision's best ({f['train_reference_images_s']:.1f}); infer: "
                          f"{_fmt(f['infer_speedup'])}× (target 1.3×)")
    elif f["train_ours_images_s"]:
        result.summary = f"train: ours {f['train_ours_images_s']:.1f} img/s (no torchvision reference)"
    failed = [r for r in result.rows if r.get("error") and not r["error"].startswith("skipped")]
    if failed and not any(r.get("images_s") for r in result.rows):
        raise RuntimeError(f"every configuration failed; first: {failed[0]['error']}")


# --------------------------------------------------------------------------- stage 3: dense CRF

def crf_case(height: int, width: int, labels: int, seed: int = 0):
    """A VOC-sized test scene: (image uint8 (H, W, 3), probs float32 (C, H, W)), seeded.

    ``crf.coarse.ellipse_scene`` where SciPy is importable (what ``benchmarks/bench_crf_fast.py``
    times); without SciPy the same scene's scores are made without the Gaussian blur.
    """
    import numpy as np

    from deeplab_edu.crf.coarse import coarse_scores, ellipse_scene

    try:
        importlib.import_module("scipy.ndimage")
    except ImportError:
        rng = np.random.default_rng(seed)
        ys, xs = np.mgrid[0:height, 0:width]
        label = np.zeros((height, width), np.int64)
        image = np.zeros((height, width, 3)) + rng.uniform(60, 200, 3)
        for _ in range(8):
            cy, cx = rng.uniform(0.15, 0.85, 2) * (height, width)
            ry, rx = rng.uniform(0.08, 0.25, 2) * (height, width)
            inside = ((ys - cy) / ry) ** 2 + ((xs - cx) / rx) ** 2 < 1
            label[inside] = rng.integers(1, labels)
            image[inside] = rng.uniform(0, 255, 3)
        image = np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
        return image, coarse_scores(label, labels, blur=0, seed=seed)
    image, _, probs = ellipse_scene(height, width, labels, ellipses=8, seed=seed)
    return image, probs


def _median_seconds(fn: Callable, repeats: int, device: torch.device,
                    max_seconds: float = math.inf) -> tuple[float, object]:
    """Median time of ``fn()`` over up to ``repeats`` runs after a warm-up; fewer runs when
    they would take longer than ``max_seconds`` (at least one)."""
    out = fn()  # warm-up: kernels, allocations
    _sync(device)
    samples: list[float] = []
    while len(samples) < repeats and (not samples or sum(samples) < max_seconds):
        start = time.perf_counter()
        out = fn()
        _sync(device)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), out


def stage_crf(ctx: Context, result: StageResult) -> None:
    from deeplab_edu.crf import CRFParams, lattice_meanfield

    sizes, device = ctx.sizes, ctx.device
    params = CRFParams(iterations=sizes.crf_iterations)  # DeepLab v2's w1, σα, σβ, w2, σγ
    (h, w), c = sizes.crf_size, sizes.crf_labels
    image, probs = crf_case(h, w, c)
    f = result.figures
    f.update(height=h, width=w, labels=c, iterations=params.iterations, w1=params.w1,
             sigma_alpha=params.sigma_alpha, sigma_beta=params.sigma_beta, w2=params.w2,
             sigma_gamma=params.sigma_gamma, device=str(device))
    image_t = torch.from_numpy(image).to(device)
    probs_t = torch.from_numpy(probs).to(device)
    repeats = sizes.crf_repeats

    def cold():  # both lattices built for the image, as for the first image of a size
        lattice_meanfield._smoothness_lattice.cache_clear()
        return lattice_meanfield.dense_crf_lattice(image_t, probs_t, params)

    def warm():  # the smoothness lattice (positions only) reused, as over a validation set
        return lattice_meanfield.dense_crf_lattice(image_t, probs_t, params)

    share = ctx.budget.left() / 6  # three timings and the reference, with room to spare
    with torch.inference_mode():
        seconds, q = _median_seconds(cold, repeats, device, share)
        f["ms_per_image_batch1_cold"] = seconds * 1e3
        seconds, q = _median_seconds(warm, repeats, device, share)
        f["ms_per_image_batch1"] = seconds * 1e3
        b = sizes.crf_batch
        images = image_t.permute(2, 0, 1)[None].expand(b, -1, -1, -1).contiguous()
        unary = -torch.log(probs_t.clamp(1e-8, 1))[None].expand(b, -1, -1, -1).contiguous()
        seconds, qb = _median_seconds(lambda: lattice_meanfield.lattice_mean_field(unary, images, params),
                                      max(repeats // 2, 1), device, share)
        f["batch"] = b
        f["ms_per_image_batched"] = seconds * 1e3 / b
        labels = q.argmax(0).cpu()
        f["batched_equals_single"] = float((qb[0].argmax(0).cpu() == labels).float().mean())
        try:
            from deeplab_edu.crf import dense_crf_pydensecrf

            importlib.import_module("pydensecrf.densecrf")
            t = time.perf_counter()
            reference = torch.from_numpy(dense_crf_pydensecrf(image, probs, params))
            f["reference"] = "pydensecrf (CPU)"
            f["reference_ms"] = (time.perf_counter() - t) * 1e3
        except ImportError:
            t = time.perf_counter()
            reference = lattice_meanfield.dense_crf_lattice(torch.from_numpy(image), torch.from_numpy(probs), params)
            f["reference"] = "PyTorch lattice on the CPU (pydensecrf is not importable)"
            f["reference_ms"] = (time.perf_counter() - t) * 1e3
            if device.type == "cpu":
                result.notes.append("the reference is the same code on the same device: agreement 1 "
                                    "proves nothing here")
    f["label_agreement"] = float((reference.argmax(0) == labels).float().mean())
    f["unary_agreement"] = float((probs_t.argmax(0).cpu() == labels).float().mean())
    f["target_ms"] = 5.0
    f["target_met"] = f["ms_per_image_batched"] <= 5.0 if device.type == "cuda" else None
    result.summary = (f"{h}×{w}, {c} labels, {params.iterations} its on {device.type}: "
                      f"{f['ms_per_image_batch1']:.1f} ms/image (batch 1, warm), "
                      f"{f['ms_per_image_batched']:.1f} ms/image (batch {b}); "
                      f"labels = {f['reference'].split(' (')[0]} on {f['label_agreement']:.1%}")


# --------------------------------------------------------------------------- stage 4: training

def write_dataset(root: str, train: int, val: int, size: int) -> None:
    """``synthetic.write_builtin`` in a child process (tqdm may be absent there too)."""
    ensure_tqdm()
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
    _free(ctx.device)
    # what is left after evaluation and the loader probe (about 25 s on a GPU) bounds the run
    seconds = min(s.train_seconds, ctx.budget.left() - (35 if s.name == "gpu" else 5))
    iterations = max(int(seconds / per_iteration), 2)
    f["calibration_s_per_iteration"] = per_iteration
    f["iterations"] = iterations
    config = _train_config(ctx, root, ctx.work / "train_run", iterations, None)
    f["num_workers"] = config.num_workers
    run = train(config)
    _write_atomic(ctx.out / "train_log.csv", (Path(config.out_dir) / "log.csv").read_text())
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
    _free(ctx.device)
    result.summary = (f"{iterations} iterations in {f['train_seconds']:.0f} s "
                      f"({_fmt(f['images_s_with_loader'])} img/s with the loader; loader alone "
                      f"{_fmt(f['loader_only_images_s'])}), loss {_fmt(f['loss_first'])} → "
                      f"{_fmt(f['loss_last'])}, val mIoU {f['mIoU']:.3f}")


# --------------------------------------------------------------------------- stage 5: distributed

def ddp_worker(out_json: str, size_name: str) -> int:
    """Run under torchrun: join the process group (NCCL on CUDA, gloo on a CPU) even with one
    process, SyncBatchNorm on CUDA, DDP around the engine's step; write what happened as JSON.

    ``train`` treats a world of one as not distributed; this worker forces the group and DDP,
    so one GPU exercises the code path an 8-GPU run takes.
    """
    ensure_tqdm()
    import torch.distributed as dist

    from deeplab_edu import distributed as ddp
    from deeplab_edu.schedules import make_optimizer
    from deeplab_edu.train import ScoresOnly, forward_backward

    s = SIZES[size_name]
    env = ddp.env_from_torchrun()
    cuda = torch.cuda.is_available()
    device = torch.device("cuda", env.local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    backend = "nccl" if cuda else "gloo"
    dist.init_process_group(backend, rank=env.rank, world_size=env.world_size,
                            timeout=datetime.timedelta(minutes=5))
    report: dict = {"backend": dist.get_backend(), "world_size": dist.get_world_size(), "device": str(device)}
    try:
        torch.manual_seed(0)
        options = {} if s.blocks is None else {"blocks": s.blocks}
        from deeplab_edu.models import build_model

        model = build_model("deeplabv3", 21, width=s.width, **options)
        if cuda:
            model = ddp.convert_sync_batchnorm(model, device)
        report["syncbn_layers"] = sum(isinstance(m, torch.nn.SyncBatchNorm) for m in model.modules())
        model.to(device)
        if cuda:
            model.to(memory_format=torch.channels_last)
        optimizer = make_optimizer(model, 1e-3, 0.9, 1e-4)
        net = torch.nn.parallel.DistributedDataParallel(ScoresOnly(model), device_ids=[device.index] if cuda else None)
        x, y = _random_batch(s.ddp_batch, s.ddp_crop, 21, device, seed=env.rank)
        losses, times = [], []
        for _ in range(s.ddp_iterations):
            t = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            loss = forward_backward(net, x, y, "upsampled", "bf16" if cuda else "off", cuda)
            optimizer.step()
            losses.append(float(loss))
            _sync(device)
            times.append(time.perf_counter() - t)
        value = torch.full((), float(env.rank + 1), device=device)
        dist.all_reduce(value)
        expected = env.world_size * (env.world_size + 1) / 2
        report.update(losses=losses, all_reduce_ok=bool(abs(float(value) - expected) < 1e-6),
                      images_s=s.ddp_batch * env.world_size / statistics.median(times[1:] or times),
                      finite=all(math.isfinite(v) for v in losses))
    finally:
        dist.destroy_process_group()
    if env.is_main:
        Path(out_json).write_text(json.dumps(report))
    return 0


def stage_distributed(ctx: Context, result: StageResult) -> None:
    out_json = ctx.work / "ddp_worker.json"
    out_json.unlink(missing_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    if ctx.device.type != "cuda":
        env["CUDA_VISIBLE_DEVICES"] = ""  # the CPU path, even where a GPU was not chosen
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "1",
               "-m", "deeplab_edu.gpu_check", "--ddp-worker", str(out_json), "--size", ctx.sizes.name]
    result.figures["command"] = "torchrun --standalone --nproc-per-node 1 -m deeplab_edu.gpu_check --ddp-worker …"
    t = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                              timeout=max(ctx.budget.left(), 5))
    except subprocess.TimeoutExpired as error:
        raise TimeoutError(f"torchrun did not finish within the stage's budget ({ctx.budget.seconds:.0f} s)") from error
    result.figures["wall_seconds"] = time.perf_counter() - t
    (ctx.out / "ddp_worker.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0 or not out_json.is_file():
        tail = (done.stdout + done.stderr).strip().splitlines()[-6:]
        raise RuntimeError(f"torchrun exited with {done.returncode}: " + " | ".join(tail))
    report = json.loads(out_json.read_text())
    result.figures.update(report)
    if ctx.device.type != "cuda":
        result.notes.append("CPU: gloo instead of NCCL, and no SyncBatchNorm (PyTorch implements it "
                            "for CUDA only); NCCL and SyncBatchNorm are unmeasured")
    else:
        result.notes.append("with one process SyncBatchNorm normalises like BatchNorm (PyTorch syncs "
                            "only when the world is larger than 1): this proves conversion, NCCL and "
                            "DDP, not the cross-GPU statistics")
    if not (report.get("finite") and report.get("all_reduce_ok")):
        raise RuntimeError(f"DDP ran but the check failed: finite losses {report.get('finite')}, "
                           f"all_reduce correct {report.get('all_reduce_ok')}")
    result.summary = (f"{report['backend']}, world {report['world_size']}, {report['syncbn_layers']} "
                      f"SyncBatchNorm layers, {len(report['losses'])} iterations, "
                      f"{report['images_s']:.1f} img/s, all_reduce correct")


# --------------------------------------------------------------------------- the command

STAGES: dict[str, tuple[str, Callable[[Context, StageResult], None]]] = {
    "environment": ("Environment", stage_environment),
    "throughput": ("Training and inference throughput", stage_throughput),
    "crf": ("Dense CRF on the GPU", stage_crf),
    "training": ("A short full-width training that learns", stage_training),
    "distributed": ("Multi-GPU path (torchrun, NCCL, SyncBatchNorm)", stage_distributed),
}


def run_stage(name: str, ctx: Context, index: int, total: int) -> StageResult:
    """Run one stage within its budget; an exception becomes a ``failed`` result, never a stop."""
    title, fn = STAGES[name]
    budget = ctx.sizes.budgets[name]
    result = StageResult(name=name, title=title, budget_s=budget)
    ctx.budget = Budget(budget)
    print(f"[{index}/{total}] {name}: {title} (budget {budget:.0f} s) ...", flush=True)
    try:
        fn(ctx, result)
    except Exception as error:
        result.status = "failed"
        result.error = _short_error(error)
        result.notes.append("traceback: " + " | ".join(traceback.format_exc().strip().splitlines()[-4:]))
        _free(ctx.device)
    result.seconds = ctx.budget.elapsed()
    if result.seconds > budget:
        result.notes.append(f"over its budget: {result.seconds:.0f} s of {budget:.0f} s")
    line = result.summary if result.status == "ok" else result.error
    print(f"[{index}/{total}] {name}: {result.status} in {result.seconds:.1f} s — {line}", flush=True)
    return result


def _jsonable(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def build_report(results: list[StageResult], sizes: Sizes, device: torch.device, seconds: float) -> dict:
    measured = device.type == "cuda"
    env = next((r.figures for r in results if r.name == "environment"), {})
    return _jsonable({
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "size": sizes.name,
        "device": str(device),
        "gpu": env.get("gpu") if measured else None,
        "gpu_measured": measured,
        "note": None if measured else "no CUDA device: GPU figures are unmeasured (stages ran at the tiny size)",
        "total_seconds": seconds,
        "stages": [dataclasses.asdict(r) for r in results],
    })


def validate_report(report: dict) -> None:
    """Raise ``ValueError`` naming the first field of ``report`` that breaks the schema."""
    top = {"schema": str, "created": str, "size": str, "device": str, "gpu_measured": bool,
           "total_seconds": (int, float), "stages": list}
    for key, kind in top.items():
        if not isinstance(report.get(key), kind):
            raise ValueError(f"report[{key!r}] must be {kind}, got {report.get(key)!r}")
    if report["schema"] != SCHEMA:
        raise ValueError(f"report['schema'] must be {SCHEMA!r}, got {report['schema']!r}")
    if report["size"] not in SIZES:
        raise ValueError(f"report['size'] must be one of {sorted(SIZES)}, got {report['size']!r}")
    stage = {"name": str, "title": str, "status": str, "seconds": (int, float), "budget_s": (int, float),
             "summary": str, "figures": dict, "rows": list, "notes": list}
    for i, s in enumerate(report["stages"]):
        for key, kind in stage.items():
            if not isinstance(s.get(key), kind):
                raise ValueError(f"report['stages'][{i}][{key!r}] must be {kind}, got {s.get(key)!r}")
        if s["name"] not in STAGES:
            raise ValueError(f"report['stages'][{i}]['name'] {s['name']!r} is not one of {list(STAGES)}")
        if s["status"] not in STATUSES:
            raise ValueError(f"report['stages'][{i}]['status'] must be one of {STATUSES}, got {s['status']!r}")
        if (s["status"] == "failed") != isinstance(s.get("error"), str):
            raise ValueError(f"report['stages'][{i}]: a failed stage has an error string, others none")


ROW_COLUMNS = (("config", "configuration"), ("images_s", "images/s"), ("ms_per_step", "ms/step"),
               ("peak_gib", "peak GiB"), ("tflops", "TFLOP/s"), ("share_of_peak", "of bf16 peak"),
               ("warmup_s", "warm-up s"), ("error", "note"))


def format_markdown(report: dict) -> str:
    """``report.md``: a summary table, then each stage's figures, table and notes."""
    lines = ["# deeplab_edu gpu-check", ""]
    env = next((s["figures"] for s in report["stages"] if s["name"] == "environment"), {})
    machine = (f"{report['gpu']}, torch {env.get('torch')}, CUDA {env.get('cuda_runtime')}, "
               f"cuDNN {env.get('cudnn')}" if report["gpu_measured"] else f"{report['device']} (no CUDA device)")
    lines += [f"- machine: {machine}", f"- created: {report['created']}",
              f"- size: {report['size']}; total {report['total_seconds']:.0f} s", ""]
    if not report["gpu_measured"]:
        lines += ["> **GPU figures are unmeasured.** No CUDA device was visible, so every stage ran at the "
                  "tiny size to prove the code path; the speeds below are a CPU's and mean nothing for a GPU.", ""]
    lines += ["| # | stage | status | seconds | budget | result |", "|---|---|---|---|---|---|"]
    for i, s in enumerate(report["stages"], 1):
        text = s["summary"] if s["status"] == "ok" else (s.get("error") or "")
        lines.append(f"| {i} | {s['title']} | {s['status']} | {s['seconds']:.1f} | {s['budget_s']:.0f} | "
                     f"{text.replace('|', '/')} |")
    for i, s in enumerate(report["stages"], 1):
        lines += ["", f"## {i}. {s['title']} — {s['status']}", ""]
        if s.get("error"):
            lines += [f"**Error:** `{s['error']}`", ""]
        for key, value in s["figures"].items():
            if isinstance(value, dict):
                value = ", ".join(f"{k} {v}" for k, v in value.items())
            lines.append(f"- {key}: {_fmt(value, 4)}")
        if s["rows"]:
            lines += ["", "| " + " | ".join(h for _, h in ROW_COLUMNS) + " |",
                      "|" + "---|" * len(ROW_COLUMNS)]
            for row in s["rows"]:
                cells = []
                for key, _ in ROW_COLUMNS:
                    v = row.get(key)
                    if key == "share_of_peak" and v is not None:
                        cells.append(f"{v:.1%}")
                    else:
                        cells.append(_fmt(v, 4).replace("|", "/"))
                lines.append("| " + " | ".join(cells) + " |")
        if s["notes"]:
            lines += [""] + [f"- note: {n}" for n in s["notes"]]
    return "\n".join(lines) + "\n"


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_reports(out: Path, results: list[StageResult], sizes: Sizes, device: torch.device,
                  seconds: float) -> dict:
    """Write ``report.json`` and ``report.md`` (atomically) and return the report.

    The JSON is written first and on its own, so a bug in the Markdown cannot cost the figures.
    """
    report = build_report(results, sizes, device, seconds)
    _write_atomic(out / "report.json", json.dumps(report, indent=2) + "\n")
    try:
        text = format_markdown(report)
    except Exception as error:  # the figures are safe in report.json
        text = f"# deeplab_edu gpu-check\n\nreport.md could not be formatted ({_short_error(error)}); see report.json.\n"
    _write_atomic(out / "report.md", text)
    return report


def parse_stages(text: str) -> list[str]:
    names = list(STAGES)
    chosen = []
    for item in (t.strip() for t in text.split(",") if t.strip()):
        name = names[int(item) - 1] if item.isdigit() and 1 <= int(item) <= len(names) else item
        if name not in STAGES:
            raise ValueError(f"unknown stage {item!r}; choose from {names} or 1..{len(names)}")
        chosen.append(name)
    return chosen


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Measure the GPU path end to end in one run (≤ 8 min on an H100): environment, "
                          "training/inference throughput vs torchvision, GPU dense CRF, a short training "
                          "that learns, torchrun + NCCL + SyncBatchNorm. Writes OUT/report.md and report.json. "
                          "Without CUDA every stage runs at a tiny size and the report says so.")
    parser.add_argument("--out", required=True,
                        help="folder for report.md, report.json, train_log.csv and ddp_worker.log")
    parser.add_argument("--work", default=None,
                        help="folder for the generated data set, checkpoints and worker files "
                             "(default: a temporary folder, deleted at the end)")
    parser.add_argument("--stages", default=",".join(STAGES),
                        help=f"comma-separated stages (names or 1..{len(STAGES)}); default: all")
    parser.add_argument("--size", choices=["auto", *SIZES], default="auto",
                        help="gpu: the issue's sizes; tiny: seconds on a CPU; auto: gpu when CUDA is visible")
    parser.add_argument("--device", default=None, help="cuda, cuda:1 or cpu (default: cuda when available)")
    parser.add_argument("--train-seconds", type=float, default=None,
                        help="stage 4's training time (default: 150 at the gpu size)")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows of stage 2")
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="dense bf16 peak of this GPU, when its name is not in the table")


def run(args: argparse.Namespace) -> int:
    """Run the chosen stages, write the reports; 0 when every stage is ``ok``, else 1."""
    fallback = ensure_tqdm()
    stages = parse_stages(args.stages)
    if not stages:
        raise SystemExit(f"--stages names no stage; choose from {list(STAGES)}")
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device} but PyTorch sees no CUDA device")
    size = args.size if args.size != "auto" else ("gpu" if device.type == "cuda" else "tiny")
    sizes = SIZES[size]
    if args.train_seconds is not None:
        if not args.train_seconds > 0:
            raise SystemExit(f"--train-seconds must be > 0, got {args.train_seconds}")
        sizes = dataclasses.replace(sizes, train_seconds=float(args.train_seconds),
                                    budgets={**sizes.budgets,
                                             "training": sizes.budgets["training"] - sizes.train_seconds
                                             + args.train_seconds})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="deeplab_edu_gpu_check_"))
    work.mkdir(parents=True, exist_ok=True)
    ctx = Context(out=out, work=work, sizes=sizes, device=device, budget=Budget(0),
                  shared={"tqdm_fallback": fallback, "no_compile": args.no_compile,
                          "peak_override": args.peak_tflops})
    print(f"gpu-check: {device} ({'GPU figures' if device.type == 'cuda' else 'CPU: tiny sizes, GPU figures unmeasured'}), "
          f"size {size}, stages {', '.join(stages)}; writing {out}", flush=True)
    if "environment" not in stages:  # the peak is needed for the ratios
        ctx.shared["peak"] = args.peak_tflops or (bf16_peak_tflops(torch.cuda.get_device_name(device))
                                                  if device.type == "cuda" else None)
    if "training" in stages and sizes.name != "tiny":
        try:
            start_dataset(ctx)  # in the background: it overlaps stages 2 and 3
        except Exception as error:  # stage 4 tries again, in the foreground, and reports
            print(f"gpu-check: generating the built-in set in the background failed: {_short_error(error)}")
            ctx.shared.pop("data_root", None)
    start = time.perf_counter()
    results: list[StageResult] = []
    try:
        for i, name in enumerate(stages, 1):
            results.append(run_stage(name, ctx, i, len(stages)))
            # after every stage, so a run killed at its time limit still leaves what it measured
            report = write_reports(out, results, sizes, device, time.perf_counter() - start)
    finally:
        process = ctx.shared.get("data_process")
        if process is not None and process.is_alive():
            process.terminate()
            process.join(10)
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    validate_report(report)
    failed = [r.name for r in results if r.status == "failed"]
    print(f"gpu-check: {len(results) - len(failed)}/{len(results)} stages ok"
          + (f", failed: {', '.join(failed)}" if failed else "")
          + f"; {report['total_seconds']:.0f} s; report: {out / 'report.md'}", flush=True)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """``python -m deeplab_edu.gpu_check``: the command alone, and the torchrun worker of stage 5."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--ddp-worker"]:
        worker = argparse.ArgumentParser(prog="deeplab_edu.gpu_check --ddp-worker")
        worker.add_argument("--ddp-worker", required=True)
        worker.add_argument("--size", choices=list(SIZES), required=True)
        a = worker.parse_args(argv)
        return ddp_worker(a.ddp_worker, a.size)
    parser = argparse.ArgumentParser(prog="python -m deeplab_edu gpu-check")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
