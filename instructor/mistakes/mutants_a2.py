"""Catalogued mistakes of assignment 2 (pooling, normalization, receptive fields), with mutants.

Every mutant is the instructor's solution with exactly one mistake (marked ``# MISTAKE``), written
self-contained: numpy is imported in the body and nothing else is called (``shift_experiment``'s
mutants pool by themselves instead of calling ``pool2d``).
"""
from __future__ import annotations

from .mutant import (
    A2,
    L01_RF,
    L03_L2FEAT,
    L03_POOL,
    L03_RF,
    L03_SHIFT,
    L04_LCN,
    L07_CHAIN,
    Mutant,
    lecture,
)

# --------------------------------------------------------------------------- pool2d


def pool2d_h_over_s(x, kernel_size, stride, kind):
    import numpy as np
    x = np.asarray(x, dtype=float)
    if kind not in ("max", "avg", "l2"):
        raise ValueError(f"kind must be 'max', 'avg' or 'l2', got {kind!r}")
    k, s = kernel_size, stride
    n, c, h, w = x.shape
    out_h, out_w = h // s, w // s  # MISTAKE: the output size is (h - k) // s + 1
    out = np.zeros((n, c, out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, :, i * s:i * s + k, j * s:j * s + k]
            if kind == "max":
                out[:, :, i, j] = window.max(axis=(2, 3))
            elif kind == "avg":
                out[:, :, i, j] = window.mean(axis=(2, 3))
            else:
                out[:, :, i, j] = np.sqrt(np.sum(window ** 2, axis=(2, 3)))
    return out


def pool2d_stride_ignored(x, kernel_size, stride, kind):
    import numpy as np
    x = np.asarray(x, dtype=float)
    if kind not in ("max", "avg", "l2"):
        raise ValueError(f"kind must be 'max', 'avg' or 'l2', got {kind!r}")
    k, s = kernel_size, kernel_size  # MISTAKE: the windows move by kernel_size, whatever the stride
    n, c, h, w = x.shape
    out_h, out_w = (h - k) // s + 1, (w - k) // s + 1
    out = np.zeros((n, c, out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, :, i * s:i * s + k, j * s:j * s + k]
            if kind == "max":
                out[:, :, i, j] = window.max(axis=(2, 3))
            elif kind == "avg":
                out[:, :, i, j] = window.mean(axis=(2, 3))
            else:
                out[:, :, i, j] = np.sqrt(np.sum(window ** 2, axis=(2, 3)))
    return out


def pool2d_avg_div_k(x, kernel_size, stride, kind):
    import numpy as np
    x = np.asarray(x, dtype=float)
    if kind not in ("max", "avg", "l2"):
        raise ValueError(f"kind must be 'max', 'avg' or 'l2', got {kind!r}")
    k, s = kernel_size, stride
    n, c, h, w = x.shape
    out_h, out_w = (h - k) // s + 1, (w - k) // s + 1
    out = np.zeros((n, c, out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, :, i * s:i * s + k, j * s:j * s + k]
            if kind == "max":
                out[:, :, i, j] = window.max(axis=(2, 3))
            elif kind == "avg":
                out[:, :, i, j] = window.sum(axis=(2, 3)) / k  # MISTAKE: divides by k, not k * k
            else:
                out[:, :, i, j] = np.sqrt(np.sum(window ** 2, axis=(2, 3)))
    return out


def pool2d_avg_sum(x, kernel_size, stride, kind):
    import numpy as np
    x = np.asarray(x, dtype=float)
    if kind not in ("max", "avg", "l2"):
        raise ValueError(f"kind must be 'max', 'avg' or 'l2', got {kind!r}")
    k, s = kernel_size, stride
    n, c, h, w = x.shape
    out_h, out_w = (h - k) // s + 1, (w - k) // s + 1
    out = np.zeros((n, c, out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, :, i * s:i * s + k, j * s:j * s + k]
            if kind == "max":
                out[:, :, i, j] = window.max(axis=(2, 3))
            elif kind == "avg":
                out[:, :, i, j] = window.sum(axis=(2, 3))  # MISTAKE: the sum, never divided
            else:
                out[:, :, i, j] = np.sqrt(np.sum(window ** 2, axis=(2, 3)))
    return out


def pool2d_l2_no_sqrt(x, kernel_size, stride, kind):
    import numpy as np
    x = np.asarray(x, dtype=float)
    if kind not in ("max", "avg", "l2"):
        raise ValueError(f"kind must be 'max', 'avg' or 'l2', got {kind!r}")
    k, s = kernel_size, stride
    n, c, h, w = x.shape
    out_h, out_w = (h - k) // s + 1, (w - k) // s + 1
    out = np.zeros((n, c, out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, :, i * s:i * s + k, j * s:j * s + k]
            if kind == "max":
                out[:, :, i, j] = window.max(axis=(2, 3))
            elif kind == "avg":
                out[:, :, i, j] = window.mean(axis=(2, 3))
            else:
                out[:, :, i, j] = np.sum(window ** 2, axis=(2, 3))  # MISTAKE: the square root is missing
    return out


def pool2d_l2_mean(x, kernel_size, stride, kind):
    import numpy as np
    x = np.asarray(x, dtype=float)
    if kind not in ("max", "avg", "l2"):
        raise ValueError(f"kind must be 'max', 'avg' or 'l2', got {kind!r}")
    k, s = kernel_size, stride
    n, c, h, w = x.shape
    out_h, out_w = (h - k) // s + 1, (w - k) // s + 1
    out = np.zeros((n, c, out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, :, i * s:i * s + k, j * s:j * s + k]
            if kind == "max":
                out[:, :, i, j] = window.max(axis=(2, 3))
            elif kind == "avg":
                out[:, :, i, j] = window.mean(axis=(2, 3))
            else:
                out[:, :, i, j] = np.sqrt(np.mean(window ** 2, axis=(2, 3)))  # MISTAKE: mean, not sum
    return out


def pool2d_min_instead_of_max(x, kernel_size, stride, kind):
    import numpy as np
    x = np.asarray(x, dtype=float)
    if kind not in ("max", "avg", "l2"):
        raise ValueError(f"kind must be 'max', 'avg' or 'l2', got {kind!r}")
    k, s = kernel_size, stride
    n, c, h, w = x.shape
    out_h, out_w = (h - k) // s + 1, (w - k) // s + 1
    out = np.zeros((n, c, out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, :, i * s:i * s + k, j * s:j * s + k]
            if kind == "max":
                flat = window.reshape(n, c, -1)
                pick = flat.argmin(axis=2)  # MISTAKE: argmin: the smallest value of the window, not the largest
                out[:, :, i, j] = np.take_along_axis(flat, pick[:, :, None], axis=2)[:, :, 0]
            elif kind == "avg":
                out[:, :, i, j] = window.mean(axis=(2, 3))
            else:
                out[:, :, i, j] = np.sqrt(np.sum(window ** 2, axis=(2, 3)))
    return out


def pool2d_max_all_channels(x, kernel_size, stride, kind):
    import numpy as np
    x = np.asarray(x, dtype=float)
    if kind not in ("max", "avg", "l2"):
        raise ValueError(f"kind must be 'max', 'avg' or 'l2', got {kind!r}")
    k, s = kernel_size, stride
    n, c, h, w = x.shape
    out_h, out_w = (h - k) // s + 1, (w - k) // s + 1
    out = np.zeros((n, c, out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, :, i * s:i * s + k, j * s:j * s + k]
            if kind == "max":
                out[:, :, i, j] = window.max()  # MISTAKE: no axis: the max over the batch and all channels
            elif kind == "avg":
                out[:, :, i, j] = window.mean(axis=(2, 3))
            else:
                out[:, :, i, j] = np.sqrt(np.sum(window ** 2, axis=(2, 3)))
    return out


# --------------------------------------------------------------------------- pool2d_backward


def pool2d_backward_max_all_ties(dout, x, kernel_size, stride, kind):
    import numpy as np
    x = np.asarray(x, dtype=float)
    dout = np.asarray(dout, dtype=float)
    if kind not in ("max", "avg", "l2"):
        raise ValueError(f"kind must be 'max', 'avg' or 'l2', got {kind!r}")
    k, s = kernel_size, stride
    n, c, out_h, out_w = dout.shape
    dx = np.zeros_like(x)
    for i in range(out_h):
        for j in range(out_w):
            rows, cols = slice(i * s, i * s + k), slice(j * s, j * s + k)
            window = x[:, :, rows, cols]
            g = dout[:, :, i, j][:, :, None, None]
            if kind == "max":
                mask = window == window.max(axis=(2, 3), keepdims=True)  # MISTAKE: every tied maximum wins
                dx[:, :, rows, cols] += g * mask
            elif kind == "avg":
                dx[:, :, rows, cols] += g / (k * k)
            else:
                norm = np.sqrt(np.sum(window ** 2, axis=(2, 3), keepdims=True))
                safe = np.where(norm > 0, norm, 1.0)
                dx[:, :, rows, cols] += np.where(norm > 0, g * window / safe, 0.0)
    return dx


def pool2d_backward_max_last_tie(dout, x, kernel_size, stride, kind):
    import numpy as np
    x = np.asarray(x, dtype=float)
    dout = np.asarray(dout, dtype=float)
    if kind not in ("max", "avg", "l2"):
        raise ValueError(f"kind must be 'max', 'avg' or 'l2', got {kind!r}")
    k, s = kernel_size, stride
    n, c, out_h, out_w = dout.shape
    dx = np.zeros_like(x)
    for i in range(out_h):
        for j in range(out_w):
            rows, cols = slice(i * s, i * s + k), slice(j * s, j * s + k)
            window = x[:, :, rows, cols]
            g = dout[:, :, i, j][:, :, None, None]
            if kind == "max":
                flat = window.reshape(n, c, -1)
                last = flat.shape[2] - 1 - flat[:, :, ::-1].argmax(axis=2)  # MISTAKE: the last maximum wins
                mask = np.zeros_like(flat)
                np.put_along_axis(mask, last[:, :, None], 1.0, axis=2)
                dx[:, :, rows, cols] += g * mask.reshape(window.shape)
            elif kind == "avg":
                dx[:, :, rows, cols] += g / (k * k)
            else:
                norm = np.sqrt(np.sum(window ** 2, axis=(2, 3), keepdims=True))
                safe = np.where(norm > 0, norm, 1.0)
                dx[:, :, rows, cols] += np.where(norm > 0, g * window / safe, 0.0)
    return dx


def pool2d_backward_overwrite(dout, x, kernel_size, stride, kind):
    import numpy as np
    x = np.asarray(x, dtype=float)
    dout = np.asarray(dout, dtype=float)
    if kind not in ("max", "avg", "l2"):
        raise ValueError(f"kind must be 'max', 'avg' or 'l2', got {kind!r}")
    k, s = kernel_size, stride
    n, c, out_h, out_w = dout.shape
    dx = np.zeros_like(x)
    for i in range(out_h):
        for j in range(out_w):
            rows, cols = slice(i * s, i * s + k), slice(j * s, j * s + k)
            window = x[:, :, rows, cols]
            g = dout[:, :, i, j][:, :, None, None]
            # MISTAKE: = instead of +=: where windows overlap, a later window overwrites the earlier ones
            if kind == "max":
                flat = window.reshape(n, c, -1)
                mask = np.zeros_like(flat)
                np.put_along_axis(mask, flat.argmax(axis=2)[:, :, None], 1.0, axis=2)
                dx[:, :, rows, cols] = g * mask.reshape(window.shape)
            elif kind == "avg":
                dx[:, :, rows, cols] = g / (k * k) * np.ones_like(window)
            else:
                norm = np.sqrt(np.sum(window ** 2, axis=(2, 3), keepdims=True))
                safe = np.where(norm > 0, norm, 1.0)
                dx[:, :, rows, cols] = np.where(norm > 0, g * window / safe, 0.0)
    return dx


def pool2d_backward_avg_not_divided(dout, x, kernel_size, stride, kind):
    import numpy as np
    x = np.asarray(x, dtype=float)
    dout = np.asarray(dout, dtype=float)
    if kind not in ("max", "avg", "l2"):
        raise ValueError(f"kind must be 'max', 'avg' or 'l2', got {kind!r}")
    k, s = kernel_size, stride
    n, c, out_h, out_w = dout.shape
    dx = np.zeros_like(x)
    for i in range(out_h):
        for j in range(out_w):
            rows, cols = slice(i * s, i * s + k), slice(j * s, j * s + k)
            window = x[:, :, rows, cols]
            g = dout[:, :, i, j][:, :, None, None]
            if kind == "max":
                flat = window.reshape(n, c, -1)
                mask = np.zeros_like(flat)
                np.put_along_axis(mask, flat.argmax(axis=2)[:, :, None], 1.0, axis=2)
                dx[:, :, rows, cols] += g * mask.reshape(window.shape)
            elif kind == "avg":
                dx[:, :, rows, cols] += g  # MISTAKE: dout not divided by k * k
            else:
                norm = np.sqrt(np.sum(window ** 2, axis=(2, 3), keepdims=True))
                safe = np.where(norm > 0, norm, 1.0)
                dx[:, :, rows, cols] += np.where(norm > 0, g * window / safe, 0.0)
    return dx


def pool2d_backward_avg_div_k(dout, x, kernel_size, stride, kind):
    import numpy as np
    x = np.asarray(x, dtype=float)
    dout = np.asarray(dout, dtype=float)
    if kind not in ("max", "avg", "l2"):
        raise ValueError(f"kind must be 'max', 'avg' or 'l2', got {kind!r}")
    k, s = kernel_size, stride
    n, c, out_h, out_w = dout.shape
    dx = np.zeros_like(x)
    for i in range(out_h):
        for j in range(out_w):
            rows, cols = slice(i * s, i * s + k), slice(j * s, j * s + k)
            window = x[:, :, rows, cols]
            g = dout[:, :, i, j][:, :, None, None]
            if kind == "max":
                flat = window.reshape(n, c, -1)
                mask = np.zeros_like(flat)
                np.put_along_axis(mask, flat.argmax(axis=2)[:, :, None], 1.0, axis=2)
                dx[:, :, rows, cols] += g * mask.reshape(window.shape)
            elif kind == "avg":
                dx[:, :, rows, cols] += g / k  # MISTAKE: divided by k, not k * k
            else:
                norm = np.sqrt(np.sum(window ** 2, axis=(2, 3), keepdims=True))
                safe = np.where(norm > 0, norm, 1.0)
                dx[:, :, rows, cols] += np.where(norm > 0, g * window / safe, 0.0)
    return dx


def pool2d_backward_l2_nan_zero_window(dout, x, kernel_size, stride, kind):
    import numpy as np
    x = np.asarray(x, dtype=float)
    dout = np.asarray(dout, dtype=float)
    if kind not in ("max", "avg", "l2"):
        raise ValueError(f"kind must be 'max', 'avg' or 'l2', got {kind!r}")
    k, s = kernel_size, stride
    n, c, out_h, out_w = dout.shape
    dx = np.zeros_like(x)
    for i in range(out_h):
        for j in range(out_w):
            rows, cols = slice(i * s, i * s + k), slice(j * s, j * s + k)
            window = x[:, :, rows, cols]
            g = dout[:, :, i, j][:, :, None, None]
            if kind == "max":
                flat = window.reshape(n, c, -1)
                mask = np.zeros_like(flat)
                np.put_along_axis(mask, flat.argmax(axis=2)[:, :, None], 1.0, axis=2)
                dx[:, :, rows, cols] += g * mask.reshape(window.shape)
            elif kind == "avg":
                dx[:, :, rows, cols] += g / (k * k)
            else:
                norm = np.sqrt(np.sum(window ** 2, axis=(2, 3), keepdims=True))
                dx[:, :, rows, cols] += g * window / norm  # MISTAKE: 0 / 0 = nan on an all-zero window
    return dx


def pool2d_backward_l2_no_norm_division(dout, x, kernel_size, stride, kind):
    import numpy as np
    x = np.asarray(x, dtype=float)
    dout = np.asarray(dout, dtype=float)
    if kind not in ("max", "avg", "l2"):
        raise ValueError(f"kind must be 'max', 'avg' or 'l2', got {kind!r}")
    k, s = kernel_size, stride
    n, c, out_h, out_w = dout.shape
    dx = np.zeros_like(x)
    for i in range(out_h):
        for j in range(out_w):
            rows, cols = slice(i * s, i * s + k), slice(j * s, j * s + k)
            window = x[:, :, rows, cols]
            g = dout[:, :, i, j][:, :, None, None]
            if kind == "max":
                flat = window.reshape(n, c, -1)
                mask = np.zeros_like(flat)
                np.put_along_axis(mask, flat.argmax(axis=2)[:, :, None], 1.0, axis=2)
                dx[:, :, rows, cols] += g * mask.reshape(window.shape)
            elif kind == "avg":
                dx[:, :, rows, cols] += g / (k * k)
            else:
                dx[:, :, rows, cols] += g * window  # MISTAKE: not divided by the window's norm
    return dx


def pool2d_backward_l2_no_dout(dout, x, kernel_size, stride, kind):
    import numpy as np
    x = np.asarray(x, dtype=float)
    dout = np.asarray(dout, dtype=float)
    if kind not in ("max", "avg", "l2"):
        raise ValueError(f"kind must be 'max', 'avg' or 'l2', got {kind!r}")
    k, s = kernel_size, stride
    n, c, out_h, out_w = dout.shape
    dx = np.zeros_like(x)
    for i in range(out_h):
        for j in range(out_w):
            rows, cols = slice(i * s, i * s + k), slice(j * s, j * s + k)
            window = x[:, :, rows, cols]
            g = dout[:, :, i, j][:, :, None, None]
            if kind == "max":
                flat = window.reshape(n, c, -1)
                mask = np.zeros_like(flat)
                np.put_along_axis(mask, flat.argmax(axis=2)[:, :, None], 1.0, axis=2)
                dx[:, :, rows, cols] += g * mask.reshape(window.shape)
            elif kind == "avg":
                dx[:, :, rows, cols] += g / (k * k)
            else:
                norm = np.sqrt(np.sum(window ** 2, axis=(2, 3), keepdims=True))
                safe = np.where(norm > 0, norm, 1.0)
                dx[:, :, rows, cols] += np.where(norm > 0, window / safe, 0.0)  # MISTAKE: not multiplied by dout
    return dx


# --------------------------------------------------------------------------- feature_pool


def feature_pool_strided_groups(x, group_size, kind="max"):
    import numpy as np
    x = np.asarray(x, dtype=float)
    n, c, h, w = x.shape
    if c % group_size:
        raise ValueError(f"group_size={group_size} must divide the {c} channels")
    # MISTAKE: groups channels j, j + C/g, j + 2C/g, ... instead of consecutive ones
    groups = x.reshape(n, group_size, c // group_size, h, w)
    if kind == "max":
        return groups.max(axis=1)
    if kind == "l2":
        return np.sqrt(np.sum(groups ** 2, axis=1))
    raise ValueError(f"kind must be 'max' or 'l2', got {kind!r}")


def feature_pool_drops_leftover(x, group_size, kind="max"):
    import numpy as np
    x = np.asarray(x, dtype=float)
    n, c, h, w = x.shape
    # MISTAKE: no ValueError when group_size does not divide C: the leftover channels are dropped
    out = np.zeros((n, c // group_size, h, w))
    for j in range(c // group_size):
        group = x[:, j * group_size:(j + 1) * group_size]
        if kind == "max":
            out[:, j] = group.max(axis=1)
        elif kind == "l2":
            out[:, j] = np.sqrt(np.sum(group ** 2, axis=1))
        else:
            raise ValueError(f"kind must be 'max' or 'l2', got {kind!r}")
    return out


def feature_pool_l2_no_sqrt(x, group_size, kind="max"):
    import numpy as np
    x = np.asarray(x, dtype=float)
    n, c, h, w = x.shape
    if c % group_size:
        raise ValueError(f"group_size={group_size} must divide the {c} channels")
    groups = x.reshape(n, c // group_size, group_size, h, w)
    if kind == "max":
        return groups.max(axis=2)
    if kind == "l2":
        return np.sum(groups ** 2, axis=2)  # MISTAKE: the square root is missing
    raise ValueError(f"kind must be 'max' or 'l2', got {kind!r}")


def feature_pool_l2_mean(x, group_size, kind="max"):
    import numpy as np
    x = np.asarray(x, dtype=float)
    n, c, h, w = x.shape
    if c % group_size:
        raise ValueError(f"group_size={group_size} must divide the {c} channels")
    groups = x.reshape(n, c // group_size, group_size, h, w)
    if kind == "max":
        return groups.max(axis=2)
    if kind == "l2":
        return np.sqrt(np.mean(groups ** 2, axis=2))  # MISTAKE: the mean of the squares, not their sum
    raise ValueError(f"kind must be 'max' or 'l2', got {kind!r}")


# --------------------------------------------------------------------------- local_contrast_norm


def local_contrast_norm_no_mean_subtraction(x, window, eps=1e-4):
    import numpy as np
    x = np.asarray(x, dtype=float)
    window = np.asarray(window, dtype=float)
    kh, kw = window.shape
    h, w = x.shape[2:]

    def blur(z):
        zp = np.pad(z, ((0, 0), (0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)))
        out = np.zeros_like(z)
        for k in range(kh):
            for l in range(kw):
                out += window[k, l] * zp[:, :, k:k + h, l:l + w]
        return out

    weight = blur(np.ones((1, 1, h, w)))

    def local_mean(z):
        return blur(z.mean(axis=1, keepdims=True)) / weight

    v = x  # MISTAKE: the local mean is never subtracted
    return v / np.sqrt(local_mean(v ** 2) + eps)


def local_contrast_norm_per_channel(x, window, eps=1e-4):
    import numpy as np
    x = np.asarray(x, dtype=float)
    window = np.asarray(window, dtype=float)
    kh, kw = window.shape
    h, w = x.shape[2:]

    def blur(z):
        zp = np.pad(z, ((0, 0), (0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)))
        out = np.zeros_like(z)
        for k in range(kh):
            for l in range(kw):
                out += window[k, l] * zp[:, :, k:k + h, l:l + w]
        return out

    weight = blur(np.ones((1, 1, h, w)))

    def local_mean(z):
        return blur(z) / weight  # MISTAKE: no average over the channels: each map is normalised alone

    v = x - local_mean(x)
    return v / np.sqrt(local_mean(v ** 2) + eps)


def local_contrast_norm_per_channel_std(x, window, eps=1e-4):
    import numpy as np
    x = np.asarray(x, dtype=float)
    window = np.asarray(window, dtype=float)
    kh, kw = window.shape
    h, w = x.shape[2:]

    def blur(z):
        zp = np.pad(z, ((0, 0), (0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)))
        out = np.zeros_like(z)
        for k in range(kh):
            for l in range(kw):
                out += window[k, l] * zp[:, :, k:k + h, l:l + w]
        return out

    weight = blur(np.ones((1, 1, h, w)))

    def local_mean(z):
        return blur(z.mean(axis=1, keepdims=True)) / weight

    v = x - local_mean(x)
    return v / np.sqrt(blur(v ** 2) / weight + eps)  # MISTAKE: the spread is taken per channel (space only)


def local_contrast_norm_eps_outside_sqrt(x, window, eps=1e-4):
    import numpy as np
    x = np.asarray(x, dtype=float)
    window = np.asarray(window, dtype=float)
    kh, kw = window.shape
    h, w = x.shape[2:]

    def blur(z):
        zp = np.pad(z, ((0, 0), (0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)))
        out = np.zeros_like(z)
        for k in range(kh):
            for l in range(kw):
                out += window[k, l] * zp[:, :, k:k + h, l:l + w]
        return out

    weight = blur(np.ones((1, 1, h, w)))

    def local_mean(z):
        return blur(z.mean(axis=1, keepdims=True)) / weight

    v = x - local_mean(x)
    return v / (np.sqrt(local_mean(v ** 2)) + eps)  # MISTAKE: eps added after the square root


def local_contrast_norm_no_eps(x, window, eps=1e-4):
    import numpy as np
    x = np.asarray(x, dtype=float)
    window = np.asarray(window, dtype=float)
    kh, kw = window.shape
    h, w = x.shape[2:]

    def blur(z):
        zp = np.pad(z, ((0, 0), (0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)))
        out = np.zeros_like(z)
        for k in range(kh):
            for l in range(kw):
                out += window[k, l] * zp[:, :, k:k + h, l:l + w]
        return out

    weight = blur(np.ones((1, 1, h, w)))

    def local_mean(z):
        return blur(z.mean(axis=1, keepdims=True)) / weight

    v = x - local_mean(x)
    return v / np.sqrt(local_mean(v ** 2))  # MISTAKE: eps is never used (0 / 0 on flat maps)


def local_contrast_norm_no_border_renorm(x, window, eps=1e-4):
    import numpy as np
    x = np.asarray(x, dtype=float)
    window = np.asarray(window, dtype=float)
    kh, kw = window.shape
    h, w = x.shape[2:]

    def blur(z):
        zp = np.pad(z, ((0, 0), (0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)))
        out = np.zeros_like(z)
        for k in range(kh):
            for l in range(kw):
                out += window[k, l] * zp[:, :, k:k + h, l:l + w]
        return out

    def local_mean(z):
        return blur(z.mean(axis=1, keepdims=True))  # MISTAKE: not divided by the blurred all-ones image

    v = x - local_mean(x)
    return v / np.sqrt(local_mean(v ** 2) + eps)


def local_contrast_norm_variance_not_std(x, window, eps=1e-4):
    import numpy as np
    x = np.asarray(x, dtype=float)
    window = np.asarray(window, dtype=float)
    kh, kw = window.shape
    h, w = x.shape[2:]

    def blur(z):
        zp = np.pad(z, ((0, 0), (0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)))
        out = np.zeros_like(z)
        for k in range(kh):
            for l in range(kw):
                out += window[k, l] * zp[:, :, k:k + h, l:l + w]
        return out

    weight = blur(np.ones((1, 1, h, w)))

    def local_mean(z):
        return blur(z.mean(axis=1, keepdims=True)) / weight

    v = x - local_mean(x)
    return v / (local_mean(v ** 2) + eps)  # MISTAKE: divides by the variance, not the standard deviation


# --------------------------------------------------------------------------- receptive_field


def receptive_field_jump_before_rf(layers):
    rf, jump, rows = 1, 1, []
    for kernel_size, stride in layers:
        jump = jump * stride  # MISTAKE: the jump is updated first, so this layer's own stride is used
        rf = rf + (kernel_size - 1) * jump
        rows.append((rf, jump))
    return rows


def receptive_field_k_not_k_minus_1(layers):
    rf, jump, rows = 1, 1, []
    for kernel_size, stride in layers:
        rf = rf + kernel_size * jump  # MISTAKE: k instead of k - 1
        jump = jump * stride
        rows.append((rf, jump))
    return rows


def receptive_field_ignores_jump(layers):
    rf, jump, rows = 1, 1, []
    for kernel_size, stride in layers:
        rf = rf + (kernel_size - 1)  # MISTAKE: not multiplied by the jump (earlier strides ignored)
        jump = jump * stride
        rows.append((rf, jump))
    return rows


def receptive_field_starts_at_zero(layers):
    rf, jump, rows = 0, 1, []  # MISTAKE: the input's receptive field is 1 pixel, not 0
    for kernel_size, stride in layers:
        rf = rf + (kernel_size - 1) * jump
        jump = jump * stride
        rows.append((rf, jump))
    return rows


def receptive_field_only_last(layers):
    rf, jump = 1, 1
    for kernel_size, stride in layers:
        rf = rf + (kernel_size - 1) * jump
        jump = jump * stride
    return (rf, jump)  # MISTAKE: only the last layer's (rf, jump), not one pair per layer


# --------------------------------------------------------------------------- shift_experiment


def shift_experiment_wrong_axis(maps, shift=1, kernel_size=3):
    import numpy as np
    maps = np.asarray(maps, dtype=float)
    shifted = np.zeros_like(maps)
    shifted[..., shift:, :] = maps[..., :maps.shape[-2] - shift, :]  # MISTAKE: moves the maps down, not right

    def max_pool(z):
        oh, ow = z.shape[-2] - kernel_size + 1, z.shape[-1] - kernel_size + 1
        out = np.zeros(z.shape[:-2] + (oh, ow))
        for i in range(oh):
            for j in range(ow):
                out[..., i, j] = z[..., i:i + kernel_size, j:j + kernel_size].max(axis=(-2, -1))
        return out

    detector_same = np.mean(np.isclose(maps, shifted))
    pooled_same = np.mean(np.isclose(max_pool(maps), max_pool(shifted)))
    return float(detector_same), float(pooled_same)


def shift_experiment_wrong_direction(maps, shift=1, kernel_size=3):
    import numpy as np
    maps = np.asarray(maps, dtype=float)
    shifted = np.zeros_like(maps)
    shifted[..., :maps.shape[-1] - shift] = maps[..., shift:]  # MISTAKE: moves the maps left, not right

    def max_pool(z):
        oh, ow = z.shape[-2] - kernel_size + 1, z.shape[-1] - kernel_size + 1
        out = np.zeros(z.shape[:-2] + (oh, ow))
        for i in range(oh):
            for j in range(ow):
                out[..., i, j] = z[..., i:i + kernel_size, j:j + kernel_size].max(axis=(-2, -1))
        return out

    detector_same = np.mean(np.isclose(maps, shifted))
    pooled_same = np.mean(np.isclose(max_pool(maps), max_pool(shifted)))
    return float(detector_same), float(pooled_same)


def shift_experiment_wraps_around(maps, shift=1, kernel_size=3):
    import numpy as np
    maps = np.asarray(maps, dtype=float)
    shifted = np.roll(maps, shift, axis=-1)  # MISTAKE: the columns that fall off re-enter on the left (no zeros)

    def max_pool(z):
        oh, ow = z.shape[-2] - kernel_size + 1, z.shape[-1] - kernel_size + 1
        out = np.zeros(z.shape[:-2] + (oh, ow))
        for i in range(oh):
            for j in range(ow):
                out[..., i, j] = z[..., i:i + kernel_size, j:j + kernel_size].max(axis=(-2, -1))
        return out

    detector_same = np.mean(np.isclose(maps, shifted))
    pooled_same = np.mean(np.isclose(max_pool(maps), max_pool(shifted)))
    return float(detector_same), float(pooled_same)


def shift_experiment_pool_stride_k(maps, shift=1, kernel_size=3):
    import numpy as np
    maps = np.asarray(maps, dtype=float)
    shifted = np.zeros_like(maps)
    shifted[..., shift:] = maps[..., :maps.shape[-1] - shift]

    def max_pool(z):  # MISTAKE: pools with stride kernel_size instead of stride 1
        s = kernel_size
        oh, ow = (z.shape[-2] - kernel_size) // s + 1, (z.shape[-1] - kernel_size) // s + 1
        out = np.zeros(z.shape[:-2] + (oh, ow))
        for i in range(oh):
            for j in range(ow):
                out[..., i, j] = z[..., i * s:i * s + kernel_size, j * s:j * s + kernel_size].max(axis=(-2, -1))
        return out

    detector_same = np.mean(np.isclose(maps, shifted))
    pooled_same = np.mean(np.isclose(max_pool(maps), max_pool(shifted)))
    return float(detector_same), float(pooled_same)


def shift_experiment_swapped_order(maps, shift=1, kernel_size=3):
    import numpy as np
    maps = np.asarray(maps, dtype=float)
    shifted = np.zeros_like(maps)
    shifted[..., shift:] = maps[..., :maps.shape[-1] - shift]

    def max_pool(z):
        oh, ow = z.shape[-2] - kernel_size + 1, z.shape[-1] - kernel_size + 1
        out = np.zeros(z.shape[:-2] + (oh, ow))
        for i in range(oh):
            for j in range(ow):
                out[..., i, j] = z[..., i:i + kernel_size, j:j + kernel_size].max(axis=(-2, -1))
        return out

    detector_same = np.mean(np.isclose(maps, shifted))
    pooled_same = np.mean(np.isclose(max_pool(maps), max_pool(shifted)))
    return float(pooled_same), float(detector_same)  # MISTAKE: (pooled, detector) instead of (detector, pooled)


# --------------------------------------------------------------------------- the catalogue

def _m(id_: str, title: str, where: tuple[str, str], mutant, what: str = "") -> Mutant:
    return Mutant(id_, id_.split(".")[0], A2, title, lecture(where, what), mutant)


MISTAKES_A2 = [
    _m("pool2d.h_over_s", "output size computed as h // s instead of (h - k) // s + 1", L03_POOL, pool2d_h_over_s,
       "output size"),
    _m("pool2d.stride_ignored", "the windows move by kernel_size whatever the stride (overlapping windows "
       "are missed)", L03_POOL, pool2d_stride_ignored, "windows, stride"),
    _m("pool2d.avg_div_k", "average pooling divides by k instead of k * k (the number of values in the "
       "window)", L03_POOL, pool2d_avg_div_k, "1/K times the sum over the K values"),
    _m("pool2d.avg_sum", "average pooling returns the window's sum, not its mean", L03_POOL, pool2d_avg_sum,
       "1/K times the sum over the K values"),
    _m("pool2d.l2_no_sqrt", "L2 pooling without the square root (the sum of squares)", L03_POOL,
       pool2d_l2_no_sqrt, "L2 pooling"),
    _m("pool2d.l2_mean", "L2 pooling takes the mean of the squares instead of their sum", L03_POOL,
       pool2d_l2_mean, "L2 pooling"),
    _m("pool2d.min_instead_of_max", "max pooling picks the window's element with argmin (the smallest) "
       "instead of argmax", L03_POOL, pool2d_min_instead_of_max, "max pooling"),
    _m("pool2d.max_all_channels", "max pooling takes one maximum over the whole batch and all channels "
       "(window.max() without axis=(2, 3))", L03_POOL, pool2d_max_all_channels, "per channel"),

    _m("pool2d_backward.max_all_ties", "max backward sends the gradient to every tied maximum (only the first, "
       "in reading order, must get it)", L07_CHAIN, pool2d_backward_max_all_ties,
       "the gradient follows the one input that produced the output"),
    _m("pool2d_backward.max_last_tie", "max backward sends the gradient to the last tied maximum (the first, "
       "in reading order, must get it)", L07_CHAIN, pool2d_backward_max_last_tie,
       "the gradient follows the one input that produced the output"),
    _m("pool2d_backward.overwrite", "overlapping windows overwrite each other's gradient (= instead of +=)",
       L07_CHAIN, pool2d_backward_overwrite, "an input used by several outputs adds up their gradients"),
    _m("pool2d_backward.avg_not_divided", "average backward does not divide dout by k * k", L03_POOL,
       pool2d_backward_avg_not_divided, "average pooling is 1/K times a sum"),
    _m("pool2d_backward.avg_div_k", "average backward divides dout by k instead of k * k", L03_POOL,
       pool2d_backward_avg_div_k, "average pooling is 1/K times a sum"),
    _m("pool2d_backward.l2_nan_zero_window", "L2 backward gives nan on an all-zero window (0 / 0; it must be "
       "0 there)", L03_POOL, pool2d_backward_l2_nan_zero_window, "L2 pooling"),
    _m("pool2d_backward.l2_no_norm_division", "L2 backward is missing the division by the window's norm "
       "(d||h|| / dh = h / ||h||)", L03_POOL, pool2d_backward_l2_no_norm_division, "L2 pooling"),
    _m("pool2d_backward.l2_no_dout", "L2 backward returns h / ||h|| without multiplying by dout", L07_CHAIN,
       pool2d_backward_l2_no_dout, "each local derivative is multiplied by the gradient from above"),

    _m("feature_pool.strided_groups", "groups channels j, j + C/g, ... (strided) instead of consecutive "
       "channels", L03_L2FEAT, feature_pool_strided_groups, "a group of filters"),
    _m("feature_pool.drops_leftover", "no ValueError when group_size does not divide the channels: the "
       "leftover channels are silently dropped", L03_L2FEAT, feature_pool_drops_leftover),
    _m("feature_pool.l2_no_sqrt", "L2 pooling over features without the square root", L03_L2FEAT,
       feature_pool_l2_no_sqrt),
    _m("feature_pool.l2_mean", "L2 pooling over features takes the mean of the squares instead of their sum",
       L03_L2FEAT, feature_pool_l2_mean),

    _m("local_contrast_norm.no_mean_subtraction", "the local mean is never subtracted (only the divisive "
       "step)", L04_LCN, local_contrast_norm_no_mean_subtraction, "subtractive step"),
    _m("local_contrast_norm.per_channel", "mean and spread are taken per channel (over space only), not "
       "across all feature maps", L04_LCN, local_contrast_norm_per_channel, "the window spans all channels"),
    _m("local_contrast_norm.per_channel_std", "the standard deviation is taken per channel (over space only), "
       "not across all feature maps", L04_LCN, local_contrast_norm_per_channel_std,
       "the window spans all channels"),
    _m("local_contrast_norm.eps_outside_sqrt", "eps is added after the square root, not under it", L04_LCN,
       local_contrast_norm_eps_outside_sqrt, "eps under the square root"),
    _m("local_contrast_norm.no_eps", "eps is ignored: flat maps give 0 / 0 = nan", L04_LCN,
       local_contrast_norm_no_eps, "eps under the square root"),
    _m("local_contrast_norm.no_border_renorm", "near the border the local mean is not divided by the blurred "
       "all-ones image", L04_LCN, local_contrast_norm_no_border_renorm, "a Gaussian-weighted mean"),
    _m("local_contrast_norm.variance_not_std", "divides by the local variance instead of the standard "
       "deviation (square root missing)", L04_LCN, local_contrast_norm_variance_not_std, "divisive step"),

    _m("receptive_field.jump_before_rf", "the jump is multiplied by the layer's stride before the receptive "
       "field is updated (a layer's stride only affects the layers after it)", L03_RF,
       receptive_field_jump_before_rf, "the stride multiplies the jump of the next layers"),
    _m("receptive_field.k_not_k_minus_1", "rf grows by k * jump instead of (k - 1) * jump (off by one)",
       L03_RF, receptive_field_k_not_k_minus_1, "P + K - 1"),
    _m("receptive_field.ignores_jump", "rf grows by k - 1 whatever the earlier strides (not times the jump)",
       L01_RF, receptive_field_ignores_jump, "a downsampling layer doubles the jump"),
    _m("receptive_field.starts_at_zero", "starts from rf = 0; one input pixel sees itself, rf = 1", L03_RF,
       receptive_field_starts_at_zero, "P + K - 1"),
    _m("receptive_field.only_last", "returns only the last (rf, jump) instead of one pair per layer", L01_RF,
       receptive_field_only_last),

    _m("shift_experiment.wrong_axis", "the maps are shifted down (axis -2) instead of right (the last axis)",
       L03_SHIFT, shift_experiment_wrong_axis),
    _m("shift_experiment.wrong_direction", "the maps are shifted left instead of right", L03_SHIFT,
       shift_experiment_wrong_direction),
    _m("shift_experiment.wraps_around", "np.roll wraps the last columns around to the left instead of "
       "filling with zeros", L03_SHIFT, shift_experiment_wraps_around),
    _m("shift_experiment.pool_stride_k", "max pooling with stride kernel_size instead of stride 1", L03_SHIFT,
       shift_experiment_pool_stride_k, "width 3, stride 1"),
    _m("shift_experiment.swapped_order", "returns (pooled_same, detector_same) instead of (detector_same, "
       "pooled_same)", L03_SHIFT, shift_experiment_swapped_order),
]
