"""The torchrun worker of stage 5: ``python -m deeplab_edu.gpu_check.ddp_worker OUT_JSON SIZE``."""

from __future__ import annotations

import datetime
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch

from deeplab_edu.gpu_check.sizes import SIZES
from deeplab_edu.gpu_check.stage import random_batch, sync


def ddp_worker(out_json: str, size_name: str) -> int:
    """Under torchrun: the process group (NCCL on CUDA, gloo on a CPU), SyncBatchNorm on CUDA and
    DDP around the engine's step, forced even for a world of one (which ``train`` treats as not
    distributed), so one GPU exercises an 8-GPU run's code path; writes what happened as JSON."""
    import torch.distributed as dist

    from deeplab_edu import distributed as ddp
    from deeplab_edu.schedules import make_optimizer
    from deeplab_edu.train import TrainingScores, forward_backward

    s = SIZES[size_name]
    env = ddp.env_from_torchrun()
    cuda = torch.cuda.is_available()
    device = torch.device("cuda", env.local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    backend = "nccl" if cuda else "gloo"
    dist.init_process_group(backend, rank=env.rank, world_size=env.world_size,
                            timeout=datetime.timedelta(minutes=5))
    report: dict = {"backend": dist.get_backend(), "world_size": dist.get_world_size(), "device": str(device)}
    try:
        torch.manual_seed(0)
        options = {} if s.blocks is None else {"blocks": s.blocks}
        from deeplab_edu.models import build_model

        model = build_model("deeplabv3", 21, width=s.width, **options)
        if cuda:
            model = ddp.convert_sync_batchnorm(model, device)
        report["syncbn_layers"] = sum(isinstance(m, torch.nn.SyncBatchNorm) for m in model.modules())
        model.to(device)
        if cuda:
            model.to(memory_format=torch.channels_last)
        optimizer = make_optimizer(model, 1e-3, 0.9, 1e-4)
        net = torch.nn.parallel.DistributedDataParallel(TrainingScores(model), device_ids=[device.index] if cuda else None)
        x, y = random_batch(s.ddp_batch, s.ddp_crop, 21, device, seed=env.rank)
        losses, times = [], []
        for _ in range(s.ddp_iterations):
            t = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            loss = forward_backward(net, x, y, "upsampled", "bf16" if cuda else "off", cuda)
            optimizer.step()
            losses.append(float(loss))
            sync(device)
            times.append(time.perf_counter() - t)
        value = torch.full((), float(env.rank + 1), device=device)
        dist.all_reduce(value)
        expected = env.world_size * (env.world_size + 1) / 2
        report.update(losses=losses, all_reduce_ok=bool(abs(float(value) - expected) < 1e-6),
                      images_s=s.ddp_batch * env.world_size / statistics.median(times[1:] or times),
                      finite=all(math.isfinite(v) for v in losses))
    finally:
        dist.destroy_process_group()
    if env.is_main:
        Path(out_json).write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[2] not in SIZES:
        sys.exit(f"usage: python -m deeplab_edu.gpu_check.ddp_worker OUT_JSON {{{','.join(SIZES)}}} (under torchrun)")
    sys.exit(ddp_worker(sys.argv[1], sys.argv[2]))
