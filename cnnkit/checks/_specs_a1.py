"""Cases of assignment 1's functions; expected values from cnnkit.ops / cnnkit.arith at check time."""
from __future__ import annotations

import numpy as np

from ._core import A, Arg, Case, Entry, Spec, as_number
from ._mistake import A1


def ints(seed: int, shape: tuple[int, ...], lo: int = -3, hi: int = 4) -> str:
    """Expression for a small array of integers (as floats), reproducible from the message."""
    return f"np.random.default_rng({seed}).integers({lo}, {hi}, size={shape}).astype(float)"


def _ops():
    from cnnkit import ops  # imported at check time: hidden inside the grading sandbox

    return ops


def _filters():
    from cnnkit.ops import filters

    return filters


# --------------------------------------------------------------------------- correlate2d / convolve2d

def _box_image() -> Arg:
    return Arg("image", _filters().lecture_box_example(), "filters.lecture_box_example()",
               show="the lecture's 10x10 box example image (filters.lecture_box_example())")


def _impulse() -> Arg:
    return A("np.pad([[1.0]], 2)", "image", show="a 5x5 impulse (a single 1 at [2, 2], zeros elsewhere)")


def correlate2d_cases() -> list[Case]:
    f = _filters()
    return [
        Case([_box_image(), Arg("kernel", f.box(3), "filters.box(3)", show="the 3x3 box filter (filters.box(3))")],
             label="the lecture's box example"),
        Case([_impulse(), A("np.arange(9.0).reshape(3, 3)", "kernel")], label="an impulse"),
        Case([A(ints(1, (4, 6), 0, 10), "image"), A("np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])", "kernel")]),
        Case([A(ints(2, (5, 4), -5, 6), "image"), A("np.array([[2.0], [-1.0], [1.0]])", "kernel")]),
        Case([A("np.ones(5)", "image"), A("np.ones((3, 3))", "kernel")], raises=ValueError,
             reason="the image is 1-D"),
        Case([A("np.ones((4, 4, 3))", "image"), A("np.ones((3, 3))", "kernel")], raises=ValueError,
             reason="the image is 3-D, like a colour image; correlate2d takes one 2-D channel"),
        Case([A("np.ones((2, 2))", "image"), A("np.ones((3, 3))", "kernel")], raises=ValueError,
             reason="the 3x3 kernel does not fit in the 2x2 image"),
        Case([A("np.ones((5, 2))", "image"), A("np.ones((3, 3))", "kernel")], raises=ValueError,
             reason="the 3-wide kernel does not fit in the 2-wide image"),
    ]


def convolve2d_cases() -> list[Case]:
    f = _filters()
    return [
        Case([_impulse(), A("np.arange(9.0).reshape(3, 3)", "kernel")],
             label="an impulse (the result is the kernel itself)"),
        Case([_box_image(), Arg("kernel", f.sobel_x(), "filters.sobel_x()", show="filters.sobel_x()")],
             label="the lecture's box example with Sobel-x"),
        Case([A(ints(1, (4, 6), 0, 10), "image"), A("np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])", "kernel")]),
        Case([A(ints(3, (5, 5), -4, 5), "image"), A("np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])", "kernel")]),
    ]


def _correlate_expected(case: Case, helpers: dict) -> list:
    args, _ = case.call_args()
    return [_ops().correlate2d(*args)]


def _convolve_expected(case: Case, helpers: dict) -> list:
    args, _ = case.call_args()
    return [_ops().convolve2d(*args)]


def _convolve_built_on(func, case: Case, helpers: dict) -> list:
    """What a convolve2d built on the student's own correlate2d returns: the flipped kernel's correlation."""
    (image, kernel), _ = case.call_args()
    return [helpers["correlate2d"](image, np.asarray(kernel, dtype=float)[::-1, ::-1])]


def _close(a, b) -> bool:
    try:
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    except (TypeError, ValueError):
        return False
    return a.shape == b.shape and bool(np.allclose(a, b, equal_nan=True))


def _sees_the_flip(cases: list[Case], own: list[list], helpers: dict) -> bool:
    """The student's correlate2d tells a kernel from its rotation somewhere, so a convolve2d that
    forgets the flip is still caught when judged on it."""
    for case, results in zip(cases, own):
        if results:
            (image, kernel), _ = case.call_args()
            try:
                unflipped = helpers["correlate2d"](image, kernel)
            except Exception:  # noqa: BLE001 - the student's function may raise anything
                continue
            if not _close(unflipped, results[0]):
                return True
    return False


