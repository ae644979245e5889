"""``python -m deeplab_edu env``: the environment report (``deeplab_edu.environment``)."""

from __future__ import annotations

import argparse

from deeplab_edu.cli import configure


def add_arguments(parser: argparse.ArgumentParser) -> None:
    configure(parser, "Check the environment: versions, GPU, pydensecrf, run profile, data paths.")


def run(args: argparse.Namespace) -> int:
    from deeplab_edu.environment import environment_checks, format_report

    checks = environment_checks()
    print(format_report(checks))
    required = {"python", "torch", "numpy", "matplotlib", "profile"}
    return 0 if all(c.ok for c in checks if c.name in required) else 1
