# %% [markdown]
# # 06 · The DeepLab models: v1, v2, v3, v3+
#
# The earlier chapters built the parts: atrous convolution (01), the receptive field (02), the
# hole algorithm that turns a classifier into a dense feature extractor (03), the CRF (04).
# This chapter assembles them into the four networks of the DeepLab papers, from the package's
# `deeplab_edu.models`, and reads each one as a table: where the resolution drops (output
# stride), which atrous rates make up for it, how far each part sees (receptive field), and what
# it costs (parameters, FLOPs at the papers' 513×513 crop).
#
# | version | file | what changed | why |
# |---|---|---|---|
# | v1 | `models/v1.py`, `backbones/vgg.py` | VGG-16 with pool4/pool5 at stride 1, conv5 at rate 2, fc6/fc7 as (atrous) convolutions; scores at output stride 8, bilinearly upsampled, then a dense CRF | dense scores without losing the field of view; the CRF restores the boundaries the CNN blurs |
# | v2 | `models/v2.py`, `aspp.py`, `models/multiscale.py` | ASPP: parallel fc6 branches at several rates, class scores summed; ResNet-101; multi-scale inputs fused by max | objects appear at many scales |
# | v3 | `models/v3.py`, `backbones/resnet.py` | ASPP with BatchNorm and **image pooling**, features concatenated and projected; multi-grid rates; output stride 16 or 8; no CRF | a 3×3 filter at a rate close to the map size degenerates to 1×1; context must come from the whole image |
# | v3+ | `models/v3plus.py`, `separable.py` | a decoder on stride-4 features; depthwise-separable convolutions | sharper boundaries from the network itself, cheaply |

# %%
import matplotlib.pyplot as plt
import torch
from matplotlib import cbook

from deeplab_edu import book
from deeplab_edu.book import (ASPP, ASPP_L, ASPP_S, build_model, FC6_VARIANTS, format_layer_table,
                              format_published, get_table, layer_table, measure_receptive_field,
                              NOT_INCLUDED, plot_aspp_footprints, plot_forward, ResNet,
                              SeparableConv2d, stage_geometry, v3_rates)

book.seed_everything(0)
profile = book.get_profile()

# %% [markdown]
# ## One factory
#
# `build_model(name, num_classes, output_stride=None, backbone=None, width=1.0, **options)` builds
# any of the four. `model(x)` returns logits at the input's size; `model.forward_scores(x)`
# returns the raw scores at the model's output stride (what v1 trains against labels subsampled
# 8×). The tables below are for the full-size models, built on PyTorch's `meta` device: shapes
# without storage, so a 60-million-parameter network is counted at 513×513 without allocating
# a single weight (FLOPs by `torch.utils.flop_counter`, a multiply-add counted as 2).

# %%
def full_size(name, **options):
    with torch.device("meta"):
        return build_model(name, 21, **options)


# %% [markdown]
# ## DeepLab v1: VGG-16 made dense
#
# Read the `OS` column: VGG-16 would halve the resolution five times (output stride 32). DeepLab
# sets pool4 and pool5 to stride 1, so the output stride stops at 8, and compensates with rate 2
# in conv5 and rate 12 in LargeFOV's fc6. The `RF` column is the receptive field of the part's
# output, in input pixels, from the calculator of chapter 02.

# %%
v1 = full_size("deeplabv1")
print(format_layer_table(layer_table(v1, 513)))

# %% [markdown]
# **Fully connected layers are convolutions.** A classifier's fc6 multiplies the flattened 7×7×512
# map by a matrix; reshape each row of that matrix to 512×7×7 and it is a 7×7 convolution
# kernel. On a 7×7 input the convolution gives the same numbers as the matrix (one position);
# on a larger input it slides, and the classifier becomes a dense scorer: one score vector per
# window. `weights.vgg16_fc_to_conv` does this to torchvision's VGG-16 checkpoint. Shown here
# with 16 output units instead of 4096, to keep the cell small:

