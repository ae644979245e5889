"""BatchNorm's running-average momentum, set on a built model.

PyTorch updates a running statistic as ``running = (1 − momentum) · running + momentum · batch``;
TensorFlow's ``decay`` is the weight of the old value, ``running = decay · running + (1 − decay) ·
batch``. So TF DeepLab's decay 0.9997 (v3 §4.1: "batch normalization parameters are trained with
decay = 0.9997") is PyTorch's momentum 1 − 0.9997 = 0.0003, not 0.9997 (a known trap). The
models are built with PyTorch's default 0.1; ``TrainConfig.bn_momentum`` replaces it in every
BatchNorm of the backbone and the head when the engine builds the model.
"""

from __future__ import annotations

from torch import nn

from deeplab_edu import validate


def momentum_from_tf_decay(decay: float) -> float:
    """PyTorch's BatchNorm momentum for TensorFlow's moving-average ``decay``: 1 − decay."""
    if not 0 <= decay <= 1:
        raise ValueError(f"a TF batch-norm decay lies in [0, 1], got {decay!r}")
    return 1.0 - decay


def set_batchnorm_momentum(model: nn.Module, momentum: float) -> int:
    """Set ``momentum`` on every BatchNorm module of ``model``; return how many there are."""
    validate.number(momentum, "bn_momentum", minimum=0, maximum=1, unit="(PyTorch's convention: 1 - TF decay)")
    count = 0
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = float(momentum)
            count += 1
    return count
