"""Multi-GPU training through PyTorch's own engine: torchrun, DDP and SyncBatchNorm.

``torchrun --nproc-per-node 4 -m deeplab_edu train ...`` starts one process per GPU; ``setup()``
joins the process group, each process takes ``batch_size / world_size`` images of every global
batch, and ``DistributedDataParallel`` averages the gradients after ``backward``.

**BatchNorm with small per-GPU batches.** DeepLab v3 (§4.1) trains BN with 16 images per batch;
across 8 GPUs that is 2 per GPU, too few for good statistics (and image pooling's 1×1 map fails
outright at one). ``SyncBatchNorm`` takes the statistics over the global batch (GPUs only); on
CPUs, freeze BN instead (``freeze_batchnorm``, as DeepLab v2 did).
"""

from __future__ import annotations

import dataclasses
import datetime
import os

import torch
import torch.distributed as dist
from torch import nn


@dataclasses.dataclass(frozen=True)
class DistEnv:
    """Where this process sits: ``rank`` of ``world_size``, on GPU ``local_rank`` of its machine."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes checkpoints, logs and progress bars."""
        return self.rank == 0


def env_from_torchrun() -> DistEnv:
    """The ``DistEnv`` that torchrun's environment variables describe (one process without them)."""
    def read(name: str, default: int) -> int:
        value = os.environ.get(name, "").strip()
        try:
            return int(value) if value else default
        except ValueError:
            raise ValueError(f"environment variable {name} must be an integer, got {value!r}") from None

    world = read("WORLD_SIZE", 1)
    rank = read("RANK", 0)
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"RANK={rank} must lie in 0..WORLD_SIZE-1 with WORLD_SIZE={world} >= 1")
    return DistEnv(rank=rank, local_rank=read("LOCAL_RANK", rank), world_size=world)


def setup(device_type: str = "cpu") -> DistEnv:
    """Join the process group (``nccl`` on CUDA, on GPU ``LOCAL_RANK``; else ``gloo``) when torchrun
    started us; return this process's ``DistEnv``. Harmless to call again, or without torchrun."""
    env = env_from_torchrun()
    if env.is_distributed and not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if device_type == "cuda":
            torch.cuda.set_device(env.local_rank)
        dist.init_process_group(backend, rank=env.rank, world_size=env.world_size,
                                timeout=datetime.timedelta(minutes=10))
    return env


def cleanup() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def device_for(env: DistEnv, device: torch.device) -> torch.device:
    """The device of this process: ``cuda:<local_rank>`` under torchrun on GPUs."""
    if device.type == "cuda" and env.is_distributed:
        return torch.device("cuda", env.local_rank)
    return device


def per_process_batch(batch_size: int, env: DistEnv) -> int:
    """This process's share of the global batch; the batch must split evenly."""
    if batch_size % env.world_size:
        raise ValueError(f"batch_size {batch_size} must be divisible by the number of processes "
                         f"({env.world_size}) so every process gets the same share")
    return batch_size // env.world_size


def freeze_batchnorm(model: nn.Module) -> int:
    """Put every BatchNorm in eval mode with fixed affine parameters (DeepLab v2); return how many.
    Call it again after every ``model.train()``, which switches BN back to batch statistics."""
    count = 0
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()
            for p in module.parameters():
                p.requires_grad_(False)
            count += 1
    return count


def convert_sync_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """Replace every BatchNorm by ``SyncBatchNorm`` (statistics over the global batch)."""
    if device.type != "cuda":
        raise ValueError("SyncBatchNorm runs on GPUs only (PyTorch has no CPU implementation); "
                         "on CPUs train with frozen BatchNorm (--batchnorm frozen) instead")
    return nn.SyncBatchNorm.convert_sync_batchnorm(model)


def wrap_model(model: nn.Module, env: DistEnv, device: torch.device) -> nn.Module:
    """``DistributedDataParallel(model)`` when distributed, else ``model`` itself."""
    if not env.is_distributed:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def mean_over_processes(value: torch.Tensor, env: DistEnv) -> torch.Tensor:
    """The average of ``value`` over all processes (for logging the global loss)."""
    if not env.is_distributed:
        return value
    value = value.detach().clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / env.world_size


def barrier(env: DistEnv) -> None:
    if env.is_distributed:
        dist.barrier()
