"""Files a user can share: what an atomic write creates gets the mode of an ordinary file.

``tempfile.mkstemp`` creates its file with mode 0600 (private, because its name is guessable
only by its maker), and ``os.replace`` keeps that mode. A checkpoint or log written that way
would be unreadable to the user's group even under ``umask 022``; ``match_umask`` gives the
file the mode ``open()`` would have given it: ``0666 & ~umask``.
"""

from __future__ import annotations

import os
import threading

_lock = threading.Lock()


def current_umask() -> int:
    """The process's umask: read from ``/proc`` where Linux offers it, else by setting it and
    putting it back (under a lock; another thread creating a file at that instant would see it)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def match_umask(fd_or_path: int | str | os.PathLike) -> None:
    """Set a freshly created file's mode to ``0o666 & ~umask``."""
    mode = 0o666 & ~current_umask()
    if isinstance(fd_or_path, int) and os.chmod not in os.supports_fd:
        return  # Windows: no modes to widen
    os.chmod(fd_or_path, mode)
