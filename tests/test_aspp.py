import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from deeplab_edu.aspp import ASPP, ASPP_L, ASPP_S, ASPPPooling, ASPPv2, v3_rates
from deeplab_edu.runtime import seed_everything
from deeplab_edu.separable import SeparableConv2d, depthwise_conv2d_loop


# --- separable convolution --------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(channels=st.integers(1, 6), rate=st.integers(1, 4), size=st.integers(9, 20), kernel=st.sampled_from([1, 3, 5]))
@pytest.mark.slow
def test_depthwise_loop_equals_grouped_convolution(channels, rate, size, kernel):
    generator = torch.Generator().manual_seed(channels * 100 + rate)
    x = torch.randn(2, channels, size, size + 3, generator=generator, dtype=torch.float64)
    weight = torch.randn(channels, 1, kernel, kernel, generator=generator, dtype=torch.float64)
    fast = F.conv2d(x, weight, padding=rate * (kernel - 1) // 2, dilation=rate, groups=channels)
    torch.testing.assert_close(depthwise_conv2d_loop(x, weight, rate), fast)


def test_separable_module_uses_that_depthwise_convolution():
    seed_everything(0)
    module = SeparableConv2d(4, 6, 3, rate=2).eval()
    x = torch.randn(1, 4, 15, 15)
    expected = module.pointwise(module.relu(module.depthwise_bn(depthwise_conv2d_loop(x, module.depthwise.weight, 2))))
    torch.testing.assert_close(module(x), expected)


def test_separable_parameter_count_is_k2c_plus_c_cprime():
    c, c_out, k = 256, 256, 3
    module = SeparableConv2d(c, c_out, k)
    conv_weights = module.depthwise.weight.numel() + module.pointwise.weight.numel()
    assert conv_weights == k * k * c + c * c_out
    assert torch.nn.Conv2d(c, c_out, k, bias=False).weight.numel() == k * k * c * c_out


@pytest.mark.parametrize("rate", [0, -2, 1.5, "2"])
def test_separable_rejects_bad_rates(rate):
    with pytest.raises((ValueError, TypeError), match="rate"):
        SeparableConv2d(4, 4, 3, rate)


# --- v3 ASPP -----------------------------------------------------------------------------------

def test_v3_rates_double_at_output_stride_8():
    assert v3_rates(16) == (6, 12, 18)
    assert v3_rates(8) == tuple(2 * r for r in v3_rates(16))
    with pytest.raises(ValueError, match="output_stride"):
        v3_rates(4)


@pytest.mark.parametrize("separable", [False, True])
def test_aspp_branches_and_shapes(separable):
    aspp = ASPP(32, (1, 2, 3), out_channels=16, separable=separable).eval()
    assert len(aspp.convs) == 1 + 3 + 1  # 1×1, three atrous, image pooling
    assert [aspp.convs[i][0].depthwise.dilation[0] if separable else aspp.convs[i][0].dilation[0]
            for i in (1, 2, 3)] == [1, 2, 3]
    assert aspp.project[0].in_channels == 5 * 16
    with torch.no_grad():
        assert aspp(torch.randn(2, 32, 9, 11)).shape == (2, 16, 9, 11)


def test_image_pooling_is_the_global_mean_broadcast():
    seed_everything(0)
    branch = ASPPPooling(8, 4).eval()
    x = torch.randn(2, 8, 7, 5)
    pooled = branch[3](branch[2](branch[1](x.mean(dim=(2, 3), keepdim=True))))
    torch.testing.assert_close(branch(x), pooled.expand(-1, -1, 7, 5))


def test_image_pooling_trains_at_batch_size_1_with_running_statistics():
    seed_everything(0)
    aspp = ASPP(8, (1, 2, 3), out_channels=4)
    bn = aspp.convs[4][2]
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
    before = bn.running_mean.clone(), bn.running_var.clone()
    x = torch.randn(1, 8, 6, 6)
    pooled = aspp.convs[4][1](x.mean(dim=(2, 3), keepdim=True))
    aspp.train()
    out = aspp.convs[4](x)  # torchvision's plain BatchNorm raises here
    expected = torch.relu((pooled - before[0].view(1, -1, 1, 1)) / torch.sqrt(before[1].view(1, -1, 1, 1) + bn.eps)
                          * bn.weight.view(1, -1, 1, 1) + bn.bias.view(1, -1, 1, 1))
    torch.testing.assert_close(out, expected.expand(-1, -1, 6, 6))
    assert torch.equal(bn.running_mean, before[0]) and torch.equal(bn.running_var, before[1])
    aspp(x).sum().backward()  # the whole ASPP trains at batch size 1
    aspp(torch.randn(2, 8, 6, 6))  # with two images it is ordinary BatchNorm again
    assert not torch.equal(bn.running_mean, before[0])


@pytest.mark.parametrize("rates, error", [((), TypeError), ((6, 0), ValueError), ((6, -12), ValueError),
                                          ((6, 2.5), ValueError), ("6", TypeError), ((6, True), TypeError)])
def test_aspp_rejects_bad_rates(rates, error):
    with pytest.raises(error, match="rates"):
        ASPP(8, rates)
    with pytest.raises(error, match="rates"):
        ASPPv2(8, 3, rates)


# --- v2 ASPP -----------------------------------------------------------------------------------

def test_v2_presets_are_the_papers():
    assert ASPP_L == (6, 12, 18, 24) and ASPP_S == (2, 4, 8, 12)


@pytest.mark.parametrize("hidden", [None, 16])
def test_v2_scores_are_the_sum_of_the_branches(hidden):
    seed_everything(0)
    aspp = ASPPv2(8, 3, ASPP_S, hidden_channels=hidden).eval()
    x = torch.randn(1, 8, 13, 13)
    with torch.no_grad():
        total = sum(branch(x) for branch in aspp.branches)
        torch.testing.assert_close(aspp(x), total)
    assert len(aspp.branches) == 4


def test_v2_resnet_aspp_is_one_sparse_filter():
    """ASPP-L with one conv per branch = one (2·24 + 1)² filter whose taps sit at 0, ±r for each r."""
    seed_everything(0)
    aspp = ASPPv2(4, 2, ASPP_L, hidden_channels=None).eval()
    span = 2 * max(ASPP_L) + 1
    centre = max(ASPP_L)
    big = torch.zeros(2, 4, span, span, dtype=torch.float64)
    for rate, branch in zip(ASPP_L, aspp.branches):
        for i in range(3):
            for j in range(3):
                big[:, :, centre + (i - 1) * rate, centre + (j - 1) * rate] += branch.fc8.weight[:, :, i, j].double()
    bias = sum(branch.fc8.bias.double() for branch in aspp.branches)
    x = torch.randn(1, 4, 30, 30, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(aspp.double()(x), F.conv2d(x, big, bias, padding=centre))


# --- structure the papers specify, and dropout in train vs eval --------------------------------

def _kernel_and_rate(conv_block):
    conv = conv_block[0]
    conv = getattr(conv, "depthwise", conv)
    return conv.kernel_size, conv.dilation, conv.padding


@pytest.mark.parametrize("separable", [False, True])
def test_v3_branches_are_one_1x1_and_3x3_at_each_rate(separable):
    # v3 §3.3: "one 1×1 convolution and three 3×3 convolutions with rates = (6, 12, 18)", padded
    # by r so every branch keeps the map's size; v3+ §3.2 makes the 3×3s depthwise-separable.
    aspp = ASPP(16, v3_rates(16), out_channels=8, separable=separable)
    assert _kernel_and_rate(aspp.convs[0]) == ((1, 1), (1, 1), (0, 0))
    assert isinstance(aspp.convs[0][0], torch.nn.Conv2d)
    for branch, rate in zip(aspp.convs[1:4], (6, 12, 18)):
        assert _kernel_and_rate(branch) == ((3, 3), (rate, rate), (rate, rate))
        assert isinstance(branch[0], SeparableConv2d) == separable
    assert isinstance(aspp.convs[4], ASPPPooling)
    assert aspp.project[0].kernel_size == (1, 1) and aspp.project[0].out_channels == 8


def _eval_batchnorm(module):
    # Train mode for dropout only: BatchNorm keeps its running statistics, so the one random
    # thing left between two calls is the dropout mask.
    module.train()
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()
    return module


@pytest.mark.parametrize("p", [0.5, 0.1])
def test_v3_dropout_is_the_last_step_of_the_projection(p):
    # Dropout after the projection's ReLU (torchvision's and TF DeepLab's placement): in training
    # each output is either dropped (0) or the eval output scaled by 1/(1−p), a fraction p dropped;
    # dropout anywhere earlier would mix the mask through the 1×1 projection and break that.
    seed_everything(0)
    aspp = ASPP(16, (1, 2, 3), out_channels=32, dropout=p).eval()
    x = torch.randn(2, 16, 12, 12)
    with torch.no_grad():
        clean = aspp(x)
        torch.testing.assert_close(aspp(x), clean)  # eval: no dropout at all
        noisy = _eval_batchnorm(aspp)(x)
    alive = clean > 1e-6
    kept = noisy[alive] != 0
    torch.testing.assert_close(noisy[alive][kept], clean[alive][kept] / (1 - p))
    assert (noisy[~alive] == 0).all()
    assert abs((~kept).double().mean().item() - p) < 0.05  # ~7 000 live outputs: sd ≈ 0.006


def test_v2_vgg_branch_is_the_largefov_head_at_each_rate():
    # v2 §3.1 / Fig. 7: per rate, fc6 (3×3 at rate r, 1024 channels) → ReLU → dropout → fc7 (1×1)
    # → ReLU → dropout → fc8 (1×1, classes): DeepLab-LargeFOV's head.
    aspp = ASPPv2(32, 5, ASPP_L, hidden_channels=1024)
    for branch, rate in zip(aspp.branches, ASPP_L):
        kinds = [type(m).__name__ for m in branch]
        assert kinds[:3] == ["Conv2d", "ReLU", kinds[2]] and "Dropout" in kinds[2]
        assert kinds[3:6] == ["Conv2d", "ReLU", kinds[5]] and "Dropout" in kinds[5]
        assert kinds[6] == "Conv2d" and len(kinds) == 7
        assert (branch.fc6.kernel_size, branch.fc6.dilation, branch.fc6.padding) == ((3, 3), (rate, rate), (rate, rate))
        assert branch.fc6.out_channels == branch.fc7.in_channels == branch.fc7.out_channels == 1024
        assert branch.fc7.kernel_size == branch.fc8.kernel_size == (1, 1) and branch.fc8.out_channels == 5
        assert branch.drop6.p == branch.drop7.p == 0.5


def test_v2_vgg_dropout_acts_after_fc6_and_fc7_in_training_only():
    seed_everything(0)
    aspp = ASPPv2(8, 3, ASPP_S, hidden_channels=64)
    seen = {}
    for name in ("fc7", "fc8"):
        getattr(aspp.branches[0], name).register_forward_pre_hook(
            lambda module, args, name=name: seen.__setitem__(name, args[0].clone()))
    relu = {}
    for name in ("relu6", "relu7"):
        getattr(aspp.branches[0], name).register_forward_hook(
            lambda module, args, out, name=name: relu.__setitem__(name, out.clone()))
    x = torch.randn(2, 8, 10, 10)
    with torch.no_grad():
        aspp.eval()(x)
        for name, before in (("fc7", "relu6"), ("fc8", "relu7")):
            torch.testing.assert_close(seen[name], relu[before])  # eval: nothing dropped
        aspp.train()(x)
    for name, before in (("fc7", "relu6"), ("fc8", "relu7")):
        alive = relu[before] > 0
        kept = seen[name][alive] != 0
        torch.testing.assert_close(seen[name][alive][kept], 2 * relu[before][alive][kept])
        assert 0.3 < (~kept).double().mean().item() < 0.7  # half the features dropped (p = 0.5)
        # Caffe's Dropout (DeepLab's prototxt) drops activations one by one, not whole channels:
        # within a channel some positions survive and others do not.
        dropped = (seen[name] == 0) & alive
        assert ((dropped & alive).flatten(2).any(-1) & (~dropped & alive).flatten(2).any(-1)).any()
