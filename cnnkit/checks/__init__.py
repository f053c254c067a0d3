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
numpy Generators; fresh copies each time) and judged by what it returns or raises; of the function
object itself only ``__name__`` is read. A function that updates its arguments in place (``train``'s
params) is read through :func:`call_updating`. So a grader can run the same check in its own
process on a proxy of the function, and collect what every check found with :func:`record_results`.

The catalogue of mistakes is data: what a function making each mistake returns on the fixed cases
(``catalogue.json``, built by the instructor from code that is not part of this package).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from ._core import (
    Case,
    Outcome,
    Spec,
    Unavailable,
    Verdict,
    call_updating,
    default_run,
    fingerprint,
    invoke,
    judge,
    matches,
    reproduce_line,
)
from ._mistake import A1, A2, A3, Mistake
from ._specs_a1 import SPECS as _SPECS_A1
from ._specs_a2 import SPECS as _SPECS_A2
from ._specs_a3 import SPECS as _SPECS_A3

__all__ = ["check", "CheckResult", "Mistake", "MISTAKES", "FUNCTIONS", "ASSIGNMENTS", "mistakes_of",
           "record_results", "call_updating"]

_SPECS: dict[str, Spec] = {s.name: s for s in (*_SPECS_A1, *_SPECS_A2, *_SPECS_A3)}

#: The functions :func:`check` knows, by name, and their assignment.
FUNCTIONS: dict[str, str] = {name: spec.assignment for name, spec in _SPECS.items()}
ASSIGNMENTS = (A1, A2, A3)


def __getattr__(name: str) -> Any:
    """``MISTAKES``, the catalogue of realistic mistakes, is read from its data file on first use."""
    if name == "MISTAKES":
        mistakes = list(_loaded_catalogue().mistakes)
        globals()["MISTAKES"] = mistakes
        return mistakes
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _loaded_catalogue():
    """The catalogue, or an empty one where its file cannot be read (then no mistake is named)."""
    from ._catalogue import Catalogue, load

    try:
        return load()
    except (OSError, ValueError, KeyError, TypeError):
        return Catalogue((), {}, {})


def mistakes_of(function: str) -> list[Mistake]:
    """The catalogued mistakes of one function."""
    return [m for m in _loaded_catalogue().mistakes if m.function == function]


@dataclass
class CheckResult:
    """What :func:`check` found. ``message`` explains it in plain words, starting with the function's name.

    ``mistake`` is the id of the catalogued mistake the function was recognised as making (None when
    none, or when several fit equally well), ``title`` that mistake in plain words and ``lecture`` the
    lecture section that explains it.
    """

    function: str
    passed: bool
    message: str
    mistake: str | None = None
    checks: int = 0
    failed: int = 0
    lecture: str | None = None
    title: str | None = None

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


_recorders: list[list[CheckResult]] = []


@contextmanager
def record_results() -> Iterator[list[CheckResult]]:
    """Collect every :class:`CheckResult` that :func:`check` returns while the context is active.

        with record_results() as found:
            run_the_test_cell()
        diagnoses = [r.mistake for r in found if not r.passed]

    Contexts nest (each active list receives every result); the checks that a check runs itself
    (a prerequisite's, for its note) are not recorded.
    """
    found: list[CheckResult] = []
    _recorders.append(found)
    try:
        yield found
    finally:
        for i in range(len(_recorders) - 1, -1, -1):
            if _recorders[i] is found:
                del _recorders[i]
                break


def check(func: Callable, name: str | None = None, **helpers: Any) -> CheckResult:
    """Check a graded function on small readable cases and explain the first failure.

    ``name`` picks the checks when ``func`` has no (or another) ``__name__``, e.g. a grader's proxy.
    ``helpers`` are the student's other functions that this check needs (see the module doc);
    ``kind="avg"`` keeps only the cases of one kind, for functions with a ``kind`` argument.
    Raises TypeError / ValueError for a wrong call of ``check`` itself; never for a wrong ``func``.
    Every result is also appended to the lists of the active :func:`record_results` contexts.
    """
    result = _check(func, name, helpers)
    for found in _recorders:
        found.append(result)
    return result


def _check(func: Callable, name: str | None, helpers: dict) -> CheckResult:
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
    every_case = spec.cases()
    chosen = [(i, c) for i, c in enumerate(every_case) if _of_kind(c, kind) and (part is None or spec.parts[part](c))]
    runnable = [(i, c) for i, c in chosen if all(h in helpers for h in c.needs)]
    cases, positions = [c for _, c in runnable], [i for i, _ in runnable]
    skipped = [c for _, c in chosen if not all(h in helpers for h in c.needs)]
    notes = sorted({spec.skipped_note.get(h, "") for c in skipped for h in c.needs} - {""})
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
    found = _diagnose(spec, every_case, positions, verdicts, first)
    lines = [f"{name}: {verdicts[first].headline}"]
    if verdicts[first].detail:
        detail = verdicts[first].detail
        lines.append("  " + detail + ("" if detail.endswith(".") else "."))
    named: Mistake | None = None
    if len(found) == 1:
        named = found[0]
        where = "" if named.function == name else f" in {named.function}"
        lines.append(f"  This looks like a known mistake{where}: {named.title} ({named.lecture}).")
    elif found:
        lines.append("  This looks like one of these known mistakes: "
                     + "; ".join(f"{m.title} ({m.lecture})" for m in found) + ".")
    repro = reproduce_line(cases[first])
    if repro:
        lines.append(repro)
    for prereq in spec.prerequisites:
        if prereq in helpers:
            sub = _check(helpers[prereq], prereq, {})
            if not sub.passed:
                lines.append(f"  Note: {name} uses your {prereq}, which fails its own check; fix it first "
                             f"(check({prereq})).")
    if len(failures) > 1:
        lines.append(f"  {len(failures)} of {len(cases)} checks fail; this is the first.")
    return CheckResult(name, False, "\n".join(lines), named.id if named else None, len(cases), len(failures),
                       named.lecture if named else None, named.title if named else None)


def _candidates(spec: Spec, every_case: list[Case]):
    """(mistake, its stored outcome on each of the check's cases) for every catalogued mistake this
    check can recognise: the function's own, and its partner's where the pair is observed (a
    backward seen through check(forward, backward=...)). None where the cases are not the ones
    the outcomes were recorded on."""
    catalogue = _loaded_catalogue()
    if catalogue.fingerprints.get(spec.name) != fingerprint(every_case):
        return
    for m in catalogue.mistakes:
        if m.function == spec.name or m.function in spec.related:
            stored = catalogue.observed.get(m.id, {}).get(spec.name)
            if stored is not None and len(stored) == len(every_case):
                yield m, stored


def _diagnose(spec: Spec, every_case: list[Case], positions: list[int], verdicts: list[Verdict],
              first: int) -> list[Mistake]:
    """The catalogued mistakes whose stored outcomes are like the student's: they must agree on the
    first failing case; among those, the ones agreeing on the most cases win. ``positions[i]`` is
    the index in ``every_case`` of the i-th case that was run."""
    def agrees(stored: list[dict | None], i: int) -> bool:
        recorded = stored[positions[i]]
        return recorded is not None and matches(spec, recorded, verdicts[i].outcome)

    best: list[Mistake] = []
    best_score = 0
    for mistake, stored in _candidates(spec, every_case):
        if not agrees(stored, first):
            continue
        score = 1 + sum(agrees(stored, i) for i in range(len(verdicts)) if i != first)
        if score > best_score:
            best, best_score = [mistake], score
        elif score == best_score:
            best.append(mistake)
    return best
