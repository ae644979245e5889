"""The hole algorithm: three ways to compute an atrous convolution, and why it matters.

DeepLab v1 (Chen et al., ICLR 2015, Section 3.1) borrows the *algorithme à trous* to keep
VGG-16's feature maps dense: pool4 and pool5 lose their stride, and the filters after them are
"upsampled" by the stride they lost (rate r = 2 in conv5, r = 4 in fc6). DeepLab v2 (TPAMI 2017,
Section 3.1) names the ways to compute the result, every one equal to
``conv2d(x, w, dilation=r)`` (``tests/test_hole.py`` holds them equal):

(a) :func:`conv2d_zero_insert` — upsample the filter by inserting r − 1 zeros between its taps,
    then run an ordinary convolution. Simple, but most multiplications are by zero.
(b) :func:`conv2d_space_to_batch` — subsample the input by r into r × r phase-shifted
    sub-images, run the *original* filter over each with an ordinary convolution, and interlace
    the results back. No wasted work; TensorFlow's ``atrous_conv2d`` does this.
(c) :func:`conv2d_im2col` — lay the input out as columns, one per output position, each
    holding the K × K inputs under the *dilated* sampling pattern; one matrix product with the
    filters does the rest. This is how DeepLab's Caffe changed ``im2col``.

The second half is the picture in DeepLab v2's Fig. 3: *sparse* extraction (downsample by 2,
convolve, upsample: responses at only 1/4 of the positions) against *dense* extraction
(atrous convolution with r = 2 at full resolution: a response at every position, and the same
values where the sparse one has them). Last, the price of large rates: the *gridding* of
stacked atrous layers, and, from DeepLab v3 (Chen et al., 2017, Section 3.3, Fig. 4), how a
3 × 3 filter degenerates to its centre tap when r approaches the size of the feature map.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from deeplab_edu import validate
from deeplab_edu.atrous import dilate_kernel, effective_kernel_size

__all__ = ["conv2d_zero_insert", "space_to_batch", "batch_to_space", "conv2d_space_to_batch", "im2col", "conv2d_im2col",
           "conv2d_native", "METHODS", "hole_conv2d", "SparseDense", "sparse_vs_dense", "gridding_footprint",
           "valid_tap_fraction", "score_map_size", "scaled_rate"]


def _check(x: torch.Tensor, weight: torch.Tensor, rate: int, padding: int) -> tuple[int, int]:
    """Validate the shared arguments of the hole-algorithm functions; return (rate, padding)."""
    validate.shape(x, "x", "(N, C_in, H, W)", ndim=4)
    validate.shape(weight, "weight", "(C_out, C_in, KH, KW)", ndim=4)
    if weight.shape[1] != x.shape[1]:
        raise validate.ArgumentError(
            f"weight expects C_in = {weight.shape[1]} input channels but x has {x.shape[1]}")
    rate = validate.integer(rate, "rate", minimum=1, whole_floats=True)
    padding = validate.integer(padding, "padding", minimum=0)
    for axis, k, size in zip(("height", "width"), weight.shape[-2:], x.shape[-2:]):
        span = effective_kernel_size(k, rate)
        if span > size + 2 * padding:
            raise validate.ArgumentError(f"weight spans {span} inputs at rate {rate} in {axis}, more "
                                         f"than the padded input's {size} + 2·{padding}")
    return rate, padding


# --------------------------------------------------------------------------- (a) zero insertion
def conv2d_zero_insert(x: torch.Tensor, weight: torch.Tensor, rate: int, padding: int = 0,
                       bias: torch.Tensor | None = None) -> torch.Tensor:
    """(a) Upsample the filter by inserting r − 1 zeros between taps; convolve as usual."""
    rate, padding = _check(x, weight, rate, padding)
    return F.conv2d(x, dilate_kernel(weight, rate), bias, padding=padding)


# --------------------------------------------------------------------------- (b) space-to-batch
def space_to_batch(x: torch.Tensor, rate: int) -> torch.Tensor:
    """Split (N, C, H, W) into its r × r phase-shifted sub-images, stacked along the batch axis.

    Sub-image (a, b) holds x[:, :, a::r, b::r]; it sits at batch index (a·r + b)·N + n.
    H and W must be multiples of r (pad first). The result is (r²·N, C, H/r, W/r).
    """
    r = validate.integer(rate, "rate", minimum=1, whole_floats=True)
    n, c, h, w = x.shape
    if h % r or w % r:
        raise ValueError(f"x's height and width ({h}, {w}) must be multiples of rate {r}; pad it first")
    # (n, c, h/r, a, w/r, b) → (a, b, n, c, h/r, w/r): row a, column b of every r × r block
    phases = x.reshape(n, c, h // r, r, w // r, r).permute(3, 5, 0, 1, 2, 4)
    return phases.reshape(r * r * n, c, h // r, w // r)


def batch_to_space(y: torch.Tensor, rate: int) -> torch.Tensor:
    """Interlace r × r sub-images (as :func:`space_to_batch` stacks them) into one image."""
    r = validate.integer(rate, "rate", minimum=1, whole_floats=True)
    rrn, c, h, w = y.shape
    if rrn % (r * r):
        raise ValueError(f"y's batch {rrn} is not a multiple of rate² = {r * r}")
    n = rrn // (r * r)
    return y.reshape(r, r, n, c, h, w).permute(2, 3, 4, 0, 5, 1).reshape(n, c, h * r, w * r)


def conv2d_space_to_batch(x: torch.Tensor, weight: torch.Tensor, rate: int, padding: int = 0,
                          bias: torch.Tensor | None = None) -> torch.Tensor:
    """(b) Subsample the input into r × r sub-images, convolve each, interlace the results.

    Output (i, j) with i = r·q + a reads inputs i + r·k = r·(q + k) + a: all in phase a, at
    consecutive positions q + k of that phase. So each phase needs only an ordinary convolution
    with the original, undilated filter.
    """
    rate, padding = _check(x, weight, rate, padding)
    kh, kw = weight.shape[-2:]
    x = F.pad(x, (padding,) * 4)
    h_out = x.shape[-2] - effective_kernel_size(kh, rate) + 1
    w_out = x.shape[-1] - effective_kernel_size(kw, rate) + 1
    # Extra zeros at the bottom/right make every phase the same size; their outputs are cut off.
    x = F.pad(x, (0, -x.shape[-1] % rate, 0, -x.shape[-2] % rate))
    y = F.conv2d(space_to_batch(x, rate), weight, bias)
    return batch_to_space(y, rate)[:, :, :h_out, :w_out]


# --------------------------------------------------------------------------- (c) im2col
def im2col(x: torch.Tensor, kernel_size: tuple[int, int], rate: int, padding: int = 0) -> torch.Tensor:
    """Columns (N, C·KH·KW, H_out·W_out): column p holds the inputs the dilated filter sees at p.

    Row (c, k, l) of the column matrix is the padded input shifted by (r·k, r·l) — Caffe's
    ``im2col`` with the dilated sampling pattern. Equal to ``F.unfold(x, kernel_size,
    dilation=rate, padding=padding)``.
    """
    kh, kw = kernel_size
    r = validate.integer(rate, "rate", minimum=1, whole_floats=True)
    x = F.pad(x, (padding,) * 4)
    h_out = x.shape[-2] - effective_kernel_size(kh, r) + 1
    w_out = x.shape[-1] - effective_kernel_size(kw, r) + 1
    rows = [x[:, :, r * k: r * k + h_out, r * l: r * l + w_out]
            for k in range(kh) for l in range(kw)]
    columns = torch.stack(rows, dim=2)  # (N, C, KH·KW, H_out, W_out)
    return columns.reshape(x.shape[0], -1, h_out * w_out)


def conv2d_im2col(x: torch.Tensor, weight: torch.Tensor, rate: int, padding: int = 0,
                  bias: torch.Tensor | None = None) -> torch.Tensor:
    """(c) Gather columns with the dilated pattern (:func:`im2col`), then one matrix product."""
    rate, padding = _check(x, weight, rate, padding)
    kh, kw = weight.shape[-2:]
    h_out = x.shape[-2] + 2 * padding - effective_kernel_size(kh, rate) + 1
    w_out = x.shape[-1] + 2 * padding - effective_kernel_size(kw, rate) + 1
    y = weight.reshape(weight.shape[0], -1) @ im2col(x, (kh, kw), rate, padding)
    if bias is not None:
        y = y + bias.reshape(1, -1, 1)
    return y.reshape(x.shape[0], weight.shape[0], h_out, w_out)


def conv2d_native(x: torch.Tensor, weight: torch.Tensor, rate: int, padding: int = 0,
                  bias: torch.Tensor | None = None) -> torch.Tensor:
    """The reference: PyTorch's own ``conv2d(dilation=r)`` (cuDNN / oneDNN kernels)."""
    rate, padding = _check(x, weight, rate, padding)
    return F.conv2d(x, weight, bias, padding=padding, dilation=rate)


