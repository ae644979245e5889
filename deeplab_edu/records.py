"""Benchmark records a chapter reads: an arm too costly for a cell, measured once and committed.

Some arms that test a chapter's explanation cost several times the chapter (the paper's crop, a
pretraining of its own), so a script under ``benchmarks/`` runs them and writes a JSON record to
``benchmarks/results/``. Every record says where it was measured (``provenance``: command, machine,
date; ``bench_learning``'s: ``machine``), and a pair's record holds, per metric, one value per seed
for each arm, ``{"mIoU": {arm: [seed 0, seed 1, …]}}``. A chapter reads it with
``recorded_effect``, which sets two arms against each other as ``experiments.compare`` does for the
chapter's own runs; where the record is not in the repository the effect is ``None`` and the chapter
says so, rather than failing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from deeplab_edu.experiments import Effect, compare
from deeplab_edu.paths import REPO_ROOT

RESULTS = REPO_ROOT / "benchmarks" / "results"


def read_record(name: str, results: Path = RESULTS) -> dict[str, Any] | None:
    """The record ``results/name`` with one line saying where and how it was measured, or ``None``
    (and a line naming the missing file) when it is not there."""
    path = Path(results) / name
    if not path.is_file():
        print(f"no benchmark record {path}: the benchmark named above makes it")
        return None
    try:
        saved = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"benchmark record {path} is not valid JSON ({err}); run its benchmark again") from err
    if not isinstance(saved, dict) or not ({"provenance", "machine"} & set(saved)):
        raise ValueError(f"benchmark record {path} says nowhere where it was measured ('provenance' or "
                         "'machine'): expected a JSON object written by a script under benchmarks/")
    return saved


def describe_record(name: str, saved: dict[str, Any]) -> str:
    """``name``: crop (and scene size), learning rate and seeds where the record has them; its machine line."""
    parts = [f"{saved['crop']}-px crops" + (f" of {saved['size']}-px scenes" if "size" in saved else "")
             if "crop" in saved else None,
             f"base lr {saved['lr']:g}" if "lr" in saved else None,
             f"seeds {saved['seeds']}" if "seeds" in saved else None]
    machine = next((line for line in saved.get("provenance", "").splitlines() if line.startswith("machine:")),
                   f"machine: {saved['machine']}" if "machine" in saved else "")
    return f"{name}: {', '.join(p for p in parts if p)}; {machine}".rstrip("; ")


def recorded_effect(name: str, metric: str, a: tuple[str, str], b: tuple[str, str], paper: object | None = None,
                    results: Path = RESULTS, describe: bool = True) -> Effect | None:
    """B over A on ``metric`` from the record ``name``: ``a`` and ``b`` are (the arm's key in the record,
    its label, which may name record fields: ``"LargeFOV, {crop} px"``). Prints the record's line
    (unless ``describe`` is False: a second pair from a record already described) and the effect's
    sentence; ``None`` where the record is missing."""
    saved = read_record(name, results)
    if saved is None:
        return None
    if metric not in saved:
        held = sorted(k for k in saved if k != "provenance")
        raise KeyError(f"benchmark record {name} has no {metric!r}; it holds {held}")
    values = saved[metric]
    for key, _ in (a, b):
        if key not in values:
            raise KeyError(f"benchmark record {name} has no arm {key!r} under {metric!r}; its arms: {sorted(values)}")
    effect = compare(metric, a[1].format(**saved), values[a[0]], b[1].format(**saved), values[b[0]], paper=paper)
    print(f"{describe_record(name, saved)}\n  {effect.sentence()}" if describe else f"  {effect.sentence()}")
    return effect
