"""Run profiles: one switch that sets how big every run in the book is.

The same code path trains and evaluates in every profile; only the sizes differ.

- ``smoke``  — seconds on a 2-core CPU; what the test suite and CI use.
- ``laptop`` — a few minutes on a CPU: the same runs at a size a laptop can finish. Its small
  models start from the book's miniature-ImageNet backbones (``deeplab_edu.pretrain``), as
  DeepLab starts from ImageNet (chapter 09 measures what that start buys against random weights).
- ``full``   — a GPU, with the papers' crop sizes and iteration counts.

The profile is chosen by the ``DEEPLAB_EDU_PROFILE`` environment variable; when it is unset
the default is ``full`` where CUDA is available and ``laptop`` elsewhere.
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


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        description="CI: seconds on a 2-core CPU, checks that everything runs",
        crop_size=65,
        batch_size=2,
        iterations=4,
        train_images=8,
        val_images=4,
        holdout_images=2,
        image_size=96,
        width=0.125,
        crf_iterations=3,
        log_every=1,
    ),
    "laptop": Profile(
        name="laptop",
        description="CPU: a few minutes per chapter, learning is visible",
        crop_size=129,
        batch_size=8,
        iterations=800,
        train_images=400,
        val_images=50,
        holdout_images=30,
        image_size=160,
        width=0.25,
        crf_iterations=5,
        log_every=20,
    ),
    "full": Profile(
        name="full",
        description="GPU: the papers' crop sizes, batch sizes and iteration counts",
        crop_size=513,
        batch_size=16,
        iterations=30_000,
        train_images=10_582,
        val_images=1_449,
        holdout_images=100,
        image_size=512,
        width=1.0,
        crf_iterations=10,
        log_every=50,
    ),
}


def default_profile_name() -> str:
    """``full`` where a CUDA GPU is visible, ``laptop`` otherwise."""
    import torch

    return "full" if torch.cuda.is_available() else "laptop"


def get_profile(name: str | None = None) -> Profile:
    """Return the profile called ``name``; by default the one ``DEEPLAB_EDU_PROFILE`` names.

    Raises ``ValueError`` naming the known profiles when the name is not one of them.
    """
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
