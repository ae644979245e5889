# %% [markdown]
# # 03 · The hole algorithm
#
# Chapter 01 wrote atrous convolution as a formula; chapter 02 showed what it does to a
# network's receptive field. This chapter is about *computing* it, in 2-D, on a real image.
# DeepLab v1 (ICLR 2015, Section 3.1) calls it the **hole algorithm** (*algorithme à trous*,
# from wavelet signal processing) and DeepLab v2 (TPAMI 2017, Section 3.1) names the ways to
# implement it. All of them compute `conv2d(x, w, dilation=r)`:
#
# * **(a) zero insertion** — upsample the filter by inserting r − 1 zeros between its taps;
# * **(b) space-to-batch** — subsample the input into r × r phase-shifted sub-images, convolve
#   each with the *original* filter, interlace the results;
# * **(c) im2col** — gather the inputs under the dilated sampling pattern into columns and do
#   one matrix product; DeepLab's Caffe did this by changing `im2col`.
#
# Then what it buys — **dense** instead of **sparse** feature extraction (v2, Fig. 3) — and what
# it costs at large rates: gridding, and filters that fall off the feature map (v3, Section 3.3).
# Last, how the pieces turn FCN's output stride of 32 into DeepLab's 8. The code is
# `deeplab_edu/hole.py`.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib import cbook
from PIL import Image

from deeplab_edu import book
from deeplab_edu.book import (CLASSES, dilate_kernel, load_classifier, make_object_image,
                              normalize_batch, plot_shift_study, PretrainConfig, seed_everything,
                              shift_study, SHIPPED_DIR, weights_name)

seed_everything(0)

# %% [markdown]
# ## A real image
#
# Matplotlib ships a photograph of Grace Hopper, so the chapter needs no download. We work on
# a grey, downscaled copy in float64 (so that the methods agree to the last bits).

# %%
with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as photo:
    grey = np.asarray(photo.convert("L").resize((128, 150)), dtype=np.float64) / 255.0
image = torch.from_numpy(grey)[None, None]  # (N=1, C=1, H, W)
print("image (N, C, H, W):", tuple(image.shape))

# %% [markdown]
# The filter is a 3 × 3 horizontal-gradient (Sobel) filter, used at rate 4 with padding 4, so
# that the output keeps the image's size: its taps are r pixels apart instead of 1.

