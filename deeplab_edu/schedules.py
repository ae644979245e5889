"""Learning-rate schedules of the DeepLab papers, and SGD over the releases' parameter groups.

DeepLab v1 (ICLR 2015, §5 "Training"): SGD, momentum 0.9, weight decay 0.0005, base rate 0.001 for
the pretrained VGG layers and 10× for the new classifier, multiplied by 0.1 every 2000
iterations (the **step** schedule)::

    lr(it) = base_lr · γ^⌊it / step⌋,          γ = 0.1, step = 2000

DeepLab v2 (TPAMI 2017, §4.1) and v3 (§4.1) use the **poly** schedule, which decays
smoothly to zero at the last iteration and trained better than the step one::

    lr(it) = base_lr · (1 − it / max_iter)^power,   power = 0.9

Each schedule is written twice, the formula (``poly_lr``, ``step_lr``) and PyTorch's scheduler
the training loop uses (``PolynomialLR``, ``StepLR``), held equal by ``tests/test_schedules.py``.
PyTorch scales every parameter group from its own initial rate, so the head's 10× survives any
schedule. ``make_optimizer`` builds the groups a release trains with (``recipes`` says which).
"""

from __future__ import annotations

import torch
from torch import nn

from deeplab_edu import validate

SCHEDULES = ("poly", "step")


def poly_lr(base_lr: float, iteration: int, max_iterations: int, power: float = 0.9) -> float:
    """The poly rate base_lr · (1 − it/max_iter)^power (v2 §4.1); 0 from ``max_iterations`` on."""
    validate.integer(iteration, "iteration", minimum=0)
    validate.integer(max_iterations, "max_iterations", minimum=1)
    if power < 0:
        raise ValueError(f"power must be >= 0, got {power!r}")
    return base_lr * (1.0 - min(iteration, max_iterations) / max_iterations) ** power


