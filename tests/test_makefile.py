"""What `make` installs and runs: the CPU torch pin everywhere `make test` installs, and no
system packages installed as a side effect of a test target."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def make(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60, **kwargs)


def test_make_venv_installs_with_the_cpu_pin_and_the_cpu_index(tmp_path):
    text = make("-n", "venv", f"VENV={tmp_path / 'venv'}").stdout
    install = next(line for line in text.replace("\\\n", " ").splitlines() if "pip install" in line and "-e" in line)
    assert "-c constraints/cpu.txt" in install
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in install
    assert "--quiet" not in install  # progress is shown, not minutes of silence


def test_test_browser_never_installs_chromium_unasked(tmp_path):
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / "pyvenv.cfg").write_text("")
    stamp = venv / ".installed-cpu.txt"
    stamp.write_text("")
    later = time.time() + 60
    for path in (venv / "pyvenv.cfg", stamp):
        os.utime(path, (later, later + (path == stamp)))
    done = make("test-browser", f"VENV={venv}", "CHROMIUM=/nonexistent/chromium")
    assert done.returncode != 0
    assert "needs Chromium" in done.stdout and "INSTALL_CHROMIUM=1" in done.stdout
    assert "apt-get update" not in done.stdout + done.stderr
