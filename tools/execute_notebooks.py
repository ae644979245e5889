"""Execute chapters and write their paired ``.ipynb`` with fresh outputs.

``python -m tools.execute_notebooks notebooks/03_hole_algorithm.py [...]`` (or ``make notebooks``)
runs each chapter top to bottom in ``notebooks/`` with the current interpreter's kernel,
seeded as the chapters seed themselves, and rewrites both files of the pair so they stay in
sync. Cells tagged ``raises-exception`` may raise; ``skip-execution`` cells are not run.

Each executed ``.ipynb`` records how long the chapter took and where, under the notebook
metadata key ``deeplab_edu.execution`` (``wall_s``, ``machine``, ``profile``, and the host's
``reference_step_ms``: CPUs of one name differ in speed between hosts, so a time is quoted with
the speed of the host it was measured on): chapter 00 and the README quote these measured times
rather than a guess. The ``.py`` does not carry them
(jupytext's notebook metadata filter is ``-all``), so editing a chapter never changes them;
only executing it does.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient


def execute(script: Path, timeout: int) -> float:
    """Run one chapter and write its ``.ipynb`` (and normalised ``.py``); return seconds taken."""
    notebook = jupytext.read(script)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    skipped = []
    for index, cell in enumerate(notebook.cells):
        if "skip-execution" in cell.metadata.get("tags", []):
            skipped.append(index)
            cell.cell_type = "raw"  # nbclient runs only code cells
    start = time.perf_counter()
    NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(script.parent)}}).execute()
    for index in skipped:
        notebook.cells[index].cell_type = "code"
        notebook.cells[index].outputs = []
        notebook.cells[index].execution_count = None
    seconds = time.perf_counter() - start
    drop_progress_widgets(notebook)
    record_execution(notebook, seconds, step_ms=reference_step_ms())
    jupytext.write(notebook, script.with_suffix(".ipynb"))
    jupytext.write(notebook, script, fmt="py:percent")
    nbformat.validate(nbformat.read(script.with_suffix(".ipynb"), as_version=4))
    return seconds


def machine() -> str:
    """The machine a chapter ran on, e.g. ``Intel(R) Xeon(R) Platinum 8488C, 2 logical CPUs, no CUDA GPU``."""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):  # not Linux, or a CPU that names no model
        cpu = platform.processor() or platform.machine() or "unknown CPU"
    import torch  # late: only a run that records its machine pays for the import

    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no CUDA GPU"
    return f"{cpu}, {os.cpu_count()} logical CPUs, {gpu}"


def reference_step_ms(steps: int = 5) -> float:
    """How fast this host trains, in ms per step: chapter 07's ``laptop`` LargeFOV step (8 crops of
    129 px, the chapters' precision), timed by ``engine.estimate.time_steps`` after the chapter ran."""
    from deeplab_edu.engine.estimate import time_steps
    from deeplab_edu.profiles import PROFILES
    from deeplab_edu.train import TrainConfig

    config = TrainConfig.from_profile("deeplabv1", PROFILES["laptop"], pretrained=None, device="cpu")
    return 1000 * time_steps(config, steps=steps, num_classes=8, device="cpu")


def record_execution(notebook: nbformat.NotebookNode, seconds: float, where: str | None = None,
                     profile: str | None = None, step_ms: float | None = None) -> dict:
    """Store the chapter's wall time, machine and run profile (and the host's ``reference_step_ms``,
    where measured) in ``notebook.metadata``; return them.

    The profile is the one the kernel saw: ``DEEPLAB_EDU_PROFILE``, or the default the package
    picks on this machine when it is unset.
    """
    if profile is None:
        from deeplab_edu.profiles import get_profile

        profile = get_profile().name
    record = {"wall_s": round(float(seconds), 1), "machine": where or machine(), "profile": profile}
    if step_ms is not None:
        record["reference_step_ms"] = round(float(step_ms), 1)
    if hasattr(os, "getloadavg"):  # a chapter timed beside other work reads slower than the CPU is
        record["load_average_15min"] = round(os.getloadavg()[2], 1)
    notebook.metadata.setdefault("deeplab_edu", {})["execution"] = record
    return record



# The text a tqdm widget leaves for readers without a live kernel: "desc:   0%|   | 0/810 [...]".
_PROGRESS_TEXT = re.compile(r"^\S[^|\n]*\d+%\|.*\|\s*\d+/\d+")


def drop_progress_widgets(notebook: nbformat.NotebookNode) -> int:
    """Remove the progress-bar widgets an executed notebook recorded; return how many.

    A tqdm bar in a notebook is a live widget; saved, it shows only its first frame ("0%| 0/810")
    to everyone who opens the file. The chapters print a summary line after long work instead.
    Other widgets (the chapters' sliders) are kept.
    """
    dropped = 0
    for cell in notebook.cells:
        kept = []
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            text = data.get("text/plain", "")
            text = "".join(text) if isinstance(text, list) else text
            if "application/vnd.jupyter.widget-view+json" in data and _PROGRESS_TEXT.match(text.strip()):
                dropped += 1
                continue
            kept.append(output)
        if "outputs" in cell:
            cell.outputs = kept
    return dropped


def main(argv: list[str] | None = None) -> int:
    # The kernel inherits our environment; with MPLBACKEND=Agg ipykernel would not switch
    # matplotlib to its inline backend and the committed chapters would have no figures.
    os.environ.pop("MPLBACKEND", None)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scripts", nargs="+", type=Path, help="chapter .py files")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    for script in args.scripts:
        if script.suffix != ".py" or not script.exists():
            parser.error(f"{script}: expected an existing chapter .py file")
        seconds = execute(script.resolve(), args.timeout)
        print(f"{script}: executed in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
