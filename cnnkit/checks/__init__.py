"""Say *why* a graded function is wrong: ``check(conv2d)`` next to the function in the notebook.

    >>> from cnnkit.checks import check
    >>> check(conv2d)                                   # doctest: +SKIP
    conv2d: wrong result for x of shape (1, 2, 4, 4), w of shape (1, 2, 3, 3), b=[0.5], stride=1, padding=0.
      first wrong entry out[0, 0, 0, 0]: expected 3.5, got 3 (got - expected = -0.5).
      This looks like a known mistake: the bias is never added (lecture 02, section '6. Multiple channels ...').

:func:`check` picks the function's checks by its name (``func.__name__``, or ``name=``), calls it on small
readable cases, compares with the kit's reference (:mod:`cnnkit.ops`, :mod:`cnnkit.arith`) and, on the
first failure, shows the case, the first wrong entry, expected and got, and -- when the output matches a
catalogued mistake (:data:`MISTAKES`) -- that mistake and the lecture section that explains it.

Some checks take the student's other functions as helpers::

    check(max_pool2x2_backward, forward=max_pool2x2_forward)    # required: the backward reads the cache
    check(max_pool2x2_forward, backward=max_pool2x2_backward)   # optional: also checks who wins a tie
    check(train, loss_and_grads=loss_and_grads)                 # required: the trajectory uses your network
    check(convolve2d, correlate2d=correlate2d)                  # optional: says so when correlate2d is wrong

The student's function is only ever called with plain arguments (numpy arrays, numbers, strings, dicts,
numpy Generators; fresh copies each time) and judged by what it returns or raises, so a grader can run
the same check in its own process on a proxy of the function.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ._core import (
    Case,
    Outcome,
    Spec,
    Unavailable,
    Verdict,
    bind_globals,
    default_run,
    invoke,
    judge,
    reproduce_line,
    same_outcome,
)
from ._mistake import A1, A2, A3, Mistake
from ._specs_a1 import SPECS as _SPECS_A1
from ._specs_a2 import SPECS as _SPECS_A2
from ._specs_a3 import SPECS as _SPECS_A3

__all__ = ["check", "CheckResult", "Mistake", "MISTAKES", "FUNCTIONS", "ASSIGNMENTS", "mistakes_of"]

_SPECS: dict[str, Spec] = {s.name: s for s in (*_SPECS_A1, *_SPECS_A2, *_SPECS_A3)}

#: The functions :func:`check` knows, by name, and their assignment.
FUNCTIONS: dict[str, str] = {name: spec.assignment for name, spec in _SPECS.items()}
ASSIGNMENTS = (A1, A2, A3)


def __getattr__(name: str) -> Any:
    """``MISTAKES``, the catalogue of realistic mistakes (each with a mutant that makes exactly that
    mistake), is imported on first use: the mutant modules may be hidden where checks run untrusted."""
    if name == "MISTAKES":
        from ._catalogue import MISTAKES

        globals()["MISTAKES"] = MISTAKES
        return MISTAKES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _load_catalogue() -> list[Mistake]:
    """The catalogue, or nothing where the mutant modules are hidden (then no mistake is named)."""
    try:
        from ._catalogue import MISTAKES
    except ImportError:
        return []
    return MISTAKES


def mistakes_of(function: str) -> list[Mistake]:
    """The catalogued mistakes of one function."""
    return [m for m in _load_catalogue() if m.function == function]


@dataclass
class CheckResult:
    """What :func:`check` found. ``message`` explains it in plain words, starting with the function's name."""

    function: str
    passed: bool
    message: str
    mistake: str | None = None
    checks: int = 0
    failed: int = 0

    def assert_passed(self) -> None:
        """Raise ``AssertionError(message)`` unless every check passed."""
        if not self.passed:
            raise AssertionError(self.message)

    def __repr__(self) -> str:
        return self.message

    __str__ = __repr__

    def _repr_markdown_(self) -> str:
        mark = "✅" if self.passed else "❌"
        return f"{mark} **`{self.function}`**\n\n```text\n{self.message}\n```\n"


