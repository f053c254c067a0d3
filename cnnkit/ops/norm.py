"""Local contrast normalization (Jarrett et al. 2009; the lecture's LCN slide).

    h'(x, y) = (h(x, y) - m(N(x, y))) / sigma(N(x, y))

``m`` and ``sigma^2`` are a Gaussian-weighted mean and variance over the neighbourhood
``N(x, y)`` -- spatial, and with ``across_channels=True`` over all feature maps too, so the
same mean and spread normalise every channel at a position. Two steps:

1. subtractive: ``v = h - m(h)``           (removes the local brightness)
2. divisive:    ``h' = v / sqrt(m(v^2) + eps)``  (removes the local contrast)

Near the border the window is cut by the image edge; the weights that remain are
renormalised to sum to 1 (dividing by the blurred all-ones image), so borders are not
darkened by the zero padding.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._geometry import check_bool, check_int, check_real
from ._args import as_float_array

__all__ = ["local_contrast_norm", "local_contrast_norm_backward", "LCNCache", "gaussian_window_1d"]


def gaussian_window_1d(size: int, sigma: float) -> np.ndarray:
    """Normalised 1-D Gaussian of odd length ``size``; the 2-D window is its outer product."""
    r = np.arange(size) - (size - 1) / 2
    g = np.exp(-r ** 2 / (2 * sigma ** 2))
    return g / g.sum()


def _blur(z: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Correlate every map of ``z`` (..., H, W) with ``outer(g, g)``, zero padding, same size.

    The Gaussian is separable, so two 1-D passes (rows, then columns) do the 2-D work. The
    window is symmetric, so this operator is its own adjoint -- the backward uses it too.
    """
    half = len(g) // 2
    h, w = z.shape[-2:]
    pad = [(0, 0)] * (z.ndim - 2)
    zp = np.pad(z, pad + [(half, half), (0, 0)])
    rows = sum(g[k] * zp[..., k:k + h, :] for k in range(len(g)))
    rp = np.pad(rows, pad + [(0, 0), (half, half)])
    return sum(g[k] * rp[..., :, k:k + w] for k in range(len(g)))


@dataclass(frozen=True)
class LCNCache:
    """What :func:`local_contrast_norm_backward` needs from the forward."""

    g: np.ndarray            # the 1-D Gaussian
    weight_sum: np.ndarray   # (H, W): how much window weight lies on the image at each position
    across_channels: bool
    v: np.ndarray            # x minus its local mean
    den: np.ndarray          # sqrt(local variance + eps)


class _LocalMean:
    """The linear map z -> Gaussian-weighted local mean of z, and its adjoint (for backward)."""

    def __init__(self, g: np.ndarray, weight_sum: np.ndarray, across_channels: bool):
        self.g, self.weight_sum, self.across = g, weight_sum, across_channels

    def __call__(self, z: np.ndarray) -> np.ndarray:
        if self.across:
            z = z.mean(axis=1, keepdims=True)
        return _blur(z, self.g) / self.weight_sum

    def adjoint(self, grad: np.ndarray, channels: int) -> np.ndarray:
        r = _blur(grad / self.weight_sum, self.g)
        if self.across:
            r = np.broadcast_to(r / channels, (r.shape[0], channels) + r.shape[2:])
        return r


def local_contrast_norm(x: Any, size: int = 9, sigma: float | None = None, eps: float = 1e-4,
                        across_channels: bool = True,
                        return_cache: bool = False) -> np.ndarray | tuple[np.ndarray, LCNCache]:
    """Subtract the local mean and divide by the local standard deviation (see the module doc).

    ``x`` is ``(N, C, H, W)``; ``size`` (odd) is the Gaussian window's width and ``sigma`` its
    spread (None: ``size / 4``); ``eps`` is added to the variance so flat regions do not
    divide by zero. Returns ``out`` (same shape), or ``(out, cache)`` with ``return_cache=True``.
    """
    x = as_float_array(x, "x", ndim=4)
    size = check_int(size, "size", minimum=1)
    if size % 2 == 0:
        raise ValueError(f"size must be odd so the window has a centre, got {size}")
    sigma = size / 4 if sigma is None else check_real(sigma, "sigma", positive=True)
    eps = check_real(eps, "eps", positive=True)
    across_channels = check_bool(across_channels, "across_channels")
    g = gaussian_window_1d(size, sigma).astype(x.dtype)
    weight_sum = _blur(np.ones(x.shape[2:], dtype=x.dtype), g)
    mean = _LocalMean(g, weight_sum, across_channels)
    v = x - mean(x)                                   # subtractive step
    den = np.sqrt(mean(v * v) + eps)                  # local standard deviation
    out = v / den                                     # divisive step
    if not return_cache:
        return out
    return out, LCNCache(g, weight_sum, across_channels, v, den)


def local_contrast_norm_backward(dout: Any, cache: LCNCache) -> np.ndarray:
    """Gradient of :func:`local_contrast_norm` with respect to ``x``.

    Backwards through ``out = v / den``, ``den = sqrt(mean(v^2) + eps)``, ``v = x - mean(x)``,
    where ``mean`` is linear, so its backward is its adjoint.
    """
    if not isinstance(cache, LCNCache):
        raise TypeError(f"cache must be the LCNCache local_contrast_norm returned with return_cache=True, "
                        f"got {type(cache).__name__}")
    v, den = cache.v, cache.den
    dout = as_float_array(dout, "dout", ndim=4)
    if dout.shape != v.shape:
        raise ValueError(f"dout must have the forward output's shape {v.shape}, got {dout.shape}")
    dout = dout.astype(v.dtype, copy=False)
    channels = v.shape[1]
    mean = _LocalMean(cache.g, cache.weight_sum, cache.across_channels)
    reduce = (lambda a: a.sum(axis=1, keepdims=True)) if cache.across_channels else (lambda a: a)
    dv = dout / den
    dden = reduce(-dout * v / den ** 2)
    dvar = dden / (2 * den)                           # d sqrt(s) / ds = 1 / (2 sqrt(s))
    dv = dv + 2 * v * mean.adjoint(dvar, channels)    # through mean(v^2)
    return dv - mean.adjoint(reduce(dv), channels)    # through v = x - mean(x)
