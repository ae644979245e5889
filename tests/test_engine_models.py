"""The engine trains any model that returns logits: v3 with its auxiliary loss, and CRF-as-RNN,
both through ``train()`` — logged, checkpointed and resumable like every other run."""

import dataclasses
from pathlib import Path

import pytest
import torch

from deeplab_edu.checkpoint import build_from_config, load_trained, read_checkpoint
from deeplab_edu.datasets.synthetic import write_builtin
from deeplab_edu.engine.losses import training_loss, upsampled_loss
from deeplab_edu.engine.outputs import TrainingOutput, as_training_output, training_forward
from deeplab_edu.train import TrainConfig, train

CRF = {"w1": 4.0, "sigma_alpha": 5.0, "sigma_beta": 10.0, "w2": 3.0, "sigma_gamma": 1.0, "iterations": 2}


@pytest.fixture(scope="module")
def builtin(tmp_path_factory) -> Path:
    return write_builtin(tmp_path_factory.mktemp("builtin"), train=4, val=2, size=48, progress=False)


def config(builtin, out, **overrides) -> TrainConfig:
    values = dict(dataset="builtin", data_root=str(builtin), model="deeplabv1", width=0.125, crop_size=33,
                  batch_size=2, iterations=2, log_every=1, progress=False, device="cpu", out_dir=str(out), lr=0.01)
    values.update(overrides)
    return TrainConfig(**values)


def test_model_outputs_are_read_as_logits_plus_auxiliary_logits():
    out, aux = torch.zeros(1, 2, 3, 3), torch.ones(1, 2, 3, 3)
    assert as_training_output(out).scores[0] is out and as_training_output(out).aux is None
    for value in ({"out": out, "aux": aux}, (out, aux)):
        read = as_training_output(value)
        assert read.scores[0] is out and read.aux is aux
    assert len(as_training_output(torch.zeros(3, 1, 2, 3, 3)).scores) == 3  # stacked MSC scales
    with pytest.raises(TypeError, match="must return logits"):
        as_training_output("scores")


def test_the_auxiliary_term_is_added_with_its_weight():
    torch.manual_seed(0)
    out, aux = torch.randn(2, 3, 9, 9), torch.randn(2, 3, 9, 9)
    labels = torch.randint(0, 3, (2, 9, 9))
    total = training_loss(TrainingOutput([out], aux), labels, "upsampled", aux_weight=0.4)
    assert total.item() == pytest.approx(upsampled_loss(out, labels).item() + 0.4 * upsampled_loss(aux, labels).item())
    assert training_loss(TrainingOutput([out], aux), labels, "upsampled").item() == pytest.approx(
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
    model = build_from_config(cfg.resolved().model_config(8))
    assert type(training_forward(model, torch.zeros(1, 3, 33, 33))) is torch.Tensor  # the CRF's scores
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