def check(func: Callable, name: str | None = None, **helpers: Any) -> CheckResult:
    """Check a graded function on small readable cases and explain the first failure.

    ``name`` picks the checks when ``func`` has no (or another) ``__name__``, e.g. a grader's proxy.
    ``helpers`` are the student's other functions that this check needs (see the module doc);
    ``kind="avg"`` keeps only the cases of one kind, for functions with a ``kind`` argument.
    Raises TypeError / ValueError for a wrong call of ``check`` itself; never for a wrong ``func``.
    """
    fname = name
    if fname is None:
        try:
            fname = func.__name__
        except Exception:  # noqa: BLE001 - a grader's proxy may refuse attribute access in its own way
            fname = None
    if not isinstance(fname, str):
        raise TypeError("check() cannot tell which function this is (it has no __name__): "
                        f"pass name=..., one of {', '.join(_SPECS)}")
    spec = _SPECS.get(fname)
    if spec is None:
        raise ValueError(f"check() has no checks for a function called {fname!r}; it knows {', '.join(_SPECS)} "
                         "(pass name=... if your function has another name)")
    helpers = {k: v for k, v in helpers.items() if v is not None}
    kind = helpers.pop("kind", None)
    if kind is not None and not any(arg.name == "kind" for case in spec.cases() for arg in case.args):
        raise TypeError(f"check({fname}) takes no kind=: its function has no 'kind' argument")
    part = helpers.pop("part", None)
    if part is not None and part not in spec.parts:
        allowed = ", ".join(repr(p) for p in spec.parts) or "none (its checks are not split)"
        raise ValueError(f"check({fname}) got part={part!r}; its parts are {allowed}")
    unknown = sorted(set(helpers) - set(spec.required) - set(spec.optional))
    if unknown:
        takes = ", ".join(f"{h}=" for h in (*spec.required, *spec.optional)) or "no helpers"
        raise TypeError(f"check({fname}) got unexpected helper(s) {', '.join(unknown)}; it takes {takes}")
    missing = [h for h in spec.required if h not in helpers]
    if missing:
        example = ", ".join(f"{h}={_helper_function(fname, h)}" for h in missing)
        raise TypeError(f"check({fname}) needs {example}: pass your own function, as in check({fname}, {example})")
    try:
        return _run(spec, func, helpers, kind, part)
    except Unavailable as why:
        return CheckResult(fname, False, f"{fname}: cannot be checked: {why}")
    except ImportError as exc:
        return CheckResult(fname, False, f"{fname}: cannot be checked here: the kit's reference implementation is "
                                         f"not available in this process ({exc}).")


def _helper_function(fname: str, helper: str) -> str:
    return {"forward": "max_pool2x2_forward", "backward": "max_pool2x2_backward"}.get(helper, helper)


def _of_kind(case, kind: str | None) -> bool:
    """With ``kind`` given (``check(pool2d, kind="avg")``), only the cases of that kind."""
    if kind is None:
        return True
    return any(arg.name == "kind" and arg.value == kind for arg in case.args)


def _built_on(spec: Spec, func: Callable, cases: list[Case], helpers: dict) -> list[Outcome | None] | None:
    """Per case, what ``func`` should return when built on the student's own prerequisite; None when
    the spec has no such judgment or it could not catch this function's own mistakes (the student's
    prerequisite is too broken to tell a right composition from a wrong one)."""
    if spec.built_on is None:
        return None
    own: list[Outcome | None] = []
    for case in cases:
        outcome = invoke(lambda: spec.built_on(func, case, helpers)) if case.raises is None else None
        own.append(outcome if outcome is not None and (outcome.error is not None or outcome.value) else None)
    values = [list(o.value) if o is not None and o.error is None else [] for o in own]
    if not any(values) or (spec.informative is not None and not spec.informative(cases, values, helpers)):
        return None
    return own


def _agrees_with_own(spec: Spec, case: Case, outcome: Outcome, own: Outcome | None) -> Verdict | None:
    """The verdict when the student's function does what it should on their own prerequisite:
    returns its result, or raises what the prerequisite raised (a convolve2d on a correlate2d that
    refuses non-square kernels refuses them too)."""
    if own is None:
        return None
    if own.error is not None:
        same = outcome.error is not None and type(outcome.error).__name__ == type(own.error).__name__
        return Verdict(True, outcome) if same and type(own.error).__name__ != "NotImplementedError" else None
    verdict = judge(spec, case, outcome, list(own.value))
    return verdict if verdict.ok else None


def _built_on_note(spec: Spec, helpers: dict) -> str:
    given = [p for p in spec.prerequisites if p in helpers]
    if given:
        names = " and ".join(given)
        return (f"judged with your own {names}, which differs from the kit's; that mistake costs points "
                f"in {given[0]}'s own cell only")
    return "the strided and padded results judged against your own stride-1 results"


