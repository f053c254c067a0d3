"""A synthetic graded class of a1_convolution with known mistake counts, for the class report's tests and benchmark.

Every student's functions are the instructor's solutions (from solutions/a1_convolution) with at most
a few replaced by catalogued mutants (each makes exactly one known mistake), by a wrong function the
catalogue does not know, or left right but failing a hidden test. The gradebook is written through
nbgrader's API, the diagnoses file from running :func:`cnnkit.checks.check` on those functions the way
each test cell calls it, and the grading report with its statuses and similarity flags. What was planted
is returned as :class:`Planted`, counted independently of the report, so a test can compare.
"""
from __future__ import annotations

import importlib
import json
import os
import random
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "a1_convolution"
NOTEBOOK = "a1_convolution"
COURSE_ID = "synthetic-a1"
SOLUTION = REPO / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"

#: How each graded test cell of a1 calls check(): (function, the student's helpers it passes, keywords).
CELL_CHECKS: dict[str, list[tuple[str, tuple[str, ...], dict]]] = {
    "test_correlate2d": [("correlate2d", (), {})],
    "test_convolve2d": [("convolve2d", ("correlate2d",), {})],
    "test_conv2d_basic": [("conv2d", (), {"part": "basic"})],
    "test_conv2d_stride_padding": [("conv2d", (), {"part": "stride_padding"})],
    "test_conv_output_size": [("conv_output_size", (), {})],
    "test_conv_param_count": [("conv_param_count", (), {})],
    "test_edge_strength": [("edge_strength", ("correlate2d",), {})],
}
#: A hidden test that fails although every check passes (no mistake named: an undiagnosed failure).
HIDDEN_FAILURE = ("test_conv_output_size", "AssertionError: conv_output_size(227, 11, stride=4) should be 55")
#: The hand-graded answers and the points each student's index gets there (None: still to be graded).
MANUAL_PATTERN = [2.0, 1.0, 2.0, 0.0, None, 2.0, 1.0]


def _unknown_correlate2d(image, kernel):
    """Right shape, every value doubled: a mistake the catalogue does not know."""
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError("image and kernel must be 2-D")
    kh, kw = kernel.shape
    oh, ow = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    if oh < 1 or ow < 1:
        raise ValueError("kernel does not fit")
    out = np.zeros((oh, ow))
    for m in range(oh):
        for n in range(ow):
            out[m, n] = 2 * np.sum(kernel * image[m:m + kh, n:n + kw])
    return out


def _unknown_conv_output_size(n, kernel_size, stride=1, padding=0):
    """One output too many: "+ 2" instead of "+ 1", unknown to the catalogue."""
    span = n + 2 * padding - kernel_size
    if span < 0:
        raise ValueError(f"kernel_size={kernel_size} does not fit in n={n} with padding={padding}")
    return span // stride + 2


UNKNOWN = {"correlate2d": _unknown_correlate2d, "conv_output_size": _unknown_conv_output_size}


def mutant_catalogue() -> dict[str, object]:
    """a1's catalogued mistakes by id, from instructor/mistakes/ where the mutants now live, else cnnkit.checks."""
    for name in ("instructor.mistakes.mutants_a1", "cnnkit.checks.mutants_a1"):
        if name.startswith("instructor") and str(REPO) not in sys.path:
            sys.path.insert(0, str(REPO))
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        entries = getattr(module, "MISTAKES_A1", None) or getattr(module, "MISTAKES", None)
        if entries:
            return {m.id: m for m in entries}
    raise ImportError("no mutant catalogue of a1: neither instructor/mistakes/mutants_a1.py nor "
                      "cnnkit/checks/mutants_a1.py")


def honest_functions() -> dict[str, object]:
    """The instructor's solution of a1, as a student would type it (markers removed), run in a namespace."""
    from cnnkit.ops import filters

    nb = json.loads(SOLUTION.read_text(encoding="utf-8"))
    namespace: dict = {"np": np, "filters": filters}
    markers = {"### BEGIN SOLUTION", "### END SOLUTION"}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell["cell_type"] == "code" and meta.get("solution"):
            source = "".join(cell["source"])
            exec("\n".join(line for line in source.splitlines() if line.strip() not in markers), namespace)
    return namespace


def graded_cells() -> list[tuple[str, float, bool, str]]:
    """(grade_id, points, by hand, cell type) of every graded cell of the real a1, in notebook order."""
    nb = json.loads(SOLUTION.read_text(encoding="utf-8"))
    found = []
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade"):
            found.append((meta["grade_id"], float(meta["points"]), bool(meta.get("solution")), cell["cell_type"]))
    return found


