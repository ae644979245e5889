"""DDP through torchrun on the CPU (gloo): two processes == one process at the same global batch."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from deeplab_edu import distributed as ddp
from deeplab_edu.checkpoint import read_checkpoint
from deeplab_edu.datasets.synthetic import write_builtin

REPO = Path(__file__).resolve().parents[1]


def run_train(out: Path, data: Path, nproc: int) -> subprocess.CompletedProcess:
    # v1 without dropout has no BatchNorm and no randomness in the network, and scale 1 with a
    # crop inside the image means no padded (ignored) pixels: the two runs compute the same sums.
    args = ["-m", "deeplab_edu", "train", "--model", "deeplabv1", "--width", "0.125", "--dropout", "0",
            "--dataset", "builtin", "--data-root", str(data), "--crop-size", "33", "--scale", "1", "1",
            "--batch-size", "4", "--iterations", "3", "--log-every", "1", "--lr", "0.01",
            "--device", "cpu", "--out", str(out), "--no-progress"]
    if nproc > 1:  # and each process accumulates two passes of one image: DDP's no_sync path
        args += ["--accumulate", "2"]
        args = ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"] + args
    env = dict(os.environ, OMP_NUM_THREADS="1", DEEPLAB_EDU_PROFILE="smoke")
    result = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def losses(out: Path) -> list[float]:
    with (out / "log.csv").open() as handle:
        return [float(row["loss"]) for row in csv.DictReader(handle)]


@pytest.mark.slow
def test_two_gloo_processes_with_accumulation_match_one_process_at_the_same_global_batch(tmp_path):
    data = write_builtin(tmp_path / "data", train=6, val=0, size=48, progress=False)
    run_train(tmp_path / "one", data, nproc=1)
    run_train(tmp_path / "two", data, nproc=2)
    one, two = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert len(one) == len(two) == 3
    assert one == pytest.approx(two, rel=1e-5)
    w1 = read_checkpoint(tmp_path / "one" / "checkpoint.pt")["model"]
    w2 = read_checkpoint(tmp_path / "two" / "checkpoint.pt")["model"]
    for key in w1:
        torch.testing.assert_close(w1[key], w2[key], rtol=1e-4, atol=1e-6, msg=key)


def test_env_from_torchrun(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert ddp.env_from_torchrun() == ddp.DistEnv(0, 0, 1)
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    env = ddp.env_from_torchrun()
    assert (env.rank, env.local_rank, env.world_size, env.is_main, env.is_distributed) == (3, 1, 4, False, True)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(ValueError, match="RANK=4"):
        ddp.env_from_torchrun()
    monkeypatch.setenv("RANK", "two")
    with pytest.raises(ValueError, match="RANK must be an integer"):
        ddp.env_from_torchrun()


def test_batch_must_split_evenly_over_processes():
    assert ddp.per_process_batch(16, ddp.DistEnv(world_size=8)) == 2
    with pytest.raises(ValueError, match="divisible by the number of processes"):
        ddp.per_process_batch(6, ddp.DistEnv(world_size=4))


def test_freeze_batchnorm_and_sync_batchnorm_on_cpu():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.BatchNorm2d(4))
    model.train()
    assert ddp.freeze_batchnorm(model) == 2
    assert not model[1].training and not model[1].weight.requires_grad and model[0].weight.requires_grad
    with pytest.raises(ValueError, match="GPUs only.*frozen"):
        ddp.convert_sync_batchnorm(model, torch.device("cpu"))
    # Without a process group the helpers are no-ops.
    value = torch.tensor(3.0)
    assert ddp.mean_over_processes(value, ddp.DistEnv()) is value
    assert ddp.wrap_model(model, ddp.DistEnv(), torch.device("cpu")) is model
