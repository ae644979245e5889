"""Atrous ("with holes") convolution, written as the formula.

DeepLab v2 (Chen et al., TPAMI 2017, Section 3.1, Eq. 1) defines the output of a 1-D atrous
convolution of an input signal x with a filter w of length K at rate r as

    y[i] = Σ_{k=1..K} x[i + r·k] · w[k]

The rate r is the stride with which the input is *sampled*: r = 1 is ordinary convolution,
r = 2 skips every other input sample, and so on. The same filter therefore covers an
effective span of K + (K − 1)(r − 1) inputs with only K weights, which is how DeepLab
enlarges the field of view without adding parameters or reducing resolution.

Like the paper's formula (and like ``torch.nn.functional.conv1d``) these functions compute a
cross-correlation, and index from 0 instead of 1. :func:`atrous_conv1d` and
:func:`atrous_conv2d` loop explicitly over the filter taps k, so that each line is the
formula; ``conv1d(..., dilation=r)`` and ``conv2d(..., dilation=r)`` are the fast equivalents
and ``tests/test_atrous.py`` holds the two equal. Everything else here is arithmetic that the
chapters print: the effective kernel size, the padding that keeps the size, the dilated
(zero-inserted) kernel, and which input positions feed one output.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from deeplab_edu import validate

__all__ = ["effective_kernel_size", "same_padding", "output_length", "tap_positions", "dilate_kernel", "atrous_conv1d",
           "atrous_conv2d"]

Padding1d = int | tuple[int, int]


# --------------------------------------------------------------------------- validation
def _count(value: object, name: str, minimum: int = 1) -> int:
    # Rates, strides and sizes count samples: 2.0 is accepted (it is an integer), 2.5 and True not.
    return validate.integer(value, name, minimum=minimum, whole_floats=True)


def _pair(value: object, name: str, *, minimum: int) -> tuple[int, int]:
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != 2:
            raise validate.ArgumentError(f"{name} must be an integer or a pair of integers, got {value!r}")
        return _count(value[0], name, minimum), _count(value[1], name, minimum)
    v = _count(value, name, minimum)
    return v, v


def _as_tensor(value: object, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        tensor = value
    elif isinstance(value, np.ndarray):
        tensor = torch.from_numpy(value)
    else:
        raise TypeError(f"{name} must be a torch.Tensor or numpy.ndarray, got {type(value).__name__}")
    if not (tensor.is_floating_point() or tensor.dtype in (torch.int32, torch.int64)):
        raise TypeError(f"{name} must hold numbers, got dtype {tensor.dtype}")
    return tensor if tensor.is_floating_point() else tensor.double()


def _batched(x: object, weight: object, dims: int) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """(x, weight, plain): both as conv tensors of one dtype; ``plain`` when a bare signal/filter came in."""
    x, weight = _as_tensor(x, "x"), _as_tensor(weight, "weight")
    plain = x.dim() == dims and weight.dim() == dims
    if plain:
        x, weight = x[None, None], weight[None, None]
    axes, taps = ("L", "K") if dims == 1 else ("H, W", "KH, KW")
    validate.shape(x, "x", f"({axes}{',' * (dims == 1)}) or (N, C_in, {axes})", ndim=dims + 2)
    validate.shape(weight, "weight", f"({taps}{',' * (dims == 1)}) or (C_out, C_in, {taps})", ndim=dims + 2)
    if weight.shape[1] != x.shape[1]:
        raise validate.ArgumentError(
            f"weight expects C_in = {weight.shape[1]} input channels but x has {x.shape[1]}")
    dtype = torch.promote_types(x.dtype, weight.dtype)
    return x.to(dtype), weight.to(dtype), plain


def _finish(y: torch.Tensor, bias: object, plain: bool) -> torch.Tensor:
    if bias is not None:
        y = y + _as_tensor(bias, "bias").to(y.dtype).reshape(1, -1, *([1] * (y.dim() - 2)))
    return y[0, 0] if plain else y


# --------------------------------------------------------------------------- arithmetic
def effective_kernel_size(kernel_size: int, rate: int) -> int:
    """The span of inputs a K-tap filter covers at rate r: K + (K − 1)(r − 1).

    Inserting r − 1 zeros between consecutive taps (DeepLab v2, Section 3.1) gives a filter
    of this length with still only K non-zero weights.
    """
    k, r = _count(kernel_size, "kernel_size"), _count(rate, "rate")
    return k + (k - 1) * (r - 1)


def same_padding(kernel_size: int, rate: int) -> tuple[int, int]:
    """Zeros to add (before, after) so that a stride-1 atrous convolution keeps the length.

    The output is shorter than the input by (effective size − 1), so that many zeros must be
    added in total. When that total is odd (an even effective size, e.g. K = 2, r = 1) it cannot
    be split evenly; like TensorFlow's ``padding="SAME"`` we put the extra zero after.
    """
    total = effective_kernel_size(kernel_size, rate) - 1
    return total // 2, total - total // 2


def output_length(length: int, kernel_size: int, rate: int = 1, stride: int = 1,
                  padding: Padding1d = 0) -> int:
    """Outputs of a 1-D atrous convolution: ⌊(L + p_before + p_after − K_eff) / stride⌋ + 1.

    Raises ``ValueError`` naming ``kernel_size`` when the dilated kernel is longer than the
    padded input, so that there is no position at which it fits.
    """
    length, stride = _count(length, "length"), _count(stride, "stride")
    before, after = _pair(padding, "padding", minimum=0)
    k_eff = effective_kernel_size(kernel_size, rate)
    padded = length + before + after
    if k_eff > padded:
        raise ValueError(
            f"kernel_size {kernel_size} at rate {rate} spans {k_eff} inputs, longer than the "
            f"padded input ({length} + {before} + {after} = {padded})")
    return (padded - k_eff) // stride + 1


def tap_positions(output_index: int, kernel_size: int, rate: int = 1, stride: int = 1,
                  padding: Padding1d = 0) -> list[int]:
    """The input indices that feed output ``output_index``: i·stride − p_before + r·k, k = 0..K−1.

    Indices below 0 or past the end are padding zeros. This is Eq. 1 read backwards: which
    x[·] appear in the sum for y[i].
    """
    i = _count(output_index, "output_index", minimum=0)
    k, r, s = _count(kernel_size, "kernel_size"), _count(rate, "rate"), _count(stride, "stride")
    before, _ = _pair(padding, "padding", minimum=0)
    return [i * s - before + r * tap for tap in range(k)]


def dilate_kernel(weight: torch.Tensor, rate: int | tuple[int, int], dims: int | None = None
                  ) -> torch.Tensor:
    """Upsample a filter by inserting r − 1 zeros between its taps (DeepLab v2, Section 3.1).

    ``weight`` is a 1-D filter (K,), a 2-D filter (KH, KW), or a PyTorch weight
    (out, in, K) / (out, in, KH, KW); ``dims`` (1 or 2) says how many trailing axes are
    spatial, and defaults to 1 for 1-D and 3-D tensors and to 2 otherwise. A K-tap kernel
    becomes K + (K − 1)(r − 1) long; an ordinary convolution with it equals the atrous
    convolution with the original — method (a) of the hole algorithm in ``hole.py``.
    """
    weight = _as_tensor(weight, "weight")
    if dims is None:
        dims = 1 if weight.dim() in (1, 3) else 2
    if dims not in (1, 2) or weight.dim() < dims:
        raise ValueError(f"weight must have at least dims={dims} spatial axes, got shape "
                         f"{tuple(weight.shape)}")
    rates = _pair(rate, "rate", minimum=1) if dims == 2 else (_count(rate, "rate"),)
    shape = list(weight.shape)
    index: list[slice] = [slice(None)] * (weight.dim() - dims)
    for axis, r in zip(range(weight.dim() - dims, weight.dim()), rates):
        shape[axis] = effective_kernel_size(shape[axis], r)
        index.append(slice(None, None, r))  # the original taps land every r-th place
    dilated = weight.new_zeros(shape)
    dilated[tuple(index)] = weight
    return dilated


# --------------------------------------------------------------------------- the formula
def atrous_conv1d(x: torch.Tensor, weight: torch.Tensor, rate: int = 1, stride: int = 1,
                  padding: Padding1d = 0, bias: torch.Tensor | None = None) -> torch.Tensor:
    """y[i] = Σ_k x[i·stride + r·k] · w[k] (DeepLab v2, Eq. 1), one term of the sum per line.

    Shapes follow ``torch.nn.functional.conv1d``: ``x`` (N, C_in, L) and ``weight``
    (C_out, C_in, K), giving (N, C_out, L_out). For a lesson, a plain signal (L,) with a plain
    filter (K,) is also accepted and gives (L_out,). ``padding`` adds zeros at both ends (an int)
    or (before, after). Equal to ``conv1d(x, weight, bias, stride, padding, dilation=rate)``.
    """
    x, weight, plain = _batched(x, weight, dims=1)
    r, s, (before, after) = _count(rate, "rate"), _count(stride, "stride"), _pair(padding, "padding", minimum=0)
    n_out = output_length(x.shape[-1], weight.shape[-1], r, s, (before, after))
    x = F.pad(x, (before, after))
    y = x.new_zeros(x.shape[0], weight.shape[0], n_out)
    for k in range(weight.shape[-1]):
        # x[i·stride + r·k] for every output i at once, contracted with tap k of every filter
        y += torch.einsum("ncl,oc->nol", x[:, :, r * k::s][..., :n_out], weight[:, :, k])
    return _finish(y, bias, plain)


def atrous_conv2d(x: torch.Tensor, weight: torch.Tensor, rate: int | tuple[int, int] = 1,
                  stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                  bias: torch.Tensor | None = None) -> torch.Tensor:
    """y[i, j] = Σ_k Σ_l x[i·s + r·k, j·s + r·l] · w[k, l], Eq. 1 applied along both axes.

    Shapes follow ``torch.nn.functional.conv2d``: ``x`` (N, C_in, H, W), ``weight``
    (C_out, C_in, KH, KW); an image (H, W) with a filter (KH, KW) is also accepted.
    ``rate``, ``stride`` and ``padding`` are an int or a (height, width) pair; padding is
    symmetric zeros. Equal to ``conv2d(x, weight, bias, stride, padding, dilation=rate)``.
    """
    x, weight, plain = _batched(x, weight, dims=2)
    (rh, rw), (sh, sw) = _pair(rate, "rate", minimum=1), _pair(stride, "stride", minimum=1)
    ph, pw = _pair(padding, "padding", minimum=0)
    kh, kw = weight.shape[-2:]
    h_out, w_out = output_length(x.shape[-2], kh, rh, sh, ph), output_length(x.shape[-1], kw, rw, sw, pw)
    x = F.pad(x, (pw, pw, ph, ph))
    y = x.new_zeros(x.shape[0], weight.shape[0], h_out, w_out)
    for k in range(kh):
        for l in range(kw):
            x_kl = x[:, :, rh * k::sh, rw * l::sw][..., :h_out, :w_out]
            y += torch.einsum("nchw,oc->nohw", x_kl, weight[:, :, k, l])
    return _finish(y, bias, plain)
