"""Memory a command asks for, named by the flag that asked: refused before the work when it exceeds
the machine's (or the GPU's) outright, and a failed allocation reported as one line.

The estimates are rough on purpose (a factor of two either way): they tell a user that
``--crop-size 100000`` wants terabytes; they do not budget a run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from deeplab_edu.errors import UserError

# float32 values held per input pixel through a DeepLab's forward and backward pass at width 1
# (DeepLab-v3 on ResNet-101: about 1.5 GB per 513x513 crop in training).
ACTIVATIONS_PER_PIXEL = 1400
# Parameters of the full-width models (ResNet-101 DeepLab-v3 is the largest, about 60 M).
FULL_WIDTH_PARAMETERS = 60e6
# What the allocators say when a request cannot be met (CPU, CUDA, MPS).
ALLOCATOR_WORDS = ("DefaultCPUAllocator", "not enough memory", "out of memory", "can't allocate",
                   "Cannot allocate memory")


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def machine_bytes(device: str | None = None) -> int | None:
    """Memory of the device a run uses: the GPU's for CUDA, else the machine's RAM (None: unknown)."""
    if device is not None and str(device).startswith("cuda"):
        import torch

        if torch.cuda.is_available():
            index = torch.device(device).index or 0
            return torch.cuda.get_device_properties(index).total_memory
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def training_bytes(batch: int, crop: int, width: float) -> tuple[float, float]:
    """(activations, weights + gradients + momentum) in bytes for one pass of ``batch`` crops."""
    activations = 4.0 * batch * crop ** 2 * (3 + ACTIVATIONS_PER_PIXEL * width)
    weights = 3 * 4.0 * FULL_WIDTH_PARAMETERS * width ** 2
    return activations, weights


def refuse_if_too_large(needed: float, what: str, device: str | None = None) -> None:
    """Raise ``UserError`` naming ``what`` (the flags) when ``needed`` bytes exceed the memory there is."""
    have = machine_bytes(device)
    if have is not None and needed > have:
        where = "the GPU" if device is not None and str(device).startswith("cuda") else "this machine"
        raise UserError(f"{what} needs roughly {human_bytes(needed)} of memory, more than {where} has "
                        f"({human_bytes(have)}); ask for less")


@contextlib.contextmanager
def naming_memory(needed: float, what: str) -> Iterator[None]:
    """Turn a failed allocation inside the block into a ``UserError`` naming ``what``."""
    try:
        yield
    except (MemoryError, RuntimeError) as err:
        if not isinstance(err, MemoryError) and not any(w in str(err) for w in ALLOCATOR_WORDS):
            raise
        have = machine_bytes()
        failed = failed_request(err)
        raise UserError("out of memory" + (f" (a request for {failed} failed)" if failed else "")
                        + f": {what} asks for roughly {human_bytes(needed)}"
                        + (f" (this machine has {human_bytes(have)})" if have else "")
                        + "; ask for less") from err


def failed_request(err: BaseException) -> str | None:
    """The size of the request the allocator refused, as it reported it (CPU: bytes; CUDA, NumPy: GiB)."""
    import re

    text = str(err)
    cpu = re.search(r"allocate (\d+) bytes", text)
    if cpu:
        return human_bytes(int(cpu.group(1)))
    sized = re.search(r"(?:[Tt]ried|[Uu]nable) to allocate ([\d.]+ [KMGTP]?i?B)", text)  # CUDA, NumPy
    return sized.group(1) if sized else None
