"""The run directory's one rule: nothing in it is replaced without being asked.

Training into a folder that holds a checkpoint **resumes** it when the recipe
(``TrainConfig.recipe``) is the saved one, **refuses** naming every differing field when it is
not (the optimiser's state belongs to the old recipe), and **starts over** only with
``overwrite=True``. A ``log.csv`` or ``val.csv`` without a checkpoint is refused too: a new run
would replace rows of another.

A larger ``iterations`` extends the run: from the checkpoint's step ``it`` the poly rate is
``base·(1 − it/N_new)^power`` (v2 §4.1), reaching 0 at the new last step. A checkpoint already
past ``iterations`` is refused.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from deeplab_edu.engine.config import TrainConfig
from deeplab_edu.errors import UserError


def saved_config(state: dict) -> TrainConfig | None:
    """The ``TrainConfig`` a checkpoint was written with (resolved), or None if it has none."""
    text = state.get("extra", {}).get("config")
    if not text:
        return None
    values = json.loads(text)
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in values.items() if k in known}).resolved()


def recipe_differences(saved: TrainConfig, wanted: TrainConfig) -> list[str]:
    """``["lr: saved 0.007, now 0.01", ...]`` for every recipe field that differs."""
    a, b = saved.recipe(), wanted.recipe()
    return [f"{key}: saved {a.get(key)!r}, now {b.get(key)!r}" for key in sorted(set(a) | set(b))
            if a.get(key) != b.get(key)]


def data_identity(config: TrainConfig) -> dict | None:
    """What identifies the built-in set a run reads (its ``builtin.json`` without the class list): a set
    painted again by a newer book is other data under the same folder name."""
    if config.dataset not in ("builtin", "sample") or config.data_root is None:
        return None
    try:
        meta = json.loads((Path(config.data_root) / "builtin.json").read_text())
    except (OSError, ValueError):
        return None
    return {key: meta.get(key) for key in ("format_version", "seed", "size", "train", "val")}


def check_fresh(out: str | Path) -> None:
    """Raise ``UserError`` if ``out`` holds a run's logs without its checkpoint (see above)."""
    out = Path(out)
    logs = [out / name for name in ("log.csv", "val.csv") if (out / name).is_file()]
    if logs:
        raise UserError(f"run folder {out} holds {' and '.join(p.name for p in logs)} of an earlier run but no "
                        "checkpoint.pt, so it cannot be resumed; starting here would replace that log. Use "
                        "another --out (out_dir), or --overwrite (overwrite=True) to start over")


def check_resume(checkpoint: Path, state: dict, config: TrainConfig) -> TrainConfig | None:
    """Raise ``UserError`` unless ``config`` may continue the run ``state`` holds; return the saved config."""
    saved = saved_config(state)
    hint = (f"use the saved settings, another --out (out_dir), or --overwrite (overwrite=True) to start "
            f"over and replace {checkpoint}")
    if saved is not None:
        problems = recipe_differences(saved, config)
        saved_data, data = state.get("extra", {}).get("data"), data_identity(config)
        if saved_data is not None and data is not None and saved_data != data:
            problems.append(f"data in {config.data_root}: saved {saved_data}, now {data}")
        if problems:
            raise UserError(f"{checkpoint} holds a run with another recipe — " + "; ".join(problems) + f". {hint}")
    if state["iteration"] > config.iterations:
        raise UserError(f"{checkpoint} is at iteration {state['iteration']}, beyond iterations={config.iterations}; "
                        f"ask for at least {state['iteration']} iterations, or {hint}")
    return saved


def extend_schedule(scheduler, optimizer, config: TrainConfig, start: int) -> None:
    """Point a restored poly scheduler at ``config.iterations`` (see the module docstring)."""
    if config.schedule != "poly" or getattr(scheduler, "total_iters", config.iterations) == config.iterations:
        return
    scheduler.total_iters = config.iterations
    factor = (1.0 - start / config.iterations) ** config.power
    for group in optimizer.param_groups:
        group["lr"] = group["initial_lr"] * factor
    scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]
