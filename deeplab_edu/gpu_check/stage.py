"""What every stage is given and returns: its result, its clock, its context, a few helpers."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import torch

from deeplab_edu.gpu_check.sizes import Sizes


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


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def free(device: torch.device) -> None:
    import gc

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def short_error(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".strip()
    return text if len(text) <= 400 else text[:400] + " …"


def random_batch(batch: int, size: int, classes: int, device: torch.device, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, size, size, generator=g)
    y = torch.randint(0, classes, (batch, size, size), generator=g)
    y[:, :2] = 255  # a band of "void", as VOC's object outlines are
    return x.to(device), y.to(device)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all: a run killed mid-write leaves the old file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
