"""What every test file shares: a headless matplotlib, closed figures, and a small built-in dataset."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before any test imports pyplot: no test opens a window

import matplotlib.pyplot as plt
import pytest

from deeplab_edu.datasets.synthetic import write_builtin


@pytest.fixture(autouse=True)
def _close_figures():
    """Each test starts and ends with no open figure, so figure counts and memory stay local."""
    plt.close("all")
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def builtin(tmp_path_factory) -> Path:
    """Six 48-pixel scenes of the built-in set (4 train, 2 val), written once per test module."""
    return write_builtin(tmp_path_factory.mktemp("builtin"), train=4, val=2, size=48, progress=False)
