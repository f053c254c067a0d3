"""What the class report reads: the gradebook, the grader's diagnoses file and the grading report.

Three readers, one per source, each returning plain dataclasses:

* :func:`read_gradebook` -- every graded cell of an assignment and every student's points in it, from
  nbgrader's gradebook (``nbgrader.api.Gradebook``; one query, so 300 students take well under a second);
* :func:`read_diagnoses` -- ``grading_diagnoses_<assignment>.json``, written by the grader after
  grading: per student, notebook and graded cell, what :func:`cnnkit.checks.check` said (validated
  here: a malformed file is a ValueError naming the file and the entry, never a half-read report);
* :func:`read_statuses` -- the status (and similarity flag, where the grader writes one) of each
  student, from ``grading_report_<assignment>.csv``.
"""
from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

#: The version of the diagnoses file this reader understands.
DIAGNOSES_VERSION = 1


def diagnoses_path(course: str | os.PathLike, assignment: str) -> Path:
    """Where the grader writes the diagnoses of ``assignment``."""
    return Path(course) / f"grading_diagnoses_{assignment}.json"


def grading_report_path(course: str | os.PathLike, assignment: str) -> Path:
    """Where ``python -m cnnkit grade`` writes its per-student report."""
    return Path(course) / f"grading_report_{assignment}.csv"


# ---------------------------------------------------------------- the gradebook

@dataclass(frozen=True)
class GradedCell:
    """A cell that carries points: a test cell (autograded) or an answer graded by hand."""

    notebook: str
    name: str           # nbgrader's grade_id
    max_points: float
    by_hand: bool

    @property
    def key(self) -> tuple[str, str]:
        return self.notebook, self.name


@dataclass(frozen=True)
class Person:
    """A student as the gradebook's roster knows them (names and email only where imported)."""

    id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    lms_user_id: str = ""

    def words(self) -> list[str]:
        """What identifies this student in a text: id, names, email (to anonymise examples)."""
        return [w for w in (self.id, self.email, self.first_name, self.last_name) if w and len(w) >= 2]


@dataclass
class Submission:
    """One student's points in the gradebook. ``points[cell key]`` is None for an answer still to be graded."""

    student: str
    points: dict[tuple[str, str], float | None]
    late_penalty: float = 0.0
    seconds_late: float = 0.0
    timestamp: str = ""


@dataclass
class ClassGrades:
    """An assignment's graded cells, its roster and the submissions, as the gradebook has them."""

    assignment: str
    cells: list[GradedCell]
    roster: dict[str, Person]
    submissions: dict[str, Submission]

    @property
    def max_points(self) -> float:
        return sum(c.max_points for c in self.cells)

    @property
    def auto_max(self) -> float:
        return sum(c.max_points for c in self.cells if not c.by_hand)

    @property
    def manual_max(self) -> float:
        return sum(c.max_points for c in self.cells if c.by_hand)

    def total(self, student: str) -> float:
        """The submission's score as nbgrader counts it: every given point, less the late penalty, at least 0."""
        sub = self.submissions[student]
        return max(0.0, sum(p for p in sub.points.values() if p is not None) - sub.late_penalty)

    def part(self, student: str, by_hand: bool) -> float:
        """Points given in the autograded (``by_hand=False``) or hand-graded cells, before any late penalty."""
        points = self.submissions[student].points
        return sum(points.get(c.key) or 0.0 for c in self.cells if c.by_hand == by_hand)


