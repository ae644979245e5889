"""Check that every chapter's jupytext pair agrees: ``NN_topic.py`` and ``NN_topic.ipynb``.

The ``.py`` (percent format) is the source people edit; the ``.ipynb`` is committed executed.
A pair is out of sync when their cells differ in type, source or metadata (tags included);
outputs are not compared — the notebook holds them, the script cannot.

``python -m tools.notebook_pairs`` prints every problem and exits 1 when there is one.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext
from jupytext.compare import NotebookDifference, compare_notebooks

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def chapter_scripts(folder: Path = NOTEBOOKS) -> list[Path]:
    """The chapters' ``.py`` sources: files named like ``00_tour.py``."""
    return sorted(p for p in folder.glob("[0-9][0-9]_*.py"))


def pair_problems(script: Path) -> list[str]:
    """What is wrong with one pair, as sentences naming the files; empty when in sync."""
    notebook = script.with_suffix(".ipynb")
    if not notebook.exists():
        return [f"{script.name} has no paired notebook {notebook.name} (run `make sync`)"]
    try:
        compare_notebooks(jupytext.read(notebook), jupytext.read(script), fmt="py:percent")
    except NotebookDifference as difference:
        first_line = str(difference).strip().splitlines()[0]
        return [f"{script.name} and {notebook.name} are out of sync: {first_line} "
                "(edit the .py, then run `make sync`)"]
    return []


def all_problems(folder: Path = NOTEBOOKS) -> list[str]:
    problems = [problem for script in chapter_scripts(folder) for problem in pair_problems(script)]
    scripts = {p.stem for p in chapter_scripts(folder)}
    problems += [f"{nb.name} has no paired script {nb.stem}.py"
                 for nb in sorted(folder.glob("[0-9][0-9]_*.ipynb")) if nb.stem not in scripts]
    return problems


if __name__ == "__main__":
    found = all_problems()
    print("\n".join(found) or f"{len(chapter_scripts())} notebook pairs in sync")
    sys.exit(1 if found else 0)
