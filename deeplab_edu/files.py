"""Files a user can share: ``tempfile.mkstemp`` creates mode 0600, which ``os.replace`` keeps, so an
atomically written checkpoint or log gets the mode ``open()`` would have given it: ``0666 & ~umask``.
"""

from __future__ import annotations

import errno
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


def is_disk_full(err: BaseException) -> bool:
    """Whether ``err`` says the disk is full: ENOSPC, EDQUOT, EFBIG (``ulimit -f``), or torch.save's words
    for them from C++ ("inline_container.cc … file write failed" or "… unexpected pos")."""
    return getattr(err, "errno", None) in (errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", -1)) or any(
        s in str(err) for s in ("file write failed", "unexpected pos", "No space left", "File too large"))