def step_lr(base_lr: float, iteration: int, step: int = 2000, gamma: float = 0.1) -> float:
    """v1's step rate base_lr · γ^⌊it/step⌋ (×0.1 every 2000 iterations, v1 §5)."""
    validate.integer(iteration, "iteration", minimum=0)
    validate.integer(step, "step", minimum=1, unit="(iterations)")
    return base_lr * gamma ** (iteration // step)


def make_optimizer(model: nn.Module, base_lr: float, momentum: float = 0.9, weight_decay: float = 5e-4,
                   head_lr_mult: float = 10.0, head_layers: tuple[str, ...] | None = None, *,
                   bias_lr_mult: float = 1.0, bias_decay_mult: float = 1.0, norm_decay_mult: float = 1.0,
                   depthwise_decay_mult: float = 1.0, crf_lr_mult: float | None = None) -> torch.optim.SGD:
    """SGD over named parameter groups, each at its own multiple of ``base_lr`` and of ``weight_decay``.

    The pretrained backbone needs only nudging; the new head starts from scratch, so DeepLab
    v1/v2 train it ten times faster (v1 §5): ``model.parameter_groups()``'s ``backbone`` at
    ``base_lr``, ``head`` at ``head_lr_mult`` × ``base_lr``. ``head_layers`` narrows the head to
    the modules whose name's last component is listed (v1: ``("fc8",)``); the rest trains at
    ``base_lr``. Within each part, as the releases treat them: biases at ``bias_lr_mult`` × the
    rate and ``bias_decay_mult`` × the decay (Caffe's ``param { lr_mult: 2 decay_mult: 0 }``: fc8's
    biases at 20×); normalisation γ, β at ``norm_decay_mult`` and depthwise weights at
    ``depthwise_decay_mult`` × the decay (TF DeepLab regularises convolution weights only). A kind
    whose multipliers are both 1 stays in its part's group. The parameters of any module named
    ``crf`` (CRF-as-RNN, Zheng et al. §4) form a group ``crf`` at ``crf_lr_mult`` × ``base_lr``
    (None: the head's), without decay. Every group keeps its ``name``, ``lr_mult`` and ``decay_mult``.
    """
    validate.number(base_lr, "base_lr", positive=True)
    validate.number(bias_lr_mult, "bias_lr_mult", positive=True)
    if crf_lr_mult is not None:
        validate.number(crf_lr_mult, "crf_lr_mult", positive=True)
    for name, value in (("bias_decay_mult", bias_decay_mult), ("norm_decay_mult", norm_decay_mult),
                        ("depthwise_decay_mult", depthwise_decay_mult)):
        validate.number(value, name, minimum=0)
    groups = model.parameter_groups()
    if not {"backbone", "head"} <= set(groups) or not set(groups) <= {"backbone", "head", "crf"}:
        raise ValueError(f"model.parameter_groups() must return 'backbone' and 'head' (and optionally 'crf'), "
                         f"got {sorted(groups)}")
    crf = {id(p): p for p in groups.get("crf", [])}
    crf.update({id(p): p for name, module in model.named_modules() if name.rsplit(".", 1)[-1] == "crf"
                for p in module.parameters() if p.requires_grad})
    parts = {part: [p for p in groups[part] if id(p) not in crf] for part in ("backbone", "head")}
    if head_layers is not None:
        parts = _narrow_head(model, parts, tuple(head_layers))
    kind_of = _parameter_kinds(model)
    multipliers = {"weight": (1.0, 1.0), "bias": (bias_lr_mult, bias_decay_mult),
                   "norm": (1.0, norm_decay_mult), "depthwise": (1.0, depthwise_decay_mult)}
    main, split = [], []
    for part, part_mult in (("backbone", 1.0), ("head", head_lr_mult)):
        by_kind: dict[str, list] = {kind: [] for kind in multipliers}
        for p in parts[part]:
            kind = kind_of.get(id(p), "weight")
            by_kind[kind if multipliers[kind] != (1.0, 1.0) else "weight"].append(p)
        main.append(_group(part, by_kind.pop("weight"), part_mult, 1.0, base_lr, weight_decay))
        split += [_group(f"{part}.{kind}", params, part_mult * multipliers[kind][0], multipliers[kind][1],
                         base_lr, weight_decay) for kind, params in by_kind.items() if params]
    params = main + split
    if crf:
        mult = head_lr_mult if crf_lr_mult is None else crf_lr_mult
        params.append(_group("crf", list(crf.values()), mult, 0.0, base_lr, weight_decay))
    return torch.optim.SGD(params, lr=base_lr, momentum=momentum, weight_decay=weight_decay)


def _group(name: str, params: list, lr_mult: float, decay_mult: float, base_lr: float, weight_decay: float) -> dict:
    return {"params": params, "name": name, "lr": base_lr * lr_mult, "weight_decay": weight_decay * decay_mult,
            "lr_mult": lr_mult, "decay_mult": decay_mult}


NORM_LAYERS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


def _parameter_kinds(model: nn.Module) -> dict[int, str]:
    """id(parameter) → "norm", "bias", "depthwise" or "weight", from the module that owns it."""
    kinds = {}
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if isinstance(module, NORM_LAYERS):
                kinds[id(p)] = "norm"
            elif name == "bias":
                kinds[id(p)] = "bias"
            elif isinstance(module, nn.Conv2d) and module.groups > 1 and module.groups == module.in_channels:
                kinds[id(p)] = "depthwise"
            else:
                kinds[id(p)] = "weight"
    return kinds


def _narrow_head(model: nn.Module, parts: dict[str, list], head_layers: tuple[str, ...]) -> dict[str, list]:
    ours = {id(p) for part in parts.values() for p in part}
    head = {id(p) for name, module in model.named_modules() if name.rsplit(".", 1)[-1] in head_layers
            for p in module.parameters() if p.requires_grad and id(p) in ours}
    if not head:
        raise ValueError(f"head_layers {list(head_layers)}: no module of {type(model).__name__} has that name")
    everything = [p for part in ("backbone", "head") for p in parts[part]]
    return {"backbone": [p for p in everything if id(p) not in head], "head": [p for p in everything if id(p) in head]}


def make_scheduler(optimizer: torch.optim.Optimizer, name: str, max_iterations: int, power: float = 0.9,
                   step: int = 2000, gamma: float = 0.1) -> torch.optim.lr_scheduler.LRScheduler:
    """PyTorch's scheduler for ``name`` ("poly" or "step"), stepped once per iteration."""
    if name == "poly":
        validate.integer(max_iterations, "max_iterations", minimum=0)
        return torch.optim.lr_scheduler.PolynomialLR(optimizer, total_iters=max_iterations, power=power)
    if name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=step, gamma=gamma)
    raise ValueError(f"schedule must be one of {SCHEDULES}, got {name!r}")
