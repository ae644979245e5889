"""``python -m deeplab_edu gpu-check --out DIR``: one command that measures the book's GPU path.

GPU time is rare and short, so everything the book claims about GPUs is measured by this one
prepared command, run once, in under 9 minutes on one H100-class GPU, in six stages, one file
each: ``environment``, ``throughput`` (the engine against torchvision), ``crf_bench``,
``training``, ``distributed`` (``ddp_worker`` is its torchrun child) and ``projection`` (each
chapter's time per run profile); ``stages`` runs them, ``report`` and ``markdown`` write
``report.json`` and ``report.md``, ``cli`` holds the options.

Each stage prints a progress line, has its own time budget, and a failing stage is reported
with its error without stopping the others. Without CUDA every stage runs at a tiny size in
seconds (so CI keeps the command from rotting) and the report says the GPU figures are
unmeasured. Needs only torch, NumPy and Pillow: tqdm, torchvision, SciPy and pydensecrf are
used when importable and their absence is reported, not fatal.
"""

from deeplab_edu.gpu_check.cli import add_arguments, main, run

__all__ = ["add_arguments", "main", "run"]
