"""Compare the dependencies of ``pyproject.toml`` (the one list) with ``environment.yml``.

Conda-forge names PyTorch ``pytorch``; every other package keeps its PyPI name. A package
may sit in the conda list or in its ``pip:`` section, but it must be there, with the same
version specifier. ``python -m tools.env_drift`` prints the differences and exits 1 on any.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"torch": "pytorch"}
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(\[[^\]]*\])?\s*(.*?)\s*$")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _parse(requirement: str) -> tuple[str, str]:
    match = _REQUIREMENT.match(requirement)
    if not match:
        raise ValueError(f"cannot read requirement {requirement!r}")
    return _normalise(match.group(1)), match.group(3).replace(" ", "")


def pyproject_requirements(path: Path = ROOT / "pyproject.toml") -> dict[str, str]:
    """name → specifier for the core dependencies and every extra (self-references dropped)."""
    project = tomllib.loads(path.read_text())["project"]
    own_name = _normalise(project["name"])
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    parsed = dict(_parse(r) for r in requirements)
    parsed.pop(own_name, None)
    return {CONDA_NAMES.get(name, name): spec for name, spec in parsed.items()}


def environment_requirements(path: Path = ROOT / "environment.yml") -> dict[str, str]:
    """name → specifier from the conda list and its pip section (``python``, ``pip``, ``-e .`` dropped)."""
    spec = yaml.safe_load(path.read_text())
    entries: list[str] = []
    for item in spec.get("dependencies", []):
        if isinstance(item, dict):
            entries += [e for e in item.get("pip", []) if not e.startswith("-")]
        else:
            entries.append(item)
    parsed = dict(_parse(e.replace("=", "==", 1) if re.match(r"^[^<>=!~]+=[^=]", e) else e)
                  for e in entries)
    for tool in ("python", "pip"):
        parsed.pop(tool, None)
    return parsed


def drift(pyproject: Path = ROOT / "pyproject.toml",
          environment: Path = ROOT / "environment.yml") -> list[str]:
    """Sentences naming each package that is missing from one file or pinned differently."""
    wanted, have = pyproject_requirements(pyproject), environment_requirements(environment)
    problems = [f"{name}{wanted[name]} is in {pyproject.name} but not in {environment.name}"
                for name in sorted(wanted.keys() - have.keys())]
    problems += [f"{name}{have[name]} is in {environment.name} but not in {pyproject.name}"
                 for name in sorted(have.keys() - wanted.keys())]
    problems += [f"{name}: {pyproject.name} asks for {wanted[name] or 'any version'}, "
                 f"{environment.name} for {have[name] or 'any version'}"
                 for name in sorted(wanted.keys() & have.keys()) if wanted[name] != have[name]]
    return problems


if __name__ == "__main__":
    found = drift()
    print("\n".join(found) or "environment.yml mirrors pyproject.toml")
    sys.exit(1 if found else 0)