@dataclass
class Planted:
    """What the synthetic class holds, counted from the plan (not from any report)."""

    students: list[str]                                   # with a submission
    missing: list[str]                                    # on the roster, no submission
    mistakes: Counter = field(default_factory=Counter)    # mistake id -> students
    lost: Counter = field(default_factory=Counter)        # mistake id -> points lost by the class
    unknown: Counter = field(default_factory=Counter)     # function -> students with an unknown mistake
    hidden_failures: int = 0
    statuses: Counter = field(default_factory=Counter)
    similarity_flags: int = 0
    similarity_by_function: Counter = field(default_factory=Counter)
    cell_outcomes: dict = field(default_factory=dict)     # grade_id -> Counter(full/partial/none/pending)
    totals: dict = field(default_factory=dict)            # student -> total points
    by_hand: dict = field(default_factory=dict)           # student -> hand-given points (None: some pending)
    people: dict = field(default_factory=dict)            # student -> (first, last, email)
    by_student: dict = field(default_factory=dict)        # student -> list of mistake ids


def _plan(n: int, seed: int, catalogue: dict) -> dict[str, list[str]]:
    """Per student, what they get wrong: mistake ids, "unknown:<function>" or "hidden"."""
    rng = random.Random(seed)
    ids = sorted(catalogue)
    plans = {}
    for i in range(n):
        student = f"st{i + 1:03d}"
        roll = rng.random()
        if roll < 0.25:
            plans[student] = []
        elif roll < 0.31:
            plans[student] = [f"unknown:{rng.choice(sorted(UNKNOWN))}"]
        elif roll < 0.35:
            plans[student] = ["hidden"]
        else:
            first = rng.choice(ids)
            picks = [first]
            if rng.random() < 0.4:  # a second mistake, in another function
                others = [m for m in ids if catalogue[m].function != catalogue[first].function]
                picks.append(rng.choice(others))
            plans[student] = picks
    return plans


def _functions_of(plan: list[str], honest: dict, catalogue: dict) -> dict:
    functions = dict(honest)
    for item in plan:
        if item.startswith("unknown:"):
            name = item.split(":", 1)[1]
            functions[name] = UNKNOWN[name]
        elif item != "hidden":
            functions[catalogue[item].function] = catalogue[item].mutant
    return functions


def _diagnose_cells(functions: dict, cache: dict) -> dict[str, list[dict]]:
    """What check() says in each test cell, for these functions (cached by the functions it calls)."""
    from cnnkit.checks import check

    result = {}
    for cell, calls in CELL_CHECKS.items():
        entries = []
        for function, helpers, keywords in calls:
            key = (cell, function, id(functions[function]), *(id(functions[h]) for h in helpers))
            if key not in cache:
                found = check(functions[function], name=function, **{h: functions[h] for h in helpers}, **keywords)
                cache[key] = found
            found = cache[key]
            entries.append({"function": function, "passed": found.passed, "mistake": found.mistake,
                            "message": found.message})
        result[cell] = entries
    return result


def build_class(course: str | os.PathLike, n: int = 72, *, seed: int = 0, missing: int = 3,
                similarity: bool = True) -> Planted:
    """Write ``gradebook.db``, ``grading_diagnoses_a1_convolution.json`` and ``grading_report_a1_convolution.csv``
    for ``n`` submitting students (plus ``missing`` on the roster who handed in nothing) under ``course``."""
    from nbgrader.api import Gradebook

    from cnnkit.checks import MISTAKES
    from cnnkit.grading import report as rp

    course = Path(course)
    course.mkdir(parents=True, exist_ok=True)
    catalogue = mutant_catalogue()
    titles = {m.id: (m.title, m.lecture) for m in MISTAKES}
    honest = honest_functions()
    cells = graded_cells()
    points = {name: pts for name, pts, _, _ in cells}
    plans = _plan(n, seed, catalogue)
    students = sorted(plans)
    absent = [f"zz{i + 1:02d}" for i in range(missing)]
    planted = Planted(students, absent)
    planted.cell_outcomes = {name: Counter() for name, *_ in cells}
    cache: dict = {}
    diagnoses: dict = {}
    scores: dict[str, dict[str, float | None]] = {}
    penalties = {students[1]: 1.0, students[4]: 2.0}
    for index, student in enumerate(students):
        plan = plans[student]
        checks = _diagnose_cells(_functions_of(plan, honest, catalogue), cache)
        cell_scores: dict[str, float | None] = {}
        cell_diag = {}
        for cell, entries in checks.items():
            failed = [e for e in entries if not e["passed"]]
            hidden = "hidden" in plan and cell == HIDDEN_FAILURE[0]
            got = 0.0 if failed or hidden else points[cell]
            cell_scores[cell] = got
            failure = None
            if failed:
                failure = "AssertionError: " + failed[0]["message"].splitlines()[0]
            elif hidden:
                failure = HIDDEN_FAILURE[1]
            for e in entries:
                e["title"], e["lecture"] = titles.get(e["mistake"], (None, None))
            cell_diag[cell] = {"points": got, "max_points": points[cell], "checks": entries, "failure": failure}
            for e in failed:
                if e["mistake"]:
                    planted.lost[e["mistake"]] += (points[cell] - got) / len(failed)
        for name, pts, by_hand, _ in cells:
            if by_hand:
                cell_scores[name] = MANUAL_PATTERN[(index + len(name)) % len(MANUAL_PATTERN)]
        scores[student] = cell_scores
        diagnoses[student] = {NOTEBOOK: cell_diag}
        named = sorted({e["mistake"] for entries in checks.values() for e in entries if e["mistake"]})
        planted.by_student[student] = named
        for mistake in named:
            planted.mistakes[mistake] += 1
        for item in plan:
            if item.startswith("unknown:"):
                planted.unknown[item.split(":", 1)[1]] += 1
        planted.hidden_failures += "hidden" in plan
        for name, pts, _, _ in cells:
            got = cell_scores[name]
            outcome = "pending" if got is None else "full" if got >= pts else "none" if got == 0 else "partial"
            planted.cell_outcomes[name][outcome] += 1
        given = sum(v for v in cell_scores.values() if v is not None)
        manual = [cell_scores[name] for name, _, by_hand, _ in cells if by_hand]
        planted.by_hand[student] = None if None in manual else sum(manual)
        planted.totals[student] = max(0.0, given - penalties.get(student, 0.0))
    _write_gradebook(course, cells, students, absent, scores, penalties, planted)
    (course / f"grading_diagnoses_{ASSIGNMENT}.json").write_text(json.dumps(
        {"version": 1, "assignment": ASSIGNMENT, "students": diagnoses}, indent=1))
    _write_grading_report(course, students, absent, scores, penalties, planted, similarity, rp)
    return planted


