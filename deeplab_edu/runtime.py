"""Seeding and device choice, the two things every runnable cell needs to agree on."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (CPU and every GPU); return a seeded generator of its own."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    return torch.Generator().manual_seed(seed)


def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX-512 BF16 or AMX; ``/proc/cpuinfo``, so off
    Linux ``False``). Elsewhere bf16 autocast is emulated and slower than float32 (``bench_speed.py``)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def default_device() -> torch.device:
    """``DEEPLAB_EDU_DEVICE`` (cpu, cuda, cuda:1, mps), else the first CUDA GPU, else MPS, else the CPU."""
    wanted = os.environ.get("DEEPLAB_EDU_DEVICE", "").strip()
    if wanted:
        try:
            return resolve_device(wanted)
        except ValueError as err:  # the same check as --device, naming where the value came from
            raise ValueError(f"environment variable DEEPLAB_EDU_DEVICE: {err}") from None
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_device(name: str | torch.device | None = None) -> torch.device:
    """``name`` (``None``: ``default_device()``) as a device usable now, else a ``ValueError`` saying why not."""
    if name is None or name == "":
        return default_device()
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device {name!r} is not a device name; expected cpu, cuda, cuda:N or mps") from err
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r}: PyTorch sees no CUDA GPU here (torch {torch.__version__}); "
                             "use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s) are visible")
    elif device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device {name!r}: Apple's MPS is not available here; use --device cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {name!r} is not supported; expected cpu, cuda, cuda:N or mps")
    return device


def describe_device(device: torch.device | None = None) -> str:
    """A one-line human description such as ``cuda:0 (NVIDIA H100, 79.1 GiB)`` or ``cpu (2 threads)``."""
    device = device or default_device()
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        return f"cuda:{index} ({props.name}, {props.total_memory / 2**30:.1f} GiB)"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return str(device)
