"""The machinery behind :func:`cnnkit.checks.check`: run cases, compare, diagnose, explain.

A *spec* describes one graded function: its cases (small readable inputs), how to call it, how
to turn what it returns into named entries (``out``, ``dx``, ``params['w1']`` ...), and what the
trusted reference (:mod:`cnnkit.ops`, :mod:`cnnkit.arith`) returns on the same inputs. The student's
function is called with plain arguments only (fresh copies every time), and only what it returns
(or raises) is looked at, so the same check runs on a grader's proxy of the function.

On a failure the student's outcomes are compared with the stored outcomes of every catalogued
mistake of the function (:data:`cnnkit.checks.MISTAKES`, data only: see :func:`summarize`): the one
that behaves like the student's function on the first failing case (and on most of the others)
names the mistake.
"""
from __future__ import annotations

import copy
import hashlib
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

#: Default tolerances: the hidden tests compare at about this level.
RTOL = 1e-7
ATOL = 1e-9


class Malformed(Exception):
    """What the function returned has the wrong structure (None, a list instead of a tuple, ...)."""


class Unavailable(Exception):
    """The check cannot run here (the reference is hidden, a helper failed ...): the text says why."""


@dataclass
class Entry:
    """One named part of an observed result, compared on its own.

    ``value``: an ndarray (compared entry by entry), a real number (compared with the tolerances)
    or anything else (compared with ``==``). ``note`` is added to the explanation when the entry
    is wrong; ``noun`` phrases a length mismatch of a 1-D array ("returned 3 losses, expected 4").
    """

    label: str
    value: Any
    rtol: float = RTOL
    atol: float = ATOL
    note: str = ""
    noun: str = ""


@dataclass(eq=False)
class Arg:
    """One argument of a case: its name, value, and how to show it in a message.

    ``expr`` is a Python expression (numpy as ``np``) that builds the value, so a message can
    say how to reproduce the case; ``show`` overrides the short description.
    """

    name: str
    value: Any
    expr: str | None = None
    keyword: bool = False
    show: str | None = None


def A(expr: str, name: str = "", keyword: bool = False, show: str | None = None) -> Arg:
    """An :class:`Arg` built by evaluating ``expr`` (only numpy available)."""
    value = eval(expr, {"np": np, "float": float})  # noqa: S307 - our own constant expressions
    return Arg(name, value, expr, keyword, show)


@dataclass(eq=False)
class Case:
    """One call of the function: arguments, and either a value to match or an exception to raise."""

    args: list[Arg]
    raises: type[BaseException] | None = None
    reason: str = ""
    label: str = ""
    needs: tuple[str, ...] = ()          # helpers this case needs; without them it is skipped
    extra: dict[str, Any] = field(default_factory=dict)

    def call_args(self) -> tuple[tuple, dict]:
        """Fresh copies of the arguments (a function may modify what it is given)."""
        args, kwargs = [], {}
        for arg in self.args:
            value = copy.deepcopy(arg.value)
            if arg.keyword:
                kwargs[arg.name] = value
            else:
                args.append(value)
        return tuple(args), kwargs


@dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None


@dataclass
class Spec:
    """How to check one graded function (see the module docstring)."""

    name: str
    assignment: str
    cases: Callable[[], list[Case]]
    expected: Callable[[Case, dict], list[Any]]   # acceptable raw results, from the reference
    run: Callable[[Callable, Case, dict], Any] | None = None
    observe: Callable[[Any], list[Entry]] | None = None
    required: tuple[str, ...] = ()       # helpers that must be given
    optional: tuple[str, ...] = ()       # helpers that may be given
    prerequisites: tuple[str, ...] = ()  # optional helpers that are student functions this one calls
    role: str | None = None              # this function's helper keyword in its partner's check
    related: dict[str, str] = field(default_factory=dict)  # other function -> its helper keyword here
    precheck: Callable[[dict], str | None] | None = None
    call_words: str = ""                 # how a call reads in a message, when not "name(...)"
    skipped_note: dict[str, str] = field(default_factory=dict)  # helper -> note when it is missing
    # "One mistake, one loss": what the function should return when built on the student's own
    # prerequisite (or, for conv2d's stride, on its own stride-1 result); accepted besides the
    # reference when ``informative`` says that judgment can still catch this function's mistakes.
    built_on: Callable[[Callable, Case, dict], list[Any]] | None = None
    informative: Callable[[list[Case], list[list[Any]], dict], bool] | None = None
    parts: dict[str, Callable[[Case], bool]] = field(default_factory=dict)  # part name -> its cases


