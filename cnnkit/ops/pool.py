"""Pooling in numpy: max, average and L_p pooling over space, and pooling across features.

The lecture's formulas, per channel, over a window ``N(x, y)``:

* max pooling      ``h(x, y) = max_{N(x,y)} h'``
* average pooling  ``h(x, y) = 1/K sum_{N(x,y)} h'``
* L2 pooling       ``h(x, y) = sqrt(sum_{N(x,y)} h'^2)`` (:func:`lp_pool2d` with ``norm_type=2``)
* L2 pooling over features (and maxout): :func:`feature_pool`.

Arguments follow ``torch.nn.functional`` (``kernel_size``, ``stride=None`` meaning
``kernel_size``, ``padding``, ``ceil_mode``) and the results agree with it.

Convention (as everywhere in :mod:`cnnkit.ops`): a forward returns the pooled array; with
``return_cache=True`` it returns ``(out, cache)`` and ``*_backward(dout, cache)`` returns
``dx``. The fast versions loop over the ``kH * kW`` offsets of the window, each a strided
slice of the whole batch; :func:`pool2d_naive` loops over every output value, to be read.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._geometry import AXES, check_bool, check_choice, check_int, check_real, pool_out_len, pool_window
from ._args import as_float_array

__all__ = [
    "PoolCache", "FeaturePoolCache",
    "max_pool2d", "max_pool2d_backward",
    "avg_pool2d", "avg_pool2d_backward",
    "lp_pool2d", "lp_pool2d_backward",
    "pool2d_naive",
    "feature_pool", "feature_pool_backward",
]

POOL_KINDS = ("max", "avg", "lp")
FEATURE_POOL_KINDS = ("max", "l2", "avg")


@dataclass(frozen=True)
class _Geometry:
    """Where the pooling windows lie: sizes, the padding and the padded array's size."""

    x_shape: tuple[int, int, int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    out_hw: tuple[int, int]
    padded_hw: tuple[int, int]   # input + padding on both sides + the ceil-mode overhang

    def window(self, i: int, j: int) -> tuple[slice, slice]:
        """The strided slices of the padded input that kernel offset (i, j) sees, one per output."""
        (sh, sw), (oh, ow) = self.stride, self.out_hw
        return slice(i, i + sh * (oh - 1) + 1, sh), slice(j, j + sw * (ow - 1) + 1, sw)

    def offsets(self):
        return ((i, j) for i in range(self.kernel[0]) for j in range(self.kernel[1]))

    def pad(self, x: np.ndarray, fill: float) -> np.ndarray:
        (ph, pw), (hp, wp) = self.padding, self.padded_hw
        h, w = x.shape[2:]
        if (hp, wp) == (h, w):
            return x
        xp = np.full(x.shape[:2] + (hp, wp), fill, dtype=x.dtype)
        xp[:, :, ph:ph + h, pw:pw + w] = x
        return xp

    def crop(self, xp: np.ndarray) -> np.ndarray:
        (ph, pw), (h, w) = self.padding, self.x_shape[2:]
        return xp[:, :, ph:ph + h, pw:pw + w]


@dataclass(frozen=True)
class PoolCache:
    """What a pooling backward needs from its forward."""

    kind: str
    geometry: _Geometry
    dtype: np.dtype
    argmax: np.ndarray | None = None     # max: which window offset won, per output
    divisor: np.ndarray | None = None    # avg: (out_h, out_w) divisor per output
    x: np.ndarray | None = None          # lp: the input ...
    out: np.ndarray | None = None        # ... and the output
    norm_type: float | None = None


def _geometry(x: np.ndarray, kernel_size: Any, stride: Any, padding: Any, ceil_mode: Any) -> _Geometry:
    k, s, p = pool_window(kernel_size, stride, padding)
    ceil_mode = check_bool(ceil_mode, "ceil_mode")
    out_hw = []
    padded = []
    for axis, size in enumerate(x.shape[2:]):
        o = pool_out_len(size, k[axis], s[axis], p[axis], ceil_mode, where=f" (along the {AXES[axis]})")
        out_hw.append(o)
        padded.append(max(size + 2 * p[axis], (o - 1) * s[axis] + k[axis]))
    return _Geometry(tuple(x.shape), k, s, p, tuple(out_hw), tuple(padded))


def _pool_input(x: Any) -> np.ndarray:
    return as_float_array(x, "x", ndim=4)


def _dout(dout: Any, cache: PoolCache, kind: str) -> np.ndarray:
    """Check a backward's ``dout`` and ``cache`` (from the matching forward); return dout in its dtype."""
    if not isinstance(cache, PoolCache) or cache.kind != kind:
        got = f"a {cache.kind!r} PoolCache" if isinstance(cache, PoolCache) else type(cache).__name__
        raise TypeError(f"cache must be the PoolCache that the {kind} pooling forward returned with "
                        f"return_cache=True, got {got}")
    shape = cache.geometry.x_shape[:2] + cache.geometry.out_hw
    dout = as_float_array(dout, "dout", ndim=4)
    if dout.shape != shape:
        raise ValueError(f"dout must have the forward output's shape {shape}, got {dout.shape}")
    return dout.astype(cache.dtype, copy=False)


def _scatter(values: np.ndarray, g: _Geometry) -> np.ndarray:
    """Add ``values[n, c, i, j]`` to every input position of window (i, j); return the input-sized sum."""
    dxp = np.zeros(g.x_shape[:2] + g.padded_hw, dtype=values.dtype)
    for i, j in g.offsets():
        dxp[(Ellipsis, *g.window(i, j))] += values
    return g.crop(dxp)


# --------------------------------------------------------------------------- max

def max_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, return_cache: bool = False) -> np.ndarray | tuple[np.ndarray, PoolCache]:
    """Max over each ``kernel_size`` window of every channel (padding counts as -inf).

    Returns ``out`` of shape ``(N, C, out_h, out_w)``, or ``(out, cache)`` with
    ``return_cache=True``; the cache remembers which element of each window won (the
    first one on ties, like PyTorch), because only that element gets a gradient.
    """
    x = _pool_input(x)
    g = _geometry(x, kernel_size, stride, padding, ceil_mode)
    xp = g.pad(x, -np.inf)
    windows = [xp[(Ellipsis, *g.window(i, j))] for i, j in g.offsets()]    # strided views, no copies
    out = windows[0].copy()
    for candidate in windows[1:]:
        np.maximum(out, candidate, out=out)
    if not return_cache:
        return out
    # Which offset won: walking the offsets backwards, the last match written is the first maximum.
    argmax = np.zeros(out.shape, dtype=np.min_scalar_type(len(windows) - 1))
    for idx in range(len(windows) - 1, -1, -1):
        np.copyto(argmax, idx, where=windows[idx] == out)
    return out, PoolCache("max", g, x.dtype, argmax=argmax)


