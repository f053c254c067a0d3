"""Array arguments of the ops: checked at the boundary, in one float dtype.

Every public op calls these helpers at its boundary, so a bad argument fails early with a
message that names the argument, the value it got and what is allowed. The kernels behind
the boundary trust their inputs. Integers, pairs and window sizes are checked by
:mod:`cnnkit._geometry` (re-exported here for the ops that import them from this module).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .._geometry import check_bool, check_int, check_real

__all__ = ["as_float_array", "common_dtype", "check_bool", "check_int", "check_real"]


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
