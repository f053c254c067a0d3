"""The integers under every sliding window: argument checks, and the window arithmetic they feed.

One home for what ops, nn, arith, models, summary, viz and widgets all need:

* checks at the boundary, always ``check(value, name, ...)``: :func:`check_int`,
  :func:`check_real`, :func:`check_bool`, :func:`check_choice`, and :func:`as_pair` for an
  int or a ``(height, width)`` pair. Each error names the argument, the value and what is allowed;
  a wrong type raises TypeError, a wrong value ValueError;
* one axis of a window (convolution or pooling): its extent ``D (K - 1) + 1``, the output
  length (PyTorch's floor, and its ``ceil_mode`` rule for pooling), 'same' padding (the odd
  pixel goes to the bottom/right, as in PyTorch), a convolution's padding argument
  (an int, a pair, ``'valid'`` or ``'same'``) and pooling's padding rule.

The lecture's version of these formulas, with strict mode and the receptive field, is
:mod:`cnnkit.arith`; it and :mod:`cnnkit.ops` both compute through this module. Only numpy is
imported (its integer and bool types are accepted), nothing of the kit.
"""
from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np

#: ``(height, width)``.
Pair = tuple[int, int]
#: Padding per spatial axis: ``((top, bottom), (left, right))``.
Pad2d = tuple[Pair, Pair]

AXES = ("height", "width")


# --------------------------------------------------------------------------- checks
def is_int(value: Any) -> bool:
    """An integer (numpy's too), but not a bool."""
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


def _allowed(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"an int in [{minimum}, {maximum}]"
    if minimum is not None:
        return f">= {minimum}"
    return f"<= {maximum}"


def check_int(value: Any, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as a plain ``int`` (numpy integers accepted; bools and floats rejected), in range.

    >>> check_int(3, "stride", minimum=1)
    3
    """
    if not is_int(value):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {_allowed(minimum, maximum)}, got {value}")
    return value


def check_real(value: Any, name: str, *, positive: bool = False, minimum: float | None = None) -> float:
    """A finite real number as a ``float`` (bools rejected), optionally > 0 or >= ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    if positive and v <= 0:
        raise ValueError(f"{name} must be > 0, got {v}")
    if minimum is not None and v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    return v


def check_bool(value: Any, name: str) -> bool:
    """``value`` if it is ``True`` or ``False`` (numpy bools accepted), as a plain ``bool``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
    return bool(value)


def check_choice(value: Any, name: str, choices: Any) -> Any:
    """``value`` if it is one of ``choices``, else ValueError listing them."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def as_pair(value: Any, name: str, minimum: int | None = None) -> Pair:
    """An int (square) or a ``(height, width)`` pair of ints -> ``(height, width)``, each >= ``minimum``.

    >>> as_pair(3, "kernel_size"), as_pair((3, 5), "kernel_size")
    ((3, 3), (3, 5))
    """
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints (height, width), got {value!r} "
                             f"(length {len(value)})")
        return check_int(value[0], f"{name}[0]", minimum), check_int(value[1], f"{name}[1]", minimum)
    if not is_int(value):
        raise TypeError(f"{name} must be an int or a pair of ints (height, width), got {value!r} "
                        f"({type(value).__name__})")
    v = check_int(value, name, minimum)
    return v, v


def square_or_pair(pair: Pair) -> int | Pair:
    """``(3, 3) -> 3``, ``(3, 5) -> (3, 5)``: how sizes are shown and stored when square."""
    return pair[0] if pair[0] == pair[1] else (pair[0], pair[1])


# --------------------------------------------------------------------------- one axis of a window
def extent(kernel: int, dilation: int = 1) -> int:
    """Input pixels a (dilated) kernel covers: ``D (K - 1) + 1``."""
    return dilation * (kernel - 1) + 1


def _too_large(size: int, kernel: int, pad_total: int, dilation: int, where: str) -> ValueError:
    return ValueError(
        f"kernel_size={kernel} (covering {extent(kernel, dilation)} pixels with dilation={dilation}) is larger "
        f"than the padded input {size + pad_total} (input {size} + padding {pad_total}){where}"
    )


def conv_out_len(size: int, kernel: int, stride: int, pad_total: int, dilation: int = 1, where: str = "") -> int:
    """Output length of a convolution along one axis: ``floor((N + P_total - D (K - 1) - 1) / S) + 1``.

    ``pad_total`` is the padding of both sides together. Raises ValueError when the kernel
    does not fit in the padded input (``where`` is appended to the message).
    """
    if extent(kernel, dilation) > size + pad_total:
        raise _too_large(size, kernel, pad_total, dilation, where)
    return (size + pad_total - extent(kernel, dilation)) // stride + 1


def pool_out_len(size: int, kernel: int, stride: int, padding: int, ceil_mode: bool, dilation: int = 1,
                 where: str = "") -> int:
    """Output length of a pooling along one axis (``padding`` on each side), PyTorch's rule.

    The convolution's formula, rounded up with ``ceil_mode``; a last window that would start
    beyond the input and its left padding is dropped. Raises ValueError when no window fits.
    """
    span = size + 2 * padding - extent(kernel, dilation)
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1  # the last window must start inside the input or its left padding
    if out < 1:
        raise _too_large(size, kernel, 2 * padding, dilation, where)
    return out


def same_padding_split(kernel: int, dilation: int = 1) -> Pair:
    """``(before, after)`` padding that keeps the size at stride 1; an odd total puts the extra pixel after."""
    total = dilation * (kernel - 1)
    return total // 2, total - total // 2


def conv_padding(padding: Any, kernel: Pair, stride: Pair, dilation: Pair) -> Pad2d:
    """A convolution's ``padding`` (int, pair, ``'valid'`` or ``'same'``) as ``((top, bottom), (left, right))``.

    ``'same'`` keeps the size and, as in PyTorch, needs stride 1.
    """
    if isinstance(padding, str):
        word = padding.lower()
        if word == "valid":
            return (0, 0), (0, 0)
        if word == "same":
            if tuple(stride) != (1, 1):
                raise ValueError(f"padding='same' needs stride 1 (as in PyTorch), got stride={square_or_pair(stride)}")
            return same_padding_split(kernel[0], dilation[0]), same_padding_split(kernel[1], dilation[1])
        raise ValueError(f"padding must be an int, a pair of ints, 'same' or 'valid', got {padding!r}")
    ph, pw = as_pair(padding, "padding", minimum=0)
    return (ph, ph), (pw, pw)


def check_pool_padding(kernel: Pair, padding: Pair) -> None:
    """PyTorch's pooling rule: padding at most half the kernel, so no window lies wholly in the padding."""
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        half = square_or_pair((kernel[0] // 2, kernel[1] // 2))
        raise ValueError(f"padding={square_or_pair(padding)} must be at most half of "
                         f"kernel_size={square_or_pair(kernel)} (PyTorch's pooling rule: padding <= "
                         f"kernel_size // 2 = {half})")


def pool_window(kernel_size: Any, stride: Any, padding: Any) -> tuple[Pair, Pair, Pair]:
    """Pooling's ``kernel_size``, ``stride`` (None means kernel_size) and ``padding`` as checked pairs."""
    kernel = as_pair(kernel_size, "kernel_size", minimum=1)
    step = kernel if stride is None else as_pair(stride, "stride", minimum=1)
    pad = as_pair(padding, "padding", minimum=0)
    check_pool_padding(kernel, pad)
    return kernel, step, pad
