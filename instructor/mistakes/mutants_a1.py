"""Catalogued mistakes of assignment 1 (convolution by hand), each with its mutant.

Every mutant is the instructor's solution with exactly one mistake (marked ``# MISTAKE``), written
self-contained: numpy is imported in the body and nothing else is called, so the source of a mutant
can be pasted into the notebook in place of the student's function (renamed).
"""
from __future__ import annotations

from .mutant import (
    A1,
    L01_SHARING,
    L02_CHANNELS,
    L02_CORR,
    L02_FLIP,
    L02_PHOTO,
    L02_STRIDE,
    L03_L2FEAT,
    L05_DETAIL,
    Mutant,
    lecture,
)

# --------------------------------------------------------------------------- correlate2d


def correlate2d_flipped_kernel(image, kernel):
    import numpy as np
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError(f"image and kernel must be 2-D, got shapes {image.shape} and {kernel.shape}")
    kh, kw = kernel.shape
    out_h, out_w = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"kernel {kernel.shape} does not fit in image {image.shape}")
    kernel = kernel[::-1, ::-1]  # MISTAKE: the kernel is rotated (that is a convolution)
    out = np.zeros((out_h, out_w))
    for m in range(out_h):
        for n in range(out_w):
            out[m, n] = np.sum(kernel * image[m:m + kh, n:n + kw])
    return out


def correlate2d_drops_last(image, kernel):
    import numpy as np
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError(f"image and kernel must be 2-D, got shapes {image.shape} and {kernel.shape}")
    kh, kw = kernel.shape
    out_h, out_w = image.shape[0] - kh, image.shape[1] - kw  # MISTAKE: no + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"kernel {kernel.shape} does not fit in image {image.shape}")
    out = np.zeros((out_h, out_w))
    for m in range(out_h):
        for n in range(out_w):
            out[m, n] = np.sum(kernel * image[m:m + kh, n:n + kw])
    return out


def correlate2d_no_ndim_check(image, kernel):
    import numpy as np
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    # MISTAKE: no check that image and kernel are 2-D
    kh, kw = kernel.shape
    out_h, out_w = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"kernel {kernel.shape} does not fit in image {image.shape}")
    out = np.zeros((out_h, out_w))
    for m in range(out_h):
        for n in range(out_w):
            out[m, n] = np.sum(kernel * image[m:m + kh, n:n + kw])
    return out


def correlate2d_no_size_check(image, kernel):
    import numpy as np
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError(f"image and kernel must be 2-D, got shapes {image.shape} and {kernel.shape}")
    kh, kw = kernel.shape
    out_h, out_w = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    # MISTAKE: no ValueError when the kernel does not fit
    out = np.zeros((out_h, out_w))
    for m in range(out_h):
        for n in range(out_w):
            out[m, n] = np.sum(kernel * image[m:m + kh, n:n + kw])
    return out


def correlate2d_square_kernel(image, kernel):
    import numpy as np
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError(f"image and kernel must be 2-D, got shapes {image.shape} and {kernel.shape}")
    kh = kw = kernel.shape[0]  # MISTAKE: assumes a square kernel
    out_h, out_w = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"kernel {kernel.shape} does not fit in image {image.shape}")
    out = np.zeros((out_h, out_w))
    for m in range(out_h):
        for n in range(out_w):
            out[m, n] = np.sum(kernel * image[m:m + kh, n:n + kw])
    return out


