"""The training loop: losses, reproducible data, accumulation, mixed precision, faults, the log."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from deeplab_edu import distributed as ddp
from deeplab_edu.engine.log import VAL_FIELDS, append, read_rows
from deeplab_edu.engine.loop import build_training_model
from deeplab_edu.runtime import seed_everything
from deeplab_edu.train import (DrawSampler, TrainConfig, downsampled_loss, subsample_labels, train,
                               upsampled_loss)
from deeplab_edu.viz.training import plot_training_curves, read_log



def config(builtin, tmp_path, **overrides) -> TrainConfig:
    values = dict(dataset="builtin", data_root=str(builtin), model="deeplabv1", width=0.125, crop_size=33,
                  batch_size=2, iterations=3, log_every=1, checkpoint_every=1, progress=False, device="cpu",
                  out_dir=str(tmp_path / "run"), lr=0.01)
    values.update(overrides)
    return TrainConfig(**values)


# ----------------------------------------------------------------------------- losses

def test_subsampled_labels_are_every_eighth_pixel_with_corners_aligned():
    # A crop of 8·4+1 = 33 pixels has a 5×5 score grid at output stride 8 (v1's 321 → 41).
    y, x = torch.meshgrid(torch.arange(33), torch.arange(33), indexing="ij")
    labels = (y * 100 + x)[None]
    small = subsample_labels(labels, (5, 5))
    for i in range(5):
        for j in range(5):
            assert small[0, i, j] == (8 * i) * 100 + 8 * j


def test_downsampled_loss_is_the_mean_negative_log_likelihood_of_the_kept_labels():
    torch.manual_seed(0)
    scores = torch.randn(2, 4, 5, 5)
    labels = torch.randint(0, 4, (2, 33, 33))
    labels[0, :9, :9] = 255  # ignored pixels, some on the grid
    log_p = scores.log_softmax(1)
    terms = []
    for n in range(2):
        for i in range(5):
            for j in range(5):
                t = labels[n, 8 * i, 8 * j].item()
                if t != 255:
                    terms.append(-log_p[n, t, i, j])
    assert downsampled_loss(scores, labels).item() == pytest.approx(torch.stack(terms).mean().item(), rel=1e-6)


def test_upsampled_loss_counts_only_the_labelled_pixels():
    torch.manual_seed(0)
    scores = torch.randn(1, 3, 5, 5)
    labels = torch.full((1, 33, 33), 255)
    labels[0, 10, 20] = 2
    up = F.interpolate(scores, size=(33, 33), mode="bilinear", align_corners=False)
    expected = -up.log_softmax(1)[0, 2, 10, 20]
    assert upsampled_loss(scores, labels).item() == pytest.approx(expected.item(), rel=1e-6)


# ----------------------------------------------------------------------------- reproducible data

@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 9), per_process=st.integers(1, 3), world=st.integers(1, 3), steps=st.integers(1, 6),
       seed=st.integers(0, 100))
def test_process_shards_interleave_to_the_single_process_stream(n, per_process, world, steps, seed):
    batch = per_process * world
    single = list(DrawSampler(n, seed, 0, steps, batch, ddp.DistEnv()))
    shards = [list(DrawSampler(n, seed, 0, steps, batch, ddp.DistEnv(rank=r, world_size=world)))
              for r in range(world)]
    merged = [item for s in range(steps) for r in range(world)
              for item in shards[r][s * per_process:(s + 1) * per_process]]
    assert merged == single
    assert [k for _, k in single] == list(range(steps * batch))
    # every epoch visits each image exactly once
    full_epochs = len(single) // n
    for e in range(full_epochs):
        assert sorted(i for i, _ in single[e * n:(e + 1) * n]) == list(range(n))
    # a resumed sampler continues the stream
    assert list(DrawSampler(n, seed, 1, steps, batch, ddp.DistEnv())) == single[batch:]


# ----------------------------------------------------------------------------- the loop

@pytest.mark.slow
def test_training_lowers_the_loss_and_writes_log_and_checkpoint(builtin, tmp_path):
    result = train(config(builtin, tmp_path, iterations=12, model_options={"dropout": 0.0}, lr=0.02,
                          scale=(1.0, 1.0)))
    losses = [r["loss"] for r in result.history]
    assert len(losses) == 12 and all(np.isfinite(losses))
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    log = read_log(tmp_path / "run" / "log.csv")
    assert log["step"].tolist() == list(range(1, 13))
    np.testing.assert_allclose(log["lr_head"], 10 * log["lr_backbone"])
    assert log["lr_backbone"][0] == pytest.approx(0.02)  # poly: the first step uses the base rate
    assert result.checkpoint == tmp_path / "run" / "checkpoint.pt" and result.checkpoint.is_file()
    figure = plot_training_curves({"v1": tmp_path / "run" / "log.csv"})
    assert len(figure.axes) == 1 and len(figure.axes[0].lines) == 2  # raw (faint) and smoothed; one schedule


@pytest.mark.slow
def test_gradient_accumulation_equals_the_whole_batch(builtin, tmp_path):
    # No dropout, no BN, no padding (scale 1, crop < image): each half-batch has as many pixels.
    common = dict(batch_size=4, model_options={"dropout": 0.0}, scale=(1.0, 1.0), iterations=2)
    whole = train(config(builtin, tmp_path / "a", **common))
    halves = train(config(builtin, tmp_path / "b", accumulate=2, **common))
    for a, b in zip(whole.model.state_dict().values(), halves.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose([r["loss"] for r in whole.history], [r["loss"] for r in halves.history], rtol=1e-5)


def test_bf16_autocast_and_channels_last_run_on_cpu_close_to_fp32(builtin, tmp_path):
    common = dict(iterations=1, model_options={"dropout": 0.0})
    fp32 = train(config(builtin, tmp_path / "fp32", **common)).history[0]["loss"]
    bf16 = train(config(builtin, tmp_path / "bf16", amp="bf16", **common)).history[0]["loss"]
    cl = train(config(builtin, tmp_path / "cl", channels_last=True, **common)).history[0]["loss"]
    assert bf16 == pytest.approx(fp32, rel=0.03)  # bf16 keeps ~3 significant digits
    assert cl == pytest.approx(fp32, rel=1e-5)


def test_frozen_batchnorm_keeps_running_statistics(builtin, tmp_path):
    result = train(config(builtin, tmp_path, model="deeplabv3", model_options={"blocks": (1, 1, 1, 1)},
                          batchnorm="frozen", iterations=2))
    bns = [m for m in result.model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(torch.equal(m.running_mean, torch.zeros_like(m.running_mean)) for m in bns)
    assert all(torch.equal(m.running_var, torch.ones_like(m.running_var)) for m in bns)


def test_multiscale_v2_and_v3plus_train(builtin, tmp_path):
    for name, options in (("deeplabv2", {"blocks": (1, 1, 1, 1), "scales": (1.0, 0.75)}),
                          ("deeplabv3plus", {"blocks": (1, 1, 1, 1)})):
        result = train(config(builtin, tmp_path / name, model=name, model_options=options, iterations=1))
        assert np.isfinite(result.history[0]["loss"])


def test_gradient_clipping_bounds_the_step(builtin, tmp_path):
    # One plain SGD step (no momentum history, no decay): each weight moves by lr·g, so the
    # update's norm is at most the head's 10× rate times the clipped gradient's norm.
    def step(out, clip):
        cfg = config(builtin, out, iterations=1, lr=1.0, momentum=0.0, weight_decay=0.0, clip_grad_norm=clip,
                     model_options={"dropout": 0.0})
        seed_everything(cfg.seed)  # as train() does, so both start from the same weights
        start, _ = build_training_model(cfg.resolved(), 8, torch.device("cpu"))
        before = torch.cat([p.detach().flatten() for p in start.parameters()])
        after = torch.cat([p.detach().flatten() for p in train(cfg).model.parameters()])
        return float((after - before).norm())

    free, clipped = step(tmp_path / "free", None), step(tmp_path / "clipped", 1e-3)
    assert 1e-3 * 0.9999 <= clipped <= 10 * 1e-3 * 1.0001
    assert free > 100 * clipped, (free, clipped)  # without the clip the same step is far larger


@pytest.mark.slow
def test_validation_points_leave_the_run_unchanged_and_resume(builtin, tmp_path):
    common = dict(iterations=5, model_options={"dropout": 0.5}, checkpoint_every=2)  # dropout draws numbers
    plain = train(config(builtin, tmp_path / "plain", **common))
    checked = train(config(builtin, tmp_path / "checked", validate_every=2, **common))
    for a, b in zip(plain.model.state_dict().values(), checked.model.state_dict().values()):
        assert torch.equal(a, b)  # scoring the val split drew nothing from the training's streams
    assert [r["step"] for r in checked.validation] == [2, 4, 5]  # every 2 steps and at the end
    assert all(0 <= r["mIoU"] <= 1 and 0 <= r["pixel_acc"] <= 1 for r in checked.validation)
    assert read_rows(tmp_path / "checked" / "run" / "val.csv", fields=VAL_FIELDS) == checked.validation
    assert not (tmp_path / "plain" / "run" / "val.csv").exists()

    # A session that stopped at step 3 (its checkpoint there) and had scored a step past it before
    # dying: the resumed run drops that row, as it drops log.csv's, and scores 4 and 5 itself.
    out = tmp_path / "resumed"
    train(config(builtin, out, validate_every=2, stop_at=3, **common))
    append(out / "run" / "val.csv", {"step": 4, "mIoU": -1.0, "pixel_acc": -1.0}, VAL_FIELDS)
    resumed = train(config(builtin, out, validate_every=2, **common))
    assert [r["step"] for r in resumed.validation] == [2, 4, 5]
    assert [r["mIoU"] for r in resumed.validation] == pytest.approx([r["mIoU"] for r in checked.validation])
    assert read_rows(out / "run" / "val.csv", fields=VAL_FIELDS) == resumed.validation


def test_validation_keeps_frozen_batchnorm_frozen(builtin, tmp_path):
    result = train(config(builtin, tmp_path, model="deeplabv3", model_options={"blocks": (1, 1, 1, 1)},
                          batchnorm="frozen", iterations=2, validate_every=1))
    bns = [m for m in result.model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(result.validation) == 2
    assert all(torch.equal(m.running_mean, torch.zeros_like(m.running_mean)) for m in bns)


def test_nan_loss_stops_naming_the_step_and_the_last_good_checkpoint(builtin, tmp_path):
    with pytest.raises(FloatingPointError, match=r"at step \d+; .*last good checkpoint is .*checkpoint.pt"):
        train(config(builtin, tmp_path, lr=1e12, iterations=20))


def test_missing_voc_says_how_to_get_it_or_use_the_builtin_set(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data/README.md.*built-in"):
        train(TrainConfig(dataset="voc", data_root=str(tmp_path / "VOC2012"), device="cpu",
                          out_dir=str(tmp_path), progress=False))


@pytest.mark.parametrize("overrides, match", [
    ({"batch_size": 3, "accumulate": 2}, "divisible"),
    ({"loss": "dice"}, "loss"),
    ({"schedule": "cosine"}, "schedule"),
    ({"iterations": 0}, "iterations"),
    ({"clip_grad_norm": 0.0}, "clip_grad_norm"),
    ({"validate_every": 0}, "validate_every"),
    ({"clip_grad_norm": float("nan")}, "clip_grad_norm"),
    ({"batchnorm": "sync"}, "SyncBatchNorm"),  # no CPU implementation in PyTorch
])
def test_bad_configs_are_refused_clearly(builtin, tmp_path, overrides, match):
    with pytest.raises(ValueError, match=match):
        train(config(builtin, tmp_path, **overrides))


def test_from_profile_uses_the_profiles_sizes():
    from deeplab_edu.profiles import PROFILES

    smoke = PROFILES["smoke"]
    c = TrainConfig.from_profile("deeplabv3", smoke, lr=0.1)
    assert (c.crop_size, c.batch_size, c.iterations, c.width, c.lr) == (
        smoke.crop_size, smoke.batch_size, smoke.iterations, smoke.width, 0.1)
    assert c.model_options == {"blocks": (1, 1, 1, 1)}
    assert TrainConfig.from_profile("deeplabv3", PROFILES["full"]).model_options == {}


@pytest.mark.parametrize("native", [True, False])
def test_the_laptop_profile_uses_bf16_and_channels_last_only_where_the_cpu_has_native_bf16(monkeypatch, native):
    import deeplab_edu.engine.config as engine_config
    from deeplab_edu.profiles import PROFILES

    monkeypatch.setattr(engine_config, "native_bf16", lambda: native)
    laptop = TrainConfig.from_profile("deeplabv3", PROFILES["laptop"])
    assert (laptop.amp, laptop.channels_last) == (("bf16", True) if native else ("auto", None))
    separable = TrainConfig.from_profile("deeplabv3plus", PROFILES["laptop"])  # no fast bf16 depthwise kernel
    assert (separable.amp, separable.channels_last) == ("auto", None)
    smoke = TrainConfig.from_profile("deeplabv3", PROFILES["smoke"])  # tests stay in float32 everywhere
    assert (smoke.amp, smoke.channels_last) == ("auto", None)
