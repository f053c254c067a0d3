"""Cases of assignment 3's functions; expected values from cnnkit.ops (and the student's own
``loss_and_grads`` for ``train``) at check time."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._core import A, Arg, Case, Entry, Malformed, Spec, Unavailable, as_array, compare, describe_case
from ._core import call_updating, describe_value, error_text, invoke, observe_array
from ._mistake import A3
from ._specs_a1 import ints
from ._specs_a2 import X44


def _ops():
    from cnnkit import ops  # imported at check time

    return ops


# --------------------------------------------------------------------------- conv2d_backward

def conv2d_backward_cases() -> list[Case]:
    def case(x, w, stride, padding, dout_seed, label=""):
        xa, wa = A(x, "x"), A(w, "w")
        n, _, h, wd = xa.value.shape
        f, _, kh, kw = wa.value.shape
        shape = (n, f, (h + 2 * padding - kh) // stride + 1, (wd + 2 * padding - kw) // stride + 1)
        return Case([A(ints(dout_seed, shape, -2, 3), "dout"), xa, wa, Arg("stride", stride, keyword=True),
                     Arg("padding", padding, keyword=True)], label=label)

    return [
        case(ints(70, (1, 1, 3, 3)), ints(72, (1, 1, 2, 2), -2, 3), 1, 0, 71),
        case(ints(76, (2, 1, 4, 4)), ints(77, (2, 1, 3, 3), -2, 3), 1, 1, 78),
        case(ints(73, (2, 2, 5, 4)), ints(74, (3, 2, 3, 2), -2, 3), 2, 1, 75),
        case(ints(79, (1, 2, 5, 5)), ints(80, (2, 2, 3, 3), -2, 3), 2, 0, 81),
        case(ints(82, (3, 1, 6, 5)), ints(83, (1, 1, 2, 2), -2, 3), 3, 2, 84),
    ]


def _conv2d_backward_expected(case: Case, helpers: dict) -> list:
    args, kwargs = case.call_args()
    return [_ops().conv2d_backward(*args, **kwargs)]


def observe_grads(value) -> list[Entry]:
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise Malformed(f"returned {describe_value(value)}: expected the tuple (dx, dw, db)")
    return [Entry(name, as_array(v, name)) for name, v in zip(("dx", "dw", "db"), value)]


# --------------------------------------------------------------------------- the 2x2 max-pool pair

TIES = "np.array([[1.0, 1, 0, 2], [1, 1, 2, 0], [3, 0, 4, 4], [0, 3, 4, 4]])[None, None]"
DOUT22 = "np.array([[1.0, 2.0], [3.0, 4.0]])[None, None]"


def _pool_forward_reference(x):
    return _ops().max_pool2d(x, 2, 2, return_cache=True)


def _pool_backward_reference(dout, cache):
    return _ops().max_pool2d_backward(dout, cache)


def max_pool2x2_forward_cases() -> list[Case]:
    pair = dict(needs=("backward",))
    return [
        Case([A(X44, "x")], label="the visible test's 4x4 map"),
        Case([A(ints(90, (2, 3, 4, 6)), "x")]),
        Case([A(TIES, "x"), A(DOUT22, "dout")], extra={"pair": True}, **pair,
             label="tied maxima, then your max_pool2x2_backward(dout, cache) (the first maximum in reading order "
                   "must win)"),
        Case([A("np.zeros((1, 1, 2, 2))", "x"), A("np.ones((1, 1, 1, 1))", "dout")], extra={"pair": True},
             **pair, label="an all-zero window, then your max_pool2x2_backward(dout, cache) (the first element "
                           "wins)"),
        Case([A("np.ones((1, 1, 3, 4))", "x")], raises=ValueError, reason="the height 3 is odd"),
        Case([A("np.ones((1, 1, 4, 5))", "x")], raises=ValueError, reason="the width 5 is odd"),
    ]


def _run_forward(func, case: Case, helpers: dict):
    args, _ = case.call_args()
    result = func(args[0])
    if not case.extra.get("pair"):
        return result
    out, cache = result
    return {"out": out, "dx": helpers["backward"](args[1], cache)}


def observe_forward(value) -> list[Entry]:
    if isinstance(value, dict):
        return [Entry("out", as_array(value["out"], "out")),
                Entry("dx", as_array(value["dx"], "dx"), note="dx from max_pool2x2_backward")]
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise Malformed(f"returned {describe_value(value)}: expected the tuple (out, cache)")
    return [Entry("out", as_array(value[0], "out"))]


def _forward_expected(case: Case, helpers: dict) -> list:
    return [_run_forward(_pool_forward_reference, case, {"backward": _pool_backward_reference})]


def max_pool2x2_backward_cases() -> list[Case]:
    return [
        Case([A(X44, "x"), A("np.ones((1, 1, 2, 2))", "dout")], label="the visible test's 4x4 map"),
        Case([A(TIES, "x"), A(DOUT22, "dout")], label="tied maxima (the first maximum in reading order wins)"),
        Case([A("np.zeros((1, 1, 2, 2))", "x"), A("np.ones((1, 1, 1, 1))", "dout")],
             label="an all-zero window (the first element wins)"),
        Case([A("np.random.default_rng(92).permutation(48).reshape(1, 2, 4, 6).astype(float)", "x"),
              A(ints(93, (1, 2, 2, 3), 1, 9), "dout")]),
        Case([A(ints(91, (2, 2, 4, 4), -20, 21), "x"), A(ints(94, (2, 2, 2, 2), -5, 6), "dout")]),
    ]


def _run_backward(func, case: Case, helpers: dict):
    args, _ = case.call_args()
    _, cache = helpers["forward"](args[0])
    return func(args[1], cache)


def _backward_expected(case: Case, helpers: dict) -> list:
    return [_run_backward(_pool_backward_reference, case, {"forward": _pool_forward_reference})]


def _backward_precheck(helpers: dict) -> str | None:
    """The backward is checked on the forward's cache: the forward must be right first."""
    forward = helpers["forward"]
    for case in max_pool2x2_backward_cases():
        (x, _), _ = case.call_args()
        outcome = invoke(lambda: forward(x))
        where = describe_case(Case([case.args[0]]))
        if outcome.error is not None:
            return (f"max_pool2x2_forward raised {error_text(outcome.error)} for {where}, so its cache cannot "
                    "be given to max_pool2x2_backward.\n  Fix the forward first: check(max_pool2x2_forward).")
        value = outcome.value
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            return (f"max_pool2x2_forward returned {describe_value(value)} for {where}, not (out, cache).\n"
                    "  Fix the forward first: check(max_pool2x2_forward).")
        try:
            got = observe_array(value[0])
        except Malformed as bad:
            return f"max_pool2x2_forward {bad} for {where}.\n  Fix the forward first: check(max_pool2x2_forward)."
        line = compare(observe_array(_pool_forward_reference(x)[0]), got)
        if line:
            return (f"max_pool2x2_forward gives a wrong out for {where}: {line}.\n"
                    "  Fix the forward first: check(max_pool2x2_forward).")
    return None


