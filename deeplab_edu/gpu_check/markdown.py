"""``report.md``: the report for people, a summary table and each stage's figures and rows."""

from __future__ import annotations

import math


def fmt(value, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        return f"{value:.{digits}g}" if abs(value) < 10 ** digits else f"{value:.0f}"
    return str(value)


ROW_COLUMNS = (("config", "configuration"), ("images_s", "images/s"), ("ms_per_step", "ms/step"),
               ("peak_gib", "peak GiB"), ("tflops", "TFLOP/s"), ("share_of_peak", "of bf16 peak"),
               ("warmup_s", "warm-up s"), ("error", "note"))


# The projection stage's table: a chapter's training time per profile, in time a reader can weigh.
PROJECTION_COLUMNS = (("chapter", "chapter"), ("profile", "profile"), ("pflop", "PFLOP"),
                      ("T4-class_s", "T4-class (estimate)"), ("H100-class_s", "H100-class (estimate)"),
                      ("this_gpu_s", "this GPU (measured rate)"))


def _cell(key: str, value) -> str:
    if value is None:
        return "—"
    if key == "share_of_peak":
        return f"{value:.1%}"
    if key.endswith("_s") and key != "images_s":
        from deeplab_edu.engine.estimate import format_duration

        return format_duration(value)
    return fmt(value, 4).replace("|", "/")


def format_markdown(report: dict) -> str:
    """``report.md``: a summary table, then each stage's figures, table and notes."""
    lines = ["# deeplab_edu gpu-check", ""]
    env = next((s["figures"] for s in report["stages"] if s["name"] == "environment"), {})
    machine = (f"{report['gpu']}, torch {env.get('torch')}, CUDA {env.get('cuda_runtime')}, "
               f"cuDNN {env.get('cudnn')}" if report["gpu_measured"] else f"{report['device']} (no CUDA device)")
    lines += [f"- machine: {machine}", f"- created: {report['created']}",
              f"- size: {report['size']}; total {report['total_seconds']:.0f} s", ""]
    if not report["gpu_measured"]:
        lines += ["> **GPU figures are unmeasured.** No CUDA device was visible, so every stage ran at the "
                  "tiny size to prove the code path; the speeds below are a CPU's and mean nothing for a GPU.", ""]
    lines += ["| # | stage | status | seconds | budget | result |", "|---|---|---|---|---|---|"]
    for i, s in enumerate(report["stages"], 1):
        text = s["summary"] if s["status"] == "ok" else (s.get("error") or "")
        lines.append(f"| {i} | {s['title']} | {s['status']} | {s['seconds']:.1f} | {s['budget_s']:.0f} | "
                     f"{text.replace('|', '/')} |")
    for i, s in enumerate(report["stages"], 1):
        lines += ["", f"## {i}. {s['title']} — {s['status']}", ""]
        if s.get("error"):
            lines += [f"**Error:** `{s['error']}`", ""]
        for key, value in s["figures"].items():
            if isinstance(value, dict):
                value = ", ".join(f"{k} {v}" for k, v in value.items())
            lines.append(f"- {key}: {fmt(value, 4)}")
        if s["rows"]:
            columns = PROJECTION_COLUMNS if s["name"] == "projection" else ROW_COLUMNS
            lines += ["", "| " + " | ".join(h for _, h in columns) + " |", "|" + "---|" * len(columns)]
            for row in s["rows"]:
                lines.append("| " + " | ".join(_cell(key, row.get(key)) for key, _ in columns) + " |")
        if s["notes"]:
            lines += [""] + [f"- note: {n}" for n in s["notes"]]
    return "\n".join(lines) + "\n"
