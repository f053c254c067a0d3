"""Cases of assignment 2's functions; expected values from cnnkit.ops / cnnkit.arith at check time."""
from __future__ import annotations

import numpy as np

from ._core import A, Arg, Case, Entry, Malformed, Spec, as_number, describe_value
from ._mistake import A2
from ._specs_a1 import ints

X44 = "np.array([[1.0, 2, 0, 1], [3, -1, 2, 2], [0, 0, 5, -3], [1, 4, 1, 1]])[None, None]"


def _ops():
    from cnnkit import ops  # imported at check time: hidden inside the grading sandbox

    return ops


def _pool_reference(x, kernel_size, stride, kind, return_cache=False):
    ops = _ops()
    if kind == "max":
        return ops.max_pool2d(x, kernel_size, stride, return_cache=return_cache)
    if kind == "avg":
        return ops.avg_pool2d(x, kernel_size, stride, return_cache=return_cache)
    return ops.lp_pool2d(x, 2, kernel_size, stride, return_cache=return_cache)


def _args(*pairs) -> list[Arg]:
    """Positional arguments: (name, expression or value) pairs."""
    out = []
    for name, v in pairs:
        out.append(A(v, name) if isinstance(v, str) and name not in ("kind",) else Arg(name, v))
    return out


# --------------------------------------------------------------------------- pool2d

def pool2d_cases() -> list[Case]:
    def case(x, k, s, kind, **kw):
        return Case(_args(("x", x), ("kernel_size", k), ("stride", s), ("kind", kind)), **kw)

    return [
        case(X44, 2, 2, "max", label="the visible test's 4x4 map"),
        case(X44, 2, 2, "avg", label="the visible test's 4x4 map"),
        case("np.array([[3.0, 4.0], [0.0, 0.0]])[None, None]", 2, 1, "l2"),
        case(ints(20, (2, 2, 5, 5)), 3, 1, "max", label="overlapping windows"),
        case(ints(21, (2, 2, 5, 5)), 3, 2, "avg", label="overlapping windows"),
        case(ints(22, (1, 2, 5, 6)), 2, 1, "l2", label="overlapping windows"),
        case(ints(23, (1, 1, 4, 7)), 2, 3, "max", label="a stride larger than the window"),
        case(ints(24, (2, 1, 5, 4)), 2, 2, "avg", label="an odd height (the last row is left out)"),
        # (8 - 3) // 2 + 1 = 3 rows, where 8 // 2 would give 4: the output size, for every kind
        *(case(ints(25 + i, (1, 2, 8, 7)), 3, 2, kind, label="a size the stride does not divide")
          for i, kind in enumerate(("max", "avg", "l2"))),
        Case(_args(("x", "np.ones((1, 1, 4, 4))"), ("kernel_size", 2), ("stride", 2), ("kind", "median")),
             raises=ValueError, reason="'median' is not one of 'max', 'avg', 'l2'"),
    ]


def _pool2d_expected(case: Case, helpers: dict) -> list:
    args, _ = case.call_args()
    return [_pool_reference(*args)]


# --------------------------------------------------------------------------- pool2d_backward

def pool2d_backward_cases() -> list[Case]:
    def case(dout, x, k, s, kind, **kw):
        return Case(_args(("dout", dout), ("x", x), ("kernel_size", k), ("stride", s), ("kind", kind)), **kw)

    ties = "np.array([[1.0, 3, 3, 0], [3, 2, 0, 1], [5, 5, 2, 2], [5, 5, 2, 2]])[None, None]"
    return [
        case("np.array([[1.0, 2.0], [3.0, 4.0]])[None, None]", ties, 2, 2, "max",
             label="tied maxima (the first one, in reading order, gets the gradient)"),
        case(ints(31, (1, 2, 2, 3), 1, 5), ints(30, (1, 2, 4, 5), 0, 3), 3, 1, "max",
             label="overlapping windows with ties"),
        case(ints(37, (2, 1, 2, 2), 1, 5), ints(36, (2, 1, 3, 3), -9, 10), 2, 1, "max",
             label="overlapping windows"),
        case("np.array([[1.0, 2.0], [3.0, 4.0]])[None, None]", X44, 2, 2, "avg"),
        case(ints(33, (1, 1, 2, 2), 1, 5), ints(32, (1, 1, 4, 4)), 3, 1, "avg", label="overlapping windows"),
        case("np.array([[2.0, 10.0]])[None, None]", "np.array([[0.0, 0, 3, 0], [0, 0, 4, 0]])[None, None]",
             2, 2, "l2", label="an all-zero window (its gradient is 0)"),
        case(ints(35, (1, 2, 2, 3), 1, 5), ints(34, (1, 2, 3, 4), 1, 4), 2, 1, "l2", label="overlapping windows"),
    ]


