"""The LR schedules: the papers' formulas == PyTorch's schedulers, for both parameter groups."""


import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deeplab_edu.models import build_model
from deeplab_edu.schedules import make_optimizer, make_scheduler, poly_lr, step_lr


def tiny_model():
    torch.manual_seed(0)
    return build_model("deeplabv1", 3, width=0.125)


def scheduler_trace(name, base_lr, iterations, **kw):
    """The (backbone, head) rates PyTorch's scheduler gives at iterations 0..iterations."""
    optimizer = make_optimizer(tiny_model(), base_lr)
    scheduler = make_scheduler(optimizer, name, iterations, **kw)
    trace = []
    for _ in range(iterations + 1):
        trace.append(tuple(g["lr"] for g in optimizer.param_groups))
        optimizer.step()
        scheduler.step()
    return trace


@settings(max_examples=30, deadline=None)
@given(iterations=st.integers(1, 60), power=st.floats(0.5, 2.0), base_lr=st.floats(1e-4, 0.1))
@pytest.mark.slow
def test_poly_formula_equals_torch_polynomial_lr_for_both_groups(iterations, power, base_lr):
    for it, (backbone, head) in enumerate(scheduler_trace("poly", base_lr, iterations, power=power)):
        expected = poly_lr(base_lr, it, iterations, power)
        assert backbone == pytest.approx(expected, rel=1e-6, abs=1e-12)
        assert head == pytest.approx(10 * expected, rel=1e-6, abs=1e-11)


@settings(max_examples=30, deadline=None)
@given(step=st.integers(1, 10), gamma=st.floats(0.05, 0.9), iterations=st.integers(1, 40))
def test_step_formula_equals_torch_step_lr_for_both_groups(step, gamma, iterations):
    trace = scheduler_trace("step", 0.001, iterations, step=step, gamma=gamma)
    for it, (backbone, head) in enumerate(trace):
        assert backbone == pytest.approx(step_lr(0.001, it, step, gamma), rel=1e-6)
        assert head == pytest.approx(10 * step_lr(0.001, it, step, gamma), rel=1e-6)


def test_v1_step_schedule_divides_by_ten_every_2000_iterations():
    # v1 §5: base 0.001, ×0.1 every 2000 iterations.
    assert step_lr(0.001, 1999) == 0.001
    assert step_lr(0.001, 2000) == pytest.approx(0.0001)
    assert step_lr(0.001, 4000) == pytest.approx(0.00001)


@settings(max_examples=40, deadline=None)
@given(iterations=st.integers(2, 100_000), power=st.floats(0.1, 3.0))
def test_poly_starts_at_base_ends_at_zero_and_decreases(iterations, power):
    assert poly_lr(0.01, 0, iterations, power) == 0.01
    assert poly_lr(0.01, iterations, iterations, power) == 0.0
    half = iterations // 2
    assert poly_lr(0.01, half, iterations, power) == pytest.approx(0.01 * (1 - half / iterations) ** power)
    assert poly_lr(0.01, half, iterations, power) >= poly_lr(0.01, half + 1, iterations, power)


