"""The non-linearity and the loss: ReLU and softmax cross-entropy, forward and backward.

``relu`` needs no cache: its backward takes the forward's input (or output -- both are
positive in the same places). ``softmax_cross_entropy`` returns the loss together with its
gradient, because the gradient falls out of the same computation.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ._args import as_float_array

__all__ = ["relu", "relu_backward", "softmax_cross_entropy"]


def relu(x: Any) -> np.ndarray:
    """``max(0, x)`` elementwise: the lecture's ``h = max(0, sum_k h_k * w_k)``."""
    x = as_float_array(x, "x")
    return np.maximum(x, 0)


def relu_backward(dout: Any, x: Any) -> np.ndarray:
    """Gradient of :func:`relu`: ``dout`` where ``x > 0``, else 0 (0 at exactly 0, like PyTorch)."""
    x = as_float_array(x, "x")
    dout = as_float_array(dout, "dout")
    if dout.shape != x.shape:
        raise ValueError(f"dout must have the shape of x {x.shape}, got {dout.shape}")
    return np.where(x > 0, dout, 0).astype(np.result_type(x, dout), copy=False)


def softmax_cross_entropy(logits: Any, y: Any) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of ``softmax(logits)`` against integer labels ``y``, and its gradient.

    ``logits`` is ``(N, K)``, ``y`` is ``(N,)`` with values in ``0..K-1``. Returns
    ``(loss, dlogits)`` with ``dlogits = (softmax(logits) - onehot(y)) / N``. The maximum of
    each row is subtracted first, so large logits do not overflow.
    """
    logits = as_float_array(logits, "logits", ndim=2)
    y = np.asarray(y)
    if y.dtype.kind not in "iu":
        raise TypeError(f"y must hold integer class labels, got dtype {y.dtype}")
    n, k = logits.shape
    if y.shape != (n,):
        raise ValueError(f"y must have shape (N,) = ({n},) to match logits {logits.shape}, got {y.shape}")
    if n == 0:
        raise ValueError("logits must hold at least one row, got N=0")
    if y.min() < 0 or y.max() >= k:
        raise ValueError(f"y must hold labels in 0..{k - 1}, got values from {y.min()} to {y.max()}")
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(n)
    loss = float(-log_probs[rows, y].mean())
    dlogits = np.exp(log_probs)
    dlogits[rows, y] -= 1
    dlogits /= n
    return loss, dlogits