def _varies(cases: list[Case], own: list[list], helpers: dict) -> bool:
    """Some result built on the student's own pieces is not a constant array: a function that
    returns zeros (or any constant) is still caught when judged on them."""
    for results in own:
        for value in results:
            try:
                a = np.asarray(value, dtype=float)
            except (TypeError, ValueError):
                continue
            if a.size > 1 and np.all(np.isfinite(a)) and np.ptp(a) > 1e-9:
                return True
    return False


# --------------------------------------------------------------------------- conv2d

def conv2d_cases() -> list[Case]:
    kw = dict(keyword=True)
    return [
        Case([A(ints(0, (1, 2, 4, 4), -2, 3), "x"), A(ints(1, (1, 2, 3, 3), -1, 2), "w"), A("np.array([0.5])", "b"),
              Arg("stride", 1, **kw), Arg("padding", 0, **kw)]),
        Case([A(ints(2, (2, 3, 5, 5)), "x"), A(ints(3, (2, 3, 3, 3), -2, 3), "w"), A("np.array([1.0, -2.0])", "b"),
              Arg("stride", 1, **kw), Arg("padding", 0, **kw)]),
        Case([A(ints(4, (1, 2, 5, 5)), "x"), A(ints(5, (2, 2, 3, 3), -2, 3), "w"), A("np.array([0.0, 1.0])", "b"),
              Arg("stride", 2, **kw), Arg("padding", 1, **kw)]),
        Case([A(ints(6, (3, 1, 6, 7)), "x"), A(ints(7, (2, 1, 2, 3), -2, 3), "w"), A("np.array([1.0, 2.0])", "b"),
              Arg("stride", 2, **kw), Arg("padding", 0, **kw)]),
        Case([A(ints(8, (1, 1, 7, 6)), "x"), A(ints(9, (1, 1, 3, 3), -2, 3), "w"), A("np.array([0.25])", "b"),
              Arg("stride", 3, **kw), Arg("padding", 2, **kw)]),
        Case([A(ints(10, (1, 2, 4, 5)), "x"), A(ints(11, (3, 2, 2, 2), -2, 3), "w"),
              Arg("stride", 1, **kw), Arg("padding", 0, **kw)], label="no bias (b=None)"),
        Case([A(ints(12, (1, 2, 5, 4)), "x"), A(ints(13, (2, 2, 3, 2), -2, 3), "w"),
              Arg("stride", 1, **kw), Arg("padding", 1, **kw)], label="no bias, padding 1"),
        Case([A("np.ones((1, 3, 5, 5))", "x"), A("np.ones((1, 1, 3, 3))", "w")], raises=ValueError,
             reason="3 input channels, but the filters expect 1"),
        Case([A("np.ones((2, 5, 5))", "x"), A("np.ones((1, 2, 3, 3))", "w")], raises=ValueError,
             reason="x is 3-D; it must be (N, C, H, W)"),
        Case([A("np.ones((1, 1, 2, 2))", "x"), A("np.ones((1, 1, 3, 3))", "w")], raises=ValueError,
             reason="the 3x3 kernel does not fit in the 2x2 input"),
    ]


def _conv2d_expected(case: Case, helpers: dict) -> list:
    args, kwargs = case.call_args()
    return [_ops().conv2d(*args, **kwargs)]


def _strided(case: Case) -> bool:
    _, kwargs = case.call_args()
    return kwargs.get("stride", 1) != 1 or kwargs.get("padding", 0) != 0


def _conv2d_built_on(func, case: Case, helpers: dict) -> list:
    """Stride and padding judged on the student's own stride-1 result: pad x with zeros, correlate
    at stride 1, keep every stride-th output. A mistake in the channel sum or the bias is charged
    to the stride-1 cell, not again here."""
    if not _strided(case):
        return []
    args, kwargs = case.call_args()
    x, w, *rest = args
    s, p = kwargs.get("stride", 1), kwargs.get("padding", 0)
    x = np.pad(np.asarray(x, dtype=float), ((0, 0), (0, 0), (p, p), (p, p)))
    full = np.asarray(func(x, w, *rest, stride=1, padding=0), dtype=float)
    return [full[..., ::s, ::s]]


# --------------------------------------------------------------------------- sizes

