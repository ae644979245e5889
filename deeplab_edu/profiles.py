"""Run profiles: one switch that sets how big every run in the book is; the code path is the same.

- ``smoke``  — seconds on a 2-core CPU; what the test suite and CI use.
- ``laptop`` — a CPU: the same runs at a size a laptop can finish (chapter 00 lists each chapter's
  measured time). Its small models start from the book's miniature-ImageNet backbones
  (``deeplab_edu.pretrain``), as DeepLab starts from ImageNet.
- ``gpu``    — one mid-range GPU (T4 / L4 class): the papers' full-size models, heads and rates
  (v1/v2's 321-px crops), for as many iterations as fit each training chapter into about 20
  minutes on a T4 (``GPU_ITERATIONS``).
- ``full``   — the published recipes exactly (a day or more per chapter on a T4-class GPU).

``DEEPLAB_EDU_PROFILE`` chooses the profile; unset, it is ``gpu`` where CUDA is available and
``laptop`` elsewhere.
"""

from __future__ import annotations

import dataclasses
import os

ENV_VAR = "DEEPLAB_EDU_PROFILE"


@dataclasses.dataclass(frozen=True)
class Profile:
    """The sizes of a run. Chapters and the command line read these, never constants.

    ``crop_size`` follows the DeepLab convention output_stride·k + 1 (321 in v1/v2, 513 in
    v3/v3+), so that the corners of the input and of the score map align.
    """

    name: str
    description: str
    crop_size: int
    batch_size: int
    iterations: int
    train_images: int  # images in the built-in dataset's train split
    val_images: int  # images in its val split
    holdout_images: int  # train-like images never trained on: the CRF is cross-validated there
    image_size: int  # side of the built-in dataset's images
    width: float  # channel multiplier: the "small version of the same" model below 1.0
    crf_iterations: int
    log_every: int


# Iterations of every ``gpu`` run: the most that keep the costliest training chapter (07: eight
# VGG-16 runs and two ResNet-101 runs at output stride 8) within 20 minutes on a T4-class GPU
# at ``engine.estimate.REFERENCE_SHARE`` of its peak, rounded down to 50
# (``chapter_runs.gpu_iterations`` recomputes it; ``tests/test_estimate.py`` holds them equal).
GPU_ITERATIONS = 500

PROFILES: dict[str, Profile] = {
    "smoke": Profile(name="smoke", description="CI: seconds on a 2-core CPU, checks that everything runs",
                     crop_size=65, batch_size=2, iterations=4, train_images=8, val_images=4, holdout_images=2,
                     image_size=96, width=0.125, crf_iterations=3, log_every=1),
    "laptop": Profile(name="laptop",
                      description="CPU: learning is visible; chapter 00 lists each chapter's measured time",
                      crop_size=129, batch_size=8, iterations=800, train_images=400, val_images=50, holdout_images=30,
                      image_size=160, width=0.25, crf_iterations=5, log_every=20),
    "gpu": Profile(name="gpu",
                   description="one GPU (T4/L4 class): the papers' full-size models, ~20 min per training chapter",
                   crop_size=321, batch_size=8, iterations=GPU_ITERATIONS, train_images=1_000, val_images=200,
                   holdout_images=50, image_size=352, width=1.0, crf_iterations=10, log_every=25),
    "full": Profile(name="full", description="GPU: the papers' crop sizes, batch sizes and iteration counts",
                    crop_size=513, batch_size=16, iterations=30_000, train_images=10_582, val_images=1_449,
                    holdout_images=100, image_size=512, width=1.0, crf_iterations=10, log_every=50),
}


# From the shortest runs to the longest: ``smaller_profile`` names the way out of a long estimate.
ORDER = ("smoke", "laptop", "gpu", "full")


def default_profile_name() -> str:
    """``gpu`` where a CUDA GPU is visible, ``laptop`` otherwise (``full`` only on request)."""
    import torch

    return "gpu" if torch.cuda.is_available() else "laptop"


def smaller_profile(name: str) -> str | None:
    """The profile one size below ``name`` (``full`` -> ``gpu`` -> ``laptop`` -> ``smoke``), or None."""
    index = ORDER.index(get_profile(name).name)
    return ORDER[index - 1] if index > 0 else None


def get_profile(name: str | None = None) -> Profile:
    """The profile called ``name``; by default the one ``DEEPLAB_EDU_PROFILE`` names."""
    source = "argument"
    if name is None:
        name = os.environ.get(ENV_VAR, "").strip()
        source = f"environment variable {ENV_VAR}"
        if not name:
            return PROFILES[default_profile_name()]
    key = name.strip().lower()
    if key not in PROFILES:
        known = ", ".join(PROFILES)
        raise ValueError(f"unknown run profile {name!r} (from the {source}); choose one of: {known}")
    return PROFILES[key]
