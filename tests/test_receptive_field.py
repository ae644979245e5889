"""The receptive-field calculator against the loops, against torch's gradients, and against the papers."""

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from deeplab_edu import receptive_field as rf

SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def layer_chains(draw, max_layers=4):
    """Random chains of convolutions and poolings with small kernels, strides, rates and paddings."""
    layers = []
    for i in range(draw(st.integers(1, max_layers))):
        kind = draw(st.sampled_from(rf.KINDS))
        kernel = draw(st.integers(1, 4))
        rate = draw(st.integers(1, 4)) if kind == "conv" else 1
        padding = draw(st.integers(0, 3 if kind == "conv" else kernel // 2))
        layers.append(rf.Layer(f"l{i}", kernel=kernel, stride=draw(st.integers(1, 3)), dilation=rate,
                               padding=padding, kind=kind))
    return layers


def _nonzero(mask: torch.Tensor) -> list[int]:
    return torch.nonzero(mask).flatten().tolist()


# --- the study notes' example ------------------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("pool stride 2, conv k=2", [1, 2, 3, 4]),
    ("pool stride 1, conv k=2", [1, 2, 3]),
    ("pool stride 1, conv k=2 rate 2", [1, 2, 3, 4]),
])
def test_seed_example_fields(name, expected):
    layers = rf.seed_example()[name]
    one_based = [i + 1 for i in rf.input_support_1d(layers, 0, 10)]
    assert one_based == expected
    assert rf.receptive_field(layers) == len(expected)
    assert _nonzero(rf.measure_support(layers, 10, output_index=0, dims=1)) == [i - 1 for i in expected]


def test_seed_example_density():
    """Stride 1 gives (almost) twice the outputs of stride 2: the denser map the hole algorithm keeps."""
    sizes = {name: rf.output_sizes(layers, 16)[-1] for name, layers in rf.seed_example().items()}
    # stride 2: ⌊(16-2)/2⌋+1 = 8 pooled, 7 after the k=2 conv; stride 1: 15 pooled, then 14, or 13 at rate 2.
    assert list(sizes.values()) == [7, 14, 13]


# --- three ways of computing the field agree -----------------------------------------------------------

@SETTINGS
@given(k=st.integers(1, 9), r=st.integers(1, 9))
def test_effective_kernel_is_the_zero_inserted_length(k, r):
    dilated = []
    for t in range(k):  # insert r - 1 zeros between neighbouring taps
        dilated += [1] + ([0] * (r - 1) if t < k - 1 else [])
    assert rf.conv("c", kernel=k, dilation=r).effective_kernel == len(dilated)


@SETTINGS
@given(layers=layer_chains(), extra=st.integers(0, 12), data=st.data())
def test_loops_measurement_and_recurrence_agree(layers, extra, data):
    rows = rf.field_table(layers)
    length = rows[-1].receptive_field + extra
    try:
        sizes = rf.output_sizes(layers, length)
    except ValueError:
        assume(False)
    assume(sizes[-1] >= 1)
    index = data.draw(st.integers(0, sizes[-1] - 1))
    looped = rf.input_support_1d(layers, index, length)
    measured = _nonzero(rf.measure_support(layers, length, output_index=index, dims=1))
    assert measured == looped
    first, last = rows[-1].span(index)
    assert all(first <= i <= last for i in looped)
    if first >= 0 and last < length:  # the whole field is inside the input: its ends are read
        assert looped[0] == first and looped[-1] == last


@SETTINGS
@given(layers=layer_chains(), length=st.integers(1, 40))
def test_output_sizes_match_torch(layers, length):
    try:
        sizes = rf.output_sizes(layers, length)
    except ValueError:
        assume(False)
    x = torch.zeros(1, 1, length, dtype=torch.float64)
    for module, size in zip(rf.build_network(layers, dims=1), sizes):
        x = module(x)
        assert x.shape[-1] == size


@SETTINGS
@given(k=st.integers(1, 5), s=st.integers(1, 3), r=st.integers(1, 4), depth=st.integers(1, 5))
def test_stack_closed_form(k, s, r, depth):
    assert rf.receptive_field(rf.stack(k, s, r, depth)) == rf.stack_field(k, s, r, depth)
    assert rf.output_stride(rf.stack(k, s, r, depth)) == s**depth


