"""2-D correlation and convolution in numpy: the readable version and the fast one.

Three levels, from the lecture's formula to a layer of a network:

* :func:`correlate2d` / :func:`convolve2d` -- one channel, one kernel, the slide's
  ``h[m, n] = sum_{k,l} f[k, l] I[m + k, n + l]``.
* :func:`conv2d_naive` -- a whole convolutional layer (batch, channels, stride, padding,
  dilation, groups) as explicit loops: one dot product of filter and patch per output.
* :func:`conv2d` / :func:`conv2d_backward` -- the same layer, fast: "im2col" copies every
  patch into a column, so the layer becomes one matrix multiply per group. The batch is
  processed in blocks (of samples, and of output rows when one sample is too large), so
  the copied patches never take much more than :data:`CHUNK_BYTES` of memory, whatever
  the batch or image size.

Like PyTorch (and every deep-learning library), a "convolution" layer computes a
*correlation*: the kernel is not flipped. Arrays are NCHW, weights ``(C_out, C_in/groups,
kH, kW)``, exactly as in ``torch.nn.functional.conv2d``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from .._geometry import AXES, Pad2d, as_pair, check_choice, check_int, conv_out_len, conv_padding, same_padding_split
from ._args import as_float_array, common_dtype

__all__ = ["correlate2d", "convolve2d", "conv2d_naive", "conv2d", "conv2d_backward", "CHUNK_BYTES"]

#: Budget, in bytes, for the scratch arrays of one block of work (im2col columns, their
#: gradient, the padded input). Peak extra memory of conv2d and conv2d_backward stays near
#: this figure for any batch size (plus a padded copy of one sample, were that larger).
CHUNK_BYTES = 64 * 2**20

MODES = ("valid", "same", "full")


# --------------------------------------------------------------------------- one channel

def correlate2d(image: Any, kernel: Any, mode: str = "valid") -> np.ndarray:
    """Slide ``kernel`` over ``image`` and take a weighted sum at every position.

    ``h[m, n] = sum_{k,l} kernel[k, l] * image[m + k, n + l]`` (no flip). ``mode`` picks the
    output size: ``"valid"`` (kernel wholly inside: H-kH+1 x W-kW+1), ``"same"`` (as large as
    the image, zero padding; an even kernel gets its extra padding at the bottom/right, as
    in PyTorch) or ``"full"`` (every overlap: H+kH-1 x W+kW-1).
    """
    image = as_float_array(image, "image", ndim=2)
    kernel = as_float_array(kernel, "kernel", ndim=2)
    check_choice(mode, "mode", MODES)
    if kernel.shape[0] == 0 or kernel.shape[1] == 0:
        raise ValueError(f"kernel must not be empty, got shape {kernel.shape}")
    dtype = common_dtype(image, kernel)
    kh, kw = kernel.shape
    if mode == "valid":
        if kh > image.shape[0] or kw > image.shape[1]:
            raise ValueError(f"kernel {kernel.shape} is larger than image {image.shape} in mode='valid'; "
                             "use mode='same' or 'full' to pad the image")
        padded = image
    elif mode == "same":
        padded = np.pad(image, (same_padding_split(kh), same_padding_split(kw)))
    else:  # full
        padded = np.pad(image, ((kh - 1, kh - 1), (kw - 1, kw - 1)))
    windows = sliding_window_view(padded, (kh, kw))  # (out_h, out_w, kh, kw), a view: no copy
    return np.einsum("ijkl,kl->ij", windows, kernel).astype(dtype, copy=False)


def convolve2d(image: Any, kernel: Any, mode: str = "valid") -> np.ndarray:
    """True convolution: correlation with the kernel turned by 180 degrees.

    ``h[m, n] = sum_{k,l} kernel[k, l] * image[m - k, n - l]``. For a symmetric kernel
    (box, Gaussian) it equals :func:`correlate2d`; for Sobel it flips the sign.
    """
    kernel = as_float_array(kernel, "kernel", ndim=2)
    return correlate2d(image, kernel[::-1, ::-1], mode)


# --------------------------------------------------------------------------- layer arguments

def _conv_args(x: Any, w: Any, b: Any, stride: Any, padding: Any, dilation: Any, groups: Any):
    """Validate a convolution layer's arguments; return them normalised, in one dtype, with the output size."""
    x = as_float_array(x, "x", ndim=4)
    w = as_float_array(w, "w", ndim=4)
    if b is not None:
        b = as_float_array(b, "b", ndim=1)
    groups = check_int(groups, "groups", minimum=1)
    stride = as_pair(stride, "stride", minimum=1)
    dilation = as_pair(dilation, "dilation", minimum=1)
    n, c_in, h, wd = x.shape
    c_out, c_per_group, kh, kw = w.shape
    if kh == 0 or kw == 0:
        raise ValueError(f"w must have a non-empty kernel, got shape {w.shape}")
    if c_in % groups:
        raise ValueError(f"groups={groups} must divide the input channels C_in={c_in}")
    if c_out % groups:
        raise ValueError(f"groups={groups} must divide the output channels C_out={c_out} (w.shape[0])")
    if c_per_group * groups != c_in:
        raise ValueError(f"channel mismatch: x has C_in={c_in} channels but w {w.shape} expects "
                         f"w.shape[1] * groups = {c_per_group} * {groups} = {c_per_group * groups}")
    if b is not None and b.shape[0] != c_out:
        raise ValueError(f"b must have one bias per output channel ({c_out}), got shape {b.shape}")
    pads = conv_padding(padding, (kh, kw), stride, dilation)
    out_hw = tuple(conv_out_len(size, k, s, sum(p), d, where=f" (along the {AXES[axis]})")
                   for axis, (size, k, s, p, d) in enumerate(zip((h, wd), (kh, kw), stride, pads, dilation)))
    dtype = common_dtype(x, w) if b is None else common_dtype(x, w, b)
    x, w = x.astype(dtype, copy=False), w.astype(dtype, copy=False)
    if b is not None:
        b = b.astype(dtype, copy=False)
    return x, w, b, stride, pads, dilation, groups, out_hw


