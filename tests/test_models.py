import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from _torchvision_reference import references, shapes
from deeplab_edu import weights
from deeplab_edu.models import MODELS, MultiScale, build_model
from deeplab_edu.models.anatomy import flop_counts, layer_table, measure_receptive_field
from deeplab_edu.layouts import FC6_VARIANTS
from deeplab_edu.runtime import seed_everything

SMALL = {"deeplabv1": {}, "deeplabv2": {"blocks": (1, 1, 1, 1)}, "deeplabv3": {"blocks": (1, 1, 1, 1)},
         "deeplabv3plus": {"blocks": (1, 1, 1, 1)}}


def small(name, **options):
    return build_model(name, 5, width=0.125, **{**SMALL[name], **options})


def count(model):
    return sum(p.numel() for p in model.parameters())


# --- shapes -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("size", [(321, 321), (513, 513), (500, 375), (97, 131)])
@pytest.mark.slow
def test_logits_have_the_input_size(name, size):
    seed_everything(0)
    model = small(name).eval()
    with torch.no_grad():
        x = torch.randn(1, 3, *size)
        logits, scores = model(x), model.forward_scores(x)
    assert logits.shape == (1, 5, *size)
    assert scores.shape[-2:] == tuple(math.ceil(n / model.score_stride) for n in size)


@settings(max_examples=15, deadline=None)
@given(name=st.sampled_from(MODELS), height=st.integers(20, 70), width=st.integers(20, 70),
       output_stride=st.sampled_from([8, 16]))
def test_score_stride_for_any_size(name, height, width, output_stride):
    if name == "deeplabv1":
        output_stride = 8
    model = small(name, **({} if name == "deeplabv1" else {"output_stride": output_stride})).eval()
    with torch.no_grad():
        scores = model.forward_scores(torch.zeros(1, 3, height, width))
    assert model.output_stride == output_stride
    assert scores.shape[-2:] == (math.ceil(height / model.score_stride), math.ceil(width / model.score_stride))


@pytest.mark.parametrize("name", ["deeplabv2", "deeplabv3", "deeplabv3plus"])
def test_batch_size_1_trains(name):
    seed_everything(0)
    model = small(name).train()
    loss = model(torch.randn(1, 3, 65, 65)).logsumexp(1).mean()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_channels_last_gives_the_same_logits():
    seed_everything(0)
    model = small("deeplabv3plus").eval()
    x = torch.randn(2, 3, 65, 49)
    with torch.no_grad():
        expected = model(x)
        model = model.to(memory_format=torch.channels_last)
        torch.testing.assert_close(model(x.to(memory_format=torch.channels_last)), expected, rtol=1e-4, atol=1e-5)


# --- parameter counts -----------------------------------------------------------------------------

@pytest.mark.parametrize("fc6", sorted(FC6_VARIANTS))
def test_v1_parameter_counts_match_the_papers_fc6_table(fc6):
    with torch.device("meta"):
        model = build_model("deeplabv1", 21, fc6=fc6)
    assert round(count(model) / 1e6, 1) == pytest.approx(FC6_VARIANTS[fc6].paper_parameters_millions, abs=0.051)


def test_v1_fc6_channels_replace_the_variants_channels_at_the_same_width():
    wide = build_model("deeplabv1", 3, width=0.125, fc6_channels=4096, dropout=0.0)
    small = build_model("deeplabv1", 3, width=0.125, fc6="4x4", dropout=0.0)
    assert wide.classifier.fc6.out_channels == small.classifier.fc6.out_channels == 512
    assert wide.classifier.fc6.kernel_size == (3, 3) and wide.classifier.fc6.dilation == (12, 12)
    assert wide.classifier.fc7.in_channels == wide.classifier.fc8.in_channels == 512
    with pytest.raises(ValueError, match="fc6_channels"):
        build_model("deeplabv1", 3, width=0.125, fc6_channels=0)