# --------------------------------------------------------------------------- init_params

@dataclass(frozen=True)
class _Spread:
    """An ideal random weight array: its shape and standard deviation (what the check expects)."""

    shape: tuple[int, ...]
    std: float
    note: str


STD_MIN_SIZE = 1000   # the standard deviation is checked only where the sample is large enough (~2 % noise)


def init_params_cases() -> list[Case]:
    def case(seed, **kw):
        args = [Arg("rng", np.random.default_rng(seed), f"np.random.default_rng({seed})")]
        return Case(args + [Arg(k, v, keyword=True) for k, v in kw.items()])

    # classes keeps its default: the template has it, but the instructions never mention it
    return [case(0, filters=3), case(1, filters=128), case(2, filters=1)]


def _init_expected(case: Case, helpers: dict) -> list:
    _, kwargs = case.call_args()
    f, c = kwargs.get("filters", 16), kwargs.get("classes", 10)
    return [{
        "w1": _Spread((f, 1, 3, 3), math.sqrt(2 / 9), "He: sqrt(2 / fan-in), fan-in = 1 x 3 x 3 = 9"),
        "b1": np.zeros(f),
        "w2": _Spread((16 * f, c), math.sqrt(1 / (16 * f)),
                      f"sqrt(1 / fan-in), fan-in = 16 x {f} filters = {16 * f}"),
        "b2": np.zeros(c),
    }]


