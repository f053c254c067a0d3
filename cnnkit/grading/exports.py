"""The grades of one assignment in the import formats of two learning-management systems.

Written beside nbgrader's ``grades.csv`` by ``python -m cnnkit report NAME --export canvas|moodle``
(and by ``cnnkit grade`` with the same option). One row per student of the roster or with a submission;
a student who handed in nothing scores 0, as in ``grades.csv``. The score is the gradebook's total
(hand-given points included, less the late penalty).

**Canvas** (``grades_canvas_NAME.csv``), the Gradebook import CSV as Instructure's guide "How do I import
grades in the Gradebook?" and Canvas's own Gradebook export lay it out: the columns ``Student, ID, SIS User
ID, SIS Login ID, Section``, then one column per assignment; the first row after the header is the
"Points Possible" row (the label in the Student column, the assignment's maximum in its column). Student is
"Last, First"; ID is Canvas's user id, which nbgrader keeps as the student's ``lms_user_id``
(``nbgrader db student add --lms-user-id``); SIS Login ID is the nbgrader id (on a hub with the
university's login, the login name); SIS User ID and Section stay empty (Canvas matches on the others).
A new column name creates a new assignment in Canvas; rename the column to an existing assignment's
header (``Name (123)``) to fill that one.

**Moodle** (``grades_moodle_NAME.csv``), for Moodle's "Import grades from CSV file" (Grades >
Import > CSV file), which maps one column to the user (by email address, username, ID number or user id)
and each other column to a grade item: the columns ``Username`` (the nbgrader id), ``Email address``
(from the roster), ``ID number`` (the lms_user_id) and the grade column named after the assignment, with
a dot as the decimal mark. Pick the identifying column and the grade item in Moodle's mapping step.
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from .class_data import ClassGrades

CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_POINTS_ROW = "    Points Possible"
MOODLE_COLUMNS = ("Username", "Email address", "ID number")


def export_path(course: str | os.PathLike, assignment: str, system: str) -> Path:
    return Path(course) / f"grades_{system}_{assignment}.csv"


def _students(grades: ClassGrades) -> list[str]:
    return sorted(set(grades.roster) | set(grades.submissions))


def _score(grades: ClassGrades, student: str) -> str:
    return _points(grades.total(student) if student in grades.submissions else 0.0)


def _points(value: float) -> str:
    return f"{round(value, 4):g}"


def canvas_csv(grades: ClassGrades) -> str:
    """Canvas's Gradebook import CSV for this assignment (see the module doc)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*CANVAS_COLUMNS, grades.assignment])
    writer.writerow([CANVAS_POINTS_ROW, "", "", "", "", _points(grades.max_points)])
    for student in _students(grades):
        person = grades.roster.get(student)
        name = ", ".join(p for p in ((person.last_name, person.first_name) if person else ()) if p) or student
        writer.writerow([name, person.lms_user_id if person else "", "", student, "", _score(grades, student)])
    return buffer.getvalue()


def moodle_csv(grades: ClassGrades) -> str:
    """Moodle's grade import CSV for this assignment (see the module doc)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*MOODLE_COLUMNS, grades.assignment])
    for student in _students(grades):
        person = grades.roster.get(student)
        writer.writerow([student, person.email if person else "", person.lms_user_id if person else "",
                         _score(grades, student)])
    return buffer.getvalue()


WRITERS = {"canvas": canvas_csv, "moodle": moodle_csv}


def write_exports(grades: ClassGrades, course: str | os.PathLike, systems) -> list[Path]:
    """Write one file per system of ``systems`` (``canvas``, ``moodle``) in ``course``; return the paths."""
    from .report import atomic_write_text

    written = []
    for system in systems:
        if system not in WRITERS:
            raise ValueError(f"export must be one of {', '.join(WRITERS)}, got {system!r}")
        path = export_path(course, grades.assignment, system)
        atomic_write_text(path, WRITERS[system](grades))
        written.append(path)
    return written
