"""Issue #23: the package a student installs ships no answer key.

* Every function defined anywhere in ``cnnkit.checks`` (imported as it is, or its source pasted
  into the notebook under a graded function's name), and every string constant of the package
  that compiles as Python, earns no more hidden-test points than a function returning zeros. The
  hidden tests are the gradebook's own: each graded cell of ``solutions/NAME/NAME.ipynb`` runs
  in-process against the candidate, visible lines first (their failures ignored, so that only the
  hidden assertions decide), then the code between ``### BEGIN HIDDEN TESTS`` and
  ``### END HIDDEN TESTS``.
* One real submission made of such a function goes through ``python -m cnnkit grade``.
* The wheel built from pyproject.toml carries no file of ``instructor/``, no ``# MISTAKE`` marker,
  and no function named after a graded function outside the kit's reference library.
* The shipped catalogue (data) is what ``instructor/build_catalogue.py`` builds from the mutants.
"""
from __future__ import annotations

import ast
import contextlib
import copy
import inspect
import io
import json
import os
import pkgutil
import re
import shutil
import subprocess
import sys
import textwrap
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

import cnnkit.checks
from cnnkit.checks import FUNCTIONS
from mistake_catalogue import MUTANTS, ROOT
from nbhelpers import nbg, regions

import instructor.build_catalogue as build_catalogue  # noqa: E402 (mistake_catalogue puts the repository on the path)

CHECKS_DIR = Path(cnnkit.checks.__file__).resolve().parent
ASSIGNMENTS = sorted(set(FUNCTIONS.values()))
HIDDEN = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


# =========================================================================== the shipped catalogue is up to date

def test_catalogue_data_is_what_the_instructor_mutants_give():
    """Rebuild catalogue.json from instructor/ and compare (floats within 1e-9): like the release test."""
    stored = (CHECKS_DIR / "catalogue.json").read_text(encoding="utf-8")
    assert build_catalogue.difference(stored, build_catalogue.build()) is None, (
        "cnnkit/checks/catalogue.json is out of date: run python instructor/build_catalogue.py")
    assert [m["id"] for m in json.loads(stored)["mistakes"]] == [m.id for m in MUTANTS]


def test_catalogue_staleness_is_reported_in_one_line(tmp_path, monkeypatch, capsys):
    stale = json.loads(build_catalogue.build())
    stale["mistakes"][0]["title"] += " (edited)"
    target = tmp_path / "catalogue.json"
    target.write_text(json.dumps(stale), encoding="utf-8")
    monkeypatch.setattr(build_catalogue, "TARGET", target)
    assert build_catalogue.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "out of date" in err and ".title" in err
    assert build_catalogue.main([]) == 0 and build_catalogue.main(["--check"]) == 0
    assert build_catalogue.difference(target.read_text(encoding="utf-8"), build_catalogue.build()) is None


def test_a_check_whose_cases_changed_names_no_mistake(monkeypatch):
    """Outcomes recorded on other cases are never compared: no stale diagnosis."""
    bias = next(m for m in MUTANTS if m.id == "conv2d.no_bias").mutant
    assert cnnkit.checks.check(bias, name="conv2d").mistake == "conv2d.no_bias"
    spec = cnnkit.checks._SPECS["conv2d"]
    cases = spec.cases
    monkeypatch.setattr(spec, "cases", lambda: cases()[::-1])
    result = cnnkit.checks.check(bias, name="conv2d")
    assert not result.passed and result.mistake is None and "known mistake" not in result.message


# =========================================================================== candidates from the package

@dataclass
class Candidate:
    """Something a student could take from the installed package and hand in as a graded function."""

    label: str
    make: Callable[[dict, str], Callable | None]   # (notebook namespace, graded name) -> the function, or None


def _strip_annotations(node: ast.AST) -> ast.AST:
    """A pasted def without decorators and annotations (what a student would keep)."""
    for sub in ast.walk(node):
        if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
            sub.decorator_list, sub.returns = [], None
        if isinstance(sub, ast.arg):
            sub.annotation = None
    return node


def _pasted(node: ast.AST, label: str) -> Candidate:
    node = _strip_annotations(copy.deepcopy(node))

    def make(ns: dict, name: str):
        if isinstance(node, ast.Lambda):
            source = f"{name} = {ast.unparse(node)}"
        else:
            node.name = name
            source = ast.unparse(node)
        try:
            exec(compile(source, f"<pasted {label}>", "exec"), ns)  # noqa: S102 - the point of the test
        except Exception:  # noqa: BLE001 - a def that cannot even be pasted earns nothing
            return None
        return ns.get(name)

    return Candidate(f"pasted {label}", make)