# --------------------------------------------------------------------------- readable

def conv2d_naive(x: Any, w: Any, b: Any = None, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1) -> np.ndarray:
    """A convolutional layer written as loops, to be read: same result as :func:`conv2d`.

    Every output value is one dot product between a filter ``w[co]`` and the patch of the
    (padded) input under it. Stride moves the patch; dilation spreads its taps apart;
    groups let each filter see only its own slice of the input channels.
    """
    x, w, b, (sh, sw), pads, (dh, dw), groups, (out_h, out_w) = _conv_args(
        x, w, b, stride, padding, dilation, groups)
    n_batch = x.shape[0]
    c_out, c_per_group, kh, kw = w.shape
    out_per_group = c_out // groups
    xp = np.pad(x, ((0, 0), (0, 0), *pads))
    out = np.zeros((n_batch, c_out, out_h, out_w), dtype=x.dtype)
    for n in range(n_batch):
        for co in range(c_out):
            g = co // out_per_group                          # the group this filter belongs to
            channels = slice(g * c_per_group, (g + 1) * c_per_group)
            for i in range(out_h):
                for j in range(out_w):
                    r, c = i * sh, j * sw                    # top-left corner of the patch
                    patch = xp[n, channels, r:r + dh * (kh - 1) + 1:dh, c:c + dw * (kw - 1) + 1:dw]
                    out[n, co, i, j] = np.sum(patch * w[co])
            if b is not None:
                out[n, co] += b[co]
    return out


# --------------------------------------------------------------------------- fast

