"""Numeric gradients, to check a hand-written backward pass.

A backward pass is right when it matches the slope measured by nudging each input:
``df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / 2h`` (central differences, error O(h^2)).
For a function with an array output we check the gradient of ``sum(f(x) * dout)``, which is
exactly what a backward pass given ``dout`` returns.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .._geometry import check_real

__all__ = ["numeric_gradient", "rel_error"]


def numeric_gradient(f: Callable[[np.ndarray], Any], x: np.ndarray, dout: Any = None,
                     h: float = 1e-5) -> np.ndarray:
    """Central-difference gradient of ``sum(f(x) * dout)`` with respect to ``x``.

    ``f`` takes ``x`` (which is modified in place and restored, so ``f`` may close over the
    same array) and returns an array (or a scalar when ``dout`` is None, meaning 1). Use
    float64: in float32 the differences drown in rounding.
    """
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TypeError(f"x must be a float numpy array (float64 recommended), got {type(x).__name__}"
                        + (f" of dtype {x.dtype}" if isinstance(x, np.ndarray) else ""))
    h = check_real(h, "h", positive=True)
    weight = 1.0 if dout is None else np.asarray(dout)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    for _ in it:
        idx = it.multi_index
        old = x[idx]
        x[idx] = old + h
        plus = np.sum(np.asarray(f(x)) * weight)
        x[idx] = old - h
        minus = np.sum(np.asarray(f(x)) * weight)
        x[idx] = old
        grad[idx] = (plus - minus) / (2 * h)
    return grad


def rel_error(a: Any, b: Any) -> float:
    """Largest difference relative to the largest magnitude: ``max|a - b| / (max|a| + max|b|)``.

    Scale-free, and unlike an elementwise ratio it does not blow up where both arrays hold
    values that should be 0 and differ by rounding. Two float64 computations of the same
    thing give ~1e-15; a right backward against numeric gradients ~1e-8 or less; a wrong
    one ~1e-2 or more. Identical arrays (zeros included) give 0.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    diff = np.max(np.abs(a - b))
    if diff == 0:
        return 0.0
    return float(diff / (np.max(np.abs(a)) + np.max(np.abs(b))))
