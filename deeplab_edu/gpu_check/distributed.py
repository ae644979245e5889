"""Stage 5, the multi-GPU path: torchrun (one process), NCCL, SyncBatchNorm and DDP around the
engine's step (gloo and no SyncBatchNorm on a CPU), launched as a child and read back as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from deeplab_edu.gpu_check.stage import Context, StageResult
from deeplab_edu.paths import REPO_ROOT


def stage_distributed(ctx: Context, result: StageResult) -> None:
    out_json = ctx.work / "ddp_worker.json"
    out_json.unlink(missing_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    if ctx.device.type != "cuda":
        env["CUDA_VISIBLE_DEVICES"] = ""  # the CPU path, even where a GPU was not chosen
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "1",
               "-m", "deeplab_edu.gpu_check.ddp_worker", str(out_json), ctx.sizes.name]
    result.figures["command"] = "torchrun --standalone --nproc-per-node 1 -m deeplab_edu.gpu_check.ddp_worker …"
    t = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                              timeout=max(ctx.budget.left(), 5))
    except subprocess.TimeoutExpired as error:
        raise TimeoutError(f"torchrun did not finish within the stage's budget ({ctx.budget.seconds:.0f} s)") from error
    result.figures["wall_seconds"] = time.perf_counter() - t
    (ctx.out / "ddp_worker.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0 or not out_json.is_file():
        tail = (done.stdout + done.stderr).strip().splitlines()[-6:]
        raise RuntimeError(f"torchrun exited with {done.returncode}: " + " | ".join(tail))
    report = json.loads(out_json.read_text())
    result.figures.update(report)
    if ctx.device.type != "cuda":
        result.notes.append("CPU: gloo instead of NCCL, and no SyncBatchNorm (PyTorch implements it "
                            "for CUDA only); NCCL and SyncBatchNorm are unmeasured")
    else:
        result.notes.append("with one process SyncBatchNorm normalises like BatchNorm (PyTorch syncs "
                            "only when the world is larger than 1): this proves conversion, NCCL and "
                            "DDP, not the cross-GPU statistics")
    if not (report.get("finite") and report.get("all_reduce_ok")):
        raise RuntimeError(f"DDP ran but the check failed: finite losses {report.get('finite')}, "
                           f"all_reduce correct {report.get('all_reduce_ok')}")
    result.summary = (f"{report['backend']}, world {report['world_size']}, {report['syncbn_layers']} "
                      f"SyncBatchNorm layers, {len(report['losses'])} iterations, "
                      f"{report['images_s']:.1f} img/s, all_reduce correct")