def _pool2d_backward_expected(case: Case, helpers: dict) -> list:
    (dout, x, k, s, kind), _ = case.call_args()
    out, cache = _pool_reference(x, k, s, kind, return_cache=True)
    backward = {"max": _ops().max_pool2d_backward, "avg": _ops().avg_pool2d_backward,
                "l2": _ops().lp_pool2d_backward}[kind]
    return [backward(dout, cache)]


def observe_dx(value) -> list[Entry]:
    from ._core import as_array

    return [Entry("dx", as_array(value, "dx"))]


# --------------------------------------------------------------------------- feature_pool

def feature_pool_cases() -> list[Case]:
    def case(x, g, kind, **kw):
        return Case(_args(("x", x), ("group_size", g), ("kind", kind)), **kw)

    return [
        case("np.arange(24.0).reshape(1, 6, 2, 2)", 3, "max", label="channels 0-2 and 3-5"),
        case("np.arange(24.0).reshape(1, 6, 2, 2)", 2, "l2"),
        case(ints(60, (2, 4, 1, 3)), 2, "max"),
        case(ints(61, (1, 3, 2, 2)), 1, "l2", label="groups of one channel (the result is |x|)"),
        case(ints(62, (1, 6, 2, 2)), 3, "l2"),
        Case(_args(("x", "np.arange(24.0).reshape(1, 6, 2, 2)"), ("group_size", 4), ("kind", "max")),
             raises=ValueError, reason="4 does not divide the 6 channels"),
    ]


def _feature_pool_expected(case: Case, helpers: dict) -> list:
    args, _ = case.call_args()
    return [_ops().feature_pool(*args)]


# --------------------------------------------------------------------------- local_contrast_norm

def _gaussian(size: int, sigma: float) -> Arg:
    expr = (f"(lambda g: np.outer(g, g) / g.sum() ** 2)"
            f"(np.exp(-0.5 * (np.arange({size}) - {(size - 1) / 2}) ** 2 / {sigma} ** 2))")
    return A(expr, "window", show=f"window=a {size}x{size} Gaussian window (sigma {sigma}, weights summing to 1)")


def lcn_cases() -> list[Case]:
    def case(x, size, sigma, eps=None, **kw):
        args = [A(x, "x"), _gaussian(size, sigma)]
        if eps is not None:
            args.append(Arg("eps", eps, keyword=True))
        return Case(args, extra={"size": size, "sigma": sigma, "eps": 1e-4 if eps is None else eps}, **kw)

    return [
        case("np.full((1, 2, 4, 4), 0.5)", 3, 0.8, label="a flat input (the result is 0 everywhere)"),
        case(ints(40, (1, 2, 5, 5), 0, 6), 3, 0.8, eps=0.5),
        case(ints(41, (2, 3, 4, 5)), 5, 1.25, eps=1e-4),
        case(ints(42, (1, 3, 6, 6), 0, 4), 3, 1.0, eps=0.01),
    ]


def _lcn_expected(case: Case, helpers: dict) -> list:
    (x, _window), _ = case.call_args()
    e = case.extra
    return [_ops().local_contrast_norm(x, size=e["size"], sigma=e["sigma"], eps=e["eps"], across_channels=True)]


# --------------------------------------------------------------------------- receptive_field

def receptive_field_cases() -> list[Case]:
    stacks = [
        ([(5, 1), (2, 2)], "a 5x5 convolution and 2x2 pooling (the lecture's P + K - 1)"),
        ([(3, 1), (3, 1), (3, 1)], "three 3x3 convolutions (VGG)"),
        ([(5, 1), (2, 2), (5, 1), (2, 2)], "LeNet-5: C1, S2, C3, S4"),
        ([(3, 2), (3, 2), (3, 1)], "two stride-2 layers"),
        ([(1, 3), (4, 1), (2, 2), (3, 1)], ""),
    ]
    return [Case([Arg("layers", layers, repr(layers))], label=label) for layers, label in stacks]


def _receptive_field_expected(case: Case, helpers: dict) -> list:
    from cnnkit import arith

    (layers,), _ = case.call_args()
    rows = arith.receptive_field([("conv", k, s, 0) for k, s in layers])
    return [[(r.rf, r.jump) for r in rows]]


