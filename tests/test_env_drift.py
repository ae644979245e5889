"""environment.yml must mirror pyproject.toml; a drifted copy must be caught."""

import shutil

from tools import env_drift


def test_environment_yml_mirrors_pyproject():
    assert env_drift.drift() == []


def test_conda_name_of_torch_is_pytorch():
    assert "pytorch" in env_drift.pyproject_requirements()
    assert "pytorch" in env_drift.environment_requirements()


def _copies(tmp_path):
    for name in ("pyproject.toml", "environment.yml"):
        shutil.copy(env_drift.ROOT / name, tmp_path / name)
    return tmp_path / "pyproject.toml", tmp_path / "environment.yml"


def test_a_package_missing_from_environment_yml_is_caught(tmp_path):
    pyproject, environment = _copies(tmp_path)
    environment.write_text(environment.read_text().replace("  - tqdm>=4.65\n", ""))
    assert env_drift.drift(pyproject, environment) == [
        "tqdm>=4.65 is in pyproject.toml but not in environment.yml"]


def test_a_package_added_only_to_pyproject_or_a_changed_pin_is_caught(tmp_path):
    pyproject, environment = _copies(tmp_path)
    pyproject.write_text(pyproject.read_text().replace('"numpy>=1.24",', '"numpy>=2.0",\n    "rich",'))
    problems = env_drift.drift(pyproject, environment)
    assert "rich is in pyproject.toml but not in environment.yml" in problems
    assert "numpy: pyproject.toml asks for >=2.0, environment.yml for >=1.24" in problems