def _from_string(text: str, label: str) -> list[Candidate]:
    """The callables a compiling string defines (or is, as an expression), pasted in the notebook."""
    try:
        code = compile(text, "<string>", "exec")
    except (SyntaxError, ValueError):
        return []
    if not any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef))
               for n in ast.walk(ast.parse(text))):
        return []   # it defines no function: pasted, the graded name stays undefined (no points)
    probe: dict = {"np": np}
    with contextlib.suppress(Exception):
        exec(code, probe)  # noqa: S102
    names = sorted(k for k, v in probe.items() if callable(v) and k not in ("np",))
    found = []
    for defined in names:
        def make(ns: dict, name: str, defined=defined):
            scope = dict(ns)
            try:
                exec(code, scope)  # noqa: S102
            except Exception:  # noqa: BLE001
                return None
            return scope.get(defined)
        found.append(Candidate(f"string {label} -> {defined}", make))
    with contextlib.suppress(Exception):
        if callable(eval(text, {"np": np})):  # noqa: S307
            found.append(Candidate(f"string {label} as an expression", lambda ns, name: eval(text, ns)))  # noqa: S307
    return found


def _json_strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _json_strings(k)
            yield from _json_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _json_strings(v)


def package_candidates() -> list[Candidate]:
    """Every function of the installed cnnkit.checks (pasted by source, any depth, and imported as
    it is), and every string constant of it (its code and its data files) that compiles."""
    found: list[Candidate] = []
    strings: dict[str, str] = {}
    for path in sorted(CHECKS_DIR.iterdir()):
        if path.suffix == ".py":
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found.append(_pasted(node, f"{path.name}:{node.lineno} {node.name}"))
                elif isinstance(node, ast.Lambda):
                    found.append(_pasted(node, f"{path.name}:{node.lineno} lambda"))
                elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                    strings.setdefault(node.value, f"{path.name}:{node.lineno}")
        elif path.suffix == ".json":
            for text in _json_strings(json.loads(path.read_text(encoding="utf-8"))):
                strings.setdefault(text, path.name)
    for text, where in strings.items():
        found.extend(_from_string(text, where))
    modules = [cnnkit.checks] + [__import__(info.name, fromlist=["_"])
                                 for info in pkgutil.walk_packages(cnnkit.checks.__path__, "cnnkit.checks.")]
    for mod in modules:
        modname = mod.__name__
        for attr, obj in sorted(vars(mod).items()):
            if inspect.isfunction(obj) and obj.__module__ == modname:
                found.append(Candidate(f"imported {modname}.{attr}", lambda ns, name, obj=obj: obj))
            elif inspect.isclass(obj) and obj.__module__ == modname:
                for meth_name, meth in sorted(vars(obj).items()):
                    if inspect.isfunction(meth):
                        found.append(Candidate(f"imported {modname}.{attr}.{meth_name}",
                                               lambda ns, name, meth=meth: meth))
    return found


# =========================================================================== the graded notebooks, in-process

@dataclass
class Statement:
    code: Any
    uses: set[str]
    stores: set[str]


@dataclass
class Cell:
    kind: str                      # "solution", "graded" or "plain"
    grade_id: str
    code: Any = None               # solution cells: the whole cell (definitions, always run again)
    defines: set[str] = field(default_factory=set)
    statements: list[Statement] = field(default_factory=list)   # the others (graded: the visible part)
    hidden: Statement | None = None


def _names(tree: ast.AST) -> tuple[set[str], set[str]]:
    uses, stores = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (stores if isinstance(node.ctx, ast.Store) else uses).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            stores.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            stores.update((a.asname or a.name).split(".")[0] for a in node.names)
    return uses, stores


def _statements(source: str, where: str) -> list[Statement]:
    return [Statement(compile(ast.Module([stmt], []), where, "exec"), *_names(stmt))
            for stmt in ast.parse(source).body]