def max_pool2d_backward(dout: Any, cache: PoolCache) -> np.ndarray:
    """Gradient of :func:`max_pool2d`: each output's gradient goes to the element that won."""
    dout = _dout(dout, cache, "max")
    g = cache.geometry
    dxp = np.zeros(g.x_shape[:2] + g.padded_hw, dtype=dout.dtype)
    overlapping = g.stride[0] < g.kernel[0] or g.stride[1] < g.kernel[1]
    for idx, (i, j) in enumerate(g.offsets()):
        target = dxp[(Ellipsis, *g.window(i, j))]
        if overlapping:                       # an input may win several windows: gradients add up
            target += np.where(cache.argmax == idx, dout, 0)
        else:                                 # each input lies in one window at most: write in place
            np.multiply(dout, cache.argmax == idx, out=target)
    return g.crop(dxp)


# --------------------------------------------------------------------------- average

def _avg_divisor(g: _Geometry, count_include_pad: bool) -> np.ndarray:
    """How many elements each window averages, PyTorch's rule: padding counts if
    ``count_include_pad``, the ceil-mode overhang beyond the padding never does."""
    lengths = []
    for axis in range(2):
        size, k, s, p = g.x_shape[2 + axis], g.kernel[axis], g.stride[axis], g.padding[axis]
        start = np.arange(g.out_hw[axis]) * s - p
        end = np.minimum(start + k, size + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, size)
        lengths.append(end - start)
    return np.outer(lengths[0], lengths[1])


