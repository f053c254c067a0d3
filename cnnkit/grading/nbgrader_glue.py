"""The thin layer between the grader and nbgrader: config, course folders, gradebook reads and writes.

The main gradebook is written by one process only (the parent of the grading workers), so
SQLite never sees two writers: each worker autogrades into a private copy of the gradebook,
and the parent copies that student's rows across (:func:`merge_submission`), one at a time.
"""
from __future__ import annotations

import os
import sqlite3
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .findings import LockedCell
from .report import atomic_replace


@contextmanager
def _quiet_sqlalchemy():
    """nbgrader's add_submission triggers a harmless SQLAlchemy autoflush warning; keep the log readable."""
    from sqlalchemy.exc import SAWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        yield


def load_config(course_dir: str | os.PathLike):
    """The course's ``nbgrader_config.py`` (if any) as a traitlets Config, rooted at ``course_dir``."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    course_dir = Path(course_dir).resolve()
    cfg = Config()
    if (course_dir / "nbgrader_config.py").is_file():
        cfg.merge(PyFileConfigLoader("nbgrader_config.py", path=str(course_dir)).load_config())
    cfg.CourseDirectory.root = str(course_dir)  # the file says "." which would follow the cwd
    return cfg


def make_coursedir(cfg, **attrs):
    """An nbgrader CourseDirectory for ``cfg`` with attributes such as ``assignment_id`` set."""
    from nbgrader.coursedir import CourseDirectory

    coursedir = CourseDirectory(config=cfg)
    for name, value in attrs.items():
        setattr(coursedir, name, value)
    return coursedir


def sqlite_path(db_url: str) -> Path:
    """The file behind a ``sqlite:///...`` URL; other databases are refused (the grader copies the file)."""
    prefix = "sqlite:///"
    if not db_url.startswith(prefix):
        raise ValueError(f"the grader needs a SQLite gradebook (CourseDirectory.db_url), got {db_url!r}")
    return Path(db_url[len(prefix):])


def snapshot_gradebook(src: str | os.PathLike, dest: str | os.PathLike) -> None:
    """Copy a SQLite gradebook consistently (SQLite's online backup), even while it is open elsewhere."""
    with sqlite3.connect(src) as source, sqlite3.connect(dest) as target:
        source.backup(target)
    source.close()
    target.close()


@dataclass
class AssignmentFacts:
    """What the gradebook knows about an assignment: notebooks, read-only cells, points, due date."""

    notebooks: list[str]
    locked: dict[str, list[LockedCell]] = field(default_factory=dict)
    max_score: float = 0.0
    duedate: str | None = None


