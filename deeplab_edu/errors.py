"""The one exception type for a user's mistake: the command line prints it as one line.

``python -m deeplab_edu`` shows a traceback only for bugs. Anything a user can fix — a bad
value, a missing file, a checkpoint of another run — is raised as ``UserError`` (or as
``ValueError`` / ``FileNotFoundError``, which the command line treats the same way) with a
message that names the value or file and what was expected.
"""

from __future__ import annotations


class UserError(ValueError):
    """A mistake in what the user asked for; printed as one line, exit status 2."""


class TrainingInterrupted(UserError):
    """Training stopped by SIGINT / SIGTERM after saving a checkpoint (exit status 130)."""

    exit_code = 130


class TrainingDiverged(UserError, FloatingPointError):
    """The loss or the weights stopped being finite (a learning rate or weight decay too large).

    A ``UserError``, so the command line prints its one line (the step and the last good
    checkpoint) instead of a traceback; a ``FloatingPointError`` for code that catches that.
    """
