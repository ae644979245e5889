import random

import numpy as np
import pytest
import torch

from deeplab_edu import runtime


def _draw():
    return random.random(), np.random.rand(), torch.rand(1).item()


def test_seed_everything_makes_every_generator_repeat():
    generator = runtime.seed_everything(123)
    first = _draw() + (torch.rand(1, generator=generator).item(),)
    generator = runtime.seed_everything(123)
    assert _draw() + (torch.rand(1, generator=generator).item(),) == first
    runtime.seed_everything(124)
    assert _draw() != first[:3]


@pytest.mark.parametrize("bad", [-1, 1.5, "0"])
def test_seed_must_be_a_non_negative_integer(bad):
    with pytest.raises(ValueError, match="seed"):
        runtime.seed_everything(bad)


def test_device_override(monkeypatch):
    monkeypatch.setenv("DEEPLAB_EDU_DEVICE", "cpu")
    assert runtime.default_device() == torch.device("cpu")
    assert runtime.describe_device().startswith("cpu (")
    if not torch.cuda.is_available():
        monkeypatch.setenv("DEEPLAB_EDU_DEVICE", "cuda")
        with pytest.raises(ValueError, match="DEEPLAB_EDU_DEVICE: device 'cuda': PyTorch sees no CUDA GPU"):
            runtime.default_device()


@pytest.mark.parametrize("name", ["bogus", "cuda:x", "xla"])
def test_a_device_name_that_is_none_is_refused_listing_the_choices(monkeypatch, name):
    monkeypatch.setenv("DEEPLAB_EDU_DEVICE", name)
    with pytest.raises(ValueError, match=f"DEEPLAB_EDU_DEVICE: device '{name}' .*expected cpu, cuda, cuda:N or mps"):
        runtime.default_device()
    with pytest.raises(ValueError, match=f"device '{name}' .*expected cpu, cuda, cuda:N or mps"):
        runtime.resolve_device(name)