def test_v1_fc6_rate_replaces_the_variants_rate_and_keeps_the_size():
    # A rate scaled to a smaller score map: same kernel, same channels, another dilation.
    for fc6, rate in (("largefov", 5), ("4x4", 2)):
        model = build_model("deeplabv1", 3, width=0.125, fc6=fc6, fc6_rate=rate, dropout=0.0).eval()
        conv = model.classifier.fc6
        assert conv.dilation == (rate, rate) and conv.kernel_size[0] == FC6_VARIANTS[fc6].kernel
        with torch.no_grad():
            assert model(torch.randn(1, 3, 65, 65)).shape[-2:] == (65, 65)
    with pytest.raises(ValueError, match="fc6_rate"):
        build_model("deeplabv1", 3, width=0.125, fc6="4x4", fc6_rate=3)  # 3·(4 − 1) is odd


def test_v1_dropout_drops_activations_one_by_one_in_training_only():
    # DeepLab's prototxt uses Caffe's Dropout after fc6 and fc7: element-wise, p = 0.5.
    seed_everything(0)
    model = build_model("deeplabv1", 3, width=0.125)
    fc7_input = {}
    model.classifier.fc7.register_forward_pre_hook(lambda module, args: fc7_input.__setitem__("x", args[0]))
    x = torch.randn(1, 3, 65, 65)
    with torch.no_grad():
        model.eval()(x)
        assert (fc7_input["x"] > 0).double().mean() > 0.2  # ReLU outputs, nothing dropped
        model.train()(x)
    zero = fc7_input["x"] == 0
    mixed = zero.flatten(2).any(-1) & (~zero).flatten(2).any(-1)  # per channel: some dropped, some kept
    assert mixed.double().mean() > 0.5


def test_v1_7x7_is_vgg16_with_its_classifier_reshaped():
    with torch.device("meta"):
        model = build_model("deeplabv1", 1000, fc6="7x7")
    for source, archs in references():
        assert count(model) == archs["vgg16"]["parameters"], source
        assert math.prod(archs["vgg16"]["state_dict"]["classifier.0.weight"]) == model.classifier.fc6.weight.numel()


@pytest.mark.parametrize("aux, reference", [(True, "deeplabv3_resnet101_aux"), (False, "deeplabv3_resnet101")])
def test_v3_resnet101_keys_shapes_and_count_equal_torchvision(aux, reference):
    with torch.device("meta"):
        model = build_model("deeplabv3", 21, **weights.TORCHVISION_DEEPLABV3, aux_loss=aux)
    for source, archs in references():
        assert shapes(model) == archs[reference]["state_dict"], source
        assert count(model) == archs[reference]["parameters"], source


def test_v3_paper_head_is_torchvisions_without_the_3x3_conv():
    # The paper's head (TF model.py): ASPP → 1×1 projection → BN → ReLU → dropout 0.1 → 1×1 to the
    # classes. torchvision's adds a 3×3 conv (256·256·9 weights, no bias) and its BN (2·256).
    with torch.device("meta"):
        paper = build_model("deeplabv3", 21, output_stride=8, multi_grid=None, aux_loss=True)
    for source, archs in references():
        reference = archs["deeplabv3_resnet101_aux"]
        assert count(paper) == reference["parameters"] - (256 * 256 * 9 + 2 * 256), source
        extra = {k for k in reference["state_dict"] if k.startswith(("classifier.1.", "classifier.2."))}
        assert set(shapes(paper)) == set(reference["state_dict"]) - extra - {"classifier.4.weight",
                                                                              "classifier.4.bias"} | {
            "classifier.1.weight", "classifier.1.bias"}, source
    assert paper.head_type == "paper"
    assert paper.classifier[0].project[3].p == 0.1  # keep_prob 0.9
    assert isinstance(paper.classifier[1], torch.nn.Conv2d) and paper.classifier[1].kernel_size == (1, 1)


