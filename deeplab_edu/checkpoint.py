"""Checkpoints that survive a killed run, and a resume that continues the *same* run.

* **Atomic.** Written to a temporary file beside the old one, ``fsync``-ed, then renamed over
  it (``os.replace``): a run killed mid-write leaves the previous checkpoint whole.
* **Resumable.** Besides the weights: the optimizer's momentum, the scheduler, the iteration
  and every random generator's state, so N steps straight and N/2 + resume + N/2 give identical
  weights. RNG states are stored as tensors and lists, as ``weights_only=True`` loading needs.

A checkpoint records how its model was built (``model_config``), so loading it into another
model names the difference instead of failing on a key deep in a state dict.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from deeplab_edu.datasets.transforms import rgb_from_normalized
from deeplab_edu.models import build_from_config
from deeplab_edu.weights import CheckpointMismatchError, check_compatible

FORMAT = "deeplab_edu checkpoint v1"


def rng_state() -> dict[str, Any]:
    """Every generator's state as tensors and plain types (``weights_only``-loadable)."""
    version, mt, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": [version, list(mt), gauss],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what ``rng_state`` saved (CUDA states only when as many GPUs are visible)."""
    version, mt, gauss = state["python"]
    random.setstate((version, tuple(mt), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def _temporary_prefix(path: Path) -> str:
    # The writer names itself (PID and host), so that no other process takes a live write for stale.
    import socket

    return f".{path.name}.pid{os.getpid()}@{socket.gethostname()}."


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Delete ``.<name>.*.tmp`` files that a killed ``atomic_save`` of ``path`` left behind;
    a file whose writer (the PID and host in its name) still runs is left alone."""
    from deeplab_edu.engine.run_lock import process_alive

    path = Path(path)
    stale = []
    for tmp in path.parent.glob(f".{path.name}.*.tmp") if path.parent.is_dir() else []:
        owner = tmp.name[len(path.name) + 2:-len(".tmp")].rpartition(".")[0]
        pid, _, host = owner.removeprefix("pid").partition("@")
        if owner.startswith("pid") and pid.isdigit() and process_alive(int(pid), host):
            continue
        tmp.unlink(missing_ok=True)
        stale.append(tmp)
    return stale


def _payload_bytes(obj: Any) -> int:
    """Roughly how many bytes ``torch.save(obj)`` writes: the tensors it holds."""
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(_payload_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_payload_bytes(v) for v in obj)
    return 0


def atomic_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` to a temporary file, fsync, then ``os.replace`` it onto ``path`` (killed writes'
    temporaries removed first); a full disk keeps the old ``path`` and raises "no space left on <folder>"."""
    from deeplab_edu.files import is_disk_full, match_umask

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=_temporary_prefix(path), suffix=".tmp", dir=path.parent)
    try:
        match_umask(fd)
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())  # the bytes are on disk before the name points at them
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, (OSError, RuntimeError)) and is_disk_full(err):
            kept = (f"; the last good checkpoint {path} is intact" if path.exists()
                    else f"; nothing was written yet, so there is no earlier {path.name}")
            raise OSError(f"no space left on {path.parent} while writing {path.name} (about "
                          f"{_payload_bytes(obj) / 2**20:.1f} MiB needed){kept}; free some space "
                          "or choose another folder") from err
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        dir_fd = os.open(path.parent, os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside DistributedDataParallel / torch.compile wrappers."""
    while True:
        if hasattr(model, "module") and isinstance(model.module, nn.Module):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def save_checkpoint(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    scheduler: Any = None, iteration: int = 0, model_config: dict | None = None,
                    extra: dict | None = None) -> Path:
    """Write model, optimizer, scheduler, iteration, RNG states and ``model_config`` atomically."""
    state = {
        "format": FORMAT,
        "iteration": int(iteration),
        "model_config": dict(model_config or {}),
        "model": unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": rng_state(),
        "extra": dict(extra or {}),
    }
    return atomic_save(state, path)


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The checkpoint's dictionary; clear errors for a missing, corrupt or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # truncated zip, not a torch file, unsafe pickle …
        raise ValueError(f"checkpoint {path} is corrupt or not a torch file ({type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else ''})") from err
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"checkpoint {path} is not a deeplab_edu training checkpoint (no {FORMAT!r} "
                         "marker); for bare weights use deeplab_edu.weights.load_weights")
    return state


def describe_mismatch(saved: dict, wanted: dict) -> list[str]:
    """``["output_stride: checkpoint 16, model 8", ...]`` for every differing config entry."""
    keys = sorted(set(saved) | set(wanted))
    return [f"{k}: checkpoint {saved.get(k)!r}, model {wanted.get(k)!r}"
            for k in keys if saved.get(k) != wanted.get(k)]


def load_checkpoint(path: str | Path, model: nn.Module | None = None,
                    optimizer: torch.optim.Optimizer | None = None, scheduler: Any = None,
                    model_config: dict | None = None, restore_rng: bool = False,
                    map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load ``path`` into whichever of model / optimizer / scheduler are given; return the dict.

    With ``model_config`` (how the caller built ``model``) a checkpoint of another model is
    refused naming the differing settings; without it, by the differing keys and shapes.
    ``restore_rng=True`` puts every random generator back where the run left it (resume).
    """
    state = read_checkpoint(path, map_location)
    _restore(state, path, model, optimizer, scheduler, model_config, restore_rng)
    return state


def _restore(state: dict[str, Any], path: str | Path, model: nn.Module | None, optimizer: Any, scheduler: Any,
             model_config: dict | None, restore_rng: bool) -> None:
    """``load_checkpoint``'s work on a checkpoint already read from ``path``."""
    if model is not None:
        if model_config is not None:
            problems = describe_mismatch(state["model_config"], model_config)
            if problems:
                raise CheckpointMismatchError(f"checkpoint {path} was saved from another model: "
                                              + "; ".join(problems))
        target = unwrap(model)
        check_compatible(target, state["model"], what=f"checkpoint {path}")
        target.load_state_dict(state["model"], strict=True)
    if optimizer is not None:
        if state["optimizer"] is None:
            raise ValueError(f"checkpoint {path} holds no optimizer state; cannot resume from it")
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state["scheduler"] is not None:
        scheduler.load_state_dict(state["scheduler"])
    if restore_rng:
        set_rng_state(state["rng"])


def load_trained(checkpoint: str | Path, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, dict]:
    """The model a training checkpoint holds, rebuilt from its ``model_config`` (the file read once);
    non-finite weights are refused, as scoring them would report an mIoU as if nothing had happened."""
    state = read_checkpoint(checkpoint)
    config = state["model_config"]
    bad = [k for k, v in state["model"].items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise ValueError(f"checkpoint {checkpoint} holds non-finite weights ({len(bad)} tensors, e.g. {bad[0]}); "
                         "the run diverged — retrain with a lower learning rate")
    model = build_from_config(config, rgb_from_normalized)
    _restore(state, checkpoint, model, None, None, config, restore_rng=False)
    return model.to(device).eval(), config