# %%
fc = torch.nn.Linear(512 * 7 * 7, 16)
conv = torch.nn.Conv2d(512, 16, kernel_size=7)
with torch.no_grad():
    conv.weight.copy_(fc.weight.reshape(16, 512, 7, 7))
    conv.bias.copy_(fc.bias)
    features = torch.randn(1, 512, 7, 7, generator=torch.Generator().manual_seed(0))
    same = torch.allclose(fc(features.flatten(1)), conv(features).flatten(1), atol=1e-5)
    print(f"7x7 input: Linear and Conv2d give the same 16 numbers (to float rounding): {same}")
    larger = torch.randn(1, 512, 14, 14, generator=torch.Generator().manual_seed(1))
    print(f"14x14 input: the Linear cannot take it; the Conv2d gives scores of shape {tuple(conv(larger).shape)}")

# %% [markdown]
# VGG's fc6 is a 4096 × (512·7·7) matrix; as a convolution it is a 7×7 kernel, and at rate 4 it
# covers the field the original saw at output stride 32. It is also most of the network's
# weights. The v1 paper (Table 2) tried smaller fc6 designs; this cell counts each model's
# parameters and prints the paper's figure beside it. LargeFOV's 3×3 fc6 at rate 12 with 1024
# channels keeps the field and sheds most of the weights.

# %%
for key, variant in FC6_VARIANTS.items():
    model = full_size("deeplabv1", fc6=key)
    params = sum(p.numel() for p in model.parameters())
    fc6 = model.classifier.fc6
    print(f"{variant.model:<22} fc6 {fc6.kernel_size[0]}x{fc6.kernel_size[0]} rate {fc6.dilation[0]:>2}, "
          f"{fc6.out_channels:>4} channels: {params / 1e6:6.2f} M parameters (paper: {variant.paper_parameters_millions} M), "
          f"RF {model.receptive_field()}")

# %% [markdown]
# What the paper measured with these four designs (v1 Table 2: VOC 2012 val, mean IoU after the
# CRF, and training speed on the authors' GPU). `deeplab_edu.published` keeps the numbers with
# their source, so the training chapters can set their own results beside them: the built-in
# scenes are not VOC, but the direction and size of an effect can be compared.

# %%
fov = get_table("v1_field_of_view")
print(format_published(fov))
large, full_7x7 = "DeepLab-CRF-LargeFOV", "DeepLab-CRF-7x7"
print(f"\nLargeFOV against 7x7: mean IoU {fov.value(large, 'mean IoU (%)'):.2f} vs {fov.value(full_7x7, 'mean IoU (%)'):.2f}, "
      f"{fov.value(full_7x7, 'parameters (M)') / fov.value(large, 'parameters (M)'):.1f}x fewer parameters, "
      f"{fov.value(large, 'training speed (img/s)') / fov.value(full_7x7, 'training speed (img/s)'):.2f}x faster to train")
if NOT_INCLUDED:
    print("not in deeplab_edu.published yet (their tables could not be read here):", "; ".join(NOT_INCLUDED))

# %% [markdown]
# ## DeepLab v2: ASPP and ResNet-101
#
# ASPP replaces the single fc6 by parallel branches at several rates and **sums their class
# scores**. ASPP-L uses the rates below on the left, ASPP-S the ones on the right:

# %%
print("ASPP-L rates:", ASPP_L, "   ASPP-S rates:", ASPP_S)

# %% [markdown]
# Each branch looks at the same position with a different field of view: its nine taps spread
# `rate` feature-map cells apart. Drawn for ASPP-L on the feature map (at output stride 8 one
# cell is 8 input pixels), the four branches sample rings of growing size around one position,
# and the small branches fill in what the large ones skip:

# %%
plot_aspp_footprints(ASPP_L)
plt.show()

# %% [markdown]
# With ResNet-101 each branch is a single 3×3 convolution from 2048 channels straight to the
# classes. The backbone runs at output stride 8: `layer3` at rate 2, `layer4` at rate 4
# (the `rates` column).

# %%
v2 = full_size("deeplabv2")
print(format_layer_table(layer_table(v2, 513)))