METHODS: dict[str, Callable[..., torch.Tensor]] = {
    "zero_insert": conv2d_zero_insert,
    "space_to_batch": conv2d_space_to_batch,
    "im2col": conv2d_im2col,
    "native": conv2d_native,
}


def hole_conv2d(x: torch.Tensor, weight: torch.Tensor, rate: int, padding: int = 0,
                bias: torch.Tensor | None = None, method: str = "native") -> torch.Tensor:
    """Atrous convolution at rate r by the named method (a key of :data:`METHODS`)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    return METHODS[method](x, weight, rate, padding, bias)


# --------------------------------------------------------------------------- sparse vs dense
@dataclass(frozen=True)
class SparseDense:
    """DeepLab v2 Fig. 3 as arrays (H × W unless noted), ready to plot.

    ``image``: the input at full resolution (what dense extraction reads); ``downsampled``: the
    input at 1/factor resolution; ``sparse``: the filter's responses on it (H/factor × W/factor);
    ``sparse_upsampled``: those responses put back at full size, each repeated over its
    factor × factor block; ``computed``: True where the sparse path computed a response (1 in
    factor² positions); ``dense``: the atrous responses at every position.
    """

    image: np.ndarray
    downsampled: np.ndarray
    sparse: np.ndarray
    sparse_upsampled: np.ndarray
    computed: np.ndarray
    dense: np.ndarray
    factor: int


def sparse_vs_dense(image: np.ndarray | torch.Tensor, kernel: np.ndarray | torch.Tensor,
                    factor: int = 2) -> SparseDense:
    """Sparse extraction (subsample by ``factor``, convolve, upsample) vs dense (rate = factor).

    With zero "same" padding p on the small image and factor·p on the full one, the dense
    output at (factor·q, factor·t) is exactly the sparse output at (q, t): atrous convolution
    computes the same responses and fills in the (factor² − 1)/factor² positions in between.
    ``image`` is a grey H × W array and ``kernel`` an odd K × K filter.
    """
    factor = validate.integer(factor, "factor", minimum=1)
    image = torch.as_tensor(np.asarray(image, dtype=np.float64))
    kernel = torch.as_tensor(np.asarray(kernel, dtype=np.float64))
    if image.dim() != 2:
        raise ValueError(f"image must be a grey H × W array, got shape {tuple(image.shape)}")
    if kernel.dim() != 2 or kernel.shape[0] != kernel.shape[1] or kernel.shape[0] % 2 == 0:
        raise ValueError(f"kernel must be an odd square K × K filter, got shape {tuple(kernel.shape)}")
    h, w = image.shape
    pad = kernel.shape[0] // 2
    x, k = image[None, None], kernel[None, None]

    small = x[:, :, ::factor, ::factor]
    sparse = F.conv2d(small, k, padding=pad)
    upsampled = sparse.repeat_interleave(factor, -2).repeat_interleave(factor, -1)[..., :h, :w]
    computed = torch.zeros(h, w, dtype=torch.bool)
    computed[::factor, ::factor] = True
    dense = F.conv2d(x, k, padding=pad * factor, dilation=factor)
    return SparseDense(image.numpy(), small[0, 0].numpy(), sparse[0, 0].numpy(), upsampled[0, 0].numpy(),
                       computed.numpy(), dense[0, 0].numpy(), factor)


# --------------------------------------------------------------------------- large rates
def gridding_footprint(rates: Sequence[int], kernel_size: int = 3) -> np.ndarray:
    """How many paths join each input pixel to one output of stacked K × K atrous layers.

    The footprint of one layer is its dilated all-ones kernel; a stack's is the full
    convolution of its layers' footprints. Stacking equal rates r > 1 leaves *holes*: only
    inputs at multiples of r are ever read (the "gridding" artefact; Wang et al. 2018 propose
    rates without a common factor, e.g. 1, 2, 3). The result has side 1 + Σ (K − 1)·r_i and
    sums to K^(2·layers).
    """
    k = validate.integer(kernel_size, "kernel_size", minimum=1)
    footprint = np.ones((1, 1))
    for rate in validate.integers(rates, "rates", minimum=1):
        layer = dilate_kernel(torch.ones(k, k, dtype=torch.float64), rate).numpy()
        padded = np.pad(footprint, layer.shape[0] - 1)
        # full 2-D convolution, written as a sum of shifted copies (one per non-zero tap)
        out = np.zeros((footprint.shape[0] + layer.shape[0] - 1,) * 2)
        for a, b in zip(*np.nonzero(layer)):
            out += layer[a, b] * padded[a: a + out.shape[0], b: b + out.shape[1]]
        footprint = out
    return footprint.astype(np.int64)


def valid_tap_fraction(feature_size: int, rate: int, kernel_size: int = 3) -> float:
    """The share of a K × K filter's taps that land inside a feature_size² map, over all positions.

    DeepLab v3 (Section 3.3, Fig. 4) computes this for a 3 × 3 filter on a 65 × 65 map: as r
    grows towards the map's size, more taps fall on the zero padding, until only the centre tap
    is left and the filter is a 1 × 1 convolution — the reason v3 adds image-level features.
    Counted here tap by tap; one row and one column are independent, so the 2-D share is the
    square of the 1-D share. The filter is padded by r(K − 1)/2 on each side, which keeps the
    size: odd K, or an even K whose r(K − 1) is even (DeepLab v1's 4 × 4 fc6 at rate 4).
    """
    n = validate.integer(feature_size, "feature_size", minimum=1)
    r = validate.integer(rate, "rate", minimum=1)
    k = validate.integer(kernel_size, "kernel_size", minimum=1)
    if r * (k - 1) % 2:
        raise ValueError(f"a {k}-tap filter at rate {r} has no size-keeping padding r(K-1)/2; "
                         "use an odd kernel_size or an even r(K-1)")
    offsets = [r * t - r * (k - 1) // 2 for t in range(k)]
    inside = sum(1 for i in range(n) for o in offsets if 0 <= i + o < n)
    return (inside / (n * k)) ** 2


def score_map_size(crop_size: int, output_stride: int) -> int:
    """Cells per side of the score map of a crop of output_stride·k + 1 pixels: k + 1, the corners
    aligned (DeepLab's convention: 321 px at output stride 8 gives v1/v2's 41 × 41 map)."""
    crop = validate.integer(crop_size, "crop_size", minimum=1)
    stride = validate.integer(output_stride, "output_stride", minimum=1)
    return (crop - 1) // stride + 1


def scaled_rate(rate: int, feature_size: int, paper_size: int = 41, kernel_size: int = 3) -> int:
    """A rate chosen for the paper's paper_size² map, scaled to a feature_size² map so that the
    filter spans the same share of it (v3 §3.3's argument read backwards: keep r / map size).

    An even K keeps its size only at an even r (padding r(K − 1)/2), so the rate is rounded to
    the nearest even one there; it is never below the smallest valid rate.
    """
    r = validate.integer(rate, "rate", minimum=1)
    n = validate.integer(feature_size, "feature_size", minimum=1)
    paper = validate.integer(paper_size, "paper_size", minimum=1)
    k = validate.integer(kernel_size, "kernel_size", minimum=1)
    step = 2 if k % 2 == 0 else 1
    return max(step * round(r * n / paper / step), step)