def _write_gradebook(course: Path, cells, students, absent, scores, penalties, planted: Planted) -> None:
    from nbgrader.api import Gradebook

    url = f"sqlite:///{course / 'gradebook.db'}"
    with Gradebook(url, COURSE_ID) as gb:
        gb.add_assignment(ASSIGNMENT, duedate="2026-12-01 17:00:00 UTC")
        gb.add_notebook(NOTEBOOK, ASSIGNMENT)
        for name, pts, by_hand, kind in cells:
            gb.add_source_cell(name, NOTEBOOK, ASSIGNMENT, cell_type=kind, locked=not by_hand, source="",
                               checksum=None)
            gb.add_grade_cell(name, NOTEBOOK, ASSIGNMENT, max_score=pts, cell_type=kind)
            if by_hand:
                gb.add_solution_cell(name, NOTEBOOK, ASSIGNMENT)
        for i, student in enumerate(students + absent):
            first, last = f"First{i:03d}", f"Last{i:03d}"
            email = f"{student}@uni.example"
            planted.people[student] = (first, last, email)
            gb.add_student(student, first_name=first, last_name=last, email=email, lms_user_id=str(9000 + i))
        gb.db.commit()
        for student in students:
            gb.add_submission(ASSIGNMENT, student, timestamp="2026-11-30 12:00:00 UTC")
        from nbgrader.api import SubmittedAssignment

        for sub in gb.db.query(SubmittedAssignment):
            mine = scores[sub.student_id]
            for nb in sub.notebooks:
                nb.late_submission_penalty = penalties.get(sub.student_id, 0.0)
                for grade in nb.grades:
                    value = mine[grade.name]
                    by_hand = grade.name in {c.name for c in nb.notebook.solution_cells}
                    if by_hand:
                        grade.needs_manual_grade = value is None
                        grade.manual_score = value
                    else:
                        grade.auto_score = value
                        grade.needs_manual_grade = False
        gb.db.commit()


def _write_grading_report(course: Path, students, absent, scores, penalties, planted: Planted,
                          similarity: bool, rp) -> None:
    """The grader's report: late where penalised, a timeout, missing for the absent; similarity flags."""
    flags = {}
    for i, student in enumerate(students):
        if similarity and i % 17 == 3:
            other = students[(i + 1) % len(students)]
            flags[student] = (f"conv2d: 97% like student {other}" if i % 2 else
                              f"conv2d: 91% like student {other}; edge_strength: 88% like cnnkit/ops/filters.py")
    rows = []
    for i, student in enumerate(students):
        status = rp.LATE if student in penalties else rp.TIMEOUT if i == 7 else rp.GRADED
        rows.append(rp.StudentReport(student, planted.totals[student], 30.0, status))
    for student in absent:
        rows.append(rp.StudentReport(student, 0.0, 30.0, rp.MISSING, "nothing submitted"))
    has_column = "similarity" in rp.COLUMNS
    if has_column:
        for row in rows:
            row.similarity = flags.get(row.student, "")
    text = rp.reports_to_csv(rows)
    if similarity and not has_column:  # a report from before the similarity check: add its column
        lines = text.splitlines()
        text = "\n".join([lines[0] + ",similarity"] + [line + "," + json.dumps(flags.get(row.student, ""))
                                                         for line, row in zip(lines[1:], rows)]) + "\n"
    (course / f"grading_report_{ASSIGNMENT}.csv").write_text(text, encoding="utf-8")
    planted.statuses = Counter(r.status for r in rows)
    planted.similarity_flags = len(flags)
    planted.similarity_by_function = Counter(f for text in flags.values() for f in ("conv2d", "edge_strength")
                                             if f"{f}:" in text)
