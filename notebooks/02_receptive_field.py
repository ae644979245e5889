# %% [markdown]
# # 02 · Receptive field: what one output sees
#
# The **receptive field** (RF) of an output is the stretch of input pixels that can change it.
# Classification networks grow it on purpose — VGG-16 and ResNet see most of the image from
# every output — and they grow it the cheap way, by pooling and striding, which also makes the
# feature map coarse. The study notes behind this book put the tension in one line: *the field
# must stay in a sensible range, balancing semantics against location; dilated convolution
# enlarges the field and keeps the feature map large while saving parameters.*
#
# This chapter computes fields exactly. Three ingredients per layer — kernel k, stride s and rate
# r (dilation) — and one recurrence give every number; a second, loop-by-loop computation and a
# measurement with PyTorch's gradients check it. Then we read off the fields of VGG-16, of
# DeepLab v1 and its LargeFOV variant, of ResNet-101 at output stride 32, 16 and 8, and finish
# with a slider explorer.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt

from deeplab_edu import book
from deeplab_edu.book import field_explorer

_ = book.seed_everything(0)

# %% [markdown]
# ## The recurrence
#
# A k-tap kernel at rate r spans k_e = k + (k − 1)(r − 1) samples of its input (DeepLab v2,
# Sec. 3.1). If neighbouring input samples lie j_{l−1} pixels apart, that span covers
# (k_e − 1)·j_{l−1} more pixels than one sample does, and the layer's stride s multiplies the
# spacing:
#
# $$RF_l = RF_{l-1} + (k_e - 1)\,j_{l-1}, \qquad j_l = j_{l-1}\, s_l, \qquad RF_0 = j_0 = 1.$$
#
# The **jump** j is the distance in input pixels between neighbouring outputs; after the last
# layer it is the **output stride** of the DeepLab papers. Two more columns help later: the
# **tap spacing** j_{l−1}·r (how far apart, in input pixels, this layer's kernel taps land) and
# the first input pixel output 0 sees (`FieldRow.first`, negative when it reads padding).

# %% [markdown]
# ## The study notes' example
#
# Chapter 01 drew it as dependency trees (a pooling, then a 2-tap convolution: removing the
# pooling's stride shrinks the field, a hole in the kernel restores it); here the recurrence
# gives each field, and the loops list, 1-based, the inputs the first output reads:

# %%
for name, layers in book.seed_example().items():
    last = book.field_table(layers)[-1]
    inputs = [i + 1 for i in book.input_support_1d(layers, output_index=0, input_length=8)]
    outputs = book.output_sizes(layers, 8)[-1]
    print(f"{name:<32} RF {last.receptive_field}, output stride {last.output_stride}, "
          f"reads {inputs}, {outputs} outputs from 8 inputs")

# %% [markdown]
# ## Three ways to the same field
#
# The recurrence is a formula; the loops above follow every tap; the third way asks the network
# itself. Build a randomly initialised network with the same geometry, push a one-hot gradient
# back from one output, and see which input pixels receive a non-zero gradient. (No ReLU, average
# instead of max pooling, positive weights: otherwise the gradient would skip part of the field.)
# For a stack of three 3×3 convolutions at rate 2:

# %%
layers = book.stack(kernel=3, stride=1, rate=2, depth=3)
print(book.format_field_table(book.field_table(layers)))
looped = book.input_support_1d(layers, output_index=2, input_length=17)
measured = book.measure_support(layers, 17, output_index=2, dims=1).nonzero().flatten().tolist()
print("loops read   ", looped)
print("gradient sees", measured)
print("equal:", looped == measured, "| span", looped[-1] - looped[0] + 1,
      "| recurrence RF", book.receptive_field(layers))

# %% [markdown]
# The three agree (the test suite checks it on random stacks of convolutions and poolings).
# Notice the gaps: a stack of layers at the same rate reads only every second pixel of its field.
# The span is the RF, but inside it sit holes — the **gridding** artefact DeepLab v3 and later
# work worry about. In two dimensions the holes form a grid:

# %%
book.plot_explorer(layers)
plt.show()

# %% [markdown]
# ## VGG-16: output stride 32
#
# FCN made VGG-16 fully convolutional: fc6 becomes a 7×7 convolution on pool5, fc7 and fc8 1×1
# convolutions. Five 2×2 poolings of stride 2 give an output stride of 2⁵ = 32: one score for
# every 32×32 block of pixels — the coarse "32s" maps of FCN.

