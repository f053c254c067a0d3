"""A tiny neural-network library in numpy, built on :mod:`cnnkit.ops`: enough to train a CNN.

Each layer is an object with

* ``forward(x)``    -- computes the output and remembers what its backward will need;
* ``backward(dout)`` -- given d loss / d output, stores d loss / d parameter in ``grads``
  and returns d loss / d input;
* ``params`` / ``grads`` -- lists of arrays in the same order. ``backward`` writes the
  gradients *into* the arrays of ``grads`` (it does not replace them), so an optimizer
  built once on ``model.params`` and ``model.grads`` always sees the current ones.

::

    model = Sequential(Conv2d(1, 8, 3, padding=1, rng=0), ReLU(), MaxPool2d(2), Flatten(), Linear(8*4*4, 10, rng=1))
    opt = SGD(model.params, model.grads, lr=0.1, momentum=0.9)
    loss, dlogits = softmax_cross_entropy(model.forward(x), y)
    model.backward(dlogits)
    opt.step()

The layers mirror ``torch.nn`` (names, argument names, weight shapes), so a student can
put the two side by side.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from . import ops
from ._geometry import as_pair, check_int, check_real, conv_padding, pool_window

__all__ = ["Layer", "Conv2d", "MaxPool2d", "AvgPool2d", "ReLU", "LocalContrastNorm", "Flatten", "Linear",
           "Sequential", "SGD", "he_normal"]


def _rng(rng: Any) -> np.random.Generator:
    """A Generator from a seed, an existing Generator or None (fresh entropy)."""
    if rng is None or isinstance(rng, np.random.Generator):
        return np.random.default_rng(rng)
    if isinstance(rng, bool) or not isinstance(rng, (int, np.integer)):
        raise TypeError(f"rng must be an int seed, a numpy.random.Generator or None, got {type(rng).__name__}")
    return np.random.default_rng(int(rng))


def _dtype(dtype: Any) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def he_normal(shape: tuple[int, ...], fan_in: int, rng: np.random.Generator, dtype: Any = np.float32) -> np.ndarray:
    """He/Kaiming normal initialisation: ``N(0, 2 / fan_in)``.

    With ReLU, half of the units are zero, so a variance of 2/fan_in keeps the scale of
    the activations the same from layer to layer (He et al. 2015).
    """
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


class Layer:
    """Base class: no parameters, identity ``__call__ = forward``."""

    def __init__(self) -> None:
        self.params: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []

    def forward(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def _saved(self, name: str) -> Any:
        value = getattr(self, name, None)
        if value is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return value

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Conv2d(Layer):
    """Convolutional layer: weight ``(out, in/groups, kH, kW)`` and bias ``(out,)`` (He init, zero bias)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 rng: Any = None, dtype: Any = np.float32) -> None:
        super().__init__()
        in_channels = check_int(in_channels, "in_channels", minimum=1)
        out_channels = check_int(out_channels, "out_channels", minimum=1)
        groups = check_int(groups, "groups", minimum=1)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"groups={groups} must divide in_channels={in_channels} and out_channels={out_channels}")
        kh, kw = as_pair(kernel_size, "kernel_size", minimum=1)
        conv_padding(padding, (kh, kw), as_pair(stride, "stride", minimum=1), as_pair(dilation, "dilation", minimum=1))
        dt = _dtype(dtype)
        fan_in = in_channels // groups * kh * kw
        self.weight = he_normal((out_channels, in_channels // groups, kh, kw), fan_in, _rng(rng), dt)
        self.bias = np.zeros(out_channels, dtype=dt) if bias else None
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.params = [self.weight] + ([self.bias] if bias else [])
        self.grads = [np.zeros_like(p) for p in self.params]
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x = x
        return ops.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx, dw, db = ops.conv2d_backward(dout, self._saved("_x"), self.weight, self.stride, self.padding,
                                         self.dilation, self.groups)
        self.grads[0][...] = dw
        if self.bias is not None:
            self.grads[1][...] = db
        return dx

    def __repr__(self) -> str:
        o, i, kh, kw = self.weight.shape
        return (f"Conv2d({i * self.groups}, {o}, kernel_size=({kh}, {kw}), stride={self.stride}, "
                f"padding={self.padding!r}, dilation={self.dilation}, groups={self.groups})")


class _CachedOp(Layer):
    """A layer around an op of the ``(out, cache)`` convention: ``_forward(x, *self._options(),
    return_cache=True)`` keeps the cache, ``_backward(dout, cache)`` gives d loss / d input."""

    _forward: Any
    _backward: Any

    def __init__(self) -> None:
        super().__init__()
        self._cache = None

    def _options(self) -> tuple:  # pragma: no cover - every layer overrides it
        raise NotImplementedError

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, self._cache = self._forward(x, *self._options(), return_cache=True)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return self._backward(dout, self._saved("_cache"))


class _Pool(_CachedOp):
    _forward = staticmethod(ops.max_pool2d)
    _backward = staticmethod(ops.max_pool2d_backward)

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False) -> None:
        super().__init__()
        pool_window(kernel_size, stride, padding)             # fail early on bad arguments
        self.kernel_size, self.stride, self.padding, self.ceil_mode = kernel_size, stride, padding, ceil_mode

    def _options(self) -> tuple:
        return self.kernel_size, self.stride, self.padding, self.ceil_mode

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, ceil_mode={self.ceil_mode})")


