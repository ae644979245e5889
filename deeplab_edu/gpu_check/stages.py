"""The stages of gpu-check in order, and how one runs: within its budget, a failure reported."""

from __future__ import annotations

import traceback
from collections.abc import Callable

from deeplab_edu.gpu_check.crf_bench import stage_crf
from deeplab_edu.gpu_check.distributed import stage_distributed
from deeplab_edu.gpu_check.environment import stage_environment
from deeplab_edu.gpu_check.projection import stage_projection
from deeplab_edu.gpu_check.stage import Budget, Context, StageResult, free, short_error
from deeplab_edu.gpu_check.throughput import stage_throughput
from deeplab_edu.gpu_check.training import stage_training

STAGES: dict[str, tuple[str, Callable[[Context, StageResult], None]]] = {
    "environment": ("Environment", stage_environment),
    "throughput": ("Training and inference throughput", stage_throughput),
    "crf": ("Dense CRF on the GPU", stage_crf),
    "training": ("A short full-width training that learns", stage_training),
    "distributed": ("Multi-GPU path (torchrun, NCCL, SyncBatchNorm)", stage_distributed),
    "projection": ("Each chapter's training time per run profile", stage_projection),
}


def run_stage(name: str, ctx: Context, index: int, total: int) -> StageResult:
    """Run one stage within its budget; an exception becomes a ``failed`` result, never a stop."""
    title, fn = STAGES[name]
    budget = ctx.sizes.budgets[name]
    result = StageResult(name=name, title=title, budget_s=budget)
    ctx.budget = Budget(budget)
    print(f"[{index}/{total}] {name}: {title} (budget {budget:.0f} s) ...", flush=True)
    try:
        fn(ctx, result)
    except Exception as error:
        result.status = "failed"
        result.error = short_error(error)
        result.notes.append("traceback: " + " | ".join(traceback.format_exc().strip().splitlines()[-4:]))
        free(ctx.device)
    result.seconds = ctx.budget.elapsed()
    if result.seconds > budget:
        result.notes.append(f"over its budget: {result.seconds:.0f} s of {budget:.0f} s")
    line = result.summary if result.status == "ok" else result.error
    print(f"[{index}/{total}] {name}: {result.status} in {result.seconds:.1f} s — {line}", flush=True)
    return result
