"""engine.estimate and chapter_runs: a training step's FLOPs counted on the meta device equal the
count of a real step, the reference share is recomputed from torchvision's H100 rate, the gpu
profile's iterations are what the FLOPs allow, and a timed warm-up leaves the random streams
as it found them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from deeplab_edu.engine import estimate
from deeplab_edu.engine.config import TrainConfig
from deeplab_edu.profiles import GPU_ITERATIONS, PROFILES


def _smoke(model: str = "deeplabv3", **overrides) -> TrainConfig:
    return TrainConfig.from_profile(model, PROFILES["smoke"], pretrained=None, **overrides)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["deeplabv1", "deeplabv2", "deeplabv3", "deeplabv3plus"])
def test_meta_count_equals_the_count_of_a_real_step(model):
    from deeplab_edu.models import build_from_config

    config = _smoke(model).resolved()
    torch.manual_seed(0)
    real = build_from_config(config.model_config(21))
    images = torch.randn(config.batch_size, 3, config.crop_size, config.crop_size)
    assert estimate.step_flops(config) == pytest.approx(estimate.count_training_flops(real, images), rel=1e-9)


def test_flops_grow_with_the_batch_and_the_crop_area():
    small = _smoke(crop_size=65, batch_size=2)
    assert estimate.step_flops(dataclasses.replace(small, batch_size=4)) == 2 * estimate.step_flops(small)
    area = estimate.step_flops(dataclasses.replace(small, crop_size=129)) / estimate.step_flops(small)
    # (129 / 65)² = 3.94 for the first layers; the score maps grow as ((crop - 1) / 8 + 1)², 3.57
    assert 3.0 < area < 4.0
    assert estimate.run_flops(dataclasses.replace(small, iterations=10)) == 10 * estimate.step_flops(small)


def test_the_reference_share_is_what_torchvisions_h100_rate_implies():
    torchvision_like = TrainConfig(model="deeplabv3", output_stride=8, crop_size=513, batch_size=16, width=1.0)
    per_image = estimate.step_flops(torchvision_like) / 16
    share = estimate.TORCHVISION_H100_IMAGES_S * per_image / (estimate.H100_BF16_PEAK_TFLOPS * 1e12)
    assert share == pytest.approx(estimate.REFERENCE_SHARE, abs=0.01)


def test_projected_seconds_is_flops_over_the_reached_rate():
    assert estimate.projected_seconds(65e12 * 0.25 * 60, 65.0) == pytest.approx(60.0)
    assert estimate.projected_seconds(1e12, 10.0, share=0.5) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="share"):
        estimate.projected_seconds(1e12, 10.0, share=0)


@pytest.mark.slow
def test_the_gpu_profile_fits_each_chapter_into_its_budget_on_a_t4():
    from deeplab_edu.chapter_runs import chapter_seconds, gpu_iterations

    assert gpu_iterations() == GPU_ITERATIONS
    seconds = chapter_seconds("gpu")
    assert max(seconds.values()) <= estimate.CHAPTER_BUDGET_S
    assert max(seconds.values()) > 0.9 * estimate.CHAPTER_BUDGET_S  # the longest chapter uses its time
    full = chapter_seconds("full")
    assert all(full[name] > 4 * seconds[name] for name in seconds)  # the published recipes: hours
    # README's projection table quotes these numbers
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    t4, h100 = estimate.REFERENCE_GPUS["T4-class"], estimate.REFERENCE_GPUS["H100-class"]
    for name in seconds:
        cells = [estimate.format_duration(v) for v in (
            seconds[name], chapter_seconds("gpu", h100)[name], full[name], chapter_seconds("full", t4)[name] * t4 / h100)]
        row = next(line for line in readme.splitlines() if line.startswith(f"| {name}"))
        assert row.split("|")[2:6] == [f" {c} " for c in cells], row


@pytest.mark.slow
def test_a_timed_warm_up_leaves_the_random_streams_as_they_were():
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    seconds = estimate.time_steps(_smoke(), steps=1, device="cpu")
    assert seconds > 0 and torch.equal(torch.rand(4), expected)


@pytest.mark.slow
def test_the_estimate_names_the_profile_and_a_smaller_one():
    configs = [_smoke(), _smoke("deeplabv1")]
    result = estimate.estimate_time(configs, steps=1, device="cpu")
    assert result.runs == 2 and result.seconds > 0
    assert result.flops == pytest.approx(sum(estimate.run_flops(c) for c in configs))
    text = result.describe("gpu")
    assert "2 training runs on" in text and "run profile 'gpu'" in text and "DEEPLAB_EDU_PROFILE=laptop" in text
    assert "DEEPLAB_EDU_PROFILE" not in result.describe("smoke")


def test_durations_read_as_a_reader_weighs_them():
    assert [estimate.format_duration(s) for s in (0.02, 42, 720, 3.4 * 3600, 2.1 * 86400)] == [
        "< 1 s", "42 s", "12 min", "3.4 h", "2.1 days"]


def test_runs_already_trained_in_their_folders_are_not_counted(tmp_path, capsys):
    from deeplab_edu.trials import estimate_runs

    config = _smoke(out_dir=str(tmp_path / "v3"))
    finished, half = tmp_path / "v3" / "seed0", tmp_path / "v3" / "seed1"
    for folder, step in ((finished, config.iterations), (half, config.iterations // 2)):
        folder.mkdir(parents=True)
        (folder / "checkpoint.pt").write_bytes(b"")
        (folder / "log.csv").write_text("step,loss,lr_backbone,lr_head,images_per_s,elapsed_s\n"
                                        f"{step},1.0,0.01,0.1,10.0,1.0\n")
    seeded = [dataclasses.replace(config, seed=s, out_dir=str(tmp_path / "v3" / f"seed{s}")) for s in (0, 1, 2)]
    assert [estimate.remaining_iterations(c) for c in seeded] == [0, config.iterations // 2, config.iterations]
    text = estimate_runs([config], seeds=(0, 1, 2), device="cpu")
    assert "estimated time of 2 training runs (1 more trained already" in text and text in capsys.readouterr().out
    assert estimate_runs([config], seeds=(0,), device="cpu").startswith("nothing to train: all 1 runs")