def avg_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True,
               return_cache: bool = False) -> np.ndarray | tuple[np.ndarray, PoolCache]:
    """Mean over each window (zero padding, counted in the mean unless ``count_include_pad=False``).

    Returns ``out``, or ``(out, cache)`` with ``return_cache=True``.
    """
    x = _pool_input(x)
    g = _geometry(x, kernel_size, stride, padding, ceil_mode)
    count_include_pad = check_bool(count_include_pad, "count_include_pad")
    xp = g.pad(x, 0.0)
    total = np.zeros(g.x_shape[:2] + g.out_hw, dtype=x.dtype)
    for i, j in g.offsets():
        total += xp[(Ellipsis, *g.window(i, j))]
    divisor = _avg_divisor(g, count_include_pad).astype(x.dtype)
    out = total / divisor
    if not return_cache:
        return out
    return out, PoolCache("avg", g, x.dtype, divisor=divisor)


def avg_pool2d_backward(dout: Any, cache: PoolCache) -> np.ndarray:
    """Gradient of :func:`avg_pool2d`: each output spreads ``dout / divisor`` over its window."""
    dout = _dout(dout, cache, "avg")
    return _scatter(dout / cache.divisor, cache.geometry)


# --------------------------------------------------------------------------- L_p

def lp_pool2d(x: Any, norm_type: float, kernel_size: Any, stride: Any = None, padding: Any = 0,
              ceil_mode: bool = False, return_cache: bool = False) -> np.ndarray | tuple[np.ndarray, PoolCache]:
    """L_p norm of each window: ``(sum |x|^p) ** (1/p)``; ``norm_type=2`` is the lecture's L2 pooling.

    Argument order follows ``torch.nn.functional.lp_pool2d(input, norm_type, kernel_size, ...)``.
    Padding and the ceil-mode overhang contribute zeros. (PyTorch has no padding here, uses
    ``x^p`` rather than ``|x|^p`` -- the same for even p -- and in ceil mode rescales windows
    that hang over the edge; this version is the plain norm of the elements present.)
    """
    x = _pool_input(x)
    p = check_real(norm_type, "norm_type", minimum=1.0)
    g = _geometry(x, kernel_size, stride, padding, ceil_mode)
    powered = g.pad(np.abs(x) ** p, 0.0)
    total = np.zeros(g.x_shape[:2] + g.out_hw, dtype=x.dtype)
    for i, j in g.offsets():
        total += powered[(Ellipsis, *g.window(i, j))]
    out = np.sqrt(total) if p == 2.0 else total ** (1.0 / p)
    if not return_cache:
        return out
    return out, PoolCache("lp", g, x.dtype, x=x, out=out, norm_type=p)


def lp_pool2d_backward(dout: Any, cache: PoolCache) -> np.ndarray:
    """Gradient of :func:`lp_pool2d`: ``d out / d x = (|x| / out)^(p-1) * sign(x)`` per window.

    Where a window is all zeros (``out == 0``) the gradient is taken as 0.
    """
    dout = _dout(dout, cache, "lp")
    p, x, out = cache.norm_type, cache.x, cache.out
    safe = np.where(out > 0, out, 1.0)
    per_window = np.where(out > 0, dout * safe ** (1.0 - p), 0.0)
    gathered = _scatter(per_window, cache.geometry)
    if p == 2.0:
        return gathered * x
    return gathered * np.abs(x) ** (p - 1.0) * np.sign(x)


# --------------------------------------------------------------------------- readable