def correlate2d_same_size(image, kernel):
    import numpy as np
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError(f"image and kernel must be 2-D, got shapes {image.shape} and {kernel.shape}")
    kh, kw = kernel.shape
    if kh > image.shape[0] or kw > image.shape[1]:
        raise ValueError(f"kernel {kernel.shape} does not fit in image {image.shape}")
    image = np.pad(image, ((kh // 2, kh // 2), (kw // 2, kw // 2)))  # MISTAKE: zero padding ("same"), not valid
    out_h, out_w = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    out = np.zeros((out_h, out_w))
    for m in range(out_h):
        for n in range(out_w):
            out[m, n] = np.sum(kernel * image[m:m + kh, n:n + kw])
    return out


# --------------------------------------------------------------------------- convolve2d


def convolve2d_no_flip(image, kernel):
    import numpy as np
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError(f"image and kernel must be 2-D, got shapes {image.shape} and {kernel.shape}")
    # MISTAKE: the kernel is not rotated by 180 degrees (this is a correlation)
    kh, kw = kernel.shape
    out_h, out_w = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"kernel {kernel.shape} does not fit in image {image.shape}")
    out = np.zeros((out_h, out_w))
    for m in range(out_h):
        for n in range(out_w):
            out[m, n] = np.sum(kernel * image[m:m + kh, n:n + kw])
    return out


def convolve2d_flip_rows_only(image, kernel):
    import numpy as np
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError(f"image and kernel must be 2-D, got shapes {image.shape} and {kernel.shape}")
    kernel = kernel[::-1, :]  # MISTAKE: flipped upside down only, not left-right too
    kh, kw = kernel.shape
    out_h, out_w = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"kernel {kernel.shape} does not fit in image {image.shape}")
    out = np.zeros((out_h, out_w))
    for m in range(out_h):
        for n in range(out_w):
            out[m, n] = np.sum(kernel * image[m:m + kh, n:n + kw])
    return out


def convolve2d_flip_cols_only(image, kernel):
    import numpy as np
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError(f"image and kernel must be 2-D, got shapes {image.shape} and {kernel.shape}")
    kernel = kernel[:, ::-1]  # MISTAKE: flipped left-right only, not upside down too
    kh, kw = kernel.shape
    out_h, out_w = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"kernel {kernel.shape} does not fit in image {image.shape}")
    out = np.zeros((out_h, out_w))
    for m in range(out_h):
        for n in range(out_w):
            out[m, n] = np.sum(kernel * image[m:m + kh, n:n + kw])
    return out


def convolve2d_rot90_once(image, kernel):
    import numpy as np
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError(f"image and kernel must be 2-D, got shapes {image.shape} and {kernel.shape}")
    kernel = np.rot90(kernel)  # MISTAKE: a 90 degree turn; the convolution needs 180 (np.rot90(kernel, 2))
    kh, kw = kernel.shape
    out_h, out_w = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"kernel {kernel.shape} does not fit in image {image.shape}")
    out = np.zeros((out_h, out_w))
    for m in range(out_h):
        for n in range(out_w):
            out[m, n] = np.sum(kernel * image[m:m + kh, n:n + kw])
    return out


def convolve2d_flips_image(image, kernel):
    import numpy as np
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError(f"image and kernel must be 2-D, got shapes {image.shape} and {kernel.shape}")
    image = image[::-1, ::-1]  # MISTAKE: rotates the image instead of the kernel
    kh, kw = kernel.shape
    out_h, out_w = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"kernel {kernel.shape} does not fit in image {image.shape}")
    out = np.zeros((out_h, out_w))
    for m in range(out_h):
        for n in range(out_w):
            out[m, n] = np.sum(kernel * image[m:m + kh, n:n + kw])
    return out


# --------------------------------------------------------------------------- conv2d


def conv2d_no_bias(x, w, b=None, stride=1, padding=0):
    import numpy as np
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"x and w must be 4-D, got {x.shape} and {w.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channels but w expects {w.shape[1]}")
    n_batch, _, height, width = x.shape
    n_filters, _, kh, kw = w.shape
    out_h = (height + 2 * padding - kh) // stride + 1
    out_w = (width + 2 * padding - kw) // stride + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"kernel {kh}x{kw} does not fit in a {height}x{width} input with padding {padding}")
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.zeros((n_batch, n_filters, out_h, out_w))
    for n in range(n_batch):
        for f in range(n_filters):
            for i in range(out_h):
                for j in range(out_w):
                    window = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[n, f, i, j] = np.sum(window * w[f])
    return out  # MISTAKE: the bias b is never added


