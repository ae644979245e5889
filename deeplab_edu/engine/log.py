"""The training log ``<out>/log.csv`` (every ``log_every`` steps) and the validation log ``val.csv``.

A run killed while writing leaves a partial last line: reading skips (and names) rows that do not
parse, and a resumed run rewrites the log atomically from the rows it keeps.
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
import warnings
from pathlib import Path

LOG_FIELDS = ("step", "loss", "lr_backbone", "lr_head", "images_per_s", "elapsed_s")
VAL_FIELDS = ("step", "mIoU", "pixel_acc")


def read_rows(path: str | Path, until_step: int | None = None,
              fields: tuple[str, ...] = LOG_FIELDS) -> list[dict[str, float]]:
    """The log's complete rows as floats (steps ≤ ``until_step``); malformed rows are skipped."""
    path = Path(path)
    if not path.is_file():
        return []
    rows, skipped = [], 0
    with path.open(newline="") as handle:
        for raw in csv.DictReader(handle):
            try:
                row = {key: float(raw[key]) for key in fields}
            except (KeyError, TypeError, ValueError):
                skipped += 1
                continue
            if not all(math.isfinite(v) for k, v in row.items() if k != "loss"):
                skipped += 1
                continue
            if until_step is None or row["step"] <= until_step:
                rows.append(row)
    if skipped:
        warnings.warn(f"{path}: skipped {skipped} incomplete row(s) (a run killed while writing)", stacklevel=2)
    return rows


def rewrite(path: str | Path, rows: list[dict], fields: tuple[str, ...] = LOG_FIELDS) -> None:
    """Write the header and ``rows`` atomically (temporary file, then ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    from deeplab_edu.files import match_umask

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        match_umask(fd)  # mkstemp's 0600 would make the log private
        with os.fdopen(fd, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise _named(err, path) from err
        raise


def append(path: str | Path, row: dict, fields: tuple[str, ...] = LOG_FIELDS) -> None:
    """Add one row, flushed at once (a killed run loses at most the row being written)."""
    try:
        with Path(path).open("a", newline="") as handle:
            csv.DictWriter(handle, fieldnames=fields, lineterminator="\n").writerow(row)
    except OSError as err:
        raise _named(err, Path(path)) from err


def _named(err: OSError, path: Path) -> OSError:
    """The error again, saying which file and folder (a full disk names neither by itself)."""
    from deeplab_edu.files import is_disk_full

    if is_disk_full(err):
        return OSError(err.errno, f"no space left on {path.parent} while writing {path.name} "
                                  f"({err.strerror}); free some space or choose another folder")
    return OSError(err.errno, f"cannot write {path} ({err.strerror or err})")
