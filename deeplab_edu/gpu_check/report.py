"""``report.json``: the schema, the report built from the stages' results, its check, the writing."""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
from pathlib import Path

import torch

from deeplab_edu.gpu_check.markdown import format_markdown
from deeplab_edu.gpu_check.sizes import SIZES, Sizes
from deeplab_edu.gpu_check.stage import StageResult, short_error, write_atomic
from deeplab_edu.gpu_check.stages import STAGES

SCHEMA = "deeplab_edu.gpu_check/1"
STATUSES = ("ok", "failed", "skipped")


def jsonable(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def build_report(results: list[StageResult], sizes: Sizes, device: torch.device, seconds: float) -> dict:
    measured = device.type == "cuda"
    env = next((r.figures for r in results if r.name == "environment"), {})
    return jsonable({
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "size": sizes.name,
        "device": str(device),
        "gpu": env.get("gpu") if measured else None,
        "gpu_measured": measured,
        "note": None if measured else "no CUDA device: GPU figures are unmeasured (stages ran at the tiny size)",
        "total_seconds": seconds,
        "stages": [dataclasses.asdict(r) for r in results],
    })


def _check_types(mapping: dict, where: str, kinds: dict) -> None:
    for key, kind in kinds.items():
        if not isinstance(mapping.get(key), kind):
            raise ValueError(f"{where}[{key!r}] must be {kind}, got {mapping.get(key)!r}")


def validate_report(report: dict) -> None:
    """Raise ``ValueError`` naming the first field of ``report`` that breaks the schema."""
    _check_types(report, "report", {"schema": str, "created": str, "size": str, "device": str,
                                    "gpu_measured": bool, "total_seconds": (int, float), "stages": list})
    if report["schema"] != SCHEMA:
        raise ValueError(f"report['schema'] must be {SCHEMA!r}, got {report['schema']!r}")
    if report["size"] not in SIZES:
        raise ValueError(f"report['size'] must be one of {sorted(SIZES)}, got {report['size']!r}")
    stage = {"name": str, "title": str, "status": str, "seconds": (int, float), "budget_s": (int, float),
             "summary": str, "figures": dict, "rows": list, "notes": list}
    for i, s in enumerate(report["stages"]):
        _check_types(s, f"report['stages'][{i}]", stage)
        if s["name"] not in STAGES:
            raise ValueError(f"report['stages'][{i}]['name'] {s['name']!r} is not one of {list(STAGES)}")
        if s["status"] not in STATUSES:
            raise ValueError(f"report['stages'][{i}]['status'] must be one of {STATUSES}, got {s['status']!r}")
        if (s["status"] == "failed") != isinstance(s.get("error"), str):
            raise ValueError(f"report['stages'][{i}]: a failed stage has an error string, others none")


def write_reports(out: Path, results: list[StageResult], sizes: Sizes, device: torch.device,
                  seconds: float) -> dict:
    """Write ``report.json``, then ``report.md`` (each atomically), and return the report: a bug in
    the Markdown cannot cost the figures."""
    report = build_report(results, sizes, device, seconds)
    write_atomic(out / "report.json", json.dumps(report, indent=2) + "\n")
    try:
        text = format_markdown(report)
    except Exception as error:  # the figures are safe in report.json
        text = f"# deeplab_edu gpu-check\n\nreport.md could not be formatted ({short_error(error)}); see report.json.\n"
    write_atomic(out / "report.md", text)
    return report