def conv2d_bias_wrong_axis(x, w, b=None, stride=1, padding=0):
    import numpy as np
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"x and w must be 4-D, got {x.shape} and {w.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channels but w expects {w.shape[1]}")
    n_batch, _, height, width = x.shape
    n_filters, _, kh, kw = w.shape
    out_h = (height + 2 * padding - kh) // stride + 1
    out_w = (width + 2 * padding - kw) // stride + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"kernel {kh}x{kw} does not fit in a {height}x{width} input with padding {padding}")
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.zeros((n_batch, n_filters, out_h, out_w))
    for n in range(n_batch):
        for f in range(n_filters):
            for i in range(out_h):
                for j in range(out_w):
                    window = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[n, f, i, j] = np.sum(window * w[f])
    if b is not None:
        out = out + np.asarray(b, dtype=float).reshape(-1, 1, 1, 1)  # MISTAKE: b[n] (batch axis), not b[f]
    return out


def conv2d_bias_none_fails(x, w, b=None, stride=1, padding=0):
    import numpy as np
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"x and w must be 4-D, got {x.shape} and {w.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channels but w expects {w.shape[1]}")
    n_batch, _, height, width = x.shape
    n_filters, _, kh, kw = w.shape
    out_h = (height + 2 * padding - kh) // stride + 1
    out_w = (width + 2 * padding - kw) // stride + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"kernel {kh}x{kw} does not fit in a {height}x{width} input with padding {padding}")
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.zeros((n_batch, n_filters, out_h, out_w))
    for n in range(n_batch):
        for f in range(n_filters):
            for i in range(out_h):
                for j in range(out_w):
                    window = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]  # MISTAKE: fails when b is None
    return out


def conv2d_no_shape_checks(x, w, b=None, stride=1, padding=0):
    import numpy as np
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    # MISTAKE: no ValueError for non-4-D arrays, mismatched channels or a kernel that does not fit
    n_batch, _, height, width = x.shape
    n_filters, _, kh, kw = w.shape
    out_h = (height + 2 * padding - kh) // stride + 1
    out_w = (width + 2 * padding - kw) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.zeros((n_batch, n_filters, max(out_h, 0), max(out_w, 0)))
    for n in range(n_batch):
        for f in range(n_filters):
            for i in range(out_h):
                for j in range(out_w):
                    window = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[n, f, i, j] = np.sum(window * w[f])
    if b is not None:
        out += np.asarray(b, dtype=float).reshape(1, -1, 1, 1)
    return out


def conv2d_stride_on_kernel_index(x, w, b=None, stride=1, padding=0):
    import numpy as np
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"x and w must be 4-D, got {x.shape} and {w.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channels but w expects {w.shape[1]}")
    n_batch, _, height, width = x.shape
    n_filters, _, kh, kw = w.shape
    out_h = (height + 2 * padding - kh) // stride + 1
    out_w = (width + 2 * padding - kw) // stride + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"kernel {kh}x{kw} does not fit in a {height}x{width} input with padding {padding}")
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.zeros((n_batch, n_filters, out_h, out_w))
    for n in range(n_batch):
        for f in range(n_filters):
            for i in range(out_h):
                for j in range(out_w):
                    # MISTAKE: reads x[i + s*k, j + s*l] instead of x[i*s + k, j*s + l]
                    window = xp[n, :, i:i + stride * kh:stride, j:j + stride * kw:stride]
                    out[n, f, i, j] = np.sum(window * w[f])
    if b is not None:
        out += np.asarray(b, dtype=float).reshape(1, -1, 1, 1)
    return out


