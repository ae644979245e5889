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


def pip_install_line(text):
    return next(line for line in text.replace("\\\n", " ").splitlines() if "pip install" in line and "-e" in line)


def test_make_venv_installs_with_the_cpu_pin_and_the_cpu_index(tmp_path):
    index = "https://download.pytorch.org/whl/cpu"
    install = pip_install_line(make("-n", "venv", f"VENV={tmp_path / 'venv'}", f"TORCH_CPU_INDEX={index}").stdout)
    assert "-c constraints/cpu.txt" in install
    assert f"--extra-index-url {index}" in install
    assert "--quiet" not in install  # progress is shown, not minutes of silence


def test_an_index_that_does_not_answer_is_left_out(tmp_path):
    # Behind a closed network pip would retry the index for every package; the Makefile probes it once.
    text = make("-n", "venv", f"VENV={tmp_path / 'venv'}", "PYTORCH_CPU_INDEX=http://127.0.0.1:9/whl/cpu").stdout
    install = pip_install_line(text)
    assert "-c constraints/cpu.txt" in install and "--extra-index-url" not in install


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
