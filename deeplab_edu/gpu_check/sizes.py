"""How big each gpu-check stage runs: ``gpu`` on a GPU, ``tiny`` in seconds on a CPU."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Sizes:
    name: str
    # throughput (stage 2): DeepLabV3, output stride 8
    crop: int
    batch: int
    width: float
    blocks: tuple[int, int, int, int] | None
    warmup: int
    steps: int
    # crf (stage 3)
    crf_size: tuple[int, int]  # (height, width)
    crf_labels: int
    crf_iterations: int
    crf_batch: int
    crf_repeats: int
    # training (stage 4)
    train_crop: int
    train_batch: int
    train_seconds: float
    data_train: int
    data_val: int
    data_size: int
    # distributed (stage 5)
    ddp_crop: int
    ddp_batch: int
    ddp_iterations: int
    budgets: dict[str, float]  # seconds per stage


SIZES: dict[str, Sizes] = {
    "gpu": Sizes(name="gpu", crop=513, batch=16, width=1.0, blocks=None, warmup=3, steps=10,
                 crf_size=(375, 500), crf_labels=21, crf_iterations=10, crf_batch=8, crf_repeats=10,
                 train_crop=321, train_batch=16, train_seconds=120.0, data_train=400, data_val=50,
                 data_size=352, ddp_crop=321, ddp_batch=8, ddp_iterations=5,
                 # ≈ 9 min at most in all; what a stage leaves unused is not passed on
                 budgets={"environment": 20, "throughput": 180, "crf": 40, "training": 150,
                          "distributed": 60, "projection": 80}),
    "tiny": Sizes(name="tiny", crop=33, batch=2, width=0.125, blocks=(1, 1, 1, 1), warmup=1, steps=2,
                  crf_size=(30, 40), crf_labels=21, crf_iterations=3, crf_batch=2, crf_repeats=2,
                  train_crop=33, train_batch=2, train_seconds=2.0, data_train=8, data_val=4,
                  data_size=48, ddp_crop=33, ddp_batch=2, ddp_iterations=2,
                  budgets={"environment": 30, "throughput": 60, "crf": 30, "training": 60,
                           "distributed": 90, "projection": 120}),
}

# Seconds torch.compile (inductor, cold cache) is expected to take for a ResNet-101 training step
# and for inference on an H100: a compiled configuration starts only if this much budget is left.
COMPILE_SECONDS = {"train": 75.0, "infer": 40.0}