def conv2d_pad_one_side(x, w, b=None, stride=1, padding=0):
    import numpy as np
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"x and w must be 4-D, got {x.shape} and {w.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channels but w expects {w.shape[1]}")
    n_batch, _, height, width = x.shape
    n_filters, _, kh, kw = w.shape
    out_h = (height + padding - kh) // stride + 1
    out_w = (width + padding - kw) // stride + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"kernel {kh}x{kw} does not fit in a {height}x{width} input with padding {padding}")
    xp = np.pad(x, ((0, 0), (0, 0), (padding, 0), (padding, 0)))  # MISTAKE: zeros on top and left only
    out = np.zeros((n_batch, n_filters, out_h, out_w))
    for n in range(n_batch):
        for f in range(n_filters):
            for i in range(out_h):
                for j in range(out_w):
                    window = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[n, f, i, j] = np.sum(window * w[f])
    if b is not None:
        out += np.asarray(b, dtype=float).reshape(1, -1, 1, 1)
    return out


def conv2d_padding_ignored(x, w, b=None, stride=1, padding=0):
    import numpy as np
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"x and w must be 4-D, got {x.shape} and {w.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channels but w expects {w.shape[1]}")
    n_batch, _, height, width = x.shape
    n_filters, _, kh, kw = w.shape
    out_h = (height - kh) // stride + 1  # MISTAKE: padding is never used
    out_w = (width - kw) // stride + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"kernel {kh}x{kw} does not fit in a {height}x{width} input")
    out = np.zeros((n_batch, n_filters, out_h, out_w))
    for n in range(n_batch):
        for f in range(n_filters):
            for i in range(out_h):
                for j in range(out_w):
                    window = x[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[n, f, i, j] = np.sum(window * w[f])
    if b is not None:
        out += np.asarray(b, dtype=float).reshape(1, -1, 1, 1)
    return out


def conv2d_only_channel_0(x, w, b=None, stride=1, padding=0):
    import numpy as np
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"x and w must be 4-D, got {x.shape} and {w.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channels but w expects {w.shape[1]}")
    n_batch, _, height, width = x.shape
    n_filters, _, kh, kw = w.shape
    out_h = (height + 2 * padding - kh) // stride + 1
    out_w = (width + 2 * padding - kw) // stride + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"kernel {kh}x{kw} does not fit in a {height}x{width} input with padding {padding}")
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.zeros((n_batch, n_filters, out_h, out_w))
    for n in range(n_batch):
        for f in range(n_filters):
            for i in range(out_h):
                for j in range(out_w):
                    # MISTAKE: only input channel 0 is used
                    window = xp[n, 0, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[n, f, i, j] = np.sum(window * w[f, 0])
    if b is not None:
        out += np.asarray(b, dtype=float).reshape(1, -1, 1, 1)
    return out


def conv2d_sums_over_filters(x, w, b=None, stride=1, padding=0):
    import numpy as np
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"x and w must be 4-D, got {x.shape} and {w.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channels but w expects {w.shape[1]}")
    n_batch, _, height, width = x.shape
    n_filters, _, kh, kw = w.shape
    out_h = (height + 2 * padding - kh) // stride + 1
    out_w = (width + 2 * padding - kw) // stride + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"kernel {kh}x{kw} does not fit in a {height}x{width} input with padding {padding}")
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.zeros((n_batch, n_filters, out_h, out_w))
    for n in range(n_batch):
        for f in range(n_filters):
            for i in range(out_h):
                for j in range(out_w):
                    window = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[n, f, i, j] = np.sum(window * w)  # MISTAKE: all filters w, not w[f]
    if b is not None:
        out += np.asarray(b, dtype=float).reshape(1, -1, 1, 1)
    return out


