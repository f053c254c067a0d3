"""Batch normalization (Ioffe & Szegedy 2015) and global average pooling, in numpy.

Batch normalization, per channel ``c`` (``x`` is ``(N, C, H, W)``, or ``(N, D)`` with the
features as channels), over the ``m = N*H*W`` values of that channel in the batch::

    mu      = 1/m sum x                       (batch mean)
    var     = 1/m sum (x - mu)^2              (biased batch variance: used to normalise)
    x_hat   = (x - mu) / sqrt(var + eps)
    out     = gamma * x_hat + beta

PyTorch's semantics (``torch.nn.functional.batch_norm``):

* ``training=True`` normalises with the batch statistics and, when running estimates are
  given, updates them **in place** (the one side effect in :mod:`cnnkit.ops`, as in PyTorch)::

      running_mean = (1 - momentum) * running_mean + momentum * mu
      running_var  = (1 - momentum) * running_var  + momentum * var * m / (m - 1)

  (the running variance takes the *unbiased* estimate; ``momentum`` is the weight of the new
  batch, 0.1 by default -- the opposite of the "decay" some other libraries call momentum).
* ``training=False`` normalises with the running estimates instead, which must be given.

Global average pooling, the last spatial layer of GoogLeNet and ResNet: the mean of every
map, ``(N, C, H, W) -> (N, C)`` (``keepdims=True``: ``(N, C, 1, 1)``).

Convention (as everywhere in :mod:`cnnkit.ops`): with ``return_cache=True`` a forward returns
``(out, cache)``, and ``*_backward(dout, cache)`` returns the gradients in the order of the
forward's inputs: ``(dx, dgamma, dbeta)`` for batch normalization, ``dx`` for the pooling.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._geometry import check_bool, check_real
from ._args import as_float_array

__all__ = [
    "BatchNormCache", "GlobalAvgPoolCache",
    "batch_norm", "batch_norm_backward",
    "global_avg_pool", "global_avg_pool_backward",
]


@dataclass(frozen=True)
class BatchNormCache:
    """What :func:`batch_norm_backward` needs from the forward."""

    x_hat: np.ndarray        # the normalised input, same shape as x
    inv_std: np.ndarray      # 1 / sqrt(var + eps) per channel, shaped to broadcast against x
    gamma: np.ndarray        # the scale, shaped to broadcast against x
    axes: tuple[int, ...]    # the axes a channel's statistics run over (all but axis 1)
    training: bool           # batch statistics (they depend on x) or running ones (constants)


@dataclass(frozen=True)
class GlobalAvgPoolCache:
    """What :func:`global_avg_pool_backward` needs: the input's shape and dtype, the output layout."""

    x_shape: tuple[int, ...]
    dtype: np.dtype
    keepdims: bool


# --------------------------------------------------------------------------- argument checks

def _channel_param(value: Any, name: str, channels: int, dtype: np.dtype) -> np.ndarray:
    """A ``(C,)`` parameter (gamma or beta) as an array of the computation's dtype."""
    arr = as_float_array(value, name)
    if arr.shape != (channels,):
        raise ValueError(f"{name} must have shape ({channels},), one value per channel of x, got {arr.shape}")
    return arr.astype(dtype, copy=False)


def _running_stat(value: Any, name: str, channels: int) -> np.ndarray:
    """A running estimate: a writable float numpy array of shape ``(C,)`` (it is updated in place)."""
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
        raise TypeError(f"{name} must be a float numpy array of shape ({channels},) (it is updated in place, "
                        f"like PyTorch's buffer), got {type(value).__name__}"
                        + (f" of dtype {value.dtype}" if isinstance(value, np.ndarray) else ""))
    if value.shape != (channels,):
        raise ValueError(f"{name} must have shape ({channels},), one value per channel of x, got {value.shape}")
    if not value.flags.writeable:
        raise ValueError(f"{name} must be writeable: training updates it in place")
    return value


