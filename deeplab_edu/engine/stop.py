"""Stopping a run cleanly: SIGINT (Ctrl-C) or SIGTERM ends the current step, saves, and exits.

While ``StopRequest`` is active the first signal only sets a flag; the loop finishes its step,
writes a checkpoint at that step and raises ``TrainingInterrupted`` naming the checkpoint and
how to resume. A second Ctrl-C interrupts at once, as usual.
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