def conv2d_flipped_kernel(x, w, b=None, stride=1, padding=0):
    import numpy as np
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"x and w must be 4-D, got {x.shape} and {w.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channels but w expects {w.shape[1]}")
    n_batch, _, height, width = x.shape
    n_filters, _, kh, kw = w.shape
    out_h = (height + 2 * padding - kh) // stride + 1
    out_w = (width + 2 * padding - kw) // stride + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"kernel {kh}x{kw} does not fit in a {height}x{width} input with padding {padding}")
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.zeros((n_batch, n_filters, out_h, out_w))
    for n in range(n_batch):
        for f in range(n_filters):
            for i in range(out_h):
                for j in range(out_w):
                    window = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[n, f, i, j] = np.sum(window * w[f, :, ::-1, ::-1])  # MISTAKE: flipped kernel
    if b is not None:
        out += np.asarray(b, dtype=float).reshape(1, -1, 1, 1)
    return out


# --------------------------------------------------------------------------- conv_output_size


def conv_output_size_no_padding(n, kernel_size, stride=1, padding=0):
    span = n - kernel_size  # MISTAKE: padding left out
    if span < 0:
        raise ValueError(f"kernel_size={kernel_size} does not fit in n={n}")
    return span // stride + 1


def conv_output_size_padding_once(n, kernel_size, stride=1, padding=0):
    span = n + padding - kernel_size  # MISTAKE: the padding is added on one side only (P, not 2P)
    if span < 0:
        raise ValueError(f"kernel_size={kernel_size} does not fit in n={n} with padding={padding}")
    return span // stride + 1


