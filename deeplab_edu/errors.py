"""The one exception type for a user's mistake — a bad value, a missing file, a checkpoint of another
run — with a message naming it and what was expected; the command line prints it as one line.
"""

from __future__ import annotations


class UserError(ValueError):
    """A mistake in what the user asked for; printed as one line, exit status 2."""


class TrainingInterrupted(UserError):
    """Training stopped by SIGINT / SIGTERM after saving a checkpoint (exit status 130)."""

    exit_code = 130


class TrainingDiverged(UserError, FloatingPointError):
    """The loss or the weights stopped being finite (a learning rate or weight decay too large): one
    line on the command line, and a ``FloatingPointError`` for code that catches that."""