def _blocks(n: int, out_h: int, row_bytes: int, sample_bytes: int):
    """Split the work into blocks of samples x output rows whose scratch fits in CHUNK_BYTES.

    ``row_bytes`` is the scratch one output row of one sample needs (its im2col columns,
    ...), ``sample_bytes`` what a sample needs whatever the rows (its padded copy). Whole
    samples are grouped while they fit; a sample too large on its own is cut into bands
    of output rows. Yields ``(start, stop, row_start, row_stop)``.
    """
    per_sample = sample_bytes + out_h * row_bytes
    if per_sample <= CHUNK_BYTES:
        step = max(1, min(n, CHUNK_BYTES // max(1, per_sample)))
        for start in range(0, n, step):
            yield start, min(n, start + step), 0, out_h
        return
    rows = max(1, (CHUNK_BYTES - sample_bytes) // max(1, row_bytes))
    for start in range(n):
        for r0 in range(0, out_h, rows):
            yield start, start + 1, r0, min(out_h, r0 + rows)


def _pad(x: np.ndarray, pads: Pad2d) -> np.ndarray:
    if pads == ((0, 0), (0, 0)):
        return x
    return np.pad(x, ((0, 0), (0, 0), pads[0], pads[1]))


def _im2col(xp: np.ndarray, groups: int, khw, out_hw, stride, dilation) -> np.ndarray:
    """Patches of a padded chunk as columns: ``(groups, C_in/groups * kH * kW, n * out_h * out_w)``.

    A strided *view* names every patch without copying; one ``ascontiguousarray`` copies
    them into the matrix a GEMM needs. Putting the batch inside the columns makes the
    whole chunk one large matrix multiply per group (large GEMMs run near the CPU's peak,
    many small ones do not).
    """
    n, c, _, _ = xp.shape
    sn, sc, sh, sw = xp.strides
    cg = c // groups
    shape = (groups, cg, khw[0], khw[1], n, out_hw[0], out_hw[1])
    strides = (cg * sc, sc, dilation[0] * sh, dilation[1] * sw, sn, stride[0] * sh, stride[1] * sw)
    view = as_strided(xp, shape=shape, strides=strides, writeable=False)
    return np.ascontiguousarray(view).reshape(groups, cg * khw[0] * khw[1], n * out_hw[0] * out_hw[1])


def conv2d(x: Any, w: Any, b: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> np.ndarray:
    """Fast 2-D convolution layer (a correlation, like ``torch.nn.functional.conv2d``).

    ``x`` is ``(N, C_in, H, W)``, ``w`` is ``(C_out, C_in/groups, kH, kW)``, ``b`` is ``(C_out,)``
    or None. ``stride``, ``padding`` and ``dilation`` take an int or a pair; ``padding`` also
    takes ``"same"`` (stride 1 only) or ``"valid"``. float32 stays float32, float64 stays float64.
    Returns ``(N, C_out, out_h, out_w)``. The backward pass needs only the inputs, so there is
    no cache: see :func:`conv2d_backward`.
    """
    x, w, b, stride, pads, dilation, groups, out_hw = _conv_args(x, w, b, stride, padding, dilation, groups)
    n, c_in, h, wd = x.shape
    c_out, cg, kh, kw = w.shape
    out = np.empty((n, c_out, out_hw[0], out_hw[1]), dtype=x.dtype)
    w_mat = w.reshape(groups, c_out // groups, cg * kh * kw)
    hp, wp = h + sum(pads[0]), wd + sum(pads[1])
    sh, dh = stride[0], dilation[0]
    row_bytes = x.itemsize * out_hw[1] * (c_in * kh * kw + c_out)     # columns + result
    xp = None
    for start, stop, r0, r1 in _blocks(n, out_hw[0], row_bytes, x.itemsize * c_in * hp * wp):
        if r0 == 0:
            xp = _pad(x[start:stop], pads)
        band = xp[:, :, r0 * sh:(r1 - 1) * sh + dh * (kh - 1) + 1]    # input rows these outputs see
        cols = _im2col(band, groups, (kh, kw), (r1 - r0, out_hw[1]), stride, dilation)
        res = np.matmul(w_mat, cols)                                  # (groups, C_out/groups, n * P)
        out[start:stop, :, r0:r1] = res.reshape(c_out, stop - start, r1 - r0, out_hw[1]).transpose(1, 0, 2, 3)
        del band, cols, res                                           # free before the next block allocates
        if r1 == out_hw[0]:
            xp = None
    if b is not None:
        out += b[:, None, None]
    return out


def conv2d_backward(dout: Any, x: Any, w: Any, stride: Any = 1, padding: Any = 0,
                    dilation: Any = 1, groups: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`conv2d` with respect to ``x``, ``w`` and ``b``: ``(dx, dw, db)``.

    With ``cols`` the im2col matrix and ``out = w @ cols + b``:
    ``dw = dout @ cols.T`` summed over the batch, ``db = dout`` summed over batch and space,
    and ``dcols = w.T @ dout``, whose columns are added back ("col2im") onto the input
    positions they were copied from -- overlapping patches add up.
    """
    x, w, _, stride, pads, dilation, groups, out_hw = _conv_args(x, w, None, stride, padding, dilation, groups)
    n, c_in, h, wd = x.shape
    c_out, cg, kh, kw = w.shape
    dout = as_float_array(dout, "dout", ndim=4).astype(x.dtype, copy=False)
    if dout.shape != (n, c_out, *out_hw):
        raise ValueError(f"dout must have the forward output's shape {(n, c_out, *out_hw)}, got {dout.shape}")
    hp, wp = h + sum(pads[0]), wd + sum(pads[1])
    (top, _), (left, _) = pads
    cog = c_out // groups
    w_mat = w.reshape(groups, cog, cg * kh * kw)
    w_mat_t = np.ascontiguousarray(w_mat.transpose(0, 2, 1))
    dx = np.empty_like(x)
    dw = np.zeros((groups, cog, cg * kh * kw), dtype=x.dtype)
    db = dout.sum(axis=(0, 2, 3))
    sh, sw = stride
    dh, dw_ = dilation
    ow = out_hw[1]
    row_bytes = x.itemsize * ow * (2 * c_in * kh * kw + c_out)        # columns, their gradient, dout
    xp = dxp = None
    for start, stop, r0, r1 in _blocks(n, out_hw[0], row_bytes, 2 * x.itemsize * c_in * hp * wp):
        m, rows = stop - start, r1 - r0
        if r0 == 0:
            xp = _pad(x[start:stop], pads)
            dxp = np.zeros((groups, cg, m, hp, wp), dtype=x.dtype)
        base = r0 * sh                                                # first padded input row of the band
        band = xp[:, :, base:(r1 - 1) * sh + dh * (kh - 1) + 1]
        cols = _im2col(band, groups, (kh, kw), (rows, ow), stride, dilation)
        d = np.ascontiguousarray(dout[start:stop, :, r0:r1].transpose(1, 0, 2, 3)).reshape(groups, cog, m * rows * ow)
        dw += np.matmul(d, cols.transpose(0, 2, 1))                  # dout @ cols.T
        del cols
        dcols = np.matmul(w_mat_t, d).reshape(groups, cg, kh, kw, m, rows, ow)
        for i in range(kh):                                           # col2im: one strided add per kernel tap
            r = base + i * dh
            for j in range(kw):
                c = j * dw_
                dxp[:, :, :, r:r + sh * (rows - 1) + 1:sh, c:c + sw * (ow - 1) + 1:sw] += dcols[:, :, i, j]
        del band, d, dcols                                            # free before the next block allocates
        if r1 == out_hw[0]:
            dx[start:stop] = dxp.reshape(c_in, m, hp, wp)[:, :, top:top + h, left:left + wd].transpose(1, 0, 2, 3)
            xp = dxp = None
    return dx, dw.reshape(w.shape), db
