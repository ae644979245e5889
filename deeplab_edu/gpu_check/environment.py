"""Stage 1, the environment: GPU, memory, versions, the datasheet peak and a measured matmul rate."""

from __future__ import annotations

import importlib
import os
import platform
import shutil
import subprocess
import sys
import time

import torch

from deeplab_edu import progress
from deeplab_edu.gpu_check.datasheet import bf16_peak_tflops
from deeplab_edu.gpu_check.markdown import fmt
from deeplab_edu.gpu_check.stage import Context, StageResult, free, sync


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
    f["progress_bars"] = "tqdm" if progress.AVAILABLE else "none (tqdm absent)"
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
    sync(device)
    reps = 20 if device.type == "cuda" else 2
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    rate = 2 * n**3 * reps / (time.perf_counter() - start) / 1e12
    f["matmul_tflops"] = round(rate, 1 if device.type == "cuda" else 4)
    f["matmul"] = f"{n}x{n}x{n} {str(dtype).replace('torch.', '')}, random data"
    del a, b
    free(device)
    ctx.shared["peak"] = peak
    if f["gpu"]:
        result.summary = (f"{f['gpu']} ({f['gpu_memory_gib']} GiB), torch {torch.__version__}, CUDA "
                          f"{f['cuda_runtime']}, cuDNN {f['cudnn']}; bf16 peak {fmt(peak)} TFLOP/s "
                          f"(datasheet), matmul {f['matmul_tflops']} TFLOP/s measured")
