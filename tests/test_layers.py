"""The layer contract: every import of the package runs down the table in tools/layers.py."""

from pathlib import Path

import pytest

from tools import layers


def test_every_import_runs_down_the_layers():
    assert layers.violations() == []


def test_every_module_of_the_package_has_a_layer():
    for path in (layers.ROOT / layers.PACKAGE).rglob("*.py"):
        module = layers.module_name(path, layers.ROOT)
        if module != layers.PACKAGE:
            layers.layer_of(module)  # KeyError names the module missing from the table


def package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in {"__init__.py": "", **files}.items():
        path = tmp_path / layers.PACKAGE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


@pytest.mark.parametrize("files, expected", [
    # a lesson reaching up to the engine, even lazily inside a function
    ({"atrous.py": "def f():\n    from deeplab_edu.train import train\n", "train.py": ""},
     "atrous.py:2: deeplab_edu.atrous (lessons) imports deeplab_edu.train (engine), a higher layer"),
    # a relative import is resolved before it is judged
    ({"crf/__init__.py": "", "crf/dense.py": "from ..trials import run\n", "trials.py": ""},
     "crf/dense.py:1: deeplab_edu.crf.dense (models·data·crf·papers) imports deeplab_edu.trials (study)"),
    # `from deeplab_edu import viz` imports the module viz, not the package
    ({"metrics.py": "from deeplab_edu import viz\n", "viz/__init__.py": ""},
     "metrics.py:1: deeplab_edu.metrics (base) imports deeplab_edu.viz (face)"),
    ({"models/__init__.py": "from deeplab_edu.datasets import build\n", "datasets/__init__.py": "",
      "datasets/build.py": ""},
     "models/__init__.py:1: deeplab_edu.models imports deeplab_edu.datasets.build: models and data never"),
    ({"newthing.py": ""}, "deeplab_edu.newthing is in no layer of tools/layers.py: add 'newthing' to LAYERS"),
])
def test_a_wrong_way_import_is_reported(tmp_path, files, expected):
    problems = layers.violations(package(tmp_path, files))
    assert len(problems) == 1 and expected in problems[0], problems


def test_imports_down_the_layers_and_within_a_package_are_allowed(tmp_path):
    root = package(tmp_path, {
        "train.py": "from deeplab_edu.models import build\nfrom deeplab_edu import metrics\n",
        "models/__init__.py": "from .v1 import V1\nfrom deeplab_edu.atrous import f\n", "models/v1.py": "",
        "crf/__init__.py": "", "crf/coarse.py": "from ..datasets import palette\n",
        "datasets/__init__.py": "", "datasets/palette.py": "from deeplab_edu.metrics import IGNORE\n",
        "metrics.py": "import numpy\n", "atrous.py": "import deeplab_edu.validate\n", "validate.py": "",
    })
    assert layers.violations(root) == []


def test_the_readme_table_names_each_module_in_its_layer():
    readme = (layers.ROOT / "README.md").read_text()
    for layer, names in layers.LAYERS:
        row = next(line for line in readme.splitlines() if line.startswith(f"| {layer.replace('·', ' · ')} |"))
        for name in names:
            assert f"`{name}`" in row or f"`{name}/`" in row, (layer, name)
