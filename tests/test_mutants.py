"""The assignments' tests bite: every catalogued mistake, handed in alone, loses points and is named.

For each of a1-a3, one course and one grading run with the real command: the honest solution,
and one student per selected mistake of the instructor's mutants (instructor/mistakes, 15 per assignment: every
graded function at least once, and every kind the assignments' issue named; tests/test_checks.py
checks all of them, without grading), whose notebook is the honest one
with that function redefined by the mistake's mutant (its source, renamed, in a cell right after
the function's own cell: exactly what a student's one wrong line produces). Each mutant must

* lose points, in the graded cells that check its function, at a visible line (the student saw
  the failing check before handing in), and nowhere else (one mistake, one loss): not in the
  functions the instructions build on it (convolve2d and edge_strength on correlate2d,
  shift_experiment on pool2d), not in a3's training cell, and, for conv2d, whose two cells check
  two parts (``check(conv2d, part=...)``), in one of them only;
* be named in the student's feedback: the diagnosis of :func:`cnnkit.checks.check`, produced
  where the grader decides the verdict, with the lecture section to read.
"""
from __future__ import annotations

import html
import inspect
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from mistake_catalogue import MUTANTS as MISTAKES
from nbhelpers import nbg, solved

from cnnkit.grading import report as rp
from cnnkit.grading.sandbox import available, unavailable_reason

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ASSIGNMENTS = ["a1_convolution", "a2_pooling_normalization", "a3_cnn_from_scratch"]
#: Graded with the real command in every run; the rest of the catalogue is checked without grading.
NAMED = ("conv2d.no_shape_checks", "conv2d.stride_on_kernel_index", "conv2d.pad_one_side", "correlate2d.drops_last",
         "correlate2d.square_kernel", "pool2d.h_over_s", "pool2d.stride_ignored", "pool2d_backward.max_all_ties",
         "pool2d_backward.l2_nan_zero_window", "init_params.variance_as_std", "train.no_momentum",
         "train.no_shuffle", "conv2d_backward.dw_divided_by_n")
PER_ASSIGNMENT = 15


def selected(assignment: str) -> list:
    """The named mistakes of ``assignment``, then one per function in turn, up to PER_ASSIGNMENT."""
    pool = [m for m in MISTAKES if m.assignment == assignment]
    chosen = [m for m in pool if m.id in NAMED]
    by_function: dict[str, list] = {}
    for m in pool:
        if m not in chosen:
            by_function.setdefault(m.function, []).append(m)
    while len(chosen) < PER_ASSIGNMENT and any(by_function.values()):
        for queue in by_function.values():
            if queue and len(chosen) < PER_ASSIGNMENT:
                chosen.append(queue.pop(0))
    return chosen

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not available(), reason=f"grading needs the sandbox: {unavailable_reason()}")]


def mutant_source(mistake) -> str:
    """The mutant's code as a student's definition of the graded function."""
    source = textwrap.dedent(inspect.getsource(mistake.mutant))
    return re.sub(rf"\bdef {re.escape(mistake.mutant.__name__)}\(", f"def {mistake.function}(", source, count=1)


def with_mistake(honest, mistake):
    """The honest notebook with ``mistake.function`` redefined, right after the cell that defines it."""
    nb = nbformat.from_dict(honest)
    index = next(i for i, c in enumerate(nb.cells)
                 if c.cell_type == "code" and nbg(c).get("solution")
                 and re.search(rf"^def {re.escape(mistake.function)}\(", c.source, re.MULTILINE))
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(mutant_source(mistake)))
    return nb


def checking_cells(nb, function: str) -> set[str]:
    """The graded cells whose visible part runs ``check(function ...)``."""
    found = {nbg(cell)["grade_id"] for cell in nb.cells
             if nbg(cell).get("grade") and cell.cell_type == "code"
             and re.search(rf"\bcheck\({re.escape(function)}\b", cell.source)}
    if not found:
        raise KeyError(f"no graded cell checks {function}")
    return found


def _checks_in_parts(nb, function: str) -> bool:
    """The function's cells check one part each (``check(conv2d, part="basic")``)."""
    return any(re.search(rf"\bcheck\({re.escape(function)}\b[^)]*\bpart=", cell.source)
               for cell in nb.cells if cell.cell_type == "code")


