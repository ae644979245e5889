# %% [markdown]
# # 01 · Atrous convolution in 1-D
#
# A classification network shrinks its feature maps: VGG-16 halves them five times, so its
# last features are 1/32 of the image (an **output stride** of 32). For segmentation we want
# dense features, one per few pixels. The obvious fix — remove the stride of the last poolings —
# makes the maps denser, but every later filter then looks at a *smaller* part of the image:
# its taps now land on neighbouring positions that used to be two (or four) apart.
#
# DeepLab's answer is to keep the filter's taps as far apart as they were, by reading the input
# with a stride: the **atrous** ("with holes") convolution. DeepLab v2 (Section 3.1, Eq. 1)
# writes it, for a 1-D signal x and a filter w with K taps, as
#
# $$y[i] = \sum_{k=1}^{K} x[i + r\cdot k]\, w[k]$$
#
# where the **rate r** is the stride with which the input is sampled. r = 1 is ordinary
# convolution. This chapter takes the formula apart: a worked example, the rate as a sampling
# stride, the zeros it inserts, the padding that keeps the size, and why it restores what
# removing a stride took away. The code is `deeplab_edu/atrous.py`; like PyTorch, it counts from 0.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from deeplab_edu import book
from deeplab_edu.book import seed_everything

seed_everything(0)
torch.set_printoptions(precision=4, sci_mode=False)

# %% [markdown]
# ## A worked example
#
# A short signal and a 3-tap filter. `atrous_conv1d` is the formula written out: one loop over
# the taps k, each adding x[i + r·k]·w[k] for every output i at once.

# %%
x = torch.tensor([3.0, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8])
w = torch.tensor([1.0, 2, -1])
for rate in (1, 2, 3):
    print(f"r = {rate}:", book.atrous_conv1d(x, w, rate=rate).tolist())

# %% [markdown]
# Each output at rate r is a sum of K products. Reading the formula backwards gives the inputs
# one output reads, `atrous.tap_positions`; summing those products by hand gives the same
# number as the function:

# %%
i, rate = 2, 3
taps = book.tap_positions(i, kernel_size=len(w), rate=rate)
terms = [f"x[{t}]·w[{k}] = {x[t]:g}·({w[k]:g})" for k, t in enumerate(taps)]
by_hand = sum(x[t] * w[k] for k, t in enumerate(taps))
print(f"y[{i}] at r = {rate} reads x at {taps}:")
print("  " + "  +  ".join(terms), f"= {by_hand:g}")
print("  atrous_conv1d gives", book.atrous_conv1d(x, w, rate=rate)[i].item())

# %% [markdown]
# The same output as a picture: the highlighted inputs feed y[i], along arrows labelled with
# the weight they are multiplied by.

# %%
book.plot_atrous_1d(x, w, rate=1, output_index=2)
book.plot_atrous_1d(x, w, rate=3, output_index=2)
plt.show()

# %% [markdown]
# ## The rate is the input's sampling stride
#
# The filter keeps its K weights at every rate; only the spacing of the inputs they read
# changes. A K-tap filter at rate r therefore spans K + (K − 1)(r − 1) inputs — its
# **effective kernel size** — at the cost of K multiplications.

# %%
book.plot_rates_1d(length=20, kernel_size=3, rates=[1, 2, 3, 4, 6])
plt.show()
for rate in (1, 2, 4, 12):
    print(f"K = 3, r = {rate:>2}: effective kernel size {book.effective_kernel_size(3, rate):>2}, "
          f"still {3} weights")

# %% [markdown]
# ## The same thing, as a filter with holes
#
# The name *à trous* ("with holes") comes from the other way to see it: insert r − 1 zeros
# between the filter's taps and run an ordinary convolution. `dilate_kernel` builds that
# upsampled filter; its length is the effective kernel size, and only K of its entries are
# non-zero. Chapter 03 uses this as the first of three ways to compute the hole algorithm.

# %%
dilated = book.dilate_kernel(w, rate=3)
print("w           :", w.tolist())
print("w, rate 3   :", dilated.tolist())
print("ordinary conv with the holed filter == atrous conv at r = 3:",
      torch.equal(book.atrous_conv1d(x, dilated, rate=1), book.atrous_conv1d(x, w, rate=3)))

