"""The full recipes' parameter groups and BatchNorm momentum, through the training engine."""

import torch

from deeplab_edu.checkpoint import read_checkpoint
from deeplab_edu.recipes import config_overrides
from deeplab_edu.train import TrainConfig, train


def test_a_run_with_tfs_groups_and_momentum_trains_saves_and_resumes(builtin, tmp_path):
    recipe = {k: v for k, v in config_overrides("deeplabv3").items()
              if k in ("bias_decay_mult", "norm_decay_mult", "bn_momentum", "head_lr_mult")}
    assert recipe["bn_momentum"] < 0.01  # TF's decay 0.9997 as PyTorch's momentum, not 0.9997
    config = TrainConfig(model="deeplabv3", dataset="builtin", data_root=str(builtin), width=0.125,
                         model_options={"blocks": (1, 1, 1, 1)}, crop_size=33, batch_size=2, iterations=3,
                         stop_at=2, lr=0.01, weight_decay=1e-4, progress=False, device="cpu", log_every=1,
                         out_dir=str(tmp_path / "run"), **recipe)
    first = train(config)
    norms = [m for m in first.model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and all(m.momentum == config.bn_momentum for m in norms)
    saved = read_checkpoint(first.checkpoint)["optimizer"]["param_groups"]
    names = [g["name"] for g in saved]
    assert names[:2] == ["backbone", "head"] and "backbone.norm" in names and "head.bias" in names
    assert all(g["weight_decay"] == 0 for g in saved if g["name"].endswith((".norm", ".bias")))
    resumed = train(TrainConfig(**{**config.__dict__, "stop_at": None}))
    assert resumed.start_iteration == 2 and resumed.iterations == 3