def assignment_facts(db_url: str, course_id: str, assignment: str) -> AssignmentFacts:
    """Read an assignment's structure; ValueError if ``nbgrader generate_assignment`` never ran for it."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url, course_id) as gb:
        try:
            record = gb.find_assignment(assignment)
        except MissingEntry:
            raise ValueError(f"assignment {assignment!r} is not in the gradebook {db_url}; "
                             f"run `nbgrader generate_assignment {assignment}` first") from None
        facts = AssignmentFacts(notebooks=sorted(nb.name for nb in record.notebooks),
                                max_score=float(record.max_score or 0.0),
                                duedate=str(record.duedate) if record.duedate else None)
        for nb in record.notebooks:
            graded = {cell.name for cell in nb.grade_cells}
            facts.locked[nb.name] = [LockedCell(c.name, c.source, c.checksum, c.name in graded)
                                     for c in nb.source_cells if c.locked]
    if not facts.notebooks:
        raise ValueError(f"assignment {assignment!r} has no notebooks in the gradebook {db_url}")
    return facts


def merge_submission(src_url: str, dest_url: str, course_id: str, assignment: str, student: str) -> None:
    """Copy one student's autograded submission from a worker's gradebook into the main one.

    Idempotent: rows are found or created by their natural keys (student, assignment, notebook,
    cell), never appended, so merging twice leaves one copy. Manual grades already in the main
    gradebook are kept, and such cells are flagged for review, as nbgrader's own autograde does.
    """
    from nbgrader.api import Gradebook

    with _quiet_sqlalchemy(), Gradebook(src_url, course_id) as src, Gradebook(dest_url, course_id) as dest:
        submission = src.find_submission(assignment, student)
        dest.update_or_create_student(student)
        target = dest.update_or_create_submission(assignment, student, timestamp=submission.timestamp)
        if submission.extension is not None and target.extension is None:
            target.extension = submission.extension
        for notebook in submission.notebooks:
            dest_nb = dest.find_submission_notebook(notebook.name, assignment, student)
            dest_nb.late_submission_penalty = notebook.late_submission_penalty
            for grade in notebook.grades:
                dest_grade = dest.find_grade(grade.name, notebook.name, assignment, student)
                dest_grade.auto_score = grade.auto_score
                dest_grade.needs_manual_grade = bool(grade.needs_manual_grade or dest_grade.manual_score is not None)
            for comment in notebook.comments:
                dest.find_comment(comment.name, notebook.name, assignment, student).auto_comment = comment.auto_comment
        dest.db.commit()


def record_zero(db_url: str, course_id: str, assignment: str, student: str, timestamp=None) -> None:
    """Give a submission that could not be autograded a 0 on every autograded cell, visibly.

    The student and the submission exist afterwards (so ``grades.csv`` has their row); the
    grading report says why the score is 0. Manual scores already given are kept.
    """
    from nbgrader.api import Gradebook

    with _quiet_sqlalchemy(), Gradebook(db_url, course_id) as gb:
        gb.update_or_create_student(student)
        kwargs = {"timestamp": timestamp} if timestamp is not None else {}
        submission = gb.update_or_create_submission(assignment, student, **kwargs)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score = 0.0
                grade.needs_manual_grade = grade.manual_score is not None
        gb.db.commit()


@dataclass(frozen=True)
class SubmissionScore:
    """A submission's points, split the way an instructor reads them.

    ``auto`` are the points of the test cells (decided by the grader); ``manual`` those of the
    answers graded by hand that have been given so far, ``manual_pending`` the maximum of those
    still waiting for a grader; ``total`` is everything given, after the late penalty.
    """

    total: float
    max_total: float
    auto: float
    auto_max: float
    manual: float
    manual_max: float
    manual_pending: float
    seconds_late: float


def submission_score(db_url: str, course_id: str, assignment: str, student: str) -> SubmissionScore:
    """The :class:`SubmissionScore` of a submission in the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url, course_id) as gb:
        submission = gb.find_submission(assignment, student)
        auto = auto_max = manual = manual_max = pending = 0.0
        for notebook in submission.notebooks:
            by_hand = {cell.name for cell in notebook.notebook.solution_cells}
            for grade in notebook.grades:
                points = float(grade.max_score or 0.0)
                if grade.name not in by_hand:
                    auto_max += points
                    auto += float(grade.score or 0.0)
                    continue
                manual_max += points
                if grade.needs_manual_grade and grade.manual_score is None:
                    pending += points
                else:
                    manual += float(grade.score or 0.0)
        total = max(0.0, float(submission.score) - float(submission.late_submission_penalty or 0.0))
        return SubmissionScore(total, float(submission.max_score), auto, auto_max, manual, manual_max, pending,
                               float(submission.total_seconds_late))


def cell_points(db_url: str, course_id: str, assignment: str, student: str) -> dict[str, dict[str, dict]]:
    """``{notebook: {grade_id: {"points": ..., "max_points": ...}}}`` of a graded submission (empty if none)."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url, course_id) as gb:
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            return {}
        return {notebook.name: {grade.name: {"points": float(grade.score or 0.0),
                                             "max_points": float(grade.max_score or 0.0)}
                                for grade in notebook.grades}
                for notebook in submission.notebooks}


def roster(db_url: str, course_id: str) -> list[str]:
    """Student ids known to the gradebook (for instance imported with ``nbgrader db student import``)."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url, course_id) as gb:
        return sorted(student.id for student in gb.students)


def export_grades(db_url: str, course_id: str, dest: str | os.PathLike) -> None:
    """nbgrader's CSV export (``nbgrader export``) written atomically to ``dest``."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    with atomic_replace(dest) as tmp:
        plugin = CsvExportPlugin(to=str(tmp))
        with Gradebook(db_url, course_id) as gb:
            plugin.export(gb)


def run_converter(converter_class, coursedir, cfg) -> dict:
    """Run an nbgrader converter (Autograde, GenerateFeedback ...) over existing output, its log captured.

    Returns nbgrader's ``capture_log`` result: ``success``, and the ``log`` and ``error`` texts.
    """
    from nbgrader.utils import capture_log

    converter = converter_class(coursedir=coursedir, config=cfg)
    converter.force = True
    return capture_log(converter)