# %% [markdown]
# ## Padding that keeps the size
#
# Without padding, every layer shortens its input by (effective size − 1). To keep the length
# at stride 1, that many zeros are added, split between the two ends. An odd total cannot be
# split evenly; like TensorFlow's `SAME` we put the extra zero at the end. The last row is
# DeepLab-LargeFOV's fc6, a 3-tap filter at rate 12.

# %%
print(" K   r   span   zeros (before, after)   length 20 stays")
for kernel, rate in [(3, 1), (2, 1), (3, 2), (2, 3), (4, 2), (3, 12)]:
    before, after = book.same_padding(kernel, rate)
    n_out = book.output_length(20, kernel, rate, stride=1, padding=(before, after))
    print(f"{kernel:>2} {rate:>3} {book.effective_kernel_size(kernel, rate):>6}   "
          f"{str((before, after)):>21}   {n_out:>15}")

# %% [markdown]
# ## Why DeepLab needs it: the study notes' example
#
# Pool with stride 2, then a 2-tap convolution: the first output sees input samples 1 to 4.
# Remove the pooling's stride to get a denser output, and the same convolution now sees only
# samples 1 to 3 — the field shrank. Read the pooled signal at rate 2 (the stride that was
# removed) and the field is 4 samples again, on an output that stays dense. The layer specs
# and the tracing of which samples feed which come from `deeplab_edu.receptive_field` (chapter 02
# turns this into tables for whole networks). The figure's axis counts samples from 0, as
# Python does; the printout numbers them from 1, as the notes do.

# %%
examples = book.seed_example()
fig, axes = plt.subplots(1, 3, figsize=(13, 2.8))
for ax, (name, layers) in zip(axes, examples.items()):
    book.plot_dependency_tree(layers, input_length=8, output_index=0, ax=ax, title=name)
fig.tight_layout()
plt.show()
for name, layers in examples.items():
    seen = book.input_support_1d(layers, output_index=0, input_length=8)
    print(f"{name:<32} first output sees inputs {[s + 1 for s in seen]}, "
          f"output stride {book.output_stride(layers)}")

# %% [markdown]
# ## Equal to PyTorch's dilated convolution
#
# PyTorch calls the rate `dilation`. With batches and channels — `x` (N, C_in, L), `w`
# (C_out, C_in, K) — the formula and `F.conv1d(..., dilation=r)` agree, for strides and padding
# too. `tests/test_atrous.py` checks this for random lengths, kernel sizes, rates, strides,
# paddings and channels (with `hypothesis`), and the same for `atrous_conv2d` against `F.conv2d`.

# %%
xs = torch.randn(2, 3, 50, dtype=torch.float64)
ws = torch.randn(4, 3, 3, dtype=torch.float64)
for rate, stride, padding in [(1, 1, 1), (2, 1, 2), (4, 2, 3), (12, 1, 12)]:
    ours = book.atrous_conv1d(xs, ws, rate=rate, stride=stride, padding=padding)
    torchs = F.conv1d(xs, ws, stride=stride, padding=padding, dilation=rate)
    print(f"r = {rate:>2}, stride {stride}, padding {padding:>2}: output {tuple(ours.shape)}, "
          f"equal to F.conv1d: {torch.allclose(ours, torchs)}")

images, filters = torch.randn(1, 2, 20, 20, dtype=torch.float64), torch.randn(5, 2, 3, 3, dtype=torch.float64)
print("2-D, r = 3:", torch.allclose(book.atrous_conv2d(images, filters, rate=3, padding=3),
                                    F.conv2d(images, filters, padding=3, dilation=3)))

# %% [markdown]
# ## Mistakes it catches
#
# A rate counts input samples, so it must be a whole number ≥ 1; a filter must fit in the
# padded input. The errors name the argument:

# %% tags=["raises-exception"]
book.atrous_conv1d(x, w, rate=1.5)

# %% tags=["raises-exception"]
book.atrous_conv1d(x, w, rate=6)

# %% [markdown]
# ## What we have
#
# * y[i] = Σ_k x[i + r·k]·w[k]: a K-tap filter reading its input every r samples.
# * It spans K + (K − 1)(r − 1) inputs with K weights; it equals an ordinary convolution with
#   r − 1 zeros inserted between the taps.
# * After a pooling loses its stride s, reading at rate s restores the field the next layer had.
#
# Next, **chapter 02** follows this through whole networks (VGG-16, DeepLab v1, ResNet-101):
# receptive field, jump and output stride layer by layer. **Chapter 03** computes the 2-D
# version three ways and shows what it buys on an image.