def test_optimizer_has_the_head_at_ten_times_and_covers_every_parameter_once():
    model = tiny_model()
    optimizer = make_optimizer(model, 0.01, momentum=0.9, weight_decay=5e-4)
    backbone, head = optimizer.param_groups
    assert (backbone["name"], head["name"]) == ("backbone", "head")
    assert head["lr"] == pytest.approx(10 * backbone["lr"])
    assert backbone["momentum"] == 0.9 and backbone["weight_decay"] == 5e-4
    ids = [id(p) for g in optimizer.param_groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    assert {id(p) for p in model.classifier.parameters()} <= {id(p) for p in head["params"]}


@pytest.mark.parametrize("call, match", [
    (lambda: poly_lr(0.01, -1, 10), "iteration"),
    (lambda: poly_lr(0.01, 1.5, 10), "iteration"),
    (lambda: poly_lr(0.01, 1, 0), "max_iterations"),
    (lambda: step_lr(0.01, 1, step=0), "step"),
    (lambda: make_scheduler(make_optimizer(tiny_model(), 0.1), "cosine", 10), "schedule"),
    (lambda: make_optimizer(tiny_model(), 0.0), "base_lr"),
    (lambda: make_optimizer(tiny_model(), 0.1, bias_lr_mult=0.0), "bias_lr_mult"),
    (lambda: make_optimizer(tiny_model(), 0.1, norm_decay_mult=-1.0), "norm_decay_mult"),
    (lambda: make_optimizer(tiny_model(), 0.1, crf_lr_mult=-2.0), "crf_lr_mult"),
])
def test_bad_arguments_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def by_name(optimizer):
    return {g["name"]: g for g in optimizer.param_groups}


def test_biases_split_off_at_their_own_rate_and_decay():
    model = tiny_model()
    optimizer = make_optimizer(model, 0.01, weight_decay=5e-4, head_layers=("fc8",), bias_lr_mult=2.0,
                               bias_decay_mult=0.0)
    groups = by_name(optimizer)
    assert list(groups) == ["backbone", "head", "backbone.bias", "head.bias"]
    assert groups["head.bias"]["params"] == [model.classifier.fc8.bias]
    assert groups["head.bias"]["lr"] == pytest.approx(0.01 * 10 * 2) and groups["head.bias"]["weight_decay"] == 0
    assert groups["backbone.bias"]["lr"] == pytest.approx(0.02) and groups["backbone"]["weight_decay"] == 5e-4
    assert all(p.dim() == 1 for p in groups["backbone.bias"]["params"])
    assert all(p.dim() > 1 for g in ("backbone", "head") for p in groups[g]["params"])
    ids = [id(p) for g in optimizer.param_groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))


def test_batchnorm_and_depthwise_weights_can_go_without_decay():
    torch.manual_seed(0)
    model = build_model("deeplabv3plus", 3, width=0.125, blocks=(1, 1, 1, 1))
    groups = by_name(make_optimizer(model, 0.01, weight_decay=1e-4, head_lr_mult=1.0, norm_decay_mult=0.0,
                                    depthwise_decay_mult=0.0))
    norms = {id(p) for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d) for p in m.parameters()}
    assert {id(p) for g in ("backbone.norm", "head.norm") for p in groups[g]["params"]} == norms
    assert groups["head.depthwise"]["weight_decay"] == 0 and groups["head.norm"]["weight_decay"] == 0
    assert all(p.shape[1] == 1 for p in groups["head.depthwise"]["params"])  # one input channel per filter
    assert groups["head"]["weight_decay"] == 1e-4


class WithCRF(torch.nn.Module):
    """A network with a CRF-as-RNN layer under the attribute ``crf``, as the engine's wrapper has."""

    def __init__(self):
        super().__init__()
        from deeplab_edu.crf.crf_rnn import CRFasRNN

        self.model, self.crf = tiny_model(), CRFasRNN(3)

    def parameter_groups(self):
        groups = self.model.parameter_groups()
        return {"backbone": groups["backbone"], "head": groups["head"] + list(self.crf.parameters())}


def test_the_crf_layer_is_its_own_group():
    model = WithCRF()
    crf = {id(p) for p in model.crf.parameters()}
    for mult, expected in ((None, 10.0), (1000.0, 1000.0)):
        groups = by_name(make_optimizer(model, 0.001, crf_lr_mult=mult))
        assert {id(p) for p in groups["crf"]["params"]} == crf and crf
        assert groups["crf"]["lr"] == pytest.approx(0.001 * expected) and groups["crf"]["weight_decay"] == 0
        others = {id(p) for name, g in groups.items() if name != "crf" for p in g["params"]}
        assert not others & crf


def test_groups_are_named_in_order_with_their_rates():
    groups = make_optimizer(tiny_model(), 0.01, bias_lr_mult=2.0, bias_decay_mult=0.0).param_groups
    assert [g["name"] for g in groups] == ["backbone", "head", "backbone.bias", "head.bias"]
    assert (groups[-1]["lr"], groups[-1]["weight_decay"]) == (pytest.approx(0.2), 0)  # 0.01 × 10 × 2, no decay