def observe_init(value) -> list[Entry]:
    if not isinstance(value, dict):
        raise Malformed(f"returned {describe_value(value)}: expected a dict with w1, b1, w2, b2")
    missing = [k for k in ("w1", "b1", "w2", "b2") if k not in value]
    if missing:
        raise Malformed(f"returned a dict without {', '.join(missing)}")
    arrays = {k: v if isinstance(v, _Spread) else as_array(v, k) for k, v in value.items() if k in
              ("w1", "b1", "w2", "b2")}
    entries = [Entry(f"{k}.shape", tuple(int(d) for d in arrays[k].shape)) for k in ("w1", "b1", "w2", "b2")]
    entries += [Entry(k, arrays[k], rtol=0.0, atol=0.0, note="biases start at zero") for k in ("b1", "b2")]
    for k in ("w1", "w2"):
        a = arrays[k]
        if math.prod(a.shape) < STD_MIN_SIZE:
            continue
        std = a.std if isinstance(a, _Spread) else float(np.std(a))
        entries.append(Entry(f"standard deviation of {k}", std, rtol=0.12, atol=1e-12,
                             note=a.note if isinstance(a, _Spread) else ""))
    return entries


# --------------------------------------------------------------------------- train

_PARAMS = ("{'w1': 0.5 * np.random.default_rng(102).standard_normal((2, 1, 3, 3)), 'b1': np.array([0.1, -0.1]), "
           "'w2': 0.2 * np.random.default_rng(103).standard_normal((32, 10)), 'b2': np.zeros(10)}")


def train_cases() -> list[Case]:
    def case(n, epochs, lr, batch_size, momentum, seed, label):
        kw = dict(keyword=True)
        return Case([
            A(_PARAMS, "params", show="params={'w1': (2, 1, 3, 3), 'b1': (2,), 'w2': (32, 10), 'b2': (10,)} "
                                      "(small random weights)"),
            A(f"np.random.default_rng(100).standard_normal(({n}, 1, 8, 8))", "x",
              show=f"x={n} random 8x8 images"),
            A(f"np.random.default_rng(101).integers(0, 10, {n})", "y"),
            Arg("epochs", epochs, **kw), Arg("lr", lr, **kw), Arg("batch_size", batch_size, **kw),
            Arg("rng", np.random.default_rng(seed), f"np.random.default_rng({seed})", **kw),
            Arg("momentum", momentum, **kw),
        ], label=label)

    return [
        case(6, 1, 0.1, 6, 0.9, 0, "one step on one full batch"),
        case(8, 2, 0.05, 4, 0.9, 3, "4 steps: 2 epochs of 2 mini-batches"),
        case(8, 2, 0.05, 4, 0.5, 4, "4 steps with momentum 0.5"),
        case(10, 2, 0.05, 4, 0.9, 5, "a smaller last mini-batch (keeping it or dropping it are both fine)"),
    ]


def _run_train(func, case: Case, helpers: dict):
    """The losses, and params as the function left them (read through call_updating: a grader's
    proxy never writes a student's in-place changes back into the caller's objects)."""
    args, kwargs = case.call_args()
    losses, args_after, _ = call_updating(func, *args, **kwargs)
    return {"losses": losses, "params": args_after[0] if args_after else None}