def _run(spec: Spec, func: Callable, helpers: dict, kind: str | None = None, part: str | None = None) -> CheckResult:
    name = spec.name
    if spec.precheck is not None:
        problem = spec.precheck(helpers)
        if problem:
            return CheckResult(name, False, f"{name}: cannot be checked yet: {problem}")
    all_cases = [c for c in spec.cases() if _of_kind(c, kind) and (part is None or spec.parts[part](c))]
    cases = [c for c in all_cases if all(h in helpers for h in c.needs)]
    notes = sorted({spec.skipped_note.get(h, "") for c in all_cases if c not in cases for h in c.needs} - {""})
    run = spec.run or default_run
    own = _built_on(spec, func, cases, helpers)
    verdicts: list[Verdict] = []
    leaned_on_own = False
    for index, case in enumerate(cases):
        expected = None if case.raises is not None else spec.expected(case, helpers)
        outcome = invoke(lambda: run(func, case, helpers))
        verdict = judge(spec, case, outcome, expected)
        if not verdict.ok and own is not None:
            relative = _agrees_with_own(spec, case, outcome, own[index])
            if relative is not None:
                verdict, leaned_on_own = relative, True
        verdicts.append(verdict)
    failures = [i for i, v in enumerate(verdicts) if not v.ok]
    if leaned_on_own:
        notes.append(_built_on_note(spec, helpers))
    if not failures:
        note = f" ({'; '.join(notes)})" if notes else ""
        return CheckResult(name, True, f"{name}: all {len(cases)} checks passed{note}", None, len(cases), 0)
    first = failures[0]
    if verdicts[first].terse:
        return CheckResult(name, False, f"{name}: {verdicts[first].headline}", None, len(cases), len(failures))
    found = _diagnose(spec, cases, verdicts, first, helpers)
    lines = [f"{name}: {verdicts[first].headline}"]
    if verdicts[first].detail:
        detail = verdicts[first].detail
        lines.append("  " + detail + ("" if detail.endswith(".") else "."))
    mistake = None
    if len(found) == 1:
        m = found[0]
        mistake = m.id
        where = "" if m.function == name else f" in {m.function}"
        lines.append(f"  This looks like a known mistake{where}: {m.title} ({m.lecture}).")
    elif found:
        lines.append("  This looks like one of these known mistakes: "
                     + "; ".join(f"{m.title} ({m.lecture})" for m in found) + ".")
    repro = reproduce_line(cases[first])
    if repro:
        lines.append(repro)
    for prereq in spec.prerequisites:
        if prereq in helpers:
            sub = check(helpers[prereq], name=prereq)
            if not sub.passed:
                lines.append(f"  Note: {name} uses your {prereq}, which fails its own check; fix it first "
                             f"(check({prereq})).")
    if len(failures) > 1:
        lines.append(f"  {len(failures)} of {len(cases)} checks fail; this is the first.")
    return CheckResult(name, False, "\n".join(lines), mistake, len(cases), len(failures))


def _candidates(spec: Spec, helpers: dict):
    """(mistake, function to run in this check's place, helpers to run it with), for every catalogued
    mistake this check can recognise: the function's own, and its partner's where the pair is observed."""
    for m in _load_catalogue():
        if m.function == spec.name:
            h = {**helpers, **dict(m.helpers)}
            yield m, bind_globals(m.mutant, m.needs, h), h
        elif m.function in spec.related and spec.role is not None:
            companions = dict(m.helpers)
            if spec.role in companions:
                h = {**helpers, spec.related[m.function]: bind_globals(m.mutant, m.needs, helpers)}
                yield m, companions[spec.role], h


def _diagnose(spec: Spec, cases: list[Case], verdicts: list[Verdict], first: int, helpers: dict) -> list[Mistake]:
    """The catalogued mistakes whose mutant behaves like the student's function: it must agree on the
    first failing case; among those, the ones agreeing on the most cases win."""
    run = spec.run or default_run
    best: list[Mistake] = []
    best_score = 0
    for mistake, fn, h in _candidates(spec, helpers):
        def outcome(case, fn=fn, h=h):
            return invoke(lambda: run(fn, case, h))

        if not same_outcome(spec, outcome(cases[first]), verdicts[first].outcome):
            continue
        score = 1 + sum(same_outcome(spec, outcome(c), verdicts[i].outcome)
                        for i, c in enumerate(cases) if i != first)
        if score > best_score:
            best, best_score = [mistake], score
        elif score == best_score:
            best.append(mistake)
    return best