def observe_rf(value) -> list[Entry]:
    problem = f"returned {describe_value(value)}: expected a list with one (rf, jump) pair per layer"
    if isinstance(value, (str, bytes, dict)) or value is None:
        raise Malformed(problem)
    try:
        rows = [tuple(float(v) for v in row) for row in value]
    except (TypeError, ValueError):
        raise Malformed(problem) from None
    if any(len(r) != 2 for r in rows):
        raise Malformed(problem)
    entries = [Entry("number of (rf, jump) pairs", len(rows), note="one pair per layer")]
    return entries + [Entry(f"(rf, jump) after layer {i}", r) for i, r in enumerate(rows)]


# --------------------------------------------------------------------------- shift_experiment

def shift_experiment_cases() -> list[Case]:
    row = [0.3, 0.1, 1.0, 0.2, 0.1, 0.4, 0.6, 0.2]

    def case(maps, shift, k, **kw):
        args = [maps if isinstance(maps, Arg) else A(maps, "maps"), Arg("shift", shift), Arg("kernel_size", k)]
        return Case(args, **kw)

    fig = A(f"np.tile({row}, (1, 1, 3, 1))", "maps",
            show="maps=the row [0.3, 0.1, 1, 0.2, 0.1, 0.4, 0.6, 0.2] of Goodfellow et al.'s Fig. 9.8, "
                 "three times (shape (1, 1, 3, 8))")
    return [
        case(fig, 1, 3, label="Fig. 9.8"),
        case("np.zeros((1, 1, 4, 6))", 1, 3, label="all zeros (nothing changes)"),
        case(ints(50, (1, 2, 5, 7), 0, 4), 2, 2),
        case(ints(51, (2, 1, 4, 6), 0, 5), 1, 4),
        case(ints(52, (1, 1, 6, 6), 0, 3), 1, 2),
    ]


def _shift_expected(case: Case, helpers: dict) -> list:
    ops = _ops()
    (maps, shift, k), _ = case.call_args()
    shifted = np.zeros_like(maps)
    shifted[..., shift:] = maps[..., :maps.shape[-1] - shift]
    detector = float(np.mean(np.isclose(maps, shifted)))
    pooled = float(np.mean(np.isclose(ops.max_pool2d(maps, k, 1), ops.max_pool2d(shifted, k, 1))))
    return [(detector, pooled)]


def _shift_built_on(func, case: Case, helpers: dict) -> list:
    """The two fractions with the max pooling done by the student's own pool2d."""
    (maps, shift, k), _ = case.call_args()
    shifted = np.zeros_like(maps)
    shifted[..., shift:] = maps[..., :maps.shape[-1] - shift]
    pool2d = helpers["pool2d"]
    detector = float(np.mean(np.isclose(maps, shifted)))
    pooled = float(np.mean(np.isclose(pool2d(maps, k, 1, "max"), pool2d(shifted, k, 1, "max"))))
    return [(detector, pooled)]


def _pooling_shows(cases: list[Case], own: list[list], helpers: dict) -> bool:
    """The student's pool2d makes a difference somewhere (its pooled fraction is neither 1 nor the
    detector fraction), so a shift_experiment that skips or fakes the pooling is still caught."""
    return any(results and results[0][1] not in (1.0, results[0][0]) for results in own)


def observe_fractions(value) -> list[Entry]:
    if isinstance(value, (str, bytes, dict)) or value is None or not hasattr(value, "__len__") or len(value) != 2:
        raise Malformed(f"returned {describe_value(value)}: expected (detector_same, pooled_same)")
    names = ("detector_same", "pooled_same")
    return [Entry(n, as_number(v, n), rtol=0.0, atol=1e-12) for n, v in zip(names, value)]


SPECS = [
    Spec("pool2d", A2, pool2d_cases, _pool2d_expected),
    Spec("pool2d_backward", A2, pool2d_backward_cases, _pool2d_backward_expected, observe=observe_dx),
    Spec("feature_pool", A2, feature_pool_cases, _feature_pool_expected),
    Spec("local_contrast_norm", A2, lcn_cases, _lcn_expected),
    Spec("receptive_field", A2, receptive_field_cases, _receptive_field_expected, observe=observe_rf),
    Spec("shift_experiment", A2, shift_experiment_cases, _shift_expected, observe=observe_fractions,
         optional=("pool2d",), prerequisites=("pool2d",), built_on=_shift_built_on, informative=_pooling_shows),
]