def _broadcast(v: np.ndarray, ndim: int) -> np.ndarray:
    """``(C,) -> (1, C, 1, ..., 1)``, to broadcast against an ``ndim``-D input."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


# --------------------------------------------------------------------------- batch norm

def batch_norm(x: Any, gamma: Any, beta: Any, running_mean: np.ndarray | None = None,
               running_var: np.ndarray | None = None, training: bool = True, momentum: float = 0.1,
               eps: float = 1e-5, return_cache: bool = False) -> np.ndarray | tuple[np.ndarray, BatchNormCache]:
    """Normalise each channel of ``x``, then scale and shift: ``out = gamma * x_hat + beta``.

    ``x`` is ``(N, C, H, W)`` or ``(N, D)`` (any ``(N, C, ...)``, statistics per axis-1 channel);
    ``gamma``/``beta`` are ``(C,)``. ``training=True``: ``x_hat = (x - mu) / sqrt(var + eps)`` with the
    batch mean and biased variance, and ``running_mean``/``running_var`` (if given, both) are
    updated in place with ``momentum`` (unbiased variance). ``training=False``: the running
    estimates normalise instead. Returns ``out``, or ``(out, cache)`` with ``return_cache=True``.
    """
    x = as_float_array(x, "x")
    if x.ndim < 2:
        raise ValueError(f"x must be (N, D) or (N, C, H, W) with the channels on axis 1, got shape {x.shape}")
    channels = x.shape[1]
    gamma = _channel_param(gamma, "gamma", channels, x.dtype)
    beta = _channel_param(beta, "beta", channels, x.dtype)
    training = check_bool(training, "training")
    momentum = check_real(momentum, "momentum", minimum=0.0)
    if momentum > 1.0:
        raise ValueError(f"momentum must be in [0, 1] (the weight of the new batch, PyTorch's meaning), "
                         f"got {momentum}")
    eps = check_real(eps, "eps", positive=True)
    return_cache = check_bool(return_cache, "return_cache")
    if (running_mean is None) != (running_var is None):
        raise ValueError("running_mean and running_var must be given together (or both left None)")
    if running_mean is not None:
        running_mean = _running_stat(running_mean, "running_mean", channels)
        running_var = _running_stat(running_var, "running_var", channels)
    elif not training:
        raise ValueError("training=False normalises with running_mean and running_var: give both")

    axes = (0,) + tuple(range(2, x.ndim))
    m = x.size // channels                          # values per channel in the batch
    if training:
        if m < 2:
            raise ValueError(f"training needs more than 1 value per channel to compute a variance, got x of "
                             f"shape {x.shape} (as PyTorch: use a larger batch, or training=False)")
        mu = x.mean(axis=axes)                      # (C,)
        var = ((x - _broadcast(mu, x.ndim)) ** 2).mean(axis=axes)   # biased: divides by m
        if running_mean is not None:
            running_mean *= 1.0 - momentum
            running_mean += momentum * mu
            running_var *= 1.0 - momentum
            running_var += momentum * var * (m / (m - 1))          # unbiased: divides by m - 1
    else:
        mu = running_mean.astype(x.dtype, copy=False)
        var = running_var.astype(x.dtype, copy=False)

    inv_std = _broadcast(1.0 / np.sqrt(var + eps), x.ndim).astype(x.dtype, copy=False)
    x_hat = (x - _broadcast(mu, x.ndim)) * inv_std
    g = _broadcast(gamma, x.ndim)
    out = g * x_hat + _broadcast(beta, x.ndim)
    if not return_cache:
        return out
    return out, BatchNormCache(x_hat=x_hat, inv_std=inv_std, gamma=g, axes=axes, training=training)


def batch_norm_backward(dout: Any, cache: BatchNormCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`batch_norm`: ``(dx, dgamma, dbeta)``.

    ``dbeta = sum dout`` and ``dgamma = sum dout * x_hat`` (over all but the channel axis). With
    ``dx_hat = dout * gamma``, in eval mode ``dx = dx_hat / sqrt(var + eps)`` (the statistics are
    constants); in training mode ``mu`` and ``var`` depend on ``x`` too, which gives::

        dx = 1 / sqrt(var + eps) * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat))

    (means over the channel's ``m`` values): the gradient loses its component along the
    directions the normalisation removes, a constant shift and a rescaling of ``x``.
    """
    if not isinstance(cache, BatchNormCache):
        raise TypeError(f"cache must be the BatchNormCache batch_norm returned with return_cache=True, "
                        f"got {type(cache).__name__}")
    dout = as_float_array(dout, "dout")
    if dout.shape != cache.x_hat.shape:
        raise ValueError(f"dout must have the forward output's shape {cache.x_hat.shape}, got {dout.shape}")
    dout = dout.astype(cache.x_hat.dtype, copy=False)
    axes, x_hat = cache.axes, cache.x_hat
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    dx_hat = dout * cache.gamma
    if not cache.training:
        return dx_hat * cache.inv_std, dgamma, dbeta
    mean_dx_hat = dx_hat.mean(axis=axes, keepdims=True)
    mean_dx_hat_x_hat = (dx_hat * x_hat).mean(axis=axes, keepdims=True)
    dx = cache.inv_std * (dx_hat - mean_dx_hat - x_hat * mean_dx_hat_x_hat)
    return dx, dgamma, dbeta


# --------------------------------------------------------------------------- global average pooling

def global_avg_pool(x: Any, keepdims: bool = False,
                    return_cache: bool = False) -> np.ndarray | tuple[np.ndarray, GlobalAvgPoolCache]:
    """The mean of every feature map: ``out[n, c] = 1/(H W) sum_{i,j} x[n, c, i, j]``.

    ``x`` is ``(N, C, H, W)``; the result is ``(N, C)``, ready for a fully connected layer, or
    ``(N, C, 1, 1)`` with ``keepdims=True`` (``F.adaptive_avg_pool2d(x, 1)``). Returns ``out``, or
    ``(out, cache)`` with ``return_cache=True``.
    """
    x = as_float_array(x, "x", ndim=4)
    keepdims = check_bool(keepdims, "keepdims")
    return_cache = check_bool(return_cache, "return_cache")
    out = x.mean(axis=(2, 3), keepdims=keepdims)
    if not return_cache:
        return out
    return out, GlobalAvgPoolCache(x_shape=x.shape, dtype=x.dtype, keepdims=keepdims)


def global_avg_pool_backward(dout: Any, cache: GlobalAvgPoolCache) -> np.ndarray:
    """Gradient of :func:`global_avg_pool`: every pixel of map ``c`` gets ``dout[n, c] / (H W)``."""
    if not isinstance(cache, GlobalAvgPoolCache):
        raise TypeError(f"cache must be the GlobalAvgPoolCache global_avg_pool returned with return_cache=True, "
                        f"got {type(cache).__name__}")
    n, c, h, w = cache.x_shape
    shape = (n, c, 1, 1) if cache.keepdims else (n, c)
    dout = as_float_array(dout, "dout")
    if dout.shape != shape:
        raise ValueError(f"dout must have the forward output's shape {shape}, got {dout.shape}")
    dout = dout.astype(cache.dtype, copy=False).reshape(n, c, 1, 1)
    return np.broadcast_to(dout / (h * w), cache.x_shape).copy()
