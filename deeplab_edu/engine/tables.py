"""The chapters' results tables: one row per run, Markdown out."""

from __future__ import annotations

import math

from deeplab_edu.engine.evaluation import EvalResult


def results_row(name: str, before: EvalResult, after: EvalResult | None = None, seconds: float = math.nan,
                device: str = "", trimap_width: int | None = None) -> dict[str, object]:
    """One line of a chapter's results table: mIoU and trimap accuracy before / after the CRF."""
    def trimap(result: EvalResult) -> float:
        if result.trimap is None:
            return math.nan
        accuracy = result.trimap.accuracy()
        return accuracy[trimap_width if trimap_width is not None else min(accuracy)]

    row: dict[str, object] = {"run": name, "mIoU": before.confusion.miou(),
                              "pixel acc": before.confusion.pixel_accuracy(), "trimap acc": trimap(before)}
    if after is not None:
        row.update({"mIoU +CRF": after.confusion.miou(), "trimap acc +CRF": trimap(after)})
    row.update({"train s": seconds, "device": device})
    return row


def per_class_row(name: str, result: EvalResult) -> dict[str, object]:
    """One line of a per-class IoU table: which classes a run has learned to name."""
    return {"run": name, **result.per_class()}


def format_results_table(rows: list[dict[str, object]]) -> str:
    """The rows as a Markdown table; floats with 3 decimals (times with 1)."""
    columns = list(dict.fromkeys(k for row in rows for k in row))

    def cell(key: str, value: object) -> str:
        if isinstance(value, float):
            return "—" if math.isnan(value) else f"{value:.1f}" if key.endswith(" s") else f"{value:.3f}"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(c, row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)
