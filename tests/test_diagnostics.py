"""The three checks for a run that does not learn: each must tell a working case from a broken one."""

import math

import pytest
import torch

from deeplab_edu.diagnostics import geometric_rates, gradient_norm, linear_probe, lr_range_test, overfit_one_batch
from deeplab_edu.models import build_model
from deeplab_edu.runtime import seed_everything


def tiny_v3():
    seed_everything(0)
    return build_model("deeplabv3", 3, width=0.125, blocks=(1, 1, 1, 1), output_stride=8)


def batch(n=2, size=33):
    generator = torch.Generator().manual_seed(1)
    images = torch.randn(n, 3, size, size, generator=generator)
    labels = torch.zeros(n, size, size, dtype=torch.long)
    labels[:, 8:24, 8:24] = 1
    labels[:, :6, :] = 2
    return images, labels


def test_one_batch_is_fitted_and_the_model_passed_in_is_untouched():
    model = tiny_v3()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    losses = overfit_one_batch(model, *batch(), steps=60, lr=0.05, head_lr_mult=1.0)
    assert len(losses) == 60 and losses[-1] < 0.3 * losses[0]
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


class Colours(torch.nn.Module):
    """A 'backbone' whose features are the image itself, at stride 1."""

    def forward(self, x):
        return {"out": x}


class Blind(torch.nn.Module):
    """A backbone whose features say nothing about the image."""

    def forward(self, x):
        return {"out": torch.zeros(x.shape[0], 4, x.shape[2] // 4, x.shape[3] // 4)}


def colour_coded(n, seed):
    """Scenes where each pixel's colour names its class (a one-hot colour per class)."""
    generator = torch.Generator().manual_seed(seed)
    items = []
    for _ in range(n):
        label = torch.randint(3, (4, 4), generator=generator).repeat_interleave(4, 0).repeat_interleave(4, 1)
        image = torch.nn.functional.one_hot(label, 3).permute(2, 0, 1).float()
        items.append((image, label))
    return items


def test_the_linear_probe_reads_the_class_only_when_the_features_hold_it():
    train, val = colour_coded(16, 0), colour_coded(6, 1)
    readable = linear_probe(Colours(), train, val, 3, steps=150, lr=0.1)
    blind = linear_probe(Blind(), train, val, 3, steps=150, lr=0.1)
    assert readable.miou > 0.95 and readable.feature_channels == 3
    assert blind.miou < 0.4  # one class everywhere: at best a third of the classes, partly
    assert readable.per_class_iou.shape == (3,)


def test_the_range_test_rises_and_stops_where_the_loss_is_no_longer_finite():
    rates = geometric_rates(1e-4, 1e8, 12)
    assert rates[0] == pytest.approx(1e-4) and rates[-1] == pytest.approx(1e8)
    losses = lr_range_test(tiny_v3(), [batch()] * len(rates), rates, head_lr_mult=1.0)
    assert len(losses) == len(rates) and all(math.isfinite(v) for v in losses[:4])
    assert math.isnan(losses[-1]) or losses[-1] > 10 * losses[0]  # far past any useful rate
    with pytest.raises(ValueError, match="rising"):
        lr_range_test(tiny_v3(), [batch()] * 2, [0.1, 0.01])


def test_gradient_norm_per_group_and_scaled_with_the_loss():
    model = tiny_v3()
    images, labels = batch()
    norms = gradient_norm(model, images, labels)
    assert set(norms) == {"backbone", "head", "all"} and all(v > 0 for v in norms.values())
    assert norms["all"] == pytest.approx(math.hypot(norms["backbone"], norms["head"]), rel=1e-6)
    assert all(p.grad is None for p in model.parameters())  # measured on a copy

    class Doubled(torch.nn.Module):  # the same network, its logits (and so its gradient) doubled
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def training_outputs(self, x):  # the models' training contract (models.base)
            from deeplab_edu.models import TrainingOutput

            return TrainingOutput(2 * self.inner.training_outputs(x).out)

        def parameter_groups(self):
            return self.inner.parameter_groups()

    # Doubling the logits changes the loss, so the gradient is not exactly twice; but at a
    # random start (logits near 0, softmax near uniform) it is close to it.
    doubled = gradient_norm(Doubled(model), images, labels)
    assert 1.6 < doubled["all"] / norms["all"] < 2.1