class MaxPool2d(_Pool):
    """Max pooling layer (see :func:`cnnkit.ops.max_pool2d`)."""


class AvgPool2d(_Pool):
    """Average pooling layer (see :func:`cnnkit.ops.avg_pool2d`)."""

    _forward = staticmethod(ops.avg_pool2d)
    _backward = staticmethod(ops.avg_pool2d_backward)


class ReLU(Layer):
    """``max(0, x)``."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x = x
        return ops.relu(x)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return ops.relu_backward(dout, self._saved("_x"))


class LocalContrastNorm(_CachedOp):
    """Local contrast normalization layer (see :func:`cnnkit.ops.local_contrast_norm`)."""

    _forward = staticmethod(ops.local_contrast_norm)
    _backward = staticmethod(ops.local_contrast_norm_backward)

    def __init__(self, size: int = 9, sigma: float | None = None, eps: float = 1e-4,
                 across_channels: bool = True) -> None:
        super().__init__()
        self.size, self.sigma, self.eps, self.across_channels = size, sigma, eps, across_channels

    def _options(self) -> tuple:
        return self.size, self.sigma, self.eps, self.across_channels

    def __repr__(self) -> str:
        return f"LocalContrastNorm(size={self.size}, sigma={self.sigma}, across_channels={self.across_channels})"


class Flatten(Layer):
    """``(N, C, H, W) -> (N, C*H*W)``, the bridge from feature maps to fully connected layers."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout.reshape(self._saved("_shape"))


class Linear(Layer):
    """Fully connected layer ``y = x @ W.T + b`` with ``W`` of shape ``(out, in)`` like ``torch.nn.Linear``."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, rng: Any = None,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        in_features = check_int(in_features, "in_features", minimum=1)
        out_features = check_int(out_features, "out_features", minimum=1)
        dt = _dtype(dtype)
        self.weight = he_normal((out_features, in_features), in_features, _rng(rng), dt)
        self.bias = np.zeros(out_features, dtype=dt) if bias else None
        self.params = [self.weight] + ([self.bias] if bias else [])
        self.grads = [np.zeros_like(p) for p in self.params]
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.weight.shape[1]:
            raise ValueError(f"x must be (N, {self.weight.shape[1]}), got shape {x.shape}")
        self._x = x
        out = x @ self.weight.T
        return out + self.bias if self.bias is not None else out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        x = self._saved("_x")
        self.grads[0][...] = dout.T @ x
        if self.bias is not None:
            self.grads[1][...] = dout.sum(axis=0)
        return dout @ self.weight

    def __repr__(self) -> str:
        return f"Linear({self.weight.shape[1]}, {self.weight.shape[0]})"


class Sequential(Layer):
    """Layers applied one after the other; backward runs them in reverse."""

    def __init__(self, *layers: Layer) -> None:
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layers[{i}] must be a cnnkit.nn.Layer, got {type(layer).__name__}")
        self.layers = list(layers)
        self.params = [p for layer in self.layers for p in layer.params]
        self.grads = [g for layer in self.layers for g in layer.grads]

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout: np.ndarray) -> np.ndarray:
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def __getitem__(self, i: int) -> Layer:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"


class SGD:
    """Stochastic gradient descent with momentum and weight decay, as ``torch.optim.SGD`` does it.

    ``g = grad + weight_decay * p``; ``v = momentum * v + g``; ``p -= lr * v``. The parameters are
    updated in place.
    """

    def __init__(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray], lr: float,
                 momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        params, grads = list(params), list(grads)
        if len(params) != len(grads):
            raise ValueError(f"params and grads must pair up, got {len(params)} params and {len(grads)} grads")
        for i, (p, g) in enumerate(zip(params, grads)):
            if not isinstance(p, np.ndarray) or not isinstance(g, np.ndarray) or p.shape != g.shape:
                raise ValueError(f"params[{i}] and grads[{i}] must be numpy arrays of one shape")
        self.params, self.grads = params, grads
        self.lr = check_real(lr, "lr", positive=True)
        self.momentum = check_real(momentum, "momentum", minimum=0.0)
        self.weight_decay = check_real(weight_decay, "weight_decay", minimum=0.0)
        self.velocity = [np.zeros_like(p) for p in params]

    def step(self) -> None:
        """Update every parameter once from its current gradient."""
        for p, g, v in zip(self.params, self.grads, self.velocity):
            step = g + self.weight_decay * p if self.weight_decay else g
            if self.momentum:
                v *= self.momentum
                v += step
                step = v
            p -= (self.lr * step).astype(p.dtype, copy=False)