def pool2d_naive(x: Any, kind: str, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, norm_type: float = 2.0, count_include_pad: bool = True) -> np.ndarray:
    """Pooling written as loops over every output, to be read: same results as the fast ops.

    ``kind`` is ``"max"``, ``"avg"`` or ``"lp"``. Each output looks at the part of its window
    that lies on the input (padding adds nothing to a max or a sum).
    """
    check_choice(kind, "kind", POOL_KINDS)
    x = _pool_input(x)
    g = _geometry(x, kernel_size, stride, padding, ceil_mode)
    p = check_real(norm_type, "norm_type", minimum=1.0)
    count_include_pad = check_bool(count_include_pad, "count_include_pad")
    n_batch, channels, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (out_h, out_w) = g.kernel, g.stride, g.padding, g.out_hw
    out = np.zeros((n_batch, channels, out_h, out_w), dtype=x.dtype)
    for n in range(n_batch):
        for c in range(channels):
            for i in range(out_h):
                for j in range(out_w):
                    top, left = i * sh - ph, j * sw - pw            # window corner, input coordinates
                    rows = slice(max(top, 0), min(top + kh, h))
                    cols = slice(max(left, 0), min(left + kw, w))
                    window = x[n, c, rows, cols]
                    if kind == "max":
                        out[n, c, i, j] = window.max()
                    elif kind == "lp":
                        out[n, c, i, j] = np.sum(np.abs(window) ** p) ** (1 / p)
                    else:
                        if count_include_pad:                       # padding counts, overhang doesn't
                            count = (min(top + kh, h + ph) - top) * (min(left + kw, w + pw) - left)
                        else:
                            count = window.size
                        out[n, c, i, j] = window.sum() / count
    return out


# --------------------------------------------------------------------------- across features

def feature_pool(x: Any, group_size: int, kind: str = "max",
                 return_cache: bool = False) -> np.ndarray | tuple[np.ndarray, FeaturePoolCache]:
    """Pool across channels: consecutive groups of ``group_size`` channels become one.

    ``kind="max"`` is maxout, ``"l2"`` the lecture's "L2 pooling over features"
    ``sqrt(sum_{k in N(j)} h_k^2)``, ``"avg"`` their mean. ``(N, C, H, W) -> (N, C/group_size, H, W)``.
    Returns ``out``, or ``(out, cache)`` with ``return_cache=True``.
    """
    x = _pool_input(x)
    group_size = check_int(group_size, "group_size", minimum=1)
    check_choice(kind, "kind", FEATURE_POOL_KINDS)
    n, c, h, w = x.shape
    if c % group_size:
        raise ValueError(f"group_size={group_size} must divide the number of channels C={c}")
    grouped = x.reshape(n, c // group_size, group_size, h, w)
    argmax = None
    if kind == "max":
        argmax = grouped.argmax(axis=2)
        out = np.take_along_axis(grouped, argmax[:, :, None], axis=2)[:, :, 0]
    elif kind == "l2":
        out = np.sqrt(np.sum(grouped * grouped, axis=2))
    else:
        out = grouped.mean(axis=2)
    if not return_cache:
        return out
    return out, FeaturePoolCache(kind, group_size, x.dtype, x=x, out=out, argmax=argmax)


@dataclass(frozen=True)
class FeaturePoolCache:
    """What :func:`feature_pool_backward` needs from its forward."""

    kind: str
    group_size: int
    dtype: np.dtype
    x: np.ndarray
    out: np.ndarray
    argmax: np.ndarray | None


def feature_pool_backward(dout: Any, cache: FeaturePoolCache) -> np.ndarray:
    """Gradient of :func:`feature_pool` with respect to ``x``."""
    if not isinstance(cache, FeaturePoolCache):
        raise TypeError(f"cache must be the cache feature_pool returned with return_cache=True, "
                        f"got {type(cache).__name__}")
    dout = as_float_array(dout, "dout", ndim=4)
    if dout.shape != cache.out.shape:
        raise ValueError(f"dout must have the forward output's shape {cache.out.shape}, got {dout.shape}")
    dout = dout.astype(cache.dtype, copy=False)
    n, c, h, w = cache.x.shape
    k = cache.group_size
    grouped = cache.x.reshape(n, c // k, k, h, w)
    if cache.kind == "max":
        dx = np.zeros_like(grouped)
        np.put_along_axis(dx, cache.argmax[:, :, None], dout[:, :, None], axis=2)
    elif cache.kind == "l2":
        safe = np.where(cache.out > 0, cache.out, 1.0)
        dx = grouped * np.where(cache.out > 0, dout / safe, 0.0)[:, :, None]
    else:
        dx = np.broadcast_to((dout / k)[:, :, None], grouped.shape).copy()
    return dx.reshape(n, c, h, w)
