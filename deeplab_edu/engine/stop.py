"""Stopping a run cleanly: the first SIGINT (Ctrl-C) or SIGTERM only sets a flag, so the loop ends
its step, saves and says how to resume; a second Ctrl-C interrupts at once.
"""

from __future__ import annotations

import signal
import threading


class StopRequest:
    """Context manager: ``.signal`` is the received signal's name once SIGINT / SIGTERM arrived."""

    SIGNALS = ("SIGINT", "SIGTERM")

    def __init__(self) -> None:
        self.signal: str | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum, frame) -> None:
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # asked twice: stop now
        self.signal = signal.Signals(signum).name

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():  # handlers live in the main thread only
            for name in self.SIGNALS:
                number = getattr(signal, name, None)
                if number is not None:
                    self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()
