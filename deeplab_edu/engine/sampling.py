"""Reproducible data: which image and which random crop a step sees depends only on the seed and the
step, so a resumed run sees what the uninterrupted one would have, and two processes with a batch of
2 each see the images of one process with a batch of 4.
"""

from __future__ import annotations

import torch

from deeplab_edu import distributed as ddp
from deeplab_edu.datasets import TrainTransform


class DrawSampler(torch.utils.data.Sampler):
    """Yields ``(image_index, k)`` for this process's samples of steps [start, stop): sample k (counted
    over every step and process) is image ``perm_e[k mod n]`` of epoch ``e = k // n``, ``perm_e``
    seeded from (seed, e)."""

    def __init__(self, num_images: int, seed: int, start: int, stop: int, batch_size: int,
                 env: ddp.DistEnv) -> None:
        self.n, self.seed, self.start, self.stop = num_images, seed, start, stop
        self.batch_size, self.env = batch_size, env
        self.share = ddp.per_process_batch(batch_size, env)
        self._perms: dict[int, list[int]] = {}

    def image_of(self, k: int) -> int:
        epoch = k // self.n
        if epoch not in self._perms:
            g = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
            self._perms = {epoch: torch.randperm(self.n, generator=g).tolist()}
        return self._perms[epoch][k % self.n]

    def __iter__(self):
        for step in range(self.start, self.stop):
            first = step * self.batch_size + self.env.rank * self.share
            for k in range(first, first + self.share):
                yield self.image_of(k), k

    def __len__(self) -> int:
        return (self.stop - self.start) * self.share


class SeededAugmentation(torch.utils.data.Dataset):
    """The dataset with its ``TrainTransform`` reseeded for every sample k (see ``DrawSampler``)."""

    def __init__(self, dataset: torch.utils.data.Dataset, transform: TrainTransform, seed: int) -> None:
        self.dataset, self.transform, self.seed = dataset, transform, seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item: tuple[int, int]):
        index, k = item
        self.transform.generator = torch.Generator().manual_seed(self.seed * 1_000_003 + k)
        return self.dataset[index]