def test_v3_torchvision_head_has_dropout_half_and_the_paper_head_refuses_its_checkpoint():
    tv = build_model("deeplabv3", 3, head="torchvision", width=0.125, blocks=(1, 1, 1, 1))
    assert tv.classifier[0].project[3].p == 0.5 and tv.classifier[1].kernel_size == (3, 3)
    paper = small("deeplabv3")
    with pytest.raises(weights.CheckpointMismatchError, match="TORCHVISION_DEEPLABV3"):
        weights.load_torchvision_deeplabv3(paper, tv.state_dict())
    with pytest.raises(ValueError, match="head must be one of"):
        build_model("deeplabv3", 3, head="fcn", width=0.125, blocks=(1, 1, 1, 1))


def test_v3_resnet50_keys_equal_torchvision():
    with torch.device("meta"):
        model = build_model("deeplabv3", 21, backbone="resnet50", head="torchvision", aux_loss=True)
    for source, archs in references():
        assert shapes(model) == archs["deeplabv3_resnet50_aux"]["state_dict"], source


# --- checkpoints ----------------------------------------------------------------------------------

def _random_checkpoint(path, reference):
    state = {k: (torch.rand(s) if s else torch.tensor(7)) for k, s in reference.items()}
    torch.save(state, path)
    return state


@pytest.mark.slow
def test_a_torchvision_deeplabv3_checkpoint_loads_strictly(tmp_path):
    seed_everything(0)
    reference = references()[0][1]["deeplabv3_resnet101_aux"]["state_dict"]
    state = _random_checkpoint(tmp_path / "deeplabv3_resnet101_coco.pth", reference)
    model = build_model("deeplabv3", 21, **weights.TORCHVISION_DEEPLABV3, aux_loss=True)
    weights.load_torchvision_deeplabv3(model, tmp_path / "deeplabv3_resnet101_coco.pth")
    loaded = model.state_dict()
    for key in ("backbone.layer3.22.conv2.weight", "classifier.0.convs.4.2.running_var", "classifier.4.bias",
                "aux_classifier.4.weight"):
        assert torch.equal(loaded[key], state[key])
    # a model without the auxiliary head takes the same file, ignoring aux_classifier.*
    plain = build_model("deeplabv3", 21, **weights.TORCHVISION_DEEPLABV3)
    weights.load_torchvision_deeplabv3(plain, state)
    assert torch.equal(plain.state_dict()["classifier.4.weight"], state["classifier.4.weight"])


def test_checkpoint_of_another_architecture_names_the_mismatch():
    seed_everything(0)
    model = small("deeplabv3")
    other = small("deeplabv3plus").state_dict()
    with pytest.raises(weights.CheckpointMismatchError, match=r"missing keys: classifier\.0\.convs") as info:
        weights.load_weights(model, other)
    assert "unexpected keys: aspp.convs" in str(info.value)
    wrong_classes = build_model("deeplabv3", 7, width=0.125, blocks=(1, 1, 1, 1)).state_dict()
    with pytest.raises(weights.CheckpointMismatchError, match=r"classifier\.1\.weight: checkpoint \(7, 32"):
        weights.load_weights(model, wrong_classes)


@pytest.mark.slow
def test_vgg16_checkpoint_initialises_v1_by_decimation():
    seed_everything(0)
    reference = references()[0][1]["vgg16"]["state_dict"]
    state = {k: torch.randn(s) for k, s in reference.items()}
    model = build_model("deeplabv1", 21)  # LargeFOV: 3×3 taps of the 7×7, every 4th channel
    weights.load_vgg16_imagenet(model, state)
    assert torch.equal(model.backbone.features[28].weight, state["features.28.weight"])
    fc6 = state["classifier.0.weight"].reshape(4096, 512, 7, 7)
    assert torch.equal(model.classifier.fc6.weight[5, :, 2, 1], fc6[20, :, 6, 3])
    assert torch.equal(model.classifier.fc7.weight[3, 2, 0, 0], state["classifier.3.weight"][12, 8])
    # What TrainConfig(pretrained=...) calls: the same decimation for v1, the backbone alone for v2.
    again = weights.load_pretrained(build_model("deeplabv1", 21), state)
    assert torch.equal(again.classifier.fc6.weight, model.classifier.fc6.weight)
    v2 = weights.load_pretrained(build_model("deeplabv2", 21, backbone="vgg16"), state)
    assert torch.equal(v2.backbone.features[28].weight, state["features.28.weight"])