def read_gradebook(db_url: str, course_id: str, assignment: str) -> ClassGrades:
    """Read ``assignment`` from the gradebook at ``db_url``; ValueError when it is not there."""
    from nbgrader.api import (
        Assignment,
        Gradebook,
        GradeCell,
        MissingEntry,
        Notebook,
        SubmittedAssignment,
        SubmittedNotebook,
    )
    from nbgrader.api import Grade as GradeRow

    with Gradebook(db_url, course_id) as gb:
        try:
            record = gb.find_assignment(assignment)
        except MissingEntry:
            raise ValueError(f"assignment {assignment!r} is not in the gradebook {db_url}; "
                             f"run `nbgrader generate_assignment {assignment}` (and grade it) first") from None
        by_hand = {(nb.name, c.name) for nb in record.notebooks for c in nb.solution_cells}
        cells = [GradedCell(nb.name, c.name, float(c.max_score or 0.0), (nb.name, c.name) in by_hand)
                 for nb in sorted(record.notebooks, key=lambda n: n.name) for c in _in_order(nb)]
        roster = {s.id: Person(s.id, s.first_name or "", s.last_name or "", s.email or "", s.lms_user_id or "")
                  for s in gb.students}
        submissions: dict[str, Submission] = {}
        for sub in gb.db.query(SubmittedAssignment).filter(SubmittedAssignment.assignment_id == record.id):
            submissions[sub.student_id] = Submission(
                sub.student_id, {}, float(sub.late_submission_penalty or 0.0), float(sub.total_seconds_late or 0.0),
                str(sub.timestamp or ""))
        rows = (gb.db.query(SubmittedAssignment.student_id, Notebook.name, GradeCell.name, GradeRow.auto_score,
                            GradeRow.manual_score, GradeRow.extra_credit, GradeRow.needs_manual_grade)
                .join(SubmittedNotebook, GradeRow.notebook_id == SubmittedNotebook.id)
                .join(SubmittedAssignment, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
                .join(Notebook, SubmittedNotebook.notebook_id == Notebook.id)
                .join(GradeCell, GradeRow.cell_id == GradeCell.id)
                .join(Assignment, SubmittedAssignment.assignment_id == Assignment.id)
                .filter(Assignment.name == assignment))
        for student, notebook, cell, auto, manual, extra, needs_manual in rows:
            key = (notebook, cell)
            if key in by_hand and needs_manual and manual is None:
                points = None  # still to be graded by hand
            else:
                base = manual if manual is not None else auto
                points = float(base or 0.0) + float(extra or 0.0)
            submissions[student].points[key] = points
    return ClassGrades(assignment, cells, roster, submissions)


def _in_order(notebook) -> list:
    """A notebook's grade cells in the order of its source cells (the order the students see them)."""
    order = {c.name: i for i, c in enumerate(notebook.source_cells)}
    return sorted(notebook.grade_cells, key=lambda c: (order.get(c.name, len(order)), c.name))


# ---------------------------------------------------------------- the diagnoses file

@dataclass(frozen=True)
class CheckDiagnosis:
    """What one :func:`cnnkit.checks.check` call in a test cell said."""

    function: str
    passed: bool
    message: str = ""
    mistake: str | None = None
    title: str | None = None
    lecture: str | None = None


@dataclass(frozen=True)
class CellDiagnosis:
    """A graded test cell of one student: points, the checks it ran, and the first line of its error."""

    points: float
    max_points: float
    checks: tuple[CheckDiagnosis, ...] = ()
    failure: str | None = None


@dataclass
class Diagnoses:
    """``students[student][(notebook, grade_id)]``: the diagnosed cells; an absent student is undiagnosed."""

    assignment: str
    students: dict[str, dict[tuple[str, str], CellDiagnosis]] = field(default_factory=dict)


def read_diagnoses(path: str | os.PathLike, assignment: str | None = None) -> Diagnoses:
    """Read and validate a diagnoses file; ValueError naming the file and the first bad entry."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read the diagnoses file {path}: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"the diagnoses file {path} is not JSON: {exc}") from None
    return parse_diagnoses(data, assignment, source=str(path))


def parse_diagnoses(data: object, assignment: str | None = None, *, source: str = "diagnoses") -> Diagnoses:
    """Validate the decoded JSON of a diagnoses file (see :func:`read_diagnoses`)."""
    def bad(where: str, what: str) -> ValueError:
        return ValueError(f"{source}: {where} {what}")

    _expect(isinstance(data, dict), bad("the file", "must be a JSON object"))
    version = data.get("version")
    _expect(version == DIAGNOSES_VERSION, bad("'version'", f"must be {DIAGNOSES_VERSION}, got {version!r}"))
    name = data.get("assignment")
    _expect(isinstance(name, str) and name, bad("'assignment'", f"must be the assignment's name, got {name!r}"))
    _expect(assignment is None or name == assignment,
            bad("'assignment'", f"is {name!r}, but the report is for {assignment!r}"))
    students = data.get("students")
    _expect(isinstance(students, dict), bad("'students'", "must be an object: student id -> notebooks"))
    result = Diagnoses(name)
    for student, notebooks in students.items():
        _expect(isinstance(notebooks, dict), bad(f"students[{student!r}]", "must be an object: notebook -> cells"))
        cells: dict[tuple[str, str], CellDiagnosis] = {}
        for notebook, graded in notebooks.items():
            where = f"students[{student!r}][{notebook!r}]"
            _expect(isinstance(graded, dict), bad(where, "must be an object: grade_id -> cell"))
            for grade_id, cell in graded.items():
                cells[(notebook, grade_id)] = _cell(cell, f"{where}[{grade_id!r}]", bad)
        result.students[student] = cells
    return result


def _cell(cell: object, where: str, bad) -> CellDiagnosis:
    _expect(isinstance(cell, dict), bad(where, "must be an object with points, max_points, checks, failure"))
    points, top = cell.get("points"), cell.get("max_points")
    for key, value in (("points", points), ("max_points", top)):
        _expect(_finite(value) and value >= 0, bad(f"{where}[{key!r}]", f"must be a number >= 0, got {value!r}"))
    _expect(points <= top + 1e-9, bad(where, f"has points {points!r} above max_points {top!r}"))
    failure = cell.get("failure")
    _expect(failure is None or isinstance(failure, str), bad(f"{where}['failure']", "must be a string or null"))
    checks = cell.get("checks", [])
    _expect(isinstance(checks, list), bad(f"{where}['checks']", "must be a list"))
    found = []
    for i, item in enumerate(checks):
        at = f"{where}['checks'][{i}]"
        _expect(isinstance(item, dict), bad(at, "must be an object"))
        function, passed = item.get("function"), item.get("passed")
        _expect(isinstance(function, str) and function, bad(f"{at}['function']", f"must be a name, got {function!r}"))
        _expect(isinstance(passed, bool), bad(f"{at}['passed']", f"must be true or false, got {passed!r}"))
        texts = {k: item.get(k) for k in ("message", "mistake", "title", "lecture")}
        for key, value in texts.items():
            _expect(value is None or isinstance(value, str), bad(f"{at}[{key!r}]", "must be a string or null"))
        found.append(CheckDiagnosis(function, passed, texts["message"] or "", texts["mistake"] or None,
                                    texts["title"] or None, texts["lecture"] or None))
    return CellDiagnosis(float(points), float(top), tuple(found), failure)


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _expect(condition: bool, error: ValueError) -> None:
    if not condition:
        raise error


# ---------------------------------------------------------------- the grading report

#: Values of a similarity column that mean "nothing flagged".
_NOT_FLAGGED = {"", "no", "none", "false", "0", "-"}


@dataclass(frozen=True)
class StatusRow:
    """One student's row of ``grading_report_<assignment>.csv``: status, detail, similarity flag."""

    student: str
    status: str
    detail: str = ""
    similarity: str = ""

    @property
    def flagged(self) -> bool:
        return self.similarity.strip().lower() not in _NOT_FLAGGED


def read_statuses(path: str | os.PathLike) -> list[StatusRow]:
    """The rows of a grading report; [] when the file does not exist (the class was never graded here).

    Read by column name, so the report may grow columns; a ``similarity`` column (any column whose
    name starts with "similar") is read where the grader writes one.
    """
    path = Path(path)
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        columns = reader.fieldnames or []
        if "student" not in columns or "status" not in columns:
            raise ValueError(f"{path} is no grading report: it needs the columns student and status, "
                             f"has {columns}")
        similar = next((c for c in columns if c.lower().startswith("similar")), None)
        return [StatusRow(r["student"], r["status"] or "", r.get("detail") or "",
                          (r.get(similar) or "") if similar else "") for r in reader]
