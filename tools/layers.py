"""The package's layers, and every import that runs the wrong way between them.

The table below is the one copy of the layer contract in ``shared/DESIGN.md`` ("The layers as
the package has grown"): a module may import only from layers below its own; in the
models · data · crf · papers layer, models and data never import each other. Every import
counts, including the ones written inside a function to keep start-up cheap: a lazy import
is still a dependency.

    python -m tools.layers            # prints each wrong-way import; exit status 1 if any

``tests/test_layers.py`` runs the same check, so a wrong-way import fails the build.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = "deeplab_edu"
ROOT = Path(__file__).resolve().parents[1]

# Highest layer first. A name covers the module and, for a package, everything inside it.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("face", ("__main__", "cli", "viz", "widgets", "predict", "gpu_check", "environment", "book")),
    ("study", ("trials", "diagnostics", "class_gap", "conclusions", "chapter_runs", "records")),
    ("engine", ("train", "evaluate", "engine", "checkpoint", "pretrain")),
    ("models·data·crf·papers", ("models", "aspp", "backbones", "weights", "localisation",
                                "datasets", "crf", "recipes", "published")),
    ("lessons", ("atrous", "hole", "receptive_field", "separable", "layouts")),
    ("base", ("metrics", "profiles", "paths", "runtime", "schedules", "distributed", "errors",
              "experiments", "validate", "progress", "files")),
)
# Within one layer, groups that must not import each other.
APART: tuple[tuple[str, ...], tuple[str, ...]] = (
    ("models", "aspp", "backbones", "weights", "localisation"), ("datasets",))


def top_name(module: str) -> str:
    """``deeplab_edu.crf.dense`` → ``crf``: the name the table lists it under."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer_of(module: str) -> int:
    """The module's layer as a rank (0 = base, higher = nearer the reader); KeyError if unlisted."""
    name = top_name(module)
    for rank, (_, names) in enumerate(reversed(LAYERS)):
        if name in names:
            return rank
    raise KeyError(f"{module} is in no layer of tools/layers.py: add {name!r} to LAYERS")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str, root: Path) -> bool:
    path = root / Path(*name.split("."))
    return path.with_suffix(".py").exists() or path.is_dir()


def imports(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, module) for every import of the package in ``path``, relative ones resolved."""
    module = module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = parts[: len(parts) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                # ``from deeplab_edu import crf`` imports the module crf, not just the package.
                name = f"{target}.{alias.name}"
                found.append((node.lineno, name if _is_module(name, root) else target))
    return [(line, name) for line, name in found if name == PACKAGE or name.startswith(PACKAGE + ".")]


def _group(module: str) -> int | None:
    name = top_name(module)
    return next((i for i, names in enumerate(APART) if name in names), None)


def violations(root: Path = ROOT) -> list[str]:
    """One line per wrong-way import (``file:line: a (layer) imports b (layer)``), or per unlisted module."""
    problems = []
    for path in sorted((root / PACKAGE).rglob("*.py")):
        importer = module_name(path, root)
        if importer == PACKAGE:
            continue  # the package's own __init__ imports nothing of it
        try:
            rank = layer_of(importer)
        except KeyError as error:
            problems.append(str(error.args[0]))
            continue
        for line, imported in imports(path, root):
            if imported == PACKAGE or top_name(imported) == top_name(importer):
                continue
            try:
                other = layer_of(imported)
            except KeyError as error:
                problems.append(f"{path.relative_to(root)}:{line}: {error.args[0]}")
                continue
            where = f"{path.relative_to(root)}:{line}: {importer}"
            names = [name for name, _ in reversed(LAYERS)]
            if other > rank:
                problems.append(f"{where} ({names[rank]}) imports {imported} ({names[other]}), a higher layer")
            elif other == rank and {_group(importer), _group(imported)} == {0, 1}:
                problems.append(f"{where} imports {imported}: models and data never import each other")
    return problems


def main() -> int:
    problems = violations()
    print("\n".join(problems) if problems else "every import runs down the layers")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