def _size_case(*args, raises=None, reason="", **kwargs) -> Case:
    names = ("n", "kernel_size")
    items = [Arg(names[i], v) for i, v in enumerate(args)]
    items += [Arg(k, v, keyword=True) for k, v in kwargs.items()]
    return Case(items, raises=raises, reason=reason)


def conv_output_size_cases() -> list[Case]:
    return [
        _size_case(32, 5),
        _size_case(7, 3, stride=2),
        _size_case(227, 11, stride=4),
        _size_case(32, 3, padding=1),
        _size_case(8, 3, stride=2),
        _size_case(10, 4, stride=3, padding=1),
        _size_case(3, 5, padding=1),
        _size_case(3, 5, raises=ValueError, reason="a 5-wide kernel does not fit in 3 pixels"),
        _size_case(4, 9, padding=2, raises=ValueError, reason="9 > 4 + 2 x 2 padded pixels"),
    ]


def _conv_output_size_expected(case: Case, helpers: dict) -> list:
    from cnnkit import arith

    args, kwargs = case.call_args()
    return [arith.conv_output_size(*args, **kwargs)]


def observe_number(value) -> list[Entry]:
    return [Entry("", as_number(value, "the result"), rtol=0.0, atol=1e-9)]


def conv_param_count_cases() -> list[Case]:
    def case(ci, co, k, **kw):
        items = [Arg("in_channels", ci), Arg("out_channels", co), Arg("kernel_size", k)]
        items += [Arg(name, v, keyword=True) for name, v in kw.items()]
        return Case(items)

    return [
        case(1, 100, 10, bias=False),
        case(3, 6, 5),
        case(3, 64, (3, 3)),
        case(2, 4, (3, 5)),
        case(3, 2, (1, 1), bias=False),
        case(5, 7, 2, bias=True),
    ]


def _conv_param_count_expected(case: Case, helpers: dict) -> list:
    from cnnkit import arith

    args, kwargs = case.call_args()
    return [arith.conv_params(*args, **kwargs)]


# --------------------------------------------------------------------------- edge_strength

def edge_strength_cases() -> list[Case]:
    return [
        Case([A("np.full((6, 6), 0.3)", "image")], label="a flat image (no edges anywhere)"),
        Case([A("np.tile([0.0] * 4 + [1.0] * 4, (6, 1))", "image",
                show="a vertical edge: a 6x8 image whose columns 4 to 7 are 1, the rest 0")],
             label="a vertical step edge"),
        Case([A("np.tile([0.0] * 4 + [1.0] * 4, (6, 1)).T", "image",
                show="a horizontal edge: an 8x6 image whose rows 4 to 7 are 1, the rest 0")],
             label="a horizontal step edge"),
        Case([A(ints(5, (5, 6), 0, 10), "image")]),
        Case([A(ints(6, (6, 4), -5, 6), "image")]),
    ]


def _edge_built_on(func, case: Case, helpers: dict) -> list:
    """The edge strength computed with the student's own correlate2d."""
    f = _filters()
    (image,), _ = case.call_args()
    correlate2d = helpers["correlate2d"]
    gx = np.asarray(correlate2d(image, f.sobel_x()), dtype=float)
    gy = np.asarray(correlate2d(image, f.sobel_y()), dtype=float)
    return [np.hypot(gx, gy)]


def _edge_expected(case: Case, helpers: dict) -> list:
    ops, f = _ops(), _filters()
    (image,), _ = case.call_args()
    return [np.hypot(ops.correlate2d(image, f.sobel_x()), ops.correlate2d(image, f.sobel_y()))]


SPECS = [
    Spec("correlate2d", A1, correlate2d_cases, _correlate_expected),
    Spec("convolve2d", A1, convolve2d_cases, _convolve_expected, optional=("correlate2d",),
         prerequisites=("correlate2d",), built_on=_convolve_built_on, informative=_sees_the_flip),
    Spec("conv2d", A1, conv2d_cases, _conv2d_expected, built_on=_conv2d_built_on, informative=_varies,
         parts={"basic": lambda c: not _strided(c), "stride_padding": _strided}),
    Spec("conv_output_size", A1, conv_output_size_cases, _conv_output_size_expected, observe=observe_number),
    Spec("conv_param_count", A1, conv_param_count_cases, _conv_param_count_expected, observe=observe_number),
    Spec("edge_strength", A1, edge_strength_cases, _edge_expected, optional=("correlate2d",),
         prerequisites=("correlate2d",), built_on=_edge_built_on, informative=_varies),
]

__all__ = ["SPECS", "ints"]