def _expected_trajectory(case: Case, loss_and_grads, drop_last: bool) -> dict:
    """What the update rule of a3, Part 4 gives on this case with the student's own loss_and_grads:
    the losses and the parameters after training (the observed form, not a function to call)."""
    _, kwargs = case.call_args()
    (params, x, y), _ = Case(case.args[:3]).call_args()
    lr, batch_size, rng, momentum = kwargs["lr"], kwargs["batch_size"], kwargs["rng"], kwargs["momentum"]
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    losses = []
    for _ in range(kwargs["epochs"]):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            if drop_last and len(batch) < batch_size:
                break
            loss, grads = loss_and_grads({k: v.copy() for k, v in params.items()}, x[batch], y[batch])
            for k in params:
                velocity[k] = momentum * velocity[k] - lr * np.asarray(grads[k], dtype=float)
                params[k] = params[k] + velocity[k]
            losses.append(float(loss))
    return {"losses": losses, "params": params}


def _train_expected(case: Case, helpers: dict) -> list:
    lag = helpers["loss_and_grads"]
    results = []
    for drop_last in (False, True):
        outcome = invoke(lambda: _expected_trajectory(case, lag, drop_last))
        if outcome.error is not None:
            raise Unavailable(f"loss_and_grads raised {error_text(outcome.error)} while the check computed the "
                              "expected training run from it; fix the network first.")
        results.append(outcome.value)
    n = len(results[0]["losses"])
    return results if len(results[1]["losses"]) != n else results[:1]


def observe_train(value) -> list[Entry]:
    losses = value["losses"]
    if losses is None:
        raise Malformed("returned None instead of the list of mini-batch losses (is a `return` missing?)")
    if isinstance(losses, (dict, str)):
        raise Malformed(f"returned {describe_value(losses)}: expected the list of mini-batch losses")
    try:
        arr = np.asarray(losses, dtype=float)
    except (TypeError, ValueError):
        raise Malformed(f"returned {describe_value(losses)}: expected the list of mini-batch losses") from None
    if arr.ndim != 1:
        raise Malformed(f"returned losses of shape {arr.shape}: expected a flat list, one loss per mini-batch")
    entries = [Entry("losses", arr, noun="losses", note="one loss per mini-batch")]
    params = value["params"]
    if not isinstance(params, dict):
        raise Malformed(f"left params as {describe_value(params)}: expected the dict, updated in place")
    for k in ("w1", "b1", "w2", "b2"):
        if k not in params:
            raise Malformed(f"left params without {k!r}")
        entries.append(Entry(f"params['{k}']", as_array(params[k], k), note="after training"))
    return entries


SPECS = [
    Spec("conv2d_backward", A3, conv2d_backward_cases, _conv2d_backward_expected, observe=observe_grads),
    Spec("max_pool2x2_forward", A3, max_pool2x2_forward_cases, _forward_expected, run=_run_forward,
         observe=observe_forward, optional=("backward",), role="forward",
         related={"max_pool2x2_backward": "backward"},
         skipped_note={"backward": "which element wins a tie was not checked: "
                                   "check(max_pool2x2_forward, backward=max_pool2x2_backward) checks it"}),
    Spec("max_pool2x2_backward", A3, max_pool2x2_backward_cases, _backward_expected, run=_run_backward,
         observe=lambda v: [Entry("dx", as_array(v, "dx"))], required=("forward",), role="backward",
         related={"max_pool2x2_forward": "forward"}, precheck=_backward_precheck,
         call_words="max_pool2x2_backward(dout, cache) with out, cache = max_pool2x2_forward(x)"),
    Spec("init_params", A3, init_params_cases, _init_expected, observe=observe_init),
    Spec("train", A3, train_cases, _train_expected, run=_run_train, observe=observe_train,
         required=("loss_and_grads",)),
]