# --------------------------------------------------------------------------- formatting

def fmt_num(value: Any) -> str:
    """A number as a person writes it: 3, 3.25, 0.471405, nan."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return repr(value)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.6g}"


def fmt_array(a: np.ndarray) -> str:
    """A small array as nested lists of readable numbers."""
    if a.ndim == 0:
        return fmt_num(a)
    return "[" + ", ".join(fmt_array(row) for row in a) + "]"


def fmt_index(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(int(i)) for i in index) + "]" if index else ""


def describe_value(value: Any, _depth: int = 0) -> str:
    """What a function returned, in a few words."""
    if isinstance(value, tuple) and 0 < len(value) <= 3 and _depth == 0:
        items = ", ".join(describe_value(v, 1) for v in value)
        return f"a tuple of {len(value)} items ({items})"
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        if value.size <= 6:
            return f"{fmt_array(value)} (an array of shape {value.shape})"
        return f"an array of shape {value.shape}"
    if isinstance(value, (bool, np.bool_)):
        return repr(bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        return fmt_num(value)
    if isinstance(value, tuple):
        return f"a tuple of {len(value)} items"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return f"a dict with keys {sorted(map(str, value))}"
    return f"a {type(value).__name__}"


def _short_array(arg: Arg, a: np.ndarray) -> str | None:
    """The array written out, when it is small enough to read at a glance."""
    if a.size > 16 or a.dtype.kind not in "biuf":
        return None
    lead = a.shape[:-2] if a.ndim > 2 else ()
    if all(d == 1 for d in lead) and a.ndim > 2:
        return f"{fmt_array(a.reshape(a.shape[-2:]))} (shape {a.shape})"
    return fmt_array(a)


def describe_arg(arg: Arg) -> str:
    if arg.show is not None:
        return f"{arg.name}={arg.show}" if arg.keyword else arg.show
    v = arg.value
    if isinstance(v, np.ndarray):
        short = _short_array(arg, v)
        if short is not None:
            return f"{arg.name}={short}"
        if arg.expr is not None and len(arg.expr) <= 40:
            return f"{arg.name}={arg.expr}"
        return f"{arg.name} of shape {v.shape}"
    if arg.expr is not None:
        return f"{arg.name}={arg.expr}"
    return f"{arg.name}={v!r}"


def describe_case(case: Case) -> str:
    text = ", ".join(describe_arg(a) for a in case.args)
    return f"{case.label}: {text}" if case.label else text


def reproduce_line(case: Case) -> str | None:
    """'To reproduce: x = ...; w = ...' for the arguments a message could only abbreviate."""
    parts = []
    for arg in case.args:
        if arg.expr is None:
            continue
        shown = describe_arg(arg)
        if shown == f"{arg.name}={arg.expr}" or (arg.show is None and isinstance(arg.value, np.ndarray)
                                                  and _short_array(arg, arg.value) is not None):
            continue
        parts.append(f"{arg.name} = {arg.expr}")
    return "  To reproduce: " + "; ".join(parts) if parts else None


def call_text(name: str, case: Case) -> str:
    """The case as a call a student can paste: conv2d(np.ones((1, 3, 5, 5)), np.ones((1, 1, 3, 3)))."""
    parts = []
    for arg in case.args:
        expr = arg.expr if arg.expr is not None else repr(arg.value)
        parts.append(f"{arg.name}={expr}" if arg.keyword else expr)
    return f"{name}({', '.join(parts)})"


# --------------------------------------------------------------------------- observing and comparing

def observe_array(value: Any, label: str = "out") -> list[Entry]:
    """A single array result."""
    return [Entry(label, as_array(value, label))]


def as_array(value: Any, label: str) -> np.ndarray:
    if value is None:
        raise Malformed(f"returned None for {label} (is a `return` missing?)")
    if isinstance(value, (tuple, dict)) or (isinstance(value, list) and value and isinstance(value[0], tuple)):
        raise Malformed(f"returned {describe_value(value)} where {label} should be an array")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise Malformed(f"returned {describe_value(value)} where {label} should be an array of numbers") from None
    return arr


def as_number(value: Any, label: str) -> float:
    if isinstance(value, (bool, np.bool_)) or value is None:
        raise Malformed(f"returned {describe_value(value)} where {label} should be a number")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise Malformed(f"returned {describe_value(value)} where {label} should be a number") from None
    if arr.ndim != 0:
        raise Malformed(f"returned {describe_value(value)} where {label} should be a single number")
    return float(arr)


def _entry_mismatch(exp: Entry, got: Entry) -> str | None:
    """None when ``got`` matches ``exp`` (within exp's tolerances), else one line saying how not."""
    note = f" ({exp.note})" if exp.note else ""
    e, g = exp.value, got.value
    if isinstance(e, np.ndarray):
        g = np.asarray(g)
        if g.shape != e.shape:
            if exp.noun and e.ndim == 1 and g.ndim == 1:
                return f"returned {g.shape[0]} {exp.noun}, expected {e.shape[0]}{note}"
            return f"{exp.label} has shape {g.shape}, expected {e.shape}{note}"
        if e.size == 0:
            return None
        bad = ~np.isclose(g, e, rtol=exp.rtol, atol=exp.atol)
        if not bad.any():
            return None
        index = tuple(np.argwhere(bad)[0])
        ev, gv = float(e[index]), float(g[index])
        line = f"first wrong entry {exp.label}{fmt_index(index)}: expected {fmt_num(ev)}, got {fmt_num(gv)}"
        if math.isfinite(gv - ev):
            line += f" (got - expected = {fmt_num(gv - ev)})"
        count = int(bad.sum())
        if count > 1:
            line += f"; {count} of {bad.size} entries are wrong"
        return line + note
    if isinstance(e, float):
        gv = float(g)
        if math.isclose(gv, e, rel_tol=exp.rtol, abs_tol=exp.atol):
            return None
        about = "about " if exp.rtol > 1e-3 else ""
        label = f"{exp.label}: " if exp.label else ""
        return f"{label}expected {about}{fmt_num(e)}, got {fmt_num(gv)}{note}"
    if e == g:
        return None
    show = (lambda v: "(" + ", ".join(fmt_num(x) for x in v) + ")") if isinstance(e, tuple) else repr
    gs = show(g) if isinstance(g, tuple) else repr(g)
    return f"{exp.label}: expected {show(e)}, got {gs}{note}"


def compare(expected: list[Entry], got: list[Entry]) -> str | None:
    """The first difference between two observations, as one line, or None."""
    for e, g in zip(expected, got):
        if e.label != g.label:
            return f"returned {g.label} where {e.label} was expected"
        line = _entry_mismatch(e, g)
        if line:
            return line
    if len(expected) != len(got):
        exp_labels, got_labels = [e.label for e in expected], [g.label for g in got]
        return f"returned {', '.join(got_labels) or 'nothing'}; expected {', '.join(exp_labels)}"
    return None


def _same(a: list[Entry], b: list[Entry]) -> bool:
    """Whether two observations of (possibly wrong) results agree: used to recognise a mistake."""
    if [e.label for e in a] != [e.label for e in b]:
        return False
    for x, y in zip(a, b):
        rtol, atol = max(x.rtol, 1e-6), max(x.atol, 1e-8)
        if isinstance(x.value, np.ndarray) or isinstance(y.value, np.ndarray):
            xv, yv = np.asarray(x.value), np.asarray(y.value)
            if xv.shape != yv.shape or not np.allclose(xv, yv, rtol=rtol, atol=atol, equal_nan=True):
                return False
        elif isinstance(x.value, float) and isinstance(y.value, float):
            if not (math.isclose(x.value, y.value, rel_tol=rtol, abs_tol=atol)
                    or (math.isnan(x.value) and math.isnan(y.value))):
                return False
        elif x.value != y.value:
            return False
    return True


# --------------------------------------------------------------------------- running

def invoke(call: Callable[[], Any]) -> Outcome:
    """Run one call, quietly: numpy warnings off, any exception caught and kept."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            try:
                return Outcome(value=call())
            except Exception as exc:  # noqa: BLE001 - the student's code may raise anything
                return Outcome(error=exc)


def default_run(func: Callable, case: Case, helpers: dict) -> Any:
    args, kwargs = case.call_args()
    return func(*args, **kwargs)


def call_updating(func: Callable, *args: Any, **kwargs: Any) -> tuple[Any, list, dict]:
    """Call ``func`` on deep copies of the arguments and return ``(what it returned, the copied
    positional arguments as the function left them, the copied keyword arguments likewise)``.

    This is how a check reads what a function changes in place (``train`` updates ``params``)
    without ever sharing the caller's objects. A grader's proxy of a function running in another
    process answers for itself: when ``func`` has a callable ``__cnnkit_call_updating__``, the
    result is ``func.__cnnkit_call_updating__(args, kwargs)``, the same triple.
    """
    try:
        remote = getattr(func, "__cnnkit_call_updating__", None)
    except Exception:  # noqa: BLE001 - an object may refuse attribute access in its own way
        remote = None
    if callable(remote):
        returned, new_args, new_kwargs = remote(args, kwargs)
        return returned, list(new_args), dict(new_kwargs)
    sent_args, sent_kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)
    returned = func(*sent_args, **sent_kwargs)
    return returned, list(sent_args), sent_kwargs


def _error_name(exc: BaseException) -> str:
    return type(exc).__name__


def error_text(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if len(text) > 160:
        text = text[:157] + "..."
    return f"{_error_name(exc)}: {text}" if text else _error_name(exc)


def _raised(exc: BaseException | None, expected: type[BaseException]) -> bool:
    """The call raised the expected kind of exception (by class, or by name for a grader's copy of it)."""
    if exc is None:
        return False
    return isinstance(exc, expected) or any(c.__name__ == expected.__name__ for c in type(exc).__mro__)


@dataclass
class Verdict:
    """How one case went for the student's function."""

    ok: bool
    outcome: Outcome
    headline: str = ""
    detail: str = ""
    observed: list[Entry] | None = None
    terse: bool = False        # the headline says it all (nothing written yet)


def _observe(spec: Spec, value: Any) -> list[Entry]:
    return (spec.observe or observe_array)(value)


def judge(spec: Spec, case: Case, outcome: Outcome, expected_values: list[Any] | None) -> Verdict:
    name = spec.name
    if case.raises is not None:
        want = case.raises.__name__
        reason = f" ({case.reason})" if case.reason else ""
        if _raised(outcome.error, case.raises):
            return Verdict(True, outcome)
        if outcome.error is not None:
            got = f"it raised {error_text(outcome.error)}"
        else:
            got = f"it returned {describe_value(outcome.value)}"
        return Verdict(False, outcome, f"{call_text(name, case)} should raise {want}{reason}; {got}.")
    where = describe_case(case)
    what = f"wrong result of {spec.call_words}" if spec.call_words else "wrong result"
    if _raised(outcome.error, NotImplementedError):
        return Verdict(False, outcome, "not written yet: it raises NotImplementedError (replace the "
                                       "`raise NotImplementedError()` line by your code).", terse=True)
    if outcome.error is not None:
        text = str(outcome.error).strip().splitlines()[0] if str(outcome.error).strip() else ""
        text = f" ({text[:157] + '...' if len(text) > 160 else text})" if text else ""
        call = f" in {spec.call_words}" if spec.call_words else ""
        return Verdict(False, outcome, f"raised {_error_name(outcome.error)}{text}{call} for {where}.")
    try:
        observed = _observe(spec, outcome.value)
    except Malformed as bad:
        return Verdict(False, outcome, f"{what} for {where}.", f"It {bad}.")
    first_line = None
    for value in expected_values or []:
        line = compare(_observe(spec, value), observed)
        if line is None:
            return Verdict(True, outcome, observed=observed)
        if first_line is None or _prefer(value, observed, spec):
            first_line = line
    return Verdict(False, outcome, f"{what} for {where}.", first_line or "", observed)


def _prefer(value: Any, observed: list[Entry], spec: Spec) -> bool:
    """Among several acceptable results, explain against the one shaped like the student's."""
    exp = _observe(spec, value)
    return all(np.shape(e.value) == np.shape(g.value) for e, g in zip(exp, observed)) and len(exp) == len(observed)


def same_outcome(spec: Spec, a: Outcome, b: Outcome) -> bool:
    if a.error is not None or b.error is not None:
        return a.error is not None and b.error is not None and _error_name(a.error) == _error_name(b.error)
    try:
        oa = _observe(spec, a.value)
    except Malformed as bad_a:
        try:
            _observe(spec, b.value)
        except Malformed as bad_b:
            return str(bad_a) == str(bad_b)
        return False
    try:
        ob = _observe(spec, b.value)
    except Malformed:
        return False
    return _same(oa, ob)


# --------------------------------------------------------------------------- outcomes as data
# A catalogued mistake is recognised by what a function making it returned on each fixed case. That
# is stored as data (cnnkit/checks/catalogue.json): the observed entries, the Malformed text or the
# exception's name. Building it and comparing with it use the same two functions below.

def summarize(spec: Spec, outcome: Outcome) -> dict:
    """One outcome as JSON-ready data: ``{"error": name}``, ``{"malformed": text}`` or
    ``{"entries": [[label, value], ...]}`` (values encoded by :func:`encode_value`)."""
    if outcome.error is not None:
        return {"error": _error_name(outcome.error)}
    try:
        entries = _observe(spec, outcome.value)
    except Malformed as bad:
        return {"malformed": str(bad)}
    return {"entries": [[e.label, encode_value(e.value)] for e in entries]}


def matches(spec: Spec, stored: dict, outcome: Outcome) -> bool:
    """Whether ``outcome`` agrees with a stored :func:`summarize` (within the entries' tolerances)."""
    if "error" in stored or outcome.error is not None:
        return outcome.error is not None and stored.get("error") == _error_name(outcome.error)
    try:
        observed = _observe(spec, outcome.value)
    except Malformed as bad:
        return stored.get("malformed") == str(bad)
    if "entries" not in stored or len(stored["entries"]) != len(observed):
        return False
    recalled = [Entry(label, decode_value(value), got.rtol, got.atol)
                for (label, value), got in zip(stored["entries"], observed)]
    return _same(recalled, observed)


def encode_value(value: Any) -> Any:
    """An observed entry's value as JSON data (arrays as shape and flat list, tuples tagged)."""
    if isinstance(value, np.ndarray):
        return {"shape": list(value.shape), "data": np.asarray(value, dtype=float).ravel().tolist()}
    if isinstance(value, tuple):
        return {"tuple": [encode_value(v) for v in value]}
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"cannot store an observed {type(value).__name__}")


def decode_value(data: Any) -> Any:
    """The inverse of :func:`encode_value`."""
    if isinstance(data, dict) and "shape" in data:
        return np.asarray(data["data"], dtype=float).reshape(data["shape"])
    if isinstance(data, dict) and "tuple" in data:
        return tuple(decode_value(v) for v in data["tuple"])
    return data


def fingerprint(cases: list[Case]) -> str:
    """A short hash of a function's cases (their arguments' names, values and expressions), stored
    beside the outcomes: outcomes recorded on other cases are never compared."""
    digest = hashlib.sha256()
    for case in cases:
        digest.update(f"case {case.raises.__name__ if case.raises else ''} {sorted(case.extra)}|".encode())
        for arg in case.args:
            digest.update(f"{arg.name}={arg.keyword}:{arg.expr}:".encode())
            value = arg.value
            if isinstance(value, np.ndarray):
                digest.update(f"{value.dtype}{value.shape}".encode() + np.ascontiguousarray(value).tobytes())
            elif isinstance(value, np.random.Generator):
                digest.update(repr(value.bit_generator.state).encode())
            else:
                digest.update(repr(value).encode())
    return digest.hexdigest()[:16]