@settings(max_examples=10, deadline=None)
@given(layers=layer_chains(max_layers=3))
def test_two_dimensional_measurement_is_square(layers):
    field = rf.receptive_field(layers)
    size = 2 * field + 8
    try:
        rf.output_sizes(layers, size)
    except ValueError:
        assume(False)
    mask = rf.measure_support(layers, size, dims=2)
    rows, cols = rf.support_extent(mask)
    assert rows == cols <= field


# --- the ready specs -------------------------------------------------------------------------------------

def test_vgg16_by_arithmetic():
    # Each 3×3 conv adds 2·j, each 2×2 pool adds 1·j; j doubles after each pool.
    convs_per_block, jumps = (2, 2, 3, 3, 3), (1, 2, 4, 8, 16)
    pool5 = 1 + sum(2 * n * j + j for n, j in zip(convs_per_block, jumps))
    table = {row.layer.name: row for row in rf.field_table(rf.vgg16())}
    assert table["pool5"].receptive_field == pool5 == 212
    assert table["fc6"].receptive_field == pool5 + 6 * 32
    assert rf.output_stride(rf.vgg16()) == 32


@pytest.mark.parametrize("spec", [rf.vgg16, rf.deeplab_v1_largefov], ids=["vgg16", "largefov"])
def test_real_networks_measured_in_two_dimensions(spec):
    layers = spec()
    field = rf.receptive_field(layers)
    mask = rf.measure_support(layers, field + 2 * rf.output_stride(layers) + 1, dims=2)
    assert rf.support_extent(mask) == [field, field]


def test_deeplab_v1_is_the_hole_algorithm_applied_to_vgg16():
    vgg = {row.layer.name: row for row in rf.field_table(rf.vgg16())}
    v1 = {row.layer.name: row for row in rf.field_table(rf.deeplab_v1("4x4"))}
    assert v1["fc8"].output_stride == 8 and vgg["fc8"].output_stride == 32
    # pool4 at stride 1 halves the jump; rate 2 in conv5 puts its taps back 16 px apart, as in VGG.
    for name in ("conv5_1", "conv5_2", "conv5_3"):
        assert v1[name].jump * 2 == vgg[name].jump
        assert v1[name].tap_spacing == vgg[name].tap_spacing == 16
    # pool5 at stride 1 halves it again; fc6 at rate 4 samples pool5 every 32 px, as VGG's fc6 does.
    assert v1["fc6"].tap_spacing == vgg["fc6"].tap_spacing == 32


def test_deeplab_v1_321_crop_gives_41_scores():
    # (321 - 1) / 8 + 1 = 41: the crop size output_stride·k + 1 keeps corners aligned.
    assert rf.output_sizes(rf.deeplab_v1_largefov(), 321)[-1] == (321 - 1) // 8 + 1


def test_fc6_table_against_the_paper():
    rows = {row.name: row for row in rf.fc6_table()}
    assert set(rows) == set(rf.FC6_VARIANTS)
    vgg_convs = sum(layer.parameters for layer in rf.vgg16() if layer.name.startswith("conv"))
    assert vgg_convs == 14_714_688  # VGG-16's 13 convolutions, as torchvision counts them
    for name, row in rows.items():
        variant, layers = row.variant, rf.deeplab_v1(name)
        fc6 = next(layer for layer in layers if layer.name == "fc6")
        assert (fc6.kernel, fc6.dilation) == (variant.kernel, variant.rate)
        c = variant.channels
        assert row.fc6_parameters == 512 * c * variant.kernel**2 + c
        assert row.network_parameters == vgg_convs + row.fc6_parameters + (c * c + c) + (c * 21 + 21)
        assert round(row.network_parameters / 1e6, 1) == variant.paper_parameters_millions
        assert row.fc6_span == (variant.kernel - 1) * variant.rate * 8
        # The paper's "receptive field" is fc6's span plus one VGG output stride, in every row; the
        # analytic field through the whole network is larger by pool5's own field.
        assert variant.paper_receptive_field == row.fc6_span + 32
        assert row.receptive_field == row.fc6_span + rf.receptive_field(layers[:-3])


