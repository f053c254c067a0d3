"""The lecture's filter bank as float64 kernels, plus the slide's 10x10 example image.

Every kernel here is meant for :func:`cnnkit.ops.correlate2d` (no flip), so what you see
printed is what is laid over the image. Look one up by name with :func:`get`::

    >>> from cnnkit.ops import correlate2d, filters
    >>> correlate2d(filters.lecture_box_example(), filters.get("box"))   # the slide's 8x8 table
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .._geometry import check_int, check_real

__all__ = ["box", "gaussian", "sobel_x", "sobel_y", "sharpen", "identity", "FILTERS", "get",
           "lecture_box_example"]


def _odd_size(size: Any, name: str = "size") -> int:
    size = check_int(size, name, minimum=1)
    if size % 2 == 0:
        raise ValueError(f"{name} must be odd so the kernel has a centre, got {size}")
    return size


def box(size: int = 3) -> np.ndarray:
    """``size x size`` kernel of ``1/size^2``: the local mean (blur) of the lecture's example."""
    size = check_int(size, "size", minimum=1)
    return np.full((size, size), 1.0 / (size * size))


def gaussian(size: int = 5, sigma: float = 1.0) -> np.ndarray:
    """Sampled 2-D Gaussian ``exp(-(r^2 + c^2) / 2 sigma^2)`` centred in an odd ``size`` window, summing to 1.

    A smoother blur than :func:`box`: near pixels weigh more than far ones.
    """
    size = _odd_size(size)
    sigma = check_real(sigma, "sigma", positive=True)
    r = np.arange(size) - (size - 1) / 2
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def sobel_x() -> np.ndarray:
    """Sobel kernel for the horizontal derivative: large where brightness grows left to right
    (so it finds vertical edges)."""
    return np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def sobel_y() -> np.ndarray:
    """Sobel kernel for the vertical derivative (brightness growing downwards: horizontal edges)."""
    return sobel_x().T.copy()


def identity(size: int = 3) -> np.ndarray:
    """A single 1 in the centre: correlation with it returns the image unchanged ("same" mode)."""
    size = _odd_size(size)
    k = np.zeros((size, size))
    k[size // 2, size // 2] = 1.0
    return k


def sharpen() -> np.ndarray:
    """``2 * identity - box``: the image plus its difference from the local mean, which
    exaggerates edges (Seitz's "sharpening filter"). Its weights sum to 1, so flat areas stay put."""
    return 2.0 * identity(3) - box(3)


#: The filter bank by name; each entry builds a fresh array (keyword arguments as above).
FILTERS: dict[str, Callable[..., np.ndarray]] = {
    "box": box,
    "gaussian": gaussian,
    "sobel_x": sobel_x,
    "sobel_y": sobel_y,
    "sharpen": sharpen,
    "identity": identity,
}


def get(name: str, **kwargs: Any) -> np.ndarray:
    """The filter called ``name`` (see :data:`FILTERS`), e.g. ``get("gaussian", size=7, sigma=2.0)``."""
    if not isinstance(name, str) or name not in FILTERS:
        raise ValueError(f"name must be one of {sorted(FILTERS)}, got {name!r}")
    try:
        return FILTERS[name](**kwargs)
    except TypeError as exc:
        raise TypeError(f"filter {name!r} does not take {sorted(kwargs)}: {exc}") from exc


# The 10x10 image I[., .] of the lecture's correlation slide (credit S. Seitz): a square of
# 90s on 0s with a stray 0 inside it (row 5, column 4) and a stray 90 outside it (row 8,
# column 2), counting from 0. Typed from the syllabus, lecture14-cnn-slides.txt.
_LECTURE_BOX_EXAMPLE = (
    (0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    (0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    (0, 0, 0, 90, 90, 90, 90, 90, 0, 0),
    (0, 0, 0, 90, 90, 90, 90, 90, 0, 0),
    (0, 0, 0, 90, 90, 90, 90, 90, 0, 0),
    (0, 0, 0, 90, 0, 90, 90, 90, 0, 0),
    (0, 0, 0, 90, 90, 90, 90, 90, 0, 0),
    (0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    (0, 0, 90, 0, 0, 0, 0, 0, 0, 0),
    (0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
)


def lecture_box_example() -> np.ndarray:
    """The slide's 10x10 float64 image; ``correlate2d(it, box())`` gives the slide's 8x8 table."""
    return np.array(_LECTURE_BOX_EXAMPLE, dtype=np.float64)