# %%
sobel = torch.tensor([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=torch.float64)
weight, rate, padding = sobel[None, None], 4, 4

# %% [markdown]
# ## (a) Insert zeros into the filter
#
# The upsampled filter has K + (K − 1)(r − 1) rows and columns; an ordinary convolution with
# it is the atrous convolution. Easy to write, but the multiplications by zero are wasted work:

# %%
book.plot_dilated_kernel(sobel, rate)
plt.show()
holed = dilate_kernel(sobel, rate)
print(f"filter {tuple(sobel.shape)} -> {tuple(holed.shape)}: {holed.numel()} multiplications per "
      f"output, of which {int(torch.count_nonzero(holed))} are not by zero")

# %% [markdown]
# ## (b) Subsample, convolve, interlace (space-to-batch)
#
# Output (i, j) with i = r·q + a reads inputs i + r·k = r·(q + k) + a: every one of them lies
# in the same *phase* a of the input (rows a, a + r, a + 2r, …), at consecutive positions. So
# split the input into its r × r phases, run the original 3 × 3 filter over each — an ordinary,
# dense convolution — and put the results back where they came from. Stacking the phases
# along the batch axis makes it one call (`space_to_batch`, TensorFlow's name for it). Here
# are the 4 × 4 phases of the image: each is a coarser copy, shifted by a fraction of a pixel.

# %%
padded = F.pad(image, (padding,) * 4)
padded = F.pad(padded, (0, -padded.shape[-1] % rate, 0, -padded.shape[-2] % rate))
phases = book.space_to_batch(padded, rate)
print("padded input", tuple(padded.shape), "-> phases", tuple(phases.shape))
book.plot_phases(phases[:, 0].numpy(), rate)
plt.show()

# %% [markdown]
# The defining step, checked on one phase: phase (a, b) of the atrous output is the ordinary
# convolution of phase (a, b) of the input.

# %%
dense_out = F.conv2d(padded, weight, dilation=rate)
a, b = 1, 2
print(f"phase ({a}, {b}) of the output == conv2d(phase ({a}, {b}) of the input, undilated filter):",
      torch.allclose(dense_out[:, :, a::rate, b::rate], F.conv2d(padded[:, :, a::rate, b::rate], weight)))

# %% [markdown]
# ## (c) im2col with the dilated pattern
#
# Caffe computes a convolution as a matrix product: `im2col` copies, for every output
# position, the K × K inputs the filter reads into one column; the filters, one per row, then
# multiply the column matrix. For the hole algorithm only the sampling pattern changes: the
# inputs are r apart. PyTorch exposes the same gather as `F.unfold(..., dilation=r)`.

# %%
columns = book.im2col(image, (3, 3), rate, padding)
print("column matrix (N, C·K·K, positions):", tuple(columns.shape))
print("equal to F.unfold(dilation=r):",
      torch.equal(columns, F.unfold(image, 3, dilation=rate, padding=padding)))

# %% [markdown]
# ## Side by side
#
# The three, and PyTorch's native `conv2d(dilation=r)` as the reference. The titles give the
# largest absolute difference from it; `tests/test_hole.py` checks the equality for random
# sizes, channels, kernels, rates and paddings.

# %%
outputs = {name: book.hole_conv2d(image, weight, rate, padding, method=name)[0, 0].numpy()
           for name in book.METHODS}
book.plot_hole_methods(grey, outputs)
plt.show()
for name, out in outputs.items():
    print(f"{name:>15}: output {out.shape}, equal to native: {np.allclose(out, outputs['native'])}")

# %% [markdown]
# Which is fastest depends on the machine: zero insertion multiplies by zeros, space-to-batch
# and im2col move memory. `python benchmarks/bench_hole.py` times them against the native op on
# your CPU (and GPU); the native kernels usually win, which is why the models of later chapters
# simply call `nn.Conv2d(..., dilation=r)`.
#
# ## Sparse against dense feature extraction
#
# DeepLab v2's Fig. 3 in numbers. *Sparse*: downsample the image by 2 (what a stride-2 pooling
# does), convolve, and upsample the responses — a response was computed at only 1 position in
# 4. *Dense*: convolve the full-resolution image with the filter at rate 2 — the same filter
# footprint on the image, a response at every position. `sparse_vs_dense` returns both. The
# figure sets the full-resolution input (what the dense path reads) beside the downsampled one
# (what the sparse path reads); the two response maps share the colour bar.

# %%
result = book.sparse_vs_dense(grey, sobel.numpy(), factor=2)
book.plot_sparse_dense(result)
plt.show()
print(f"sparse: responses at {result.computed.mean():.2%} of the positions; dense at 100%")
print("dense at the sparse positions equals sparse:",
      np.allclose(result.dense[::2, ::2], result.sparse))

# %% [markdown]
# Zoomed into the top-left 32 × 32 pixels, with the positions the sparse path computed marked:
# sparse extraction copies each response over a 2 × 2 block; dense extraction has a new value
# at each of the other three.

# %%
book.plot_sparse_dense(result, crop=32)
plt.show()

# %% [markdown]
# ## The price of large rates (1): gridding
#
# A 3 × 3 filter at rate r reads a sparse grid of inputs. Stack several layers at the same
# rate and the output still reads only that grid: the pixels in between never influence it.
# `gridding_footprint` counts, for one output of a stack, the paths from each input pixel;
# white pixels are never read. Rates without a common factor (1, 2, 3, as Wang et al.'s
# "hybrid dilated convolution" proposes) cover every pixel.

# %%
stacks = {"3 layers at r = 2": [2, 2, 2], "3 layers at r = 4": [4, 4, 4], "r = 1, 2, 3": [1, 2, 3]}
footprints = {name: book.gridding_footprint(rates) for name, rates in stacks.items()}
book.plot_gridding(footprints)
plt.show()
for name, footprint in footprints.items():
    print(f"{name:<18} field {footprint.shape[0]}x{footprint.shape[1]}: "
          f"{(footprint > 0).mean():.1%} of its pixels are read")

# %% [markdown]
# ## The price of large rates (2): the filter falls off the map
#
# DeepLab v3 (Section 3.3, Fig. 4) notes that on the feature map of a 513 × 513 crop at output
# stride 8 (the cell computes its side), a 3 × 3 filter with a large rate has most of its taps in
# the zero padding.
# When r reaches the map's size only the centre tap is left: the filter has degenerated into a
# 1 × 1 convolution. This is why v3 adds an image-level pooling branch to ASPP for global context.

# %%
side = (513 - 1) // 8 + 1  # output stride·k + 1 crops keep corners aligned: k + 1 features
print(f"feature map of a 513 x 513 crop at output stride 8: {side} x {side}")
rates = list(range(1, side + 6))
fractions = [book.valid_tap_fraction(side, r) for r in rates]
book.plot_valid_taps(side, rates, fractions)
plt.show()
for r in (1, 6, 12, 18, 24, 36, side):
    print(f"r = {r:>2}: {book.valid_tap_fraction(side, r):.3f} of the 3x3 taps are inside the map")

# %% [markdown]
# ## How DeepLab turns FCN's 32s into 8s
#
# Chapter 02 printed the layer-by-layer field tables of VGG-16 as FCN uses it (five stride-2
# poolings: output stride 32) and of DeepLab v1, and drew how their fields grow. DeepLab v1 sets
# the stride of pool4 and pool5 to 1 and compensates the filters after them with the hole
# algorithm: conv5 at the rate of pool4's lost stride, fc6 at a larger rate still. Removing a
# stride and raising the rate by the same factor keeps a layer's **tap spacing** (how many input
# pixels apart its taps land) while the output stride stops growing. For DeepLab-LargeFOV:

# %%
fcn = book.vgg16()
deeplab = book.deeplab_v1_largefov()
for name, layers in [("FCN-32s (VGG-16)", fcn), ("DeepLab-LargeFOV", deeplab)]:
    conv5_1 = next(row for row in book.field_table(layers) if row.layer.name == "conv5_1")
    print(f"{name:<17} conv5_1: rate {conv5_1.layer.dilation}, taps {conv5_1.tap_spacing} px apart; "
          f"output stride {book.output_stride(layers)}, receptive field of fc8 {book.receptive_field(layers)}")

# %% [markdown]
# The same network without the hole algorithm — pool4 and pool5 at stride 1 but every rate 1 —
# is just as dense, but its field collapses; the cell prints it next to the two above.

# %%
no_holes = [book.Layer(layer.name, layer.kernel, layer.stride, 1,
                                  layer.padding if layer.dilation == 1 else layer.kernel // 2,
                                  layer.kind, layer.in_channels, layer.out_channels)
            for layer in deeplab]
print(f"stride-1 pool4/pool5, no holes: output stride {book.output_stride(no_holes)}, "
      f"receptive field {book.receptive_field(no_holes)}")

# %% [markdown]
# ## Why output stride 8: what a trained classifier knows about *where*
#
# DeepLab v2 (§1, its third challenge; v1 §1 says the same) names the problem this chapter
# solves: a classifier makes object-centric decisions, which needs invariance to spatial
# transformations, and that invariance limits how precisely it can say where things are. The book's miniature-ImageNet ResNet
# (`deeplab_edu.pretrain`, trained at output stride 32 on 64 × 64 object images, shipped in
# `data/pretrained/`) shows it. The classifier averages its last features and applies one linear
# layer; applied at *every position* instead — a 1 × 1 convolution,
# `localisation.class_score_map` — that layer gives a map of the object class's score, one value
# per cell of the output stride (the map's mean is the classifier's own score). We paste one
# object image into a 128 × 128 frame, move it right a few pixels at a time, and read the map at
# output stride 32 and, with the same weights rebuilt by the hole algorithm
# (`localisation.with_output_stride`), at output stride 8.

# %%
classifier = load_classifier(SHIPPED_DIR / weights_name("resnet", 0.25, (1, 1, 1, 1)),
                             PretrainConfig(backbone="resnet")).eval()
CANVAS, SHIFTS = 128, list(range(0, 33, 4))
thing, cls = make_object_image(1, 64)
study = shift_study(classifier.backbone, classifier.fc, thing, cls - 1, SHIFTS, normalize_batch, canvas=CANVAS)
plot_shift_study(study, thing, [0, 8, 16, 24, 32], CANVAS, CLASSES[cls])
plt.show()
print(f"object: a {CLASSES[cls]}, moved right by {SHIFTS} px")
for stride in study.maps:
    moved = study.displacement(stride)
    still = next((s for s, m in zip(SHIFTS, moved) if m != 0), None)
    print(f"output stride {stride:>2}: the peak moved by {moved.astype(int).tolist()} px; "
          f"first moved at a shift of {still} px; mean |moved - shift| = {study.tracking_error(stride).mean():.1f} px")

# %% [markdown]
# At output stride 32 the map cannot follow the object: small shifts leave the peak where it was
# (that is the invariance a classifier is trained for) and larger ones make it jump a whole
# cell. At output stride 8 the same weights put the peak within a few pixels of where the object
# went. Over a dozen objects:

# %%
errors = {stride: [] for stride in study.maps}
for seed in range(12):
    other, other_cls = make_object_image(seed, 64)
    other_study = shift_study(classifier.backbone, classifier.fc, other, other_cls - 1, SHIFTS, normalize_batch,
                              canvas=CANVAS)
    for stride in errors:
        errors[stride].append(other_study.tracking_error(stride).mean())
for stride, values in errors.items():
    print(f"output stride {stride:>2}: mean |peak displacement - object shift| {np.mean(values):4.1f} px "
          f"(worst object {np.max(values):4.1f} px), the peak moving in steps of {stride} px")
print(f"the same weights at output stride 8 follow the object {np.mean(errors[32]) / np.mean(errors[8]):.1f}x "
      f"more closely than at 32")

# %% [markdown]
# ## What we have
#
# * Three ways to compute atrous convolution — a holed filter, phase sub-images, a dilated
#   im2col — give the same numbers as `conv2d(dilation=r)`.
# * Dense extraction computes what sparse extraction computes, and fills in the positions in
#   between, at full resolution.
# * Large rates read a grid and, on small maps, only the filter's centre.
# * Removing strides and raising rates by the same factors turns output stride 32 into 8 while
#   the field stays large.
# * A trained classifier's scores at output stride 32 barely move with the object; the same
#   weights at output stride 8 follow it in 8-pixel steps.
#
# Next, **chapter 04** is the other half of DeepLab v1: the fully-connected CRF that sharpens
# the boundaries of these dense but blurry score maps.