# %% [markdown]
# ### The hole algorithm, exactly
#
# How does the backbone get to output stride 8? `stage_geometry` gives the (stride, rate) of
# every unit's 3×3 convolution. Where a stage would halve the resolution, the stride becomes 1
# and the rate doubles *for every later layer*; the unit that had the stride keeps the previous
# rate, because its own window still sees the input it saw before.

# %%
for output_stride in (32, 16, 8):
    geometry = stage_geometry(output_stride, (3, 4, 23, 3))
    print(f"output stride {output_stride:>2}: " + "  ".join(
        f"layer{i + 1} stride {units[0][0]} rates {sorted({r for _, r in units})}" for i, units in enumerate(geometry)))

# %% [markdown]
# With that rule the dense network is not an approximation: at every other position it computes
# exactly what the stride-32 network computes. A small ResNet with the same weights at output
# stride 32 and 16 shows it (the test suite checks it for 16 and 8):

# %%
sparse_net = ResNet(output_stride=32, width=0.125, blocks=(1, 1, 2, 2)).eval()
dense_net = ResNet(output_stride=16, width=0.125, blocks=(1, 1, 2, 2)).eval()
dense_net.load_state_dict(sparse_net.state_dict())
x = torch.randn(1, 3, 97, 75)
with torch.no_grad():
    sparse_out, dense_out = sparse_net(x)["out"], dense_net(x)["out"]
print("stride 32 map:", tuple(sparse_out.shape[-2:]), "  stride 16 map:", tuple(dense_out.shape[-2:]))
print("stride-16 map at every other position equals the stride-32 map:",
      torch.allclose(dense_out[..., ::2, ::2], sparse_out, rtol=1e-4, atol=1e-5))

# %% [markdown]
# ### Multi-scale inputs
#
# v2 also runs the network on the image at scales 1, 0.75 and 0.5 and keeps, for every pixel and
# class, the **maximum** score (`models/multiscale.py`, a wrapper around any model):

# %%
msc = build_model("deeplabv2", 21, width=profile.width, blocks=(1, 1, 1, 1), scales=(1.0, 0.75, 0.5)).eval()
with torch.no_grad():
    *per_scale, fused = msc.forward_all_scales(torch.randn(1, 3, 129, 129))
print("score maps (resized to scale 1):", [tuple(s.shape[-2:]) for s in per_scale], "-> fused", tuple(fused.shape[-2:]))
print("fused = element-wise max over scales:", torch.equal(fused, torch.stack(per_scale).amax(0)))

# %% [markdown]
# ## DeepLab v3: image pooling, BatchNorm, multi-grid, output stride 16
#
# v3 keeps ResNet but changes the head. ASPP now produces *features*: a 1×1 branch, three 3×3
# branches at rates (6, 12, 18) and an **image-pooling** branch (global average → 1×1 → broadcast),
# each with BatchNorm, concatenated and projected to 256 channels. The paper's head (the default,
# `head="paper"`, and the one the table below counts) then applies BatchNorm, ReLU, dropout 0.1
# and the 1×1 classifier; torchvision's head adds a 3×3 convolution and dropout 0.5
# (`head="torchvision"`, used to load torchvision's checkpoint at the end of this chapter). At
# output stride 8 the rates double, so that each branch covers the same number of input pixels:

# %%
print("ASPP rates at output stride 16:", v3_rates(16), "  at output stride 8:", v3_rates(8))

# %% [markdown]
# The default model runs at output stride 16 with **multi-grid** (1, 2, 4): the three units of
# `layer4` use rates 2·(1, 2, 4), the `rates` column of `layer4` below. Output stride 16 instead
# of 8 makes `layer3`, the biggest stage, four times cheaper (compare its GFLOPs with v2's table).

# %%
v3 = full_size("deeplabv3")
print(format_layer_table(layer_table(v3, 513)))

# %% [markdown]
# The `RF` column counts only the convolutional path. Through image pooling **every score depends
# on every pixel**: measured on a small v3 (positive weights, one-hot gradient from the centre
# score), the support of the gradient is the whole input, whatever its size:

# %%
small_v3 = build_model("deeplabv3", 21, width=0.125, blocks=(1, 1, 1, 1), rates=(2, 3))
print("input 97x131 -> the centre score depends on a", measure_receptive_field(small_v3, (97, 131)), "region")