@pytest.mark.parametrize("output_stride", [32, 16, 8])
def test_resnet101_output_strides_and_measured_field(output_stride):
    layers = rf.resnet101_layers(output_stride)
    convs = sum(layer.kind == "conv" for layer in layers)
    assert convs == 1 + 3 * (3 + 4 + 23 + 3) == 101 - 1  # the 101st weight layer is the classifier
    assert rf.output_stride(layers) == output_stride
    field = rf.receptive_field(layers)
    size = field + 4 * output_stride + 1
    assert rf.support_extent(rf.measure_support(layers, size, dims=1)) == [field]


def test_resnet101_atrous_keeps_the_field():
    # The dense network computes the sparse one's values at more positions: same field.
    fields = {rf.receptive_field(rf.resnet101_layers(os)) for os in (32, 16, 8)}
    assert len(fields) == 1


def test_resnet101_multi_grid_rates():
    res5 = [l.dilation for l in rf.resnet101_layers(16, multi_grid=(1, 2, 4)) if l.name.startswith("res5") and l.kernel == 3]
    assert res5 == [2, 4, 8]  # DeepLab v3, Sec. 3.2: rates = 2 · (1, 2, 4) at output stride 16
    res4 = [l.dilation for l in rf.resnet101_layers(8) if l.name.startswith("res4") and l.kernel == 3]
    assert res4 == [1] + [2] * 22  # the first block keeps the rate it had before the stride went


@pytest.mark.parametrize("output_stride", [32, 16, 8])
@pytest.mark.parametrize("grid", [None, (1, 2, 4)])
def test_resnet101_spec_is_the_geometry_the_backbone_runs(output_stride, grid):
    # The lesson's spec and the module are built from one rule (layouts.stage_geometry); this
    # holds the module's actual convolutions to the spec the chapter prints.
    from deeplab_edu.backbones import ResNet

    spec = [(l.stride, l.dilation) for l in rf.resnet101_layers(output_stride, multi_grid=grid)
            if l.kernel == 3 and l.kind == "conv"]
    with torch.device("meta"):
        model = ResNet(101, output_stride, grid)
    built = [(l.stride, l.dilation) for l in model.layer_specs() if l.kernel == 3 and l.kind == "conv"]
    assert spec == built
    assert rf.output_stride(model.layer_specs()) == output_stride


def test_parameters_vs_field():
    for field in (5, 9, 25):
        counts = rf.parameters_for_field(field)
        assert counts["dense kernel"] == field * field
        assert counts["3x3 atrous"] == 9
        assert rf.conv("c", kernel=3, dilation=counts["rate"]).effective_kernel == field


# --- clear errors ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, words", [
    ({"kernel": 0}, ValueError, "kernel"),
    ({"stride": 0}, ValueError, "stride"),
    ({"dilation": 0}, ValueError, "dilation"),
    ({"dilation": 1.5}, TypeError, "dilation"),
    ({"dilation": True}, TypeError, "dilation"),
    ({"padding": -1}, ValueError, "padding"),
    ({"kind": "conv3d"}, ValueError, "kind"),
    ({"kind": "maxpool", "dilation": 2}, ValueError, "pooling"),
    ({"kind": "avgpool", "kernel": 3, "padding": 2}, ValueError, "padding"),
    ({"in_channels": 0}, ValueError, "in_channels"),
])
def test_bad_layers_raise(kwargs, error, words):
    with pytest.raises(error, match=words):
        rf.Layer("bad", **kwargs)


def test_bad_calls_raise():
    with pytest.raises(ValueError, match="layers"):
        rf.field_table([])
    with pytest.raises(TypeError, match=r"layers\[1\]"):
        rf.field_table([rf.conv("a"), (3, 1, 1, 1)])
    with pytest.raises(ValueError, match="input_size"):
        rf.output_sizes(rf.vgg16(), 100)
    with pytest.raises(ValueError, match="output_index"):
        rf.input_support_1d(rf.stack(3, 1, 1, 1), 5, 6)
    with pytest.raises(ValueError, match="output_stride"):
        rf.resnet101_layers(4)
    with pytest.raises(ValueError, match="multi_grid"):
        rf.resnet101_layers(16, multi_grid=(1, 0))
    with pytest.raises(ValueError, match="channels"):
        _ = rf.conv("c").parameters
    with pytest.raises(ValueError, match="field"):
        rf.rate_for_field(6)
    with pytest.raises(ValueError, match="fc6"):
        rf.deeplab_v1("5x5")
    with pytest.raises(ValueError, match="dims"):
        rf.build_network(rf.stack(3, 1, 1, 1), dims=3)
