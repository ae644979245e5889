"""The engine trains any model that returns logits: v3 with its auxiliary loss, and CRF-as-RNN,
both through ``train()`` — logged, checkpointed and resumable like every other run."""

import dataclasses

import pytest
import torch

from deeplab_edu.checkpoint import load_trained, read_checkpoint
from deeplab_edu.engine.losses import training_loss, upsampled_loss
from deeplab_edu.datasets.transforms import rgb_from_normalized
from deeplab_edu.engine.outputs import TrainingScores
from deeplab_edu.models import TrainingOutput, build_from_config
from deeplab_edu.train import TrainConfig, train

CRF = {"w1": 4.0, "sigma_alpha": 5.0, "sigma_beta": 10.0, "w2": 3.0, "sigma_gamma": 1.0, "iterations": 2}


def config(builtin, out, **overrides) -> TrainConfig:
    values = dict(dataset="builtin", data_root=str(builtin), model="deeplabv1", width=0.125, crop_size=33,
                  batch_size=2, iterations=2, log_every=1, progress=False, device="cpu", out_dir=str(out), lr=0.01)
    values.update(overrides)
    return TrainConfig(**values)


def test_the_engine_refuses_a_model_without_the_training_contract():
    with pytest.raises(TypeError, match="training_outputs"):
        TrainingScores(torch.nn.Conv2d(3, 2, 1))


def test_msc_loss_sums_every_scale_and_the_fusion():
    torch.manual_seed(0)
    maps = [torch.randn(2, 3, 9, 9) for _ in range(3)]
    labels = torch.randint(0, 3, (2, 9, 9))
    total = training_loss(TrainingOutput(maps[-1], scales=maps[:-1]), labels, "upsampled")
    assert total.item() == pytest.approx(sum(upsampled_loss(m, labels).item() for m in maps))


def test_the_auxiliary_term_is_added_with_its_weight():
    torch.manual_seed(0)
    out, aux = torch.randn(2, 3, 9, 9), torch.randn(2, 3, 9, 9)
    labels = torch.randint(0, 3, (2, 9, 9))
    total = training_loss(TrainingOutput(out, aux), labels, "upsampled", aux_weight=0.4)
    assert total.item() == pytest.approx(upsampled_loss(out, labels).item() + 0.4 * upsampled_loss(aux, labels).item())
    assert training_loss(TrainingOutput(out, aux), labels, "upsampled").item() == pytest.approx(
        upsampled_loss(out, labels).item())


def test_v3_trains_its_auxiliary_head(builtin, tmp_path):
    cfg = config(builtin, tmp_path / "v3", model="deeplabv3", model_options={"blocks": (1, 1, 1, 1)},
                 aux_weight=0.4, pretrained=None)
    fresh = build_from_config(cfg.resolved().model_config(8))
    result = train(cfg)
    assert result.model.aux_classifier is not None
    before = dict(fresh.named_parameters())
    moved = [n for n, p in result.model.named_parameters()
             if n.startswith("aux_classifier.") and not torch.equal(p.detach(), before[n].detach())]
    assert moved, "the auxiliary head received no gradient"
    saved = read_checkpoint(result.checkpoint)
    assert saved["model_config"]["options"]["aux_loss"] is True
    assert any(k.startswith("aux_classifier.") for k in saved["model"])
    plain = train(dataclasses.replace(cfg, aux_weight=0.0, out_dir=str(tmp_path / "plain")))
    assert plain.history[0]["loss"] != result.history[0]["loss"]  # the loss holds the auxiliary term
    with pytest.raises(ValueError, match="aux_weight applies to deeplabv3"):
        config(builtin, tmp_path, aux_weight=0.4).validate()


def test_crf_as_rnn_trains_through_the_engine_and_resumes(builtin, tmp_path):
    stage1 = train(config(builtin, tmp_path / "stage1"))
    cfg = config(builtin, tmp_path / "crf", crf_rnn=CRF, init_from=str(stage1.checkpoint), iterations=3)
    model = build_from_config(cfg.resolved().model_config(8), rgb_from_normalized)
    with torch.no_grad():
        model.eval()
        # the engine trains on the CRF's scores, not the network's
        torch.testing.assert_close(TrainingScores(model)(torch.zeros(1, 3, 33, 33)).out, model(torch.zeros(1, 3, 33, 33)))
    with pytest.raises(ValueError, match="to_rgb"):
        build_from_config(cfg.resolved().model_config(8))
    straight = train(cfg)
    layer = straight.model.crf
    assert not torch.equal(layer.bilateral_ker_weights.detach(), CRF["w1"] * torch.eye(8))  # W1 learned
    assert not torch.equal(layer.spatial_ker_weights.detach(), CRF["w2"] * torch.eye(8))  # W2 learned
    from deeplab_edu.crf.lattice_meanfield import potts_compatibility

    assert not torch.equal(straight.model.crf.compatibility.detach(), potts_compatibility(8))  # μ learned
    first = train(dataclasses.replace(cfg, out_dir=str(tmp_path / "crf2"), stop_at=1))
    assert first.iterations == 1
    resumed = train(dataclasses.replace(cfg, out_dir=str(tmp_path / "crf2")))
    assert resumed.start_iteration == 1
    for a, b in zip(resumed.model.state_dict().values(), straight.model.state_dict().values()):
        assert torch.equal(a, b)
    loaded, model_config = load_trained(straight.checkpoint)
    assert model_config["crf_rnn"] == CRF and hasattr(loaded, "crf")