# %%
print(book.format_field_table(book.field_table(book.vgg16())))

# %% [markdown]
# ## DeepLab v1: output stride 8 with the hole algorithm
#
# DeepLab v1 sets the stride of pool4 and pool5 to 1 (and uses 3×3 poolings with padding 1 so
# that all maps stay aligned). On its own that would shrink every later field, exactly as in the
# notes' example. The hole algorithm makes up for it: conv5_x run at rate 2 and fc6 at rate 4,
# so their taps land as far apart in the image as VGG-16's did. Compare the tap-spacing column
# with the table above:

# %%
v1 = book.deeplab_v1("4x4")
print(book.format_field_table(book.field_table(v1)))
vgg_rows = {row.layer.name: row for row in book.field_table(book.vgg16())}
v1_rows = {row.layer.name: row for row in book.field_table(v1)}
for name in ("conv5_1", "fc6"):
    print(f"{name}: tap spacing VGG-16 {vgg_rows[name].tap_spacing} px, "
          f"DeepLab v1 {v1_rows[name].tap_spacing} px; jump VGG-16 {vgg_rows[name].jump}, "
          f"DeepLab v1 {v1_rows[name].jump}")

# %% [markdown]
# Same sampling of the image, four times denser output: that is the "8s instead of FCN's 32s"
# of the notes. A 321×321 crop (output stride · 40 + 1) gives a score map of

# %%
print(book.output_sizes(book.deeplab_v1_largefov(), 321)[-1], "x",
      book.output_sizes(book.deeplab_v1_largefov(), 321)[-1], "scores for a 321 x 321 crop")

# %%
book.plot_field_growth({"VGG-16 (FCN-32s)": book.vgg16(),
                       "DeepLab v1 (fc6 4x4, rate 4)": book.deeplab_v1("4x4"),
                       "DeepLab-LargeFOV (fc6 3x3, rate 12)": book.deeplab_v1_largefov()})
plt.show()

# %% [markdown]
# ## The fc6 designs of the DeepLab v1 paper
#
# VGG-16's fc6 is a 7×7 layer with 4096 channels, most of the network's weights. The
# v1 paper (Table 2, "effect of field-of-view") tried four designs for it, trading kernel size
# against rate ("input stride" in the paper). Our calculator builds each network from its layer
# spec; the paper's figures sit next to ours:

# %%
print(f"{'model':<22} {'k':>2} {'r':>3} {'k_e':>4} {'fc6 params':>11} {'net params':>11} "
      f"{'paper':>6} {'RF (ours)':>10} {'fc6 span':>9} {'paper RF':>9} {'paper - span':>13}")
for row in book.fc6_table():
    v = row.variant
    print(f"{v.model:<22} {v.kernel:>2} {v.rate:>3} {row.effective_kernel:>4} {row.fc6_parameters:>11,} "
          f"{row.network_parameters / 1e6:>10.1f}M {v.paper_parameters_millions:>5}M "
          f"{row.receptive_field:>10} {row.fc6_span:>9} {v.paper_receptive_field:>9} "
          f"{v.paper_receptive_field - row.fc6_span:>13}")

# %% [markdown]
# **Parameters** agree with the paper to its one decimal: the "# parameters" column counts the
# whole network (13 convolutions, fc6, fc7 and a 21-class fc8), and fc6 alone explains the
# differences between rows. LargeFOV's 3×3 kernel with 1024 channels is the cheapest by far.
#
# **Receptive fields** do not agree, and we do not force them to. The paper's figures are
# approximate: the last column of the table above shows they equal the span of fc6's taps,
# (k − 1)·r·8 pixels, plus a constant 32 in every row. The analytic field through the whole
# network (the "RF (ours)" column) also counts what conv1 … pool5 see around each tap, so it
# is larger in every row. The ranking is the same either way: the 7×7 rate-4, 4×4 rate-8 and
# LargeFOV designs see equally far, and the 4×4 rate-4 design sees less.
#
# The measurement agrees with our column. The gradient of one LargeFOV score, in two dimensions:

# %%
largefov = book.deeplab_v1_largefov()
field = book.receptive_field(largefov)
mask = book.measure_support(largefov, field + 2 * 8 + 1, dims=2)
print("analytic RF", field, "| measured extent (rows, columns)", book.support_extent(mask))
book.plot_support_2d(mask, field)
plt.show()

