"""Checks on what a caller passes in, each mistake worded one way across the book.

The public entry points call these once at the top, so the code below them can read like the
paper's formula. A failed check raises :class:`ArgumentError`, both a ``ValueError`` (a
:class:`~deeplab_edu.errors.UserError`, one line on the command line) and a ``TypeError``, so
that ``rate=True`` and ``rate=0`` are one kind of mistake to the caller.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Sequence

import numpy as np

from deeplab_edu.errors import UserError

__all__ = ["ArgumentError", "integer", "integers", "number", "choice", "shape"]


class ArgumentError(UserError, TypeError):
    """An argument of the wrong type or out of range; the message names it and what was expected."""


def _integer_rule(minimum: int | None, maximum: int | None) -> str:
    if maximum is not None:
        return f"an integer in {minimum}..{maximum}" if minimum is not None else f"an integer <= {maximum}"
    return {None: "an integer", 0: "a non-negative integer", 1: "a positive integer"}.get(
        minimum, f"an integer >= {minimum}")


def _is_integer(value: object, whole_floats: bool) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, np.integer)):
        return True
    return whole_floats and isinstance(value, numbers.Real) and float(value).is_integer()


def integer(value: object, name: str, *, minimum: int | None = None, maximum: int | None = None,
            unit: str = "", whole_floats: bool = False) -> int:
    """``value`` as an ``int`` in [minimum, maximum], else :class:`ArgumentError` naming ``name``.

    ``True`` is never an integer here; ``2.0`` is only when ``whole_floats`` (a count of
    samples written as a float). ``unit`` says what is counted, e.g. ``"(pixels per side)"``.
    """
    ok = _is_integer(value, whole_floats)
    if ok:
        n = int(value)
        ok = (minimum is None or n >= minimum) and (maximum is None or n <= maximum)
    if not ok:
        what = f" {unit}" if unit else ""
        raise ArgumentError(f"{name} must be {_integer_rule(minimum, maximum)}{what}, got {value!r}")
    return n


def integers(values: object, name: str, *, minimum: int | None = None,
             length: int | None = None) -> tuple[int, ...]:
    """A non-empty sequence of integers ≥ ``minimum`` (exactly ``length`` of them when given)."""
    ok = isinstance(values, Sequence) and not isinstance(values, str) and len(values) > 0
    ok = ok and (length is None or len(values) == length)
    ok = ok and all(_is_integer(v, False) and (minimum is None or v >= minimum)
                    for v in values)
    if not ok:
        count = f"{length} " if length is not None else ""
        rule = {None: "integers", 0: "non-negative integers", 1: "positive integers"}.get(
            minimum, f"integers >= {minimum}")
        raise ArgumentError(f"{name} must be {count}{rule}, got {values!r}")
    return tuple(int(v) for v in values)


def number(value: object, name: str, *, minimum: float | None = None, maximum: float | None = None,
           positive: bool = False, unit: str = "") -> float:
    """``value`` as a finite ``float`` (> 0 when ``positive``, in [minimum, maximum] when given)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (not positive or value > 0) and (minimum is None or value >= minimum)
    ok = ok and (maximum is None or value <= maximum)
    if not ok:
        if maximum is not None:
            rule = (f" in (0, {maximum}]" if positive else f" in [{minimum}, {maximum}]" if minimum is not None
                    else f" <= {maximum}")
        else:
            rule = " > 0" if positive else f" >= {minimum}" if minimum is not None else ""
        what = f" {unit}" if unit else ""
        raise ArgumentError(f"{name} must be a finite number{rule}{what}, got {value!r}")
    return float(value)


def choice(value: object, name: str, allowed: Collection[object]) -> object:
    """``value`` when it is one of ``allowed``, else :class:`ArgumentError` listing them."""
    if value not in allowed:
        raise ArgumentError(f"{name} must be one of {tuple(allowed)}, got {value!r}")
    return value


def shape(array: object, name: str, layout: str, *, ndim: int | Collection[int] | None = None) -> None:
    """Raise unless ``array`` (a tensor or ndarray) has ``ndim`` axes; ``layout`` names them, e.g. ``"(N, C, H, W)"``."""
    dims = (ndim,) if isinstance(ndim, int) else ndim
    got = tuple(getattr(array, "shape", ()))
    if not hasattr(array, "shape") or (dims is not None and len(got) not in dims):
        what = f"shape {got}" if hasattr(array, "shape") else type(array).__name__
        raise ArgumentError(f"{name} must have shape {layout}, got {what}")