class Notebook:
    """A solution notebook run in-process, then run again with one graded function replaced. Only
    what the function can reach runs again: every solution cell (definitions), and, statement by
    statement, what uses the function or a value it fed (or overwrites such a value); the rest keeps
    the first run's values. A graded cell's hidden tests run whenever the function reaches them."""

    def __init__(self, assignment: str):
        raw = json.loads((ROOT / "solutions" / assignment / f"{assignment}.ipynb").read_text(encoding="utf-8"))
        self.assignment = assignment
        self.cells: list[Cell] = []
        self.calls: dict[str, set[str]] = {}     # notebook function -> names its body uses
        for c in raw["cells"]:
            if c["cell_type"] != "code":
                continue
            meta = nbg(c)
            source = "".join(c["source"])
            kind = "solution" if meta.get("solution") else "graded" if meta.get("grade") else "plain"
            cell = Cell(kind, meta.get("grade_id", "") or f"cell {len(self.cells)}")
            if kind == "solution":
                cell.code = compile(source, f"<{cell.grade_id}>", "exec")
                cell.defines = _names(ast.parse(source))[1]
            elif kind == "graded":
                lines = source.splitlines()
                cut = next((i for i, line in enumerate(lines) if line.strip() == HIDDEN[0]), len(lines))
                cell.statements = _statements("\n".join(lines[:cut]), f"<cell {cell.grade_id}>")
                hidden = "\n".join(regions(source, *HIDDEN))
                assert hidden.strip(), f"{assignment}/{cell.grade_id} has no hidden tests"
                cell.hidden = Statement(compile(hidden, f"<hidden {cell.grade_id}>", "exec"),
                                        *_names(ast.parse(hidden)))
            else:
                cell.statements = _statements(source, f"<{cell.grade_id}>")
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.FunctionDef):
                    self.calls[node.name] = _names(node)[0]
            self.cells.append(cell)
        self.base: dict = {}
        everything = [(i, c.statements if c.kind != "solution" else [], c.kind == "graded")
                      for i, c in enumerate(self.cells)]
        self.base_passed = self._run(self.base, everything)

    def _reach(self, names: set[str]) -> set[str]:
        seen, todo = set(), list(names)
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(self.calls.get(n, ()))
        return seen

    def plan(self, function: str) -> list[tuple[int, list[Statement], bool]]:
        """(cell, statements to run again, whether its hidden tests run) for a replaced ``function``."""
        tainted, steps = {function}, []
        for i, cell in enumerate(self.cells):
            if cell.kind == "solution":
                steps.append((i, [], False))
                continue
            chosen = []
            for stmt in cell.statements:
                fed = bool(self._reach(stmt.uses) & tainted)
                if fed or stmt.stores & tainted:
                    chosen.append(stmt)
                    tainted = tainted | stmt.stores if fed else tainted - stmt.stores
            hidden = cell.hidden is not None and bool(self._reach(cell.hidden.uses) & tainted)
            if chosen or hidden:
                steps.append((i, chosen, hidden))
        last = max((n for n, (i, _, _) in enumerate(steps) if self.cells[i].kind == "graded"), default=-1)
        return steps[:last + 1]   # what runs after the last graded cell cannot change a point

    def graded_cells(self, function: str) -> list[str]:
        return [self.cells[i].grade_id for i, _, hidden in self.plan(function) if hidden]

    def _run(self, ns: dict, steps, function: str | None = None, make=None) -> dict[str, bool]:
        """Run ``steps`` into ``ns``; grade id -> whether the hidden tests passed. ``function`` is
        replaced by ``make(ns)`` right after the solution cell that defines it."""
        import matplotlib.pyplot as plt

        passed = {}
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i, statements, hidden in steps:
                cell = self.cells[i]
                if cell.kind == "solution":
                    with contextlib.suppress(Exception):
                        exec(cell.code, ns)  # noqa: S102
                    if make is not None and function in cell.defines:
                        replacement = make(ns)
                        if replacement is None:
                            ns.pop(function, None)
                        else:
                            ns[function] = replacement
                    continue
                for stmt in statements:
                    try:
                        exec(stmt.code, ns)  # noqa: S102
                    except Exception:  # noqa: BLE001
                        if cell.kind == "plain":
                            break     # as in the notebook: the rest of the cell never runs
                        # a graded cell's visible lines: their failures do not matter here
                if hidden:
                    try:
                        exec(cell.hidden.code, ns)  # noqa: S102
                        passed[cell.grade_id] = True
                    except Exception:  # noqa: BLE001 - any failure loses the cell's points
                        passed[cell.grade_id] = False
        plt.close("all")
        return passed

    def hidden_points(self, function: str, make: Callable[[dict], Callable | None]) -> dict[str, bool]:
        """The hidden tests of every cell ``function`` reaches, with ``make(ns)`` as the student's
        function: made in the notebook's own namespace, right after the solution's definition."""
        steps = self.plan(function)
        again = {name for _, statements, _ in steps for stmt in statements for name in stmt.stores}
        # what runs again starts undefined, as it was before it first ran: no value of the solution's leaks
        ns = {k: _fresh(v) for k, v in self.base.items() if k not in again}
        return self._run(ns, steps, function, make)

