"""Checkpoints: atomic writes, weights_only loading, RNG round trip, exact resume, clear errors."""

import random

import numpy as np
import pytest
import torch

from deeplab_edu import checkpoint as ckpt
from deeplab_edu.models import build_model
from deeplab_edu.train import TrainConfig, train
from deeplab_edu.weights import CheckpointMismatchError


def tiny_v1(num_classes=8):
    torch.manual_seed(0)
    return build_model("deeplabv1", num_classes, width=0.125)


def draws():
    return random.random(), float(np.random.rand()), torch.rand(()).item()


def test_rng_state_round_trip_restores_every_generator():
    state = ckpt.rng_state()
    first = draws()
    ckpt.set_rng_state(state)
    assert draws() == first


def test_checkpoint_loads_with_weights_only_and_restores_model(tmp_path):
    model = tiny_v1()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(1, 3, 33, 33)).sum().backward()
    optimizer.step()  # creates momentum buffers
    path = ckpt.save_checkpoint(tmp_path / "c.pt", model, optimizer, iteration=7, model_config={"model": "deeplabv1"})
    raw = torch.load(path, weights_only=True)  # plain tensors and containers only
    assert raw["iteration"] == 7 and raw["format"] == ckpt.FORMAT
    fresh = build_model("deeplabv1", 8, width=0.125)
    fresh_opt = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    ckpt.load_checkpoint(path, fresh, fresh_opt, model_config={"model": "deeplabv1"})
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)
    assert fresh_opt.state_dict()["state"].keys() == optimizer.state_dict()["state"].keys()


def test_interrupted_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    model = tiny_v1()
    ckpt.save_checkpoint(path, model, iteration=1)

    def dying_save(obj, handle):  # writes half a file, then the process "is killed"
        handle.write(b"PK\x03\x04 partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt.torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save_checkpoint(path, model, iteration=2)
    monkeypatch.undo()
    assert ckpt.read_checkpoint(path)["iteration"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temporary left behind


def test_missing_and_corrupt_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        ckpt.read_checkpoint(tmp_path / "nope.pt")
    good = ckpt.save_checkpoint(tmp_path / "good.pt", tiny_v1())
    broken = tmp_path / "broken.pt"
    broken.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ValueError, match="broken.pt.*corrupt"):
        ckpt.read_checkpoint(broken)
    bare = tmp_path / "bare.pt"
    torch.save(tiny_v1().state_dict(), bare)
    with pytest.raises(ValueError, match="bare.pt.*not a deeplab_edu training checkpoint"):
        ckpt.read_checkpoint(bare)


def test_checkpoint_of_another_model_names_the_mismatch(tmp_path):
    path = ckpt.save_checkpoint(tmp_path / "v1.pt", tiny_v1(),
                                model_config={"model": "deeplabv1", "num_classes": 8, "output_stride": 8})
    v3 = build_model("deeplabv3", 8, width=0.125, blocks=(1, 1, 1, 1))
    with pytest.raises(CheckpointMismatchError, match=r"model: checkpoint 'deeplabv1', model 'deeplabv3'.*"
                                                      r"output_stride: checkpoint 8, model 16"):
        ckpt.load_checkpoint(path, v3, model_config={"model": "deeplabv3", "num_classes": 8, "output_stride": 16})
    with pytest.raises(CheckpointMismatchError, match="missing keys"):  # without configs: the keys
        ckpt.load_checkpoint(path, v3)


def test_resume_continues_the_same_run_exactly(builtin, tmp_path):
    # v1 keeps its dropout: the resumed half only matches if the RNG state came back too.
    common = dict(dataset="builtin", data_root=str(builtin), model="deeplabv1", width=0.125, crop_size=33,
                  batch_size=2, iterations=6, checkpoint_every=3, log_every=1, progress=False, device="cpu",
                  lr=0.01)
    straight = train(TrainConfig(out_dir=str(tmp_path / "straight"), **common))
    train(TrainConfig(out_dir=str(tmp_path / "split"), stop_at=3, **common))  # "killed" after step 3
    resumed = train(TrainConfig(out_dir=str(tmp_path / "split"), **common))
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in straight.history]
    assert ckpt.read_checkpoint(tmp_path / "split" / "checkpoint.pt")["iteration"] == 6


def test_unwrap_finds_the_model_inside_wrappers():
    model = tiny_v1()
    wrapper = torch.nn.Module()
    wrapper.module = model
    assert ckpt.unwrap(wrapper) is model


def test_load_trained_reads_the_checkpoint_once(tmp_path, monkeypatch):
    config = {"model": "deeplabv1", "num_classes": 8, "width": 0.125}
    model = tiny_v1()
    path = ckpt.save_checkpoint(tmp_path / "c.pt", model, model_config=config)
    reads = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *args, **kwargs: reads.append(args) or real_load(*args, **kwargs))
    loaded, saved_config = ckpt.load_trained(path)
    assert len(reads) == 1 and saved_config == config
    assert not loaded.training
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
