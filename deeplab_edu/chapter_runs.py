"""The training runs each chapter (07-11) makes, as configs, one per run and seed, as its cells
build them: their FLOPs (``engine.estimate``) project a chapter's time on any GPU per profile,
and ``gpu-check`` times them where a GPU is. ``gpu_iterations`` recomputes the ``gpu`` profile's
iteration count from the FLOPs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path

from deeplab_edu.engine.config import TrainConfig
from deeplab_edu.engine.estimate import (CHAPTER_BUDGET_S, REFERENCE_GPUS, REFERENCE_SHARE, projected_seconds,
                                         run_flops)
from deeplab_edu.hole import scaled_rate, score_map_size
from deeplab_edu.layouts import FC6_VARIANTS
from deeplab_edu.profiles import Profile, get_profile


def seeds(profile: Profile) -> int:
    """Seeds per recipe: one in ``full`` (its runs are long), two wherever runs are cheap enough."""
    return 1 if profile.name == "full" else 2


def _each_seed(configs: list[TrainConfig], profile: Profile) -> list[TrainConfig]:
    return [dataclasses.replace(c, seed=s) for c in configs for s in range(seeds(profile))]


def chapter_07(p: Profile) -> list[TrainConfig]:
    """v1: LargeFOV, the fc6 4×4 and LargeFOV with the 4×4's channels, the upsampled loss, and
    LargeFOV on the ResNet."""
    base = TrainConfig.from_profile("deeplabv1", p)
    v2 = TrainConfig.from_profile("deeplabv2", p)
    on_resnet = dataclasses.replace(base, model="deeplabv2", backbone=v2.backbone, pretrained=v2.pretrained,
                                    model_options={**v2.model_options, "rates": (12,)})
    heads = ({}, {"fc6": "4x4"}, {"fc6_channels": FC6_VARIANTS["4x4"].channels})
    arms = [dataclasses.replace(base, model_options={**base.model_options, **head}) for head in heads]
    arms += [dataclasses.replace(base, loss="upsampled"), on_resnet]
    return _each_seed(arms, p)


def chapter_08(p: Profile) -> list[TrainConfig]:
    """v2: the LargeFOV, ASPP-S and ASPP-L heads on the same ResNet, and LargeFOV at a rate scaled to a
    map smaller than the paper's."""
    config = TrainConfig.from_profile("deeplabv2", p)
    scaled = scaled_rate(12, score_map_size(p.crop_size, 8))  # LargeFOV's rate scaled to this crop's map
    rates = [(12,), "aspp-s", "aspp-l"] + ([(scaled,)] if scaled != 12 else [])
    heads = [dataclasses.replace(config, model_options={**config.model_options, "rates": r}) for r in rates]
    return _each_seed(heads, p)


def chapter_09(p: Profile) -> list[TrainConfig]:
    """v3 at output stride 16, with FCN's learned deconvolution, multi-grid (1, 1, 1) and (1, 2, 4) on a
    ResNet with three units in its last stage, and — where the start is the book's miniature-ImageNet
    one (its ``.json`` record beside the weights) — from random weights, and both starts for half as
    many iterations on an eighth of the built-in scenes."""
    config = TrainConfig.from_profile("deeplabv3", p, output_stride=16)
    arms = [config, dataclasses.replace(config, model_options={**config.model_options,
                                                               "upsampling": "deconvolution"})]
    arms += [TrainConfig.from_profile("deeplabv3", p, output_stride=16,
                                      model_options={**config.model_options, "blocks": (1, 1, 1, 3),
                                                     "multi_grid": grid}) for grid in ((1, 1, 1), (1, 2, 4))]
    if config.pretrained and Path(config.pretrained).with_suffix(".json").is_file():
        arms.append(dataclasses.replace(config, pretrained=None))
        half = dataclasses.replace(config, iterations=config.iterations // 2)
        arms += [half, dataclasses.replace(half, pretrained=None)]
    return _each_seed(arms, p)


def chapter_10(p: Profile) -> list[TrainConfig]:
    """v3 against v3+ (the decoder), and v3+ without its separable convolutions."""
    v3, plus = (TrainConfig.from_profile(m, p) for m in ("deeplabv3", "deeplabv3plus"))
    dense = dataclasses.replace(plus, model_options={**plus.model_options, "separable": False})
    return _each_seed([v3, plus, dense], p)


def chapter_11(p: Profile) -> list[TrainConfig]:
    """CRF-as-RNN: one stage-1 run, then an eighth as many iterations again, plain and through the CRF layer."""
    stage1 = TrainConfig.from_profile("deeplabv2", p, backbone="resnet50")
    stage2 = dataclasses.replace(stage1, iterations=max(stage1.iterations // 8, 1))
    rnn = dataclasses.replace(stage2, crf_rnn={"iterations": 5})
    return [stage1] + _each_seed([stage2, rnn], p)


CHAPTERS: dict[str, Callable[[Profile], list[TrainConfig]]] = {
    "07 v1 LargeFOV": chapter_07, "08 v2 ASPP": chapter_08, "09 v3": chapter_09,
    "10 v3+": chapter_10, "11 CRF-as-RNN": chapter_11,
}


def chapter_flops(profile: Profile | str | None = None) -> dict[str, float]:
    """Training FLOPs of every chapter's runs in ``profile`` (default: the active one)."""
    p = profile if isinstance(profile, Profile) else get_profile(profile)
    return {name: sum(run_flops(c) for c in runs(p)) for name, runs in CHAPTERS.items()}


def chapter_seconds(profile: Profile | str | None = None, peak_tflops: float = REFERENCE_GPUS["T4-class"],
                    share: float = REFERENCE_SHARE) -> dict[str, float]:
    """Projected training seconds of every chapter on a GPU of dense peak ``peak_tflops`` at ``share``."""
    return {name: projected_seconds(f, peak_tflops, share) for name, f in chapter_flops(profile).items()}


def gpu_iterations(budget_s: float = CHAPTER_BUDGET_S, peak_tflops: float = REFERENCE_GPUS["T4-class"],
                   share: float = REFERENCE_SHARE, step: int = 50) -> int:
    """The most iterations per run that keep every chapter's training within ``budget_s`` on the
    reference GPU, rounded down to ``step``: a chapter's FLOPs grow linearly with the iterations."""
    probe = dataclasses.replace(get_profile("gpu"), iterations=1_000)
    per_iteration = max(chapter_flops(probe).values()) / probe.iterations
    return int(math.floor(budget_s * peak_tflops * 1e12 * share / per_iteration / step)) * step
