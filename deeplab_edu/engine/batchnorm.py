"""BatchNorm's running-average momentum, set on a built model (``TrainConfig.bn_momentum``).

PyTorch updates ``running = (1 − momentum) · running + momentum · batch``; TensorFlow's ``decay``
weighs the old value, ``running = decay · running + (1 − decay) · batch``. So TF DeepLab's decay
0.9997 (v3 §4.1) is PyTorch's momentum 1 − 0.9997 = 0.0003, not 0.9997 (a known trap).
"""

from __future__ import annotations

from torch import nn

from deeplab_edu import validate


def set_batchnorm_momentum(model: nn.Module, momentum: float) -> int:
    """Set ``momentum`` on every BatchNorm module of ``model``; return how many there are."""
    validate.number(momentum, "bn_momentum", minimum=0, maximum=1, unit="(PyTorch's convention: 1 - TF decay)")
    count = 0
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = float(momentum)
            count += 1
    return count
