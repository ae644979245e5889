"""Learning-rate schedules of the DeepLab papers, and SGD with the head at 10× the rate.

DeepLab v1 (ICLR 2015, §4.1): SGD, momentum 0.9, weight decay 0.0005, base rate 0.001 for
the pretrained VGG layers and 10× for the new classifier, multiplied by 0.1 every 2000
iterations (the **step** schedule)::

    lr(it) = base_lr · γ^⌊it / step⌋,          γ = 0.1, step = 2000

DeepLab v2 (TPAMI 2017, §4.1) and v3 (§4.1) use the **poly** schedule, which decays
smoothly to zero at the last iteration and trained better than the step one::

    lr(it) = base_lr · (1 − it / max_iter)^power,   power = 0.9

Each schedule is written twice: the formula (``poly_lr``, ``step_lr``) and PyTorch's own
scheduler (``PolynomialLR``, ``StepLR``) that the training loop uses; ``tests/test_schedules.py``
holds them equal. PyTorch's schedulers scale every parameter group from its own initial rate,
so the head's 10× survives any schedule.
"""

from __future__ import annotations

import torch
from torch import nn

SCHEDULES = ("poly", "step")


def _check_iteration(iteration: int, name: str = "iteration") -> None:
    if isinstance(iteration, bool) or not isinstance(iteration, int) or iteration < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {iteration!r}")


def poly_lr(base_lr: float, iteration: int, max_iterations: int, power: float = 0.9) -> float:
    """The poly rate base_lr · (1 − it/max_iter)^power (v2 §4.1); 0 from ``max_iterations`` on."""
    _check_iteration(iteration)
    _check_iteration(max_iterations, "max_iterations")
    if max_iterations < 1:
        raise ValueError(f"max_iterations must be at least 1, got {max_iterations}")
    if power < 0:
        raise ValueError(f"power must be >= 0, got {power!r}")
    return base_lr * (1.0 - min(iteration, max_iterations) / max_iterations) ** power


def step_lr(base_lr: float, iteration: int, step: int = 2000, gamma: float = 0.1) -> float:
    """v1's step rate base_lr · γ^⌊it/step⌋ (×0.1 every 2000 iterations, v1 §4.1)."""
    _check_iteration(iteration)
    if isinstance(step, bool) or not isinstance(step, int) or step < 1:
        raise ValueError(f"step must be a positive integer number of iterations, got {step!r}")
    return base_lr * gamma ** (iteration // step)


def make_optimizer(model: nn.Module, base_lr: float, momentum: float = 0.9, weight_decay: float = 5e-4,
                   head_lr_mult: float = 10.0, head_layers: tuple[str, ...] | None = None) -> torch.optim.SGD:
    """SGD over two parameter groups: ``backbone`` at ``base_lr`` and ``head`` at ``head_lr_mult``×.

    The backbone arrives pretrained on ImageNet and needs only nudging; the classifier / ASPP
    head starts from scratch, so DeepLab trains it ten times faster (v1 §4.1). Groups come
    from ``model.parameter_groups()`` and keep their names (``group["name"]``); a ``crf`` group
    (CRF-as-RNN's kernel weights and compatibility, Zheng et al. §4) gets the head's rate and no
    weight decay.

    ``head_layers`` narrows the head to the modules whose name's last component is listed (v1:
    ``("fc8",)``, its only new layer when fc6 and fc7 come from VGG-16); the rest of the model's
    head then trains at ``base_lr`` with the backbone.
    """
    if not base_lr > 0:
        raise ValueError(f"base_lr must be > 0, got {base_lr!r}")
    groups = model.parameter_groups()
    if head_layers is not None:
        groups = _narrow_head(model, groups, tuple(head_layers))
    if not {"backbone", "head"} <= set(groups) or not set(groups) <= {"backbone", "head", "crf"}:
        raise ValueError(f"model.parameter_groups() must return 'backbone' and 'head' (and optionally 'crf'), "
                         f"got {sorted(groups)}")
    params = [{"params": groups["backbone"], "lr": base_lr, "name": "backbone"},
              {"params": groups["head"], "lr": base_lr * head_lr_mult, "name": "head"}]
    if "crf" in groups:  # CRF-as-RNN's w1, w2, μ: a handful of numbers, new like the head, not decayed
        params.append({"params": groups["crf"], "lr": base_lr * head_lr_mult, "name": "crf", "weight_decay": 0.0})
    return torch.optim.SGD(params, lr=base_lr, momentum=momentum, weight_decay=weight_decay)


def _narrow_head(model: nn.Module, groups: dict[str, list], head_layers: tuple[str, ...]) -> dict[str, list]:
    crf = {id(p) for p in groups.get("crf", [])}
    head = {id(p) for name, module in model.named_modules() if name.rsplit(".", 1)[-1] in head_layers
            for p in module.parameters() if p.requires_grad and id(p) not in crf}
    if not head:
        raise ValueError(f"head_layers {list(head_layers)}: no module of {type(model).__name__} has that name")
    out = {"backbone": [p for group in ("backbone", "head") for p in groups[group] if id(p) not in head],
           "head": [p for group in ("backbone", "head") for p in groups[group] if id(p) in head]}
    if "crf" in groups:
        out["crf"] = groups["crf"]
    return out


def make_scheduler(optimizer: torch.optim.Optimizer, name: str, max_iterations: int, power: float = 0.9,
                   step: int = 2000, gamma: float = 0.1) -> torch.optim.lr_scheduler.LRScheduler:
    """PyTorch's scheduler for ``name`` ("poly" or "step"), stepped once per iteration."""
    if name == "poly":
        _check_iteration(max_iterations, "max_iterations")
        return torch.optim.lr_scheduler.PolynomialLR(optimizer, total_iters=max_iterations, power=power)
    if name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=step, gamma=gamma)
    raise ValueError(f"schedule must be one of {SCHEDULES}, got {name!r}")
