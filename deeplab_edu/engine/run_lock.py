"""One writer per run folder: ``<out>/run.lock``, held while a run trains there.

The lock is the kernel's advisory ``fcntl.flock`` on a file that records the holder's PID, host
and start time. The kernel drops it when its process dies, so a killed run leaves only a *stale*
file, which the next run takes over; a second ``train`` into a folder in use stops before touching
anything, naming the running one. Without ``flock`` (Windows, some network mounts) the file itself
is the lock (``O_CREAT | O_EXCL``), stale when its PID no longer runs on this host.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

from deeplab_edu.errors import UserError

LOCK_NAME = "run.lock"


class RunFolderBusy(UserError):
    """Another live process holds the run folder."""


class _NoFlock(Exception):
    """The file system refuses ``flock``."""


def process_alive(pid: int, host: str | None = None) -> bool:
    """Whether process ``pid`` runs on ``host`` (this host when None). A process on another
    host cannot be asked, so it counts as alive: nothing of it is ever taken as stale."""
    if host is not None and host != socket.gethostname():
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except PermissionError:  # it exists, under another user
        return True
    except OSError:  # ProcessLookupError included
        return False
    return True


def _describe(info: dict) -> str:
    started = info.get("started")
    when = time.strftime(" since %Y-%m-%d %H:%M:%S", time.localtime(started)) if started else ""
    return f"PID {info.get('pid', '?')} on {info.get('host', '?')}{when}"


def _read(path: Path) -> dict:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _record() -> str:
    return json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}) + "\n"


def _busy(folder: Path, path: Path, info: dict) -> RunFolderBusy:
    return RunFolderBusy(f"run folder {folder} is in use by another run ({_describe(info)}; lock {path}); "
                         "wait for it to finish or choose another --out (out_dir)")


def _note_stale(path: Path, info: dict) -> None:
    if info:
        warnings.warn(f"{path}: stale lock of {_describe(info)}, which no longer runs; taking it over",
                      stacklevel=4)


def _acquire_flock(folder: Path, path: Path) -> int:
    import fcntl

    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise _busy(folder, path, _read(path)) from None
        except OSError:  # a file system without flock (some network mounts): the file is the lock
            os.close(fd)
            raise _NoFlock from None
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        if current is None or current.st_ino != os.fstat(fd).st_ino:
            os.close(fd)  # its holder removed this file while we waited: lock the new one
            continue
        _note_stale(path, _read(path))
        os.ftruncate(fd, 0)
        os.pwrite(fd, _record().encode(), 0)
        return fd


def _acquire_exclusive(folder: Path, path: Path) -> int:
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            info = _read(path)
            if not info:  # being written this instant, or empty: look again once
                time.sleep(0.2)
                info = _read(path)
            pid = info.get("pid")
            if isinstance(pid, int) and process_alive(pid, info.get("host")):
                raise _busy(folder, path, info) from None
            _note_stale(path, info)
            path.unlink(missing_ok=True)
            continue
        os.write(fd, _record().encode())
        return fd


@contextlib.contextmanager
def hold_run_folder(folder: str | Path, writer: bool = True) -> Iterator[Path | None]:
    """Hold ``folder``'s lock (created if missing) for the ``with`` block, or raise ``RunFolderBusy`` naming
    the holder; ``writer=False`` (torchrun's other processes, which never write) takes nothing."""
    if not writer:
        yield None
        return
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"run folder {folder} is a file; --out (out_dir) must name a folder")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    try:
        fd = _acquire_flock(folder, path)
    except (ImportError, _NoFlock):  # no fcntl (Windows), or a file system without flock
        fd = _acquire_exclusive(folder, path)
    try:
        yield path
    finally:
        # Remove the file while still holding the lock, so nobody ever locks a file that is
        # about to vanish (a waiter that opened it sees the inode change and retries).
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)
