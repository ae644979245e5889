"""The browser tests: JupyterLab in headless Chromium. They run only when asked for.

``pytest tests`` (and ``make test``) leave this folder out. Name it — ``pytest tests/browser``
(``make test-browser``) — or set ``DEEPLAB_EDU_BROWSER_TESTS=1`` to run it; then a missing
Chromium is a failure, not a skip. ``DEEPLAB_EDU_CHROMIUM`` points at another Chromium binary.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CHROMIUM = Path(os.environ.get("DEEPLAB_EDU_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


def _asked_for(config: pytest.Config) -> bool:
    if os.environ.get("DEEPLAB_EDU_BROWSER_TESTS", "") == "1":
        return True
    for arg in config.args:
        path = Path(str(arg).split("::")[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    return None if _asked_for(config) else True


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The Chromium binary; its absence fails the run that asked for browser tests."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"Chromium not found at {CHROMIUM}: install it (Debian/Ubuntu: apt-get install "
                    f"chromium, or `make test-browser` as root) or set DEEPLAB_EDU_CHROMIUM", pytrace=False)
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium: Path):
    """Headless Chromium driven by Playwright (Debian's binary, not a downloaded one)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclasses.dataclass(frozen=True)
class Lab:
    url: str
    token: str
    root: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the server (it shuts its kernels down), then SIGKILL its process group if it lingers."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the group start_new_session gave the server's PID
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab on a free loopback port, with a token, serving a temporary copy of the chapters."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copy(REPO / "notebooks" / "02_receptive_field.ipynb", root)
    token, port = secrets.token_hex(16), _free_port()
    env = {**os.environ, "DEEPLAB_EDU_PROFILE": "smoke", "JUPYTER_RUNTIME_DIR": str(root / ".runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(root / ".settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(root / ".workspaces")}
    env.pop("MPLBACKEND", None)  # the kernel must pick the inline backend, as a reader's would
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               "--port-retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = open(root / "jupyterlab.log", "wb")
    process = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited with {process.returncode}:\n"
                            f"{(root / 'jupyterlab.log').read_text()[-3000:]}", pytrace=False)
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("JupyterLab did not answer within 60 s:\n"
                            f"{(root / 'jupyterlab.log').read_text()[-3000:]}", pytrace=False)
            time.sleep(0.5)
        yield Lab(url, token, root)
    finally:
        _stop(process)
        log.close()