def _fresh(value: Any) -> Any:
    """A copy of the notebook's data (arrays, dicts of arrays), so that no run changes the next one's."""
    if isinstance(value, (np.ndarray, np.random.Generator)):
        return copy.deepcopy(value)
    if isinstance(value, dict) and value and all(isinstance(v, np.ndarray) for v in value.values()):
        return {k: v.copy() for k, v in value.items()}
    return value


def _zeros_like(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return np.zeros_like(value, dtype=float)
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, float, np.integer, np.floating)):
        return type(value)(0) if not isinstance(value, np.generic) else value.dtype.type(0)
    if isinstance(value, tuple):
        return tuple(_zeros_like(v) for v in value)
    if isinstance(value, list):
        return [_zeros_like(v) for v in value]
    if isinstance(value, dict):
        return {k: _zeros_like(v) for k, v in value.items()}
    return value


def zeros_function(ns: dict, name: str) -> Callable:
    """A function returning zeros shaped like the solution's result (the strongest such baseline:
    it passes whatever checks only shapes). It never changes its arguments."""
    solution = ns[name]

    def zeros(*args, **kwargs):
        return _zeros_like(solution(*copy.deepcopy(args), **copy.deepcopy(kwargs)))

    zeros.__name__ = name
    return zeros


class Calls:
    """Every call a stand-in received in one run of the notebook: (args, kwargs), copied."""

    def __init__(self):
        self.seen: list[tuple[tuple, dict]] = []

    def recording(self, func: Callable, name: str) -> Callable:
        def recorded(*args, **kwargs):
            self.seen.append(copy.deepcopy((args, kwargs)))
            return func(*args, **kwargs)

        recorded.__name__ = name
        return recorded


def raising(error: type[Exception], name: str) -> Callable:
    """A stand-in that only raises ``error``."""
    def stand_in(*args, **kwargs):
        raise error(f"{name}: nothing here")

    stand_in.__name__ = name
    return stand_in


#: A candidate that raises one of these on every call behaves like the stand-in that only raises it.
ERRORS = (TypeError, AttributeError, NameError, IndexError, KeyError, ValueError, ZeroDivisionError,
          UnboundLocalError, RecursionError, AssertionError, NotImplementedError)


