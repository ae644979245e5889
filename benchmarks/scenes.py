"""The built-in scenes painted at another size, for benchmarks that run a chapter's pair at a larger crop.

``bench_field_of_view.py`` and ``bench_multigrid.py`` run a chapter's arms where the rates fit the
map: the same built-in world, painted larger so that a larger crop is scene, not padding.
"""

from __future__ import annotations

from pathlib import Path

from deeplab_edu import book
from deeplab_edu.datasets.build import generate_builtin


def scenes_at(size: int, out: Path, profile_name: str):
    """Seed everything, paint the profile's train and val scenes at ``size`` px under ``out``; return
    the profile, the set's root and its validation split."""
    book.seed_everything(0)
    profile = book.get_profile(profile_name)
    root = generate_builtin(out / f"builtin_{size}", train=profile.train_images, val=profile.val_images,
                            size=size, progress=False)
    return profile, root, book.build_dataset("builtin", "val", root=root)