def _student_id(mistake) -> str:
    return "m_" + re.sub(r"[^A-Za-z0-9]+", "_", mistake.id)


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def graded(request, tmp_path_factory):
    """One course per assignment: honest + one student per mistake, graded once with the real command."""
    name = request.param
    course = tmp_path_factory.mktemp(name) / "course"
    course.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", course)
    shutil.copytree(REPO / "solutions", course / "solutions")
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", name, "--force"], cwd=course,
                   env=env, check=True, capture_output=True)
    source = nbformat.read(course / "solutions" / name / f"{name}.ipynb", as_version=4)
    release = nbformat.read(course / "assignments" / name / f"{name}.ipynb", as_version=4)
    honest = solved(source, release)
    mistakes = selected(name)
    students = {"honest": honest} | {_student_id(m): with_mistake(honest, m) for m in mistakes}
    for student, nb in students.items():
        folder = course / "submitted" / student / name
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{name}.ipynb")
        (folder / "timestamp.txt").write_text("2026-11-20 10:00:00.000000 UTC")
    done = subprocess.run([sys.executable, "-m", "cnnkit", "grade", name, "--course", str(course), "--jobs", "2",
                           "--cell-timeout", "120"], env=env, capture_output=True, text=True, timeout=1500)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    reports = {r.student: r for r in rp.read_csv(course / f"grading_report_{name}.csv")}
    return name, course, honest, mistakes, reports


def _failed_cells(course: Path, name: str, student: str) -> dict[str, list[str]]:
    """grade id -> traceback lines of each graded cell that failed in the student's autograded notebook."""
    nb = nbformat.read(course / "autograded" / student / name / f"{name}.ipynb", as_version=4)
    failed = {}
    for cell in nb.cells:
        if nbg(cell).get("grade") and cell.cell_type == "code":
            errors = [o for o in cell.outputs if o.get("output_type") == "error"]
            if errors:
                failed[nbg(cell)["grade_id"]] = list(errors[0].get("traceback", []))
    return failed


def _visible_line_count(cell_source: str) -> int:
    lines = cell_source.splitlines()
    return next((i for i, line in enumerate(lines) if "BEGIN HIDDEN TESTS" in line), len(lines))


def test_the_honest_solution_gets_full_marks(graded):
    name, course, _, _, reports = graded
    honest = reports["honest"]
    assert honest.status == rp.GRADED and honest.auto_score == honest.auto_max > 0, honest
    assert _failed_cells(course, name, "honest") == {}


def test_every_mistake_loses_points_once_at_a_visible_check_and_is_named(graded):
    name, course, honest, mistakes, reports = graded
    assert len(mistakes) >= 12 and {m.function for m in mistakes} == {
        m.function for m in MISTAKES if m.assignment == name}  # every graded function is tried
    source = nbformat.read(course / "solutions" / name / f"{name}.ipynb", as_version=4)
    sources = {nbg(c).get("grade_id"): c.source for c in source.cells}
    problems = []
    for mistake in mistakes:
        student = _student_id(mistake)
        report = reports[student]
        own = checking_cells(honest, mistake.function)
        failed = _failed_cells(course, name, student)
        if report.auto_score >= report.auto_max:
            problems.append(f"{mistake.id}: full marks ({report.auto_score:g})")
            continue
        charged = own & set(failed)
        if not charged:
            problems.append(f"{mistake.id}: its own cells {sorted(own)} passed; failed: {sorted(failed)}")
            continue
        extra = set(failed) - own
        if extra:
            problems.append(f"{mistake.id}: also charged in {sorted(extra)}")
        if _checks_in_parts(honest, mistake.function) and len(charged) > 1:
            problems.append(f"{mistake.id}: charged in both parts' cells {sorted(charged)}")
        for cell_id in charged:
            where = [int(m.group(1)) for line in failed[cell_id]
                     for m in [re.search(rf'File "<cell {cell_id}>", line (\d+)', line)] if m]
            if not where or where[-1] > _visible_line_count(sources[cell_id]):
                problems.append(f"{mistake.id}: failed in {cell_id} at a hidden line {where}")
        page = (course / "feedback" / student / name / f"{name}.html").read_text(encoding="utf-8")
        if html.escape(mistake.title) not in page and mistake.title not in html.unescape(page):
            problems.append(f"{mistake.id}: the feedback does not name it ({mistake.title!r})")
    assert not problems, "\n".join(problems)