def conv_output_size_ceil(n, kernel_size, stride=1, padding=0):
    span = n + 2 * padding - kernel_size
    if span < 0:
        raise ValueError(f"kernel_size={kernel_size} does not fit in n={n} with padding={padding}")
    return -(-span // stride) + 1  # MISTAKE: rounds up instead of down


def conv_output_size_no_plus_one(n, kernel_size, stride=1, padding=0):
    span = n + 2 * padding - kernel_size
    if span < 0:
        raise ValueError(f"kernel_size={kernel_size} does not fit in n={n} with padding={padding}")
    return span // stride  # MISTAKE: the + 1 is missing


def conv_output_size_true_division(n, kernel_size, stride=1, padding=0):
    span = n + 2 * padding - kernel_size
    if span < 0:
        raise ValueError(f"kernel_size={kernel_size} does not fit in n={n} with padding={padding}")
    return span / stride + 1  # MISTAKE: / instead of // (no floor)


def conv_output_size_no_value_error(n, kernel_size, stride=1, padding=0):
    span = n + 2 * padding - kernel_size  # MISTAKE: no ValueError when the kernel does not fit
    return span // stride + 1


# --------------------------------------------------------------------------- conv_param_count


def conv_param_count_no_bias(in_channels, out_channels, kernel_size, bias=True):
    import numpy as np
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    return out_channels * in_channels * kh * kw  # MISTAKE: the biases are never counted


def conv_param_count_bias_flag_ignored(in_channels, out_channels, kernel_size, bias=True):
    import numpy as np
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    return out_channels * in_channels * kh * kw + out_channels  # MISTAKE: counts biases even when bias=False


def conv_param_count_bias_per_input_channel(in_channels, out_channels, kernel_size, bias=True):
    import numpy as np
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    # MISTAKE: one bias per (input channel, filter) pair instead of one per filter
    return out_channels * in_channels * kh * kw + (out_channels * in_channels if bias else 0)


def conv_param_count_bias_per_weight(in_channels, out_channels, kernel_size, bias=True):
    import numpy as np
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    weights = out_channels * in_channels * kh * kw
    return weights + (weights if bias else 0)  # MISTAKE: one bias per weight instead of one per filter


def conv_param_count_square_kernel(in_channels, out_channels, kernel_size, bias=True):
    import numpy as np
    k = kernel_size if np.isscalar(kernel_size) else kernel_size[0]
    kh, kw = k, k  # MISTAKE: a (kh, kw) kernel is taken as kh x kh
    return out_channels * in_channels * kh * kw + (out_channels if bias else 0)


def conv_param_count_no_in_channels(in_channels, out_channels, kernel_size, bias=True):
    import numpy as np
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    return out_channels * kh * kw + (out_channels if bias else 0)  # MISTAKE: a filter spans all input channels


def conv_param_count_int_kernel_unsupported(in_channels, out_channels, kernel_size, bias=True):
    kh, kw = kernel_size  # MISTAKE: an int kernel_size (square kernel) is not accepted
    return out_channels * in_channels * kh * kw + (out_channels if bias else 0)


# --------------------------------------------------------------------------- edge_strength


def edge_strength_sum(image):
    import numpy as np
    image = np.asarray(image, dtype=float)
    sobel_x = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    sobel_y = sobel_x.T
    out_h, out_w = image.shape[0] - 2, image.shape[1] - 2
    gx, gy = np.zeros((out_h, out_w)), np.zeros((out_h, out_w))
    for m in range(out_h):
        for n in range(out_w):
            gx[m, n] = np.sum(sobel_x * image[m:m + 3, n:n + 3])
            gy[m, n] = np.sum(sobel_y * image[m:m + 3, n:n + 3])
    return gx + gy  # MISTAKE: the sum of the responses, not the length sqrt(gx**2 + gy**2)


def edge_strength_no_sqrt(image):
    import numpy as np
    image = np.asarray(image, dtype=float)
    sobel_x = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    sobel_y = sobel_x.T
    out_h, out_w = image.shape[0] - 2, image.shape[1] - 2
    gx, gy = np.zeros((out_h, out_w)), np.zeros((out_h, out_w))
    for m in range(out_h):
        for n in range(out_w):
            gx[m, n] = np.sum(sobel_x * image[m:m + 3, n:n + 3])
            gy[m, n] = np.sum(sobel_y * image[m:m + 3, n:n + 3])
    return gx ** 2 + gy ** 2  # MISTAKE: the square root is missing


def edge_strength_abs_sum(image):
    import numpy as np
    image = np.asarray(image, dtype=float)
    sobel_x = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    sobel_y = sobel_x.T
    out_h, out_w = image.shape[0] - 2, image.shape[1] - 2
    gx, gy = np.zeros((out_h, out_w)), np.zeros((out_h, out_w))
    for m in range(out_h):
        for n in range(out_w):
            gx[m, n] = np.sum(sobel_x * image[m:m + 3, n:n + 3])
            gy[m, n] = np.sum(sobel_y * image[m:m + 3, n:n + 3])
    return np.abs(gx) + np.abs(gy)  # MISTAKE: |gx| + |gy| instead of sqrt(gx**2 + gy**2)


def edge_strength_sobel_x_twice(image):
    import numpy as np
    image = np.asarray(image, dtype=float)
    sobel_x = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    sobel_y = sobel_x  # MISTAKE: sobel_x used for both responses
    out_h, out_w = image.shape[0] - 2, image.shape[1] - 2
    gx, gy = np.zeros((out_h, out_w)), np.zeros((out_h, out_w))
    for m in range(out_h):
        for n in range(out_w):
            gx[m, n] = np.sum(sobel_x * image[m:m + 3, n:n + 3])
            gy[m, n] = np.sum(sobel_y * image[m:m + 3, n:n + 3])
    return np.sqrt(gx ** 2 + gy ** 2)


def edge_strength_same_size(image):
    import numpy as np
    image = np.pad(np.asarray(image, dtype=float), 1)  # MISTAKE: zero padding: the result is not the valid size
    sobel_x = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    sobel_y = sobel_x.T
    out_h, out_w = image.shape[0] - 2, image.shape[1] - 2
    gx, gy = np.zeros((out_h, out_w)), np.zeros((out_h, out_w))
    for m in range(out_h):
        for n in range(out_w):
            gx[m, n] = np.sum(sobel_x * image[m:m + 3, n:n + 3])
            gy[m, n] = np.sum(sobel_y * image[m:m + 3, n:n + 3])
    return np.sqrt(gx ** 2 + gy ** 2)


# --------------------------------------------------------------------------- the catalogue

def _m(id_: str, title: str, where: tuple[str, str], mutant, what: str = "") -> Mutant:
    return Mutant(id_, id_.split(".")[0], A1, title, lecture(where, what), mutant)


MISTAKES_A1 = [
    _m("correlate2d.flipped_kernel", "the kernel is rotated by 180 degrees: that computes a convolution, "
       "not a correlation", L02_FLIP, correlate2d_flipped_kernel),
    _m("correlate2d.drops_last", "output size H - kh by W - kw (the + 1 is missing): the last row and column "
       "are dropped", L02_CORR, correlate2d_drops_last, "valid size (H - kh + 1) x (W - kw + 1)"),
    _m("correlate2d.no_ndim_check", "no ValueError for an image or kernel that is not 2-D", L02_CORR,
       correlate2d_no_ndim_check, "one 2-D channel and one 2-D kernel"),
    _m("correlate2d.no_size_check", "no ValueError when the kernel is larger than the image", L02_CORR,
       correlate2d_no_size_check, "mode 'valid': only positions where the kernel fits"),
    _m("correlate2d.square_kernel", "assumes a square kernel (uses kernel.shape[0] for the width too)",
       L02_CORR, correlate2d_square_kernel, "a kh x kw kernel"),
    _m("correlate2d.same_size", "pads the image with zeros (a 'same' correlation) instead of the valid one",
       L02_CORR, correlate2d_same_size, "mode 'valid': only positions where the kernel fits"),

    _m("convolve2d.no_flip", "the kernel is not rotated by 180 degrees (that is a correlation)", L02_FLIP,
       convolve2d_no_flip),
    _m("convolve2d.flip_rows_only", "the kernel is flipped upside down only (kernel[::-1]); a 180 degree turn "
       "flips both axes", L02_FLIP, convolve2d_flip_rows_only),
    _m("convolve2d.flip_cols_only", "the kernel is flipped left-right only (kernel[:, ::-1]); a 180 degree "
       "turn flips both axes", L02_FLIP, convolve2d_flip_cols_only),
    _m("convolve2d.rot90_once", "np.rot90(kernel) turns the kernel by 90 degrees, not 180", L02_FLIP,
       convolve2d_rot90_once),
    _m("convolve2d.flips_image", "the image is rotated instead of the kernel", L02_FLIP, convolve2d_flips_image),

    _m("conv2d.no_bias", "the bias is never added", L02_CHANNELS, conv2d_no_bias, "one number per position: "
       "the sum over channels plus a bias"),
    _m("conv2d.bias_wrong_axis", "the bias is added along the batch axis (b[n]) instead of per filter (b[f])",
       L02_CHANNELS, conv2d_bias_wrong_axis, "one bias per filter"),
    _m("conv2d.bias_none_fails", "fails when b is None (the default: a layer without bias)", L02_CHANNELS,
       conv2d_bias_none_fails),
    _m("conv2d.no_shape_checks", "no ValueError for mismatched channels, non-4-D arrays or a kernel that does "
       "not fit", L02_CHANNELS, conv2d_no_shape_checks, "a filter has the depth of its input"),
    _m("conv2d.stride_on_kernel_index", "the stride multiplies the kernel index (x[i + s*k]) instead of the "
       "output index (x[i*s + k])", L02_STRIDE, conv2d_stride_on_kernel_index, "the stride is the step between "
       "two positions of the kernel"),
    _m("conv2d.pad_one_side", "zeros are padded on the top and left only, not on every side", L02_STRIDE,
       conv2d_pad_one_side, "(N + 2P - F) / stride + 1"),
    _m("conv2d.padding_ignored", "padding is ignored", L02_STRIDE, conv2d_padding_ignored,
       "(N + 2P - F) / stride + 1"),
    _m("conv2d.only_channel_0", "only input channel 0 is used: the sum over input channels is missing",
       L02_CHANNELS, conv2d_only_channel_0, "the sum over all channels"),
    _m("conv2d.sums_over_filters", "every output channel sums over all filters (w instead of w[f])",
       L02_CHANNELS, conv2d_sums_over_filters, "each filter gives its own activation map"),
    _m("conv2d.flipped_kernel", "the kernel is flipped: a convolutional layer computes a correlation",
       L02_FLIP, conv2d_flipped_kernel),

    _m("conv_output_size.no_padding", "padding is left out of the formula", L02_STRIDE,
       conv_output_size_no_padding, "(N + 2P - F) / stride + 1"),
    _m("conv_output_size.padding_once", "the padding is counted once (N + P - K) instead of on both sides (N + 2P - K)",
       L02_STRIDE, conv_output_size_padding_once, "(N + 2P - F) / stride + 1"),
    _m("conv_output_size.ceil", "rounds up instead of down (the last, incomplete window does not count)",
       L02_STRIDE, conv_output_size_ceil, "when the division is not exact"),
    _m("conv_output_size.no_plus_one", "the + 1 is missing", L02_STRIDE, conv_output_size_no_plus_one,
       "(N - F) / stride + 1"),
    _m("conv_output_size.true_division", "uses / instead of // and returns a fraction", L02_STRIDE,
       conv_output_size_true_division, "when the division is not exact"),
    _m("conv_output_size.no_value_error", "no ValueError when the kernel does not fit in the padded input",
       L02_STRIDE, conv_output_size_no_value_error, "(N + 2P - F) / stride + 1 needs N + 2P >= F"),

    _m("conv_param_count.no_bias", "the biases (one per filter) are never counted", L05_DETAIL,
       conv_param_count_no_bias, "75 weights plus a bias"),
    _m("conv_param_count.bias_flag_ignored", "biases are counted even with bias=False", L01_SHARING,
       conv_param_count_bias_flag_ignored, "100 filters of 10x10: 10K parameters"),
    _m("conv_param_count.bias_per_input_channel", "one bias per input channel and filter instead of one per "
       "filter", L05_DETAIL, conv_param_count_bias_per_input_channel, "75 weights plus a bias"),
    _m("conv_param_count.bias_per_weight", "one bias per weight (the weights counted twice) instead of one per "
       "filter", L05_DETAIL, conv_param_count_bias_per_weight, "75 weights plus a bias"),
    _m("conv_param_count.square_kernel", "a (kh, kw) kernel is counted as kh x kh", L05_DETAIL,
       conv_param_count_square_kernel),
    _m("conv_param_count.no_in_channels", "the input channels are left out: a filter spans all of them",
       L05_DETAIL, conv_param_count_no_in_channels, "a 5x5x3 block of weights"),
    _m("conv_param_count.int_kernel_unsupported", "an int kernel_size (a square kernel) is not accepted",
       L05_DETAIL, conv_param_count_int_kernel_unsupported),

    _m("edge_strength.sum", "returns gx + gy instead of the length sqrt(gx**2 + gy**2)", L03_L2FEAT,
       edge_strength_sum),
    _m("edge_strength.no_sqrt", "returns gx**2 + gy**2: the square root is missing", L03_L2FEAT,
       edge_strength_no_sqrt),
    _m("edge_strength.abs_sum", "returns |gx| + |gy| instead of sqrt(gx**2 + gy**2)", L03_L2FEAT,
       edge_strength_abs_sum),
    _m("edge_strength.sobel_x_twice", "uses sobel_x for both responses (gy needs sobel_y)", L02_PHOTO,
       edge_strength_sobel_x_twice),
    _m("edge_strength.same_size", "pads the image, so the result is not the valid size (H - 2) x (W - 2)",
       L02_PHOTO, edge_strength_same_size),
]