# %% [markdown]
# ### The batch-size-1 trap
#
# After global pooling, each channel has one value per image. Training with one image per batch,
# BatchNorm would normalise a single value (variance 0): torchvision's ASPP raises *"Expected more
# than 1 value per channel when training"* there. Our image-pooling BatchNorm
# (`aspp.PoolingBatchNorm`) falls back to its running statistics in that one case, so a v3 trains
# at batch size 1, and checkpoints keep torchvision's parameter names:

# %%
small_v3.train()
loss = small_v3(torch.randn(1, 3, 65, 65)).logsumexp(1).mean()
loss.backward()
print("trained one step at batch size 1; loss is finite:", bool(torch.isfinite(loss)))

# %% [markdown]
# ## DeepLab v3+: a decoder and separable convolutions
#
# v3+ treats v3 as an encoder and adds a decoder: the encoder output (stride 16) is upsampled 4×
# and concatenated with `layer1`'s stride-4 features reduced to 48 channels; two 3×3 convolutions
# refine them. The 3×3 convolutions of ASPP and decoder are **depthwise-separable**: one 3×3 filter
# per channel, then a 1×1 that mixes channels. The decoder works at stride 4, so its `RF` is not a
# single chain (it mixes two resolutions): the table prints `-`, and `model.receptive_field()`
# gives the bound explained in `v3plus.py`.

# %%
v3plus = full_size("deeplabv3plus")
print(format_layer_table(layer_table(v3plus, 513)))

# %% [markdown]
# What separability saves, for one 3×3 convolution from 256 to 256 channels (weights only):

# %%
plain = torch.nn.Conv2d(256, 256, 3, bias=False)
separable = SeparableConv2d(256, 256, 3)
separable_weights = separable.depthwise.weight.numel() + separable.pointwise.weight.numel()
print(f"plain 3x3: {plain.weight.numel():,} weights; separable: {separable_weights:,} "
      f"({plain.weight.numel() / separable_weights:.1f}x fewer)")
aspp_plain, aspp_sep = ASPP(2048, v3_rates(16)), ASPP(2048, v3_rates(16), separable=True)
print(f"v3 ASPP: {sum(p.numel() for p in aspp_plain.parameters()) / 1e6:.2f} M parameters; "
      f"separable: {sum(p.numel() for p in aspp_sep.parameters()) / 1e6:.2f} M")

# %% [markdown]
# ## The receptive field, computed and measured
#
# `model.receptive_field()` runs the calculator of chapter 02 over the model's own layers. The
# test suite holds it equal to the field *measured* by back-propagating from one score of the
# real module. On a small LargeFOV (the geometry does not depend on the channel count):

# %%
small_v1 = build_model("deeplabv1", 21, width=0.125)
print("computed:", small_v1.receptive_field(), "  measured (height, width):", measure_receptive_field(small_v1, 481))

# %% [markdown]
# ## A forward pass on a photo
#
# The models here start from random weights, so what they say about the photo means nothing; the
# point is the geometry. Every class gets a score on a coarse grid (here the decoder's stride 4),
# and bilinear upsampling brings the grid to the image's size. An untrained network's arg-max
# would be one flat colour: the cell measures why — its classes' scores differ from each other
# far more than any one class's score varies across the image. So the figure shows a single
# class (the one that varies most) on its own colour scale: the grid, the upsampled logits, and
# a zoom where the grid's blocks and their bilinear blend are visible. The photo ships with
# matplotlib. The width is fixed at 0.25, whatever the profile, so the numbers printed are the same
# in every run.

# %%
with cbook.get_sample_data("grace_hopper.jpg") as file:
    image = plt.imread(file)
x = torch.tensor(image).permute(2, 0, 1)[None].float() / 255  # untrained: no normalisation needed
book.seed_everything(0)  # the same random weights whatever the cells above drew
model = build_model("deeplabv3plus", 21, width=0.25, blocks=(1, 1, 1, 1)).eval()
with torch.no_grad():
    scores, logits = model.forward_scores(x), model(x)
