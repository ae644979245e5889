"""Stage 6, what each training chapter costs in each run profile, before a reader spends it.

Every chapter's runs (``chapter_runs``) are counted in FLOPs (``engine.estimate.step_flops``, on
the meta device: exact on any machine) and projected onto a T4-class and an H100-class GPU at
``REFERENCE_SHARE`` of their peaks. On a GPU the first run of each chapter in the ``gpu`` profile
is also timed for a few steps: the rate it reaches replaces the assumed share for this GPU, and
the share it is of the datasheet's peak is what the next projections should assume.
"""

from __future__ import annotations

from deeplab_edu.gpu_check.markdown import fmt
from deeplab_edu.gpu_check.stage import Context, StageResult, free, short_error

# Seconds one chapter's timed warm-up (model built, one untimed and three timed steps) may need.
TIMING_SECONDS = 15.0


def stage_projection(ctx: Context, result: StageResult) -> None:
    from deeplab_edu.chapter_runs import CHAPTERS, chapter_flops
    from deeplab_edu.engine.estimate import (REFERENCE_GPUS, REFERENCE_SHARE, format_duration, projected_seconds,
                                             step_flops, time_steps)
    from deeplab_edu.profiles import ORDER, get_profile

    f = result.figures
    f["assumed_share"] = REFERENCE_SHARE
    f.update({f"{name}_peak_tflops": peak for name, peak in REFERENCE_GPUS.items()})
    measured: dict[str, float] = {}  # chapter -> TFLOP/s its gpu-profile run reached here
    if ctx.device.type == "cuda":
        gpu = get_profile("gpu")
        for chapter, runs in CHAPTERS.items():
            if not ctx.budget.fits(TIMING_SECONDS):
                result.notes.append(f"{chapter}: not timed, {ctx.budget.left():.0f} s of the stage's budget left")
                continue
            config = runs(gpu)[0]
            try:
                seconds = time_steps(config, steps=3, device=ctx.device)
                measured[chapter] = step_flops(config) / seconds / 1e12
            except Exception as error:  # out of memory on a small GPU is a finding, not a stop
                result.notes.append(f"{chapter}: timing {config.model} failed: {short_error(error)}")
            free(ctx.device)
        peak = ctx.shared.get("peak")
        if measured:
            f["measured_tflops"] = {chapter: round(rate, 1) for chapter, rate in measured.items()}
            if peak:
                f["measured_share"] = sum(measured.values()) / len(measured) / peak
    else:
        result.notes.append("CPU: projections from FLOPs at the assumed share only; the first GPU run "
                            "of gpu-check times each chapter and measures the share")
    for name in ORDER:
        flops = chapter_flops(name)
        for chapter, total in flops.items():
            row = {"chapter": chapter, "profile": name, "pflop": total / 1e15}
            for gpu_name, peak in REFERENCE_GPUS.items():
                row[f"{gpu_name}_s"] = projected_seconds(total, peak)
            if chapter in measured:
                row["this_gpu_s"] = total / (measured[chapter] * 1e12)
            result.rows.append(row)
    gpu_rows = [r for r in result.rows if r["profile"] == "gpu"]
    longest = max(gpu_rows, key=lambda r: r["T4-class_s"])
    result.summary = (f"gpu profile, longest chapter {longest['chapter']}: {format_duration(longest['T4-class_s'])} "
                      f"on a T4-class GPU, {format_duration(longest['H100-class_s'])} on an H100-class one "
                      f"(FLOPs at {REFERENCE_SHARE:.0%} of peak)")
    if "measured_share" in f:
        result.summary += f"; measured here: {fmt(f['measured_share'])} of the bf16 peak"
