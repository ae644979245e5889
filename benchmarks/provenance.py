"""What a saved benchmark output needs to be read later: command, machine, versions, date, load.

``bench_crf_fast.py``, ``bench_datasets.py`` and ``bench_train.py`` print ``provenance()`` first, so an output committed under
``benchmarks/results/`` says how and where it was measured. The load average is there because
ratios measured on a shared machine are only as steady as the machine was.
"""

from __future__ import annotations

import datetime
import os
import platform
import sys

import numpy as np
import torch


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def provenance() -> str:
    load = ", load average %.1f %.1f %.1f" % os.getloadavg() if hasattr(os, "getloadavg") else ""
    gpu = f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no CUDA device"
    return (f"command: python {' '.join(sys.argv)}\n"
            f"machine: {cpu_name()}, {os.cpu_count()} logical CPUs{gpu}; "
            f"{platform.system()} {platform.release()}{load}\n"
            f"versions: python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}\n"
            f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