print("image", tuple(x.shape), "-> scores", tuple(scores.shape), "-> logits", tuple(logits.shape))
labels = logits[0].argmax(0)
top = int(labels.flatten().mode().values)
between = float(scores[0].mean(dim=(1, 2)).std())  # how far apart the classes' average scores lie
within = float(scores[0].flatten(1).std(dim=1).mean())  # how much one class's score varies over the image
print(f"logits range [{float(logits.min()):.3f}, {float(logits.max()):.3f}]; the arg-max is class {top} "
      f"at {float((labels == top).float().mean()):.1%} of the pixels")
print(f"the classes' mean scores differ by {between:.4f} (std over classes); one class's score varies over "
      f"the image by {within:.4f} (std over positions): {between / within:.0f}x less")
plot_forward(image, scores, logits, "DeepLab v3+ (random weights): one class's score, coarse grid and upsampled")
plt.show()

# %% [markdown]
# **Why bilinear upsampling, not a learned deconvolution?** FCN learned its upsampling with a
# transposed convolution; DeepLab v1 (§3.1) found that the scores are so smooth that fixed
# bilinear interpolation does as well, at no cost in parameters and with no training. The model's
# output *is* bilinear interpolation of its score grid, and the cell counts what a deconvolution
# (8× up, the usual 16×16 kernel) would add:

# %%
upsampled = torch.nn.functional.interpolate(scores, size=logits.shape[-2:], mode="bilinear",
                                            align_corners=False)
print(f"model(x) == bilinear(forward_scores(x)): {torch.allclose(upsampled, logits, atol=1e-5)}")
deconvolution = torch.nn.ConvTranspose2d(21, 21, kernel_size=16, stride=8, padding=4, bias=False)
print(f"a learned 8x deconvolution for 21 classes: {sum(p.numel() for p in deconvolution.parameters()):,} "
      f"parameters; bilinear: 0")

# %% [markdown]
# ## Using torchvision's trained DeepLabV3
#
# Our v3 has torchvision's parameter names, so torchvision's `deeplabv3_resnet101` checkpoint
# (trained on COCO with the 20 VOC classes) loads into it unchanged, strictly. Build the model with
# torchvision's geometry (output stride 8, no multi-grid) and point `DEEPLAB_EDU_DEEPLABV3_WEIGHTS`
# at the file (`weights.TORCHVISION_URLS` names where torchvision downloads it from; nothing here
# downloads). Without the file the model keeps its random weights and the cell says so.

# %%
import os

tv_model = build_model("deeplabv3", 21, output_stride=8, multi_grid=None, aux_loss=True)
print(f"{sum(p.numel() for p in tv_model.parameters()):,} parameters, {len(tv_model.state_dict())} tensors")
checkpoint = os.environ.get("DEEPLAB_EDU_DEEPLABV3_WEIGHTS", "")
if checkpoint:
    book.load_torchvision_deeplabv3(tv_model, checkpoint)
    print("loaded", checkpoint)
else:
    print("DEEPLAB_EDU_DEEPLABV3_WEIGHTS is not set: random weights")

# %% [markdown]
# A checkpoint of another architecture is refused with the keys that differ, not loaded halfway:

# %% tags=["raises-exception"]
book.load_weights(build_model("deeplabv3", 21, width=0.125, blocks=(1, 1, 1, 1)),
                     build_model("deeplabv3plus", 21, width=0.125, blocks=(1, 1, 1, 1)).state_dict())

# %% [markdown]
# And so are arguments the papers do not define:

# %% tags=["raises-exception"]
build_model("deeplabv3", 21, output_stride=12)

# %% [markdown]
# ## Summary
#
# * v1: the hole algorithm makes VGG-16 dense (output stride 8); LargeFOV's atrous fc6 keeps the
#   field with a fraction of the weights.
# * v2: ASPP sums class scores from branches at several rates; ResNet-101; max over input scales.
# * v3: ASPP of features with BatchNorm and image pooling; multi-grid; output stride 16 for
#   training speed, 8 for accuracy.
# * v3+: a decoder on stride-4 features and separable convolutions.
#
# The next chapters train them: `07_train_v1_largefov` … `10_train_v3plus`.
