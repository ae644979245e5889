"""The environment check a new reader runs first (chapter 00, ``python -m deeplab_edu env``): versions,
GPU, pydensecrf, run profile and data paths, before they surface as a traceback three chapters in.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import platform

from . import paths, profiles, runtime

# (distribution name on PyPI, module it imports as)
_PACKAGES = [("torch", "torch"), ("numpy", "numpy"), ("matplotlib", "matplotlib"), ("ipywidgets", "ipywidgets"),
             ("pydensecrf2", "pydensecrf.densecrf"), ("jupyterlab", "jupyterlab"), ("jupytext", "jupytext")]


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _package_check(distribution: str, module: str) -> Check:
    try:
        version = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return Check(distribution, False, "not installed (run `make lab` or `pip install -e .`)")
    try:
        importlib.import_module(module)
    except Exception as error:  # a broken binary extension raises anything, not just ImportError
        return Check(distribution, False, f"{version} installed but `import {module}` fails: {error}")
    return Check(distribution, True, version)


def _dataset_check(name: str, root, marker: str, hint: str) -> Check:
    present = (root / marker).exists()
    detail = f"{root}" + ("" if present else f" — not found ({hint})")
    return Check(name, present, detail)


def _imagenet_check(profile_name: str) -> Check:
    """torchvision's ImageNet files for the full-size backbones: required in the gpu / full profiles."""
    from .engine.pretrained import IMAGENET_REQUIRED
    from .weights import IMAGENET_FILES

    root = paths.imagenet_root()
    found = [backbone for name, backbone in IMAGENET_FILES.items() if (root / name).is_file()]
    missing = [backbone for backbone in IMAGENET_FILES.values() if backbone not in found]
    if not missing:
        return Check("ImageNet", True, f"{root} — {', '.join(found)}")
    detail = f"{root} — {', '.join(missing)} missing (data/README.md: torchvision's files, DEEPLAB_EDU_IMAGENET)"
    if profile_name in IMAGENET_REQUIRED:
        return Check("ImageNet", False, detail + f"; the {profile_name} profile's runs stop without them")
    return Check("ImageNet", True, detail + f"; not needed by the {profile_name} profile")


def environment_checks() -> list[Check]:
    """Every check in the report, in the order it is printed."""
    import torch

    checks = [Check("python", True, platform.python_version())]
    checks += [_package_check(dist, module) for dist, module in _PACKAGES]
    if torch.cuda.is_available():
        gpu = Check("gpu", True, runtime.describe_device(torch.device("cuda")))
    else:
        gpu = Check("gpu", False, "none visible to PyTorch — training chapters use the laptop profile")
    checks.append(gpu)
    checks.append(Check("device", True, runtime.describe_device()))
    try:
        profile = profiles.get_profile()
        checks.append(Check("profile", True, f"{profile.name} — {profile.description}"))
        checks.append(_imagenet_check(profile.name))
    except ValueError as error:
        checks.append(Check("profile", False, str(error)))
    checks.append(_dataset_check("VOC 2012", paths.voc_root(), "JPEGImages",
                                 "see data/README.md; the built-in dataset is used instead"))
    checks.append(_dataset_check("SBD", paths.sbd_root(), "cls",
                                 "optional: adds the 10,582-image trainaug split"))
    from .datasets import default_builtin_root

    try:
        builtin = default_builtin_root()
    except ValueError:  # an unknown profile, reported above
        builtin = paths.builtin_root()
    checks.append(_dataset_check("built-in set", builtin, "builtin.json",
                                 "generated on first use by training or `python -m deeplab_edu make-data`"))
    return checks


def format_report(checks: list[Check] | None = None) -> str:
    """The checks as an aligned table, ``ok`` / ``--`` in the first column."""
    checks = environment_checks() if checks is None else checks
    width = max(len(check.name) for check in checks)
    return "\n".join(f"{'ok' if c.ok else '--'}  {c.name:<{width}}  {c.detail}" for c in checks)