def _same_data(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same_data(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_data(a[k], b[k]) for k in a)
    if isinstance(a, np.random.Generator) and isinstance(b, np.random.Generator):
        return a.bit_generator.state == b.bit_generator.state
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001
        return a is b


def behaves_like(func: Callable, calls: list[tuple[tuple, dict]], error: type[Exception]) -> bool:
    """``func`` raises exactly ``error`` on every call the stand-in for ``error`` received, and
    leaves the arguments as they were. Then the notebook's run with ``func`` is the stand-in's run,
    call for call (a raised exception also wins over an integrity check): same points."""
    for args, kwargs in calls:
        sent = copy.deepcopy((args, kwargs))
        try:
            with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                func(*sent[0], **sent[1])
        except Exception as exc:  # noqa: BLE001
            if type(exc) is not error or not _same_data(sent, (args, kwargs)):
                return False
        else:
            return False
    return True


@pytest.fixture(scope="module")
def notebooks():
    settings = {"NBGRADER_EXECUTION": "autograde",   # the run size grading uses (small)
                "MPLBACKEND": "Agg"}
    previous = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    try:
        yield {a: Notebook(a) for a in ASSIGNMENTS}
    finally:
        for k, v in previous.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_function_of_the_checks_package_earns_hidden_points(notebooks, assignment):
    nb = notebooks[assignment]
    assert nb.base_passed and all(nb.base_passed.values()), f"the solution fails hidden tests here: {nb.base_passed}"
    candidates = package_candidates()
    assert len(candidates) > 150, len(candidates)
    problems, ran = [], []
    for function in sorted(f for f, a in FUNCTIONS.items() if a == assignment):
        cells = nb.graded_cells(function)
        assert cells, f"no graded cell reaches {function}"
        honest = nb.hidden_points(function, lambda ns: ns[function])
        assert honest == dict.fromkeys(cells, True), f"{function}: the harness fails the solution: {honest}"
        baseline = nb.hidden_points(function, lambda ns: zeros_function(ns, function))
        assert not all(baseline.values()), f"{function}: zeros pass every hidden test: {baseline}"
        stand_ins = {}
        for error in ERRORS:
            calls = Calls()
            points = nb.hidden_points(function, lambda ns: calls.recording(raising(error, function), function))
            stand_ins[error] = (points, calls.seen)
        for candidate in candidates:
            first = candidate.make({**nb.base}, function)
            if first is None:
                continue   # it cannot even be pasted: the graded name stays undefined (no points)
            like = next((e for e, (_, seen) in stand_ins.items() if behaves_like(first, seen, e)), None)
            if like is not None:
                points = stand_ins[like][0]
            else:
                points = nb.hidden_points(function, lambda ns, candidate=candidate: candidate.make(ns, function))
                ran.append(candidate.label)
            gained = {c for c, ok in points.items() if ok and not baseline.get(c)}
            if gained:
                problems.append(f"{candidate.label} as {function} passes the hidden tests of {sorted(gained)}")
    assert not problems, "\n".join(problems)
    print(f"{assignment}: {len(candidates)} candidates; {len(ran)} (candidate, function) pairs ran the notebook")


@pytest.mark.slow
def test_the_harness_catches_a_solution_pasted_or_hidden_in_a_string(notebooks):
    """The comparison can fail: a right conv_output_size, pasted from source or defined by a string
    constant, passes the hidden tests that zeros fail."""
    nb = notebooks["a1_convolution"]
    right = textwrap.dedent("""
        def size(n, kernel_size, stride=1, padding=0) -> int:
            if kernel_size > n + 2 * padding:
                raise ValueError("the kernel does not fit")
            return (n + 2 * padding - kernel_size) // stride + 1
    """)
    (from_string,) = _from_string(right, "a string")
    pasted = _pasted(ast.parse(right).body[0], "a def")
    name = "conv_output_size"
    assert nb.hidden_points(name, lambda ns: zeros_function(ns, name)) == {"test_conv_output_size": False}
    for candidate in (from_string, pasted):
        assert nb.hidden_points(name, lambda ns: candidate.make(ns, name)) == {"test_conv_output_size": True}
    never = raising(TypeError, name)
    calls = Calls()
    nb.hidden_points(name, lambda ns: calls.recording(never, name))
    assert calls.seen and behaves_like(never, calls.seen, TypeError)
    assert not behaves_like(pasted.make(dict(nb.base), name), calls.seen, TypeError)


# =========================================================================== through the real grading command

@pytest.mark.slow
def test_a_submission_built_from_the_package_earns_nothing_when_graded(tmp_path):
    """A conv2d taken from the package's own reference-trajectory code and edge helpers, handed in
    through ``python -m cnnkit grade``: the cells of the functions it replaces earn nothing."""
    import nbformat

    from cnnkit.grading import report as rp
    from cnnkit.grading.sandbox import available, unavailable_reason
    from nbhelpers import solved

    if not available():
        pytest.skip(f"grading needs the sandbox: {unavailable_reason()}")
    name = "a1_convolution"
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions", course / "solutions")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", name, "--force"], cwd=course,
                   env=env, check=True, capture_output=True)
    source = nbformat.read(course / "solutions" / name / f"{name}.ipynb", as_version=4)
    honest = solved(source, nbformat.read(course / "assignments" / name / f"{name}.ipynb", as_version=4))
    # every function of cnnkit/checks/_specs_a1.py, pasted in: what a student who read the package would try
    tree = ast.parse((CHECKS_DIR / "_specs_a1.py").read_text(encoding="utf-8"))
    pasted = "\n\n".join(ast.unparse(_strip_annotations(n)) for n in tree.body if isinstance(n, ast.FunctionDef))
    takes = {"conv2d": "_conv2d_built_on", "convolve2d": "_convolve_built_on", "edge_strength": "_edge_built_on"}
    students = {"honest": honest}
    for graded, taken in takes.items():
        nb = nbformat.from_dict(honest)
        index = next(i for i, c in enumerate(nb.cells) if nbg(c).get("solution")
                     and re.search(rf"^def {graded}\(", c.source, re.MULTILINE))
        nb.cells.insert(index + 1, nbformat.v4.new_code_cell(
            f"from cnnkit.ops import filters\n{pasted}\n\n{graded} = {taken}"))
        students[f"took_{graded}"] = nb
    for student, nb in students.items():
        folder = course / "submitted" / student / name
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{name}.ipynb")
        (folder / "timestamp.txt").write_text("2026-11-20 10:00:00.000000 UTC")
    done = subprocess.run([sys.executable, "-m", "cnnkit", "grade", name, "--course", str(course), "--jobs", "2",
                           "--cell-timeout", "120"], env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    reports = {r.student: r for r in rp.read_csv(course / f"grading_report_{name}.csv")}
    assert reports["honest"].auto_score == reports["honest"].auto_max > 0, reports["honest"]
    for graded in takes:
        report = reports[f"took_{graded}"]
        assert report.auto_score < reports["honest"].auto_max, (graded, report)
        autograded = nbformat.read(course / "autograded" / f"took_{graded}" / name / f"{name}.ipynb", as_version=4)
        own = [c for c in autograded.cells if nbg(c).get("grade") and re.search(rf"\bcheck\({graded}\b", c.source)]
        assert own and all(any(o.get("output_type") == "error" for o in c.outputs) for c in own), graded


# =========================================================================== the wheel

#: The kit's reference library: the lectures' numpy ops and arithmetic, which the graded functions
#: are checked against (hidden from a graded notebook by the sandbox). Nowhere else in the wheel may
#: a function carry a graded function's name.
REFERENCE_LIBRARY = ("cnnkit/ops/", "cnnkit/arith.py")
#: check()'s machinery whose names start with a graded function's name: the cases of its check.
MACHINERY = re.compile(r"^(?P<graded>\w+?)_cases$")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel pip builds from a copy of the repository's package sources (so that the build
    writes nothing into the shared checkout)."""
    src = tmp_path_factory.mktemp("src")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for folder in ("cnnkit", "instructor"):
        shutil.copytree(ROOT / folder, src / folder, ignore=ignore)
    for file in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / file, src / file)
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(out), str(src)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (found,) = out.glob("cnnkit-*.whl")
    return found


@pytest.mark.slow
def test_the_wheel_carries_the_catalogue_as_data_and_no_mutant(wheel):
    graded = set(FUNCTIONS)
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert "cnnkit/checks/catalogue.json" in names
        assert not [n for n in names if n.startswith("instructor") or "/instructor/" in n or "mutant" in n]
        problems = []
        for n in names:
            if not n.endswith((".py", ".json", ".txt", ".md")):
                continue
            text = zf.read(n).decode("utf-8", errors="replace")
            if "# MISTAKE" in text:
                problems.append(f"{n}: a # MISTAKE marker")
            if not n.endswith(".py"):
                continue
            for node in ast.walk(ast.parse(text)):
                if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                if node.name in graded and not n.startswith(REFERENCE_LIBRARY):
                    problems.append(f"{n}:{node.lineno}: def {node.name}")
                if n.startswith("cnnkit/checks/"):
                    prefixed = [g for g in graded if node.name.startswith(g + "_")]
                    machinery = MACHINERY.match(node.name)
                    if node.name in graded or (prefixed and not (machinery and machinery["graded"] in graded)):
                        problems.append(f"{n}:{node.lineno}: def {node.name} (named after a graded function)")
        assert not problems, "\n".join(problems)
        catalogue = json.loads(zf.read("cnnkit/checks/catalogue.json"))
    assert [m["id"] for m in catalogue["mistakes"]] == [m.id for m in MUTANTS]
    assert all(not re.search(r"\bdef |\bimport |\breturn\b", text) for text in _json_strings(catalogue))


@pytest.mark.slow
def test_a_check_from_the_installed_wheel_names_a_mistake(wheel, tmp_path):
    """Installed from the wheel alone (no repository, no instructor/), check() still names the
    mistake and its lecture section: the catalogue data travelled with the package."""
    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    code = textwrap.dedent("""
        import sys
        import cnnkit.checks
        assert cnnkit.checks.__file__.startswith(sys.argv[1]), cnnkit.checks.__file__
        def conv2d(x, w, b=None, stride=1, padding=0):
            from cnnkit import ops
            return ops.conv2d(x, w, None, stride=stride, padding=padding)
        r = cnnkit.checks.check(conv2d)
        print(r.mistake, "|", r.lecture)
        assert "instructor" not in sys.modules
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(target)
    done = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); " + code,
                           str(target)], capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == ("conv2d.no_bias | lecture 02, section '6. Multiple channels and multiple "
                                   "filters' (one number per position: the sum over channels plus a bias)")
