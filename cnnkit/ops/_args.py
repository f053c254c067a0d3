"""Argument normalisation and validation shared by the ops.

Every public op calls these helpers at its boundary, so a bad argument fails early with a
message that names the argument, the value it got and what is allowed. The kernels behind
the boundary trust their inputs.
"""
from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np

#: Padding per spatial axis after normalisation: ((top, bottom), (left, right)).
Pad2d = tuple[tuple[int, int], tuple[int, int]]

PADDING_WORDS = ("same", "valid")


def as_float_array(x: Any, name: str, ndim: int | None = None) -> np.ndarray:
    """``x`` as a float32 or float64 array (integers and bools become float64).

    float32 and float64 keep their dtype so that ``op(x).dtype == x.dtype``; float16 is
    computed in float32. Complex, object and string arrays raise TypeError.
    """
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be an array of real numbers, got a {type(x).__name__}")
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be an array of real numbers, got {type(x).__name__}: {exc}") from exc
    if arr.dtype in (np.float32, np.float64):
        pass
    elif arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    elif arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    else:
        raise TypeError(f"{name} must hold real numbers (float32, float64 or integers), got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        layout = {2: "(H, W)", 4: "(N, C, H, W)", 1: "(N,)"}.get(ndim, f"{ndim}-D")
        raise ValueError(f"{name} must be {ndim}-D {layout}, got shape {arr.shape} ({arr.ndim}-D)")
    return arr


def common_dtype(*arrays: np.ndarray) -> np.dtype:
    """The float dtype an op computes in: float64 if any input is float64, else float32."""
    return np.result_type(*arrays, np.float32)


def check_int(value: Any, name: str, minimum: int | None = None) -> int:
    """A plain ``int`` (numpy integers accepted, bools and floats rejected), at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def pair(value: Any, name: str, minimum: int | None = None) -> tuple[int, int]:
    """An int or a pair of ints -> ``(vertical, horizontal)``, each checked against ``minimum``."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r} (length {len(value)})")
        return (check_int(value[0], f"{name}[0]", minimum), check_int(value[1], f"{name}[1]", minimum))
    v = check_int(value, name, minimum)
    return (v, v)


def check_real(value: Any, name: str, *, positive: bool = False, minimum: float | None = None) -> float:
    """A finite real number (bools rejected), optionally > 0 or >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    if positive and v <= 0:
        raise ValueError(f"{name} must be > 0, got {v}")
    if minimum is not None and v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    return v


def conv_padding(padding: Any, kernel: tuple[int, int], dilation: tuple[int, int],
                 stride: tuple[int, int]) -> Pad2d:
    """Normalise a convolution's ``padding`` to ``((top, bottom), (left, right))``.

    Accepts an int, a pair, ``"valid"`` (no padding) or ``"same"`` (output as large as the
    input; like PyTorch, only with stride 1, and an odd total padding puts the extra row
    and column at the bottom and right).
    """
    if isinstance(padding, str):
        word = padding.lower()
        if word == "valid":
            return ((0, 0), (0, 0))
        if word == "same":
            if stride != (1, 1):
                raise ValueError(f"padding='same' needs stride 1 (as in PyTorch), got stride={stride}")
            pads = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                pads.append((total // 2, total - total // 2))
            return (pads[0], pads[1])
        raise ValueError(f"padding must be an int, a pair of ints, 'same' or 'valid', got {padding!r}")
    ph, pw = pair(padding, "padding", minimum=0)
    return ((ph, ph), (pw, pw))


def pool_args(kernel_size: Any, stride: Any, padding: Any) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Normalise pooling's ``kernel_size``, ``stride`` (None -> kernel_size) and ``padding``.

    PyTorch allows at most half the kernel as padding (so no window lies wholly in the
    padding); the same rule holds here.
    """
    k = pair(kernel_size, "kernel_size", minimum=1)
    s = k if stride is None else pair(stride, "stride", minimum=1)
    p = pair(padding, "padding", minimum=0)
    for axis in range(2):
        if p[axis] > k[axis] // 2:
            raise ValueError(f"padding must be at most half the kernel size, got padding={p} for kernel_size={k}")
    return k, s, p


def conv_out_size(size: int, kernel: int, stride: int, pad_total: int, dilation: int = 1) -> int:
    """Output length of a convolution along one axis: floor((size + pad - d(k-1) - 1) / s) + 1."""
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


def pool_out_size(size: int, kernel: int, stride: int, pad: int, ceil_mode: bool) -> int:
    """Output length of a pooling along one axis, with PyTorch's ``ceil_mode`` rule.

    In ceil mode the last window may hang over the end, but it must start inside the
    input or its left padding; otherwise it is dropped.
    """
    span = size + 2 * pad - kernel
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def check_bool(value: Any, name: str) -> bool:
    """A real ``bool`` (numpy bools accepted)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
    return bool(value)