# %% [markdown]
# ## ResNet-101 at output stride 32, 16 and 8
#
# DeepLab v2 and v3 use ResNet-101. A residual block's field is that of its 3×3 branch (the
# shortcut sees a subset), so the chain conv1 → max pool → 33 bottlenecks of 1×1, 3×3, 1×1
# gives the network's field. For output stride 16 the last stage keeps stride 1 and runs at
# rate 2; for 8 the stage before it too, at rate 2, and the last at rate 4 (each stage's first
# block keeping the rate it had). DeepLab v3 adds
# **multi-grid**: unit rates (1, 2, 4) inside the last stage, multiplied by its rate.

# %%
for output_stride, grid in [(32, None), (16, None), (8, None), (16, (1, 2, 4))]:
    layers = book.resnet101_layers(output_stride, multi_grid=grid)
    field = book.receptive_field(layers)
    measured = book.support_extent(book.measure_support(layers, field + 4 * output_stride + 1, dims=1))
    res5 = [layer.dilation for layer in layers if layer.name.startswith("res5") and layer.kernel == 3]
    print(f"output stride {book.output_stride(layers):>2}, multi-grid {grid or 'none'}: res5 rates {res5}, "
          f"RF {field} (measured {measured[0]})")

# %% [markdown]
# Going from output stride 32 to 8 multiplies the number of outputs by 16 and keeps the field
# exactly: the first block of a dilated stage keeps its old rate (its window sees what it saw
# before; only its output is no longer subsampled), every later block samples at the spacing
# the removed stride used to give it, so the dense network computes the sparse network's values
# at every position. Multi-grid enlarges the field further at no cost in parameters.

# %% [markdown]
# ## Parameters against field: a bigger kernel or a hole?
#
# One layer can reach a field of F pixels with a dense F×F kernel or with a 3×3 kernel at rate
# (F − 1)/2. The weights per channel pair:

# %%
for field in (3, 5, 9, 13, 25):
    counts = book.parameters_for_field(field)
    print(f"field {field:>2}: dense {counts['dense kernel']:>3} weights, "
          f"3x3 at rate {counts['rate']:>2}: {counts['3x3 atrous']} weights")

# %%
book.plot_parameters_vs_field([3, 5, 9, 13, 17, 25])
plt.show()

# %% [markdown]
# The price of the atrous kernel is the holes: it reads 9 of the F² pixels it spans. Stacking
# layers, or mixing rates as ASPP does (chapter 6), fills them in.
#
# ## Explore
#
# A stack of `depth` identical convolutions. Move the sliders: kernel size, stride, rate and
# depth redraw the pixels one output reads (left) and the measured two-dimensional support
# (right), with the field and the output stride in the title. At rate 2 every layer reads only
# even offsets, so the holes never close however deep the stack; set the rate back to 1 and they
# do. Raise the stride and watch the field and the output stride grow together.
# (Where the figure lands depends on the front end, so the test suite does not compare this
# cell's output; `tests/browser/` checks in a real browser that the explorer renders and redraws.)

# %% tags=["nbval-ignore-output"]
explorer = field_explorer(kernel=3, stride=1, rate=2, depth=3)
explorer

# %% [markdown]
# The explorer keeps its last answer in `.result` (a `FieldRow`):

# %%
print("RF", explorer.result.receptive_field, "| output stride", explorer.result.output_stride)

# %% [markdown]
# Rates must be whole numbers of at least 1 (the taps have to land on samples); a mistake is an
# error that names the argument:

# %% tags=["raises-exception"]
book.conv("fc6", 512, 1024, kernel=3, dilation=1.5)

# %% [markdown]
# ## What to remember
#
# * RF_l = RF_{l−1} + (k_e − 1)·j_{l−1} and j_l = j_{l−1}·s_l; the last jump is the output stride.
# * Stride buys field and costs resolution. Removing a stride and raising the rate of every
#   later layer by the same factor keeps the tap spacing, hence the field, at a denser output:
#   that is the hole algorithm, and how DeepLab turns 32s into 8s.
# * Dilation adds field without adding weights; the holes it leaves are filled by stacking or by
#   mixing rates.
#
# Next: the hole algorithm itself — three ways of computing an atrous convolution, and sparse
# against dense feature extraction (chapter 3).