def test_checkpoint_files_fail_with_clear_messages(tmp_path):
    model = small("deeplabv1")
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        weights.load_weights(model, tmp_path / "nowhere.pth")
    (tmp_path / "corrupt.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="corrupt.pth"):
        weights.load_weights(model, tmp_path / "corrupt.pth")
    torch.save({"model": model.state_dict(), "iteration": torch.tensor(3)}, tmp_path / "wrapped.pth")
    weights.load_weights(model, tmp_path / "wrapped.pth")  # training checkpoints are unwrapped


def test_urls_download_and_offline_is_a_message(tmp_path):
    model = small("deeplabv1")
    torch.save(model.state_dict(), tmp_path / "v1.pth")
    weights.load_weights(model, weights.read_state_dict((tmp_path / "v1.pth").as_uri(), model_dir=tmp_path / "hub"))
    # port 9 on this machine refuses at once: the offline path, without touching the internet
    with pytest.raises(weights.WeightsUnavailableError, match="local path"):
        weights.read_state_dict("http://127.0.0.1:9/elsewhere.pth", model_dir=tmp_path / "hub")


# --- receptive field ------------------------------------------------------------------------------

@pytest.mark.parametrize("name, options, size", [
    ("deeplabv1", {}, 481),
    ("deeplabv2", {"rates": (2, 3)}, 257),
    ("deeplabv2", {"backbone": "vgg16", "rates": "aspp-s", "blocks": None}, 481),
    ("deeplabv3", {"rates": (2, 3), "image_pooling": False}, 289),
    ("deeplabv3", {"rates": (1, 2), "image_pooling": False, "output_stride": 8, "multi_grid": None}, 257)])
@pytest.mark.slow
def test_reported_receptive_field_is_the_measured_one(name, options, size):
    model = small(name, **options)
    assert model.receptive_field() + model.output_stride < size  # the field fits in the probe
    assert measure_receptive_field(model, size) == (model.receptive_field(),) * 2


def test_v3plus_field_is_bounded_by_the_report():
    model = small("deeplabv3plus", rates=(2, 3), image_pooling=False)
    measured = measure_receptive_field(model, 257)[0]
    assert model.receptive_field() - model.output_stride <= measured <= model.receptive_field()


def test_image_pooling_sees_the_whole_image():
    model = small("deeplabv3", rates=(2, 3))
    assert model.global_context
    assert measure_receptive_field(model, (97, 131)) == (97, 131)


# --- the factory ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, kwargs, match", [
    ("deeplabv4", {}, "unknown model 'deeplabv4'"),
    ("deeplabv3", {"output_stride": 12}, "output_stride must be one of"),
    ("deeplabv1", {"output_stride": 16}, "output_stride must be 8"),
    ("deeplabv3", {"backbone": "vgg16"}, "backbone must be"),
    ("deeplabv2", {"backbone": "resnet18"}, "unknown backbone"),
    ("deeplabv1", {"fc6": "5x5"}, "fc6 must be one of"),
    ("deeplabv2", {"rates": (6, 0)}, r"rates\[1\]"),
    ("deeplabv2", {"rates": "aspp-m"}, "aspp-l"),
    ("deeplabv3", {"rates": (6, -1, 18)}, r"rates\[1\]"),
    ("deeplabv3", {"width": 0}, "width"),
])
def test_build_model_rejects_bad_arguments(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_model(name, 21, **kwargs)


def test_num_classes_must_be_positive():
    with pytest.raises(ValueError, match="num_classes"):
        build_model("deeplabv3", 0)


def test_bad_input_names_the_expected_shape():
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        small("deeplabv1")(torch.zeros(3, 32, 32))


@pytest.mark.parametrize("name", MODELS)
def test_parameter_groups_split_backbone_and_head(name):
    model = small(name)
    groups = model.parameter_groups()
    assert {id(p) for p in groups["backbone"]} == {id(p) for p in model.backbone.parameters()}
    assert len(groups["head"]) > 0
    assert len(groups["backbone"]) + len(groups["head"]) == len(list(model.parameters()))


def test_multiscale_fuses_by_the_maximum():
    # v2 §3.2: f(x) = max_s resize(f_θ(resize(x, s))); each scale's map is computed here from the
    # image resized by s, so a wrapper that never rescaled its input would fail.
    seed_everything(0)
    scales = (1.0, 0.75, 0.5)
    model = build_model("deeplabv2", 5, width=0.125, blocks=(1, 1, 1, 1), scales=scales).eval()
    assert isinstance(model, MultiScale)
    x = torch.randn(1, 3, 65, 81)
    with torch.no_grad():
        *per_scale, fused = model.forward_all_scales(x)
        first = model.base.forward_scores(x)
        references = [first] + [F.interpolate(model.base.forward_scores(F.interpolate(x, scale_factor=s, mode="bilinear")),
                                              size=first.shape[-2:], mode="bilinear") for s in scales[1:]]
        trained = model.training_outputs(x)
    assert len(per_scale) == 3
    for mine, reference in zip(per_scale, references):
        torch.testing.assert_close(mine, reference)
    torch.testing.assert_close(fused, torch.stack(references).amax(0))
    torch.testing.assert_close(trained.out, fused)
    assert len(trained.scales) == 3 and trained.aux is None
    assert model(x).shape == (1, 5, 65, 81)
    with pytest.raises(ValueError, match="scales"):
        MultiScale(model.base, (1.0, 0.0))


def _crf_rnn(model):
    from deeplab_edu.crf import CRFParams
    from deeplab_edu.crf.crf_rnn import CRFasRNN
    from deeplab_edu.models import CRFRNNSegmenter

    params = CRFParams(w1=4.0, sigma_alpha=5.0, sigma_beta=10.0, w2=3.0, sigma_gamma=1.0, iterations=1)
    return CRFRNNSegmenter(model, CRFasRNN(5, params), to_rgb=lambda x: (x * 64 + 128).clamp(0, 255))


@pytest.mark.parametrize("build", [
    lambda: small("deeplabv1"), lambda: small("deeplabv2", scales=(1.0, 0.5)), lambda: small("deeplabv3", aux_loss=True),
    lambda: small("deeplabv3plus"), lambda: small("deeplabv1", upsampling="deconvolution"),
    lambda: _crf_rnn(small("deeplabv1"))], ids=["v1", "v2-msc", "v3-aux", "v3plus", "deconvolution", "crf-rnn"])
def test_every_model_meets_the_training_contract(build):
    # One contract (models.base): training_outputs gives a TrainingOutput whose ``out`` is what
    # inference upsamples, ``aux`` v3's layer3 head only, ``scales`` MSC's per-scale maps only.
    from deeplab_edu.models import TrainingOutput

    seed_everything(0)
    model = build().eval()
    x = torch.randn(2, 3, 33, 41)
    with torch.no_grad():
        output, logits = model.training_outputs(x), model(x)
    assert isinstance(output, TrainingOutput)
    torch.testing.assert_close(F.interpolate(output.out, size=x.shape[-2:], mode="bilinear"), logits)
    assert (output.aux is not None) == (getattr(model, "aux_classifier", None) is not None)
    if output.aux is not None:
        with torch.no_grad():
            expected = model.aux_classifier(model.backbone(x)["aux"])
        torch.testing.assert_close(output.aux, expected)
    assert len(output.scales) == (2 if isinstance(model, MultiScale) else 0)
    assert output.score_maps()[-1] is output.out


@pytest.mark.slow
@pytest.mark.parametrize("scales", [(1.0, 0.1), (1.0, 5.0), (), ("a",)])
def test_input_scales_follow_one_rule_everywhere(scales):
    # models.multiscale.check_scales is the one rule: MSC training, inference and --scales agree.
    import argparse

    from deeplab_edu.cli import scale_value
    from deeplab_edu.engine.inference import predict_probs
    from deeplab_edu.models.multiscale import check_scales

    with pytest.raises(ValueError) as rule:
        check_scales(scales)
    base = small("deeplabv1").eval()
    for call in (lambda: MultiScale(base, scales), lambda: predict_probs(base, torch.zeros(1, 3, 17, 17), scales)):
        with pytest.raises(ValueError) as raised:
            call()
        assert str(raised.value) == str(rule.value)
    if len(scales) == 2:
        with pytest.raises(argparse.ArgumentTypeError, match=r"\[0\.25, 4\]"):
            scale_value(str(scales[1]))
    assert check_scales((0.25, 4)) == (0.25, 4.0)


@pytest.mark.slow
def test_layer_table_adds_up_to_the_model():
    with torch.device("meta"):
        model = build_model("deeplabv3", 21)
    rows = layer_table(model, 513)
    assert sum(r.parameters for r in rows) == count(model)
    assert sum(r.flops for r in rows) == flop_counts(model, 513)["total"]
    assert [r.output_stride for r in rows] == [4, 4, 8, 16, 16, 16]
    assert rows[-1].receptive_field == model.receptive_field()
    assert rows[-2].rates == (2, 4, 8)  # multi-grid 2·(1, 2, 4)


# --- the v3+ decoder ----------------------------------------------------------------------------

def _v3plus_with_low_level_offset(offset):
    """A small v3+ whose backbone's stride-4 features get ``offset(low_level)`` added."""
    seed_everything(0)
    model = small("deeplabv3plus").eval()

    def perturb(module, args, out):
        out = dict(out)
        out["low_level"] = out["low_level"] + offset(out["low_level"])
        return out

    return model, perturb


def test_v3plus_low_level_features_reach_the_scores_near_where_they_change():
    # v3+ §3.1: the decoder's job is to bring stride-4 detail (edges) back into the scores. Change
    # the low-level features at one stride-4 position: the scores there change, and — the two 3×3
    # convolutions at stride 4 reach 2 positions each way — nothing further than 2 positions does.
    y0, x0 = 6, 9

    def bump(low):
        delta = torch.zeros_like(low)
        delta[:, :, y0, x0] = 5.0
        return delta

    model, perturb = _v3plus_with_low_level_offset(bump)
    x = torch.randn(1, 3, 65, 81)
    with torch.no_grad():
        before = model.forward_scores(x)
        handle = model.backbone.register_forward_hook(perturb)
        after = model.forward_scores(x)
        logits_after = model(x)
        handle.remove()
        logits_before = model(x)
    changed = (after - before).abs().amax(1)[0] > 1e-5
    assert changed[y0, x0]
    ys, xs = torch.nonzero(changed, as_tuple=True)
    assert (ys - y0).abs().max() <= 2 and (xs - x0).abs().max() <= 2
    assert changed.sum() > 1  # spread by the 3×3s, not a 1×1 pass-through
    moved = (logits_after - logits_before).abs().amax(1)[0] > 1e-5
    assert moved[4 * y0, 4 * x0] and not moved[:, : 4 * (x0 - 4)].any()  # at the image's scale too


def test_v3plus_decoder_is_the_papers_fusion_at_stride_4():
    # v3+ Fig. 2: encoder output upsampled by 4 (bilinear) to the stride-4 grid, concatenated with
    # the low-level features reduced to 48 channels by a 1×1 conv, two 3×3 convs of 256, a 1×1 to
    # the classes. Checked here with the width multiplier 1/8: 48 → 8 (the floor), 256 → 32.
    seed_everything(0)
    model = small("deeplabv3plus").eval()
    decoder = model.decoder
    assert decoder.reduce[0].kernel_size == (1, 1) and decoder.reduce[0].out_channels == 8
    assert decoder.reduce[0].in_channels == model.backbone.low_level_channels
    for block in decoder.fuse:
        conv = block[0].depthwise if hasattr(block[0], "depthwise") else block[0]
        assert conv.kernel_size == (3, 3) and conv.padding == (1, 1) and conv.dilation == (1, 1)
    assert decoder.fuse[0][0].depthwise.in_channels == 32 + 8
    assert decoder.classifier.kernel_size == (1, 1) and decoder.classifier.out_channels == 5
    x = torch.randn(1, 3, 97, 131)
    with torch.no_grad():
        features = model.backbone(x)
        encoded = model.aspp(features["out"])
        low = features["low_level"]
        assert low.shape[-2:] == (25, 33) and encoded.shape[-2:] == (7, 9)  # strides 4 and 16
        upsampled = F.interpolate(encoded, size=(25, 33), mode="bilinear", align_corners=False)
        reduced = F.relu(_bn(F.conv2d(low, decoder.reduce[0].weight), decoder.reduce[1]))
        fused = torch.cat([upsampled, reduced], 1)
        for block in decoder.fuse:  # written out with the functional ops, not the decoder's modules
            separable, bn = block[0], block[1]
            depthwise = separable.depthwise
            fused = F.relu(_bn(F.conv2d(fused, depthwise.weight, depthwise.bias, padding=1,
                                        groups=depthwise.groups), separable.depthwise_bn))
            fused = F.relu(_bn(F.conv2d(fused, separable.pointwise.weight, separable.pointwise.bias), bn))
        expected = F.conv2d(fused, decoder.classifier.weight, decoder.classifier.bias)
        torch.testing.assert_close(model.forward_scores(x), expected)


def _bn(x, module):
    return F.batch_norm(x, module.running_mean, module.running_var, module.weight, module.bias, eps=module.eps)


def test_logits_are_the_scores_sampled_at_pixel_centres():
    # Bilinear upsampling with half-pixel centres (torchvision's align_corners=False): score i
    # sits at input coordinate s·i + (s − 1)/2, so a score map that is a ramp in i becomes the
    # ramp (x + ½)/s − ½ in pixels, away from the clamped borders. (align_corners=True would
    # stretch it to x·(n − 1)/(W − 1) instead.)
    model = small("deeplabv1").eval()
    ramp = torch.arange(8, dtype=torch.float32).expand(1, 5, 6, 8)
    model.forward_scores = lambda x: ramp
    logits = model(torch.zeros(1, 3, 48, 64))
    x = torch.arange(64, dtype=torch.float32)
    expected = ((x + 0.5) / 8 - 0.5).clamp(0, 7)
    torch.testing.assert_close(logits[0, 0, 0], expected)


def test_v2_vgg_branches_are_largefov_heads():
    # DeepLab-v2-VGG: each ASPP branch is fc6 (3×3 at its rate, 1024 channels) → fc7 → fc8;
    # with ResNet each branch is one 3×3 convolution to the classes (v2 §3.1, Fig. 7).
    vgg = build_model("deeplabv2", 5, backbone="vgg16", width=0.125, rates="aspp-s")
    resnet = small("deeplabv2")
    for branch, rate in zip(vgg.classifier.branches, (2, 4, 8, 12)):
        assert [name for name, _ in branch.named_children() if name.startswith("fc")] == ["fc6", "fc7", "fc8"]
        assert branch.fc6.out_channels == 1024 // 8 and branch.fc6.dilation == (rate, rate)
    assert all([name for name, _ in b.named_children()] == ["fc8"] for b in resnet.classifier.branches)
