"""Similar code in a class's hand-ins: each graded function against the kit, the solutions and the other students.

``python -m cnnkit grade NAME`` calls :func:`check_class` once the class is graded (``--no-similarity``
skips it). It writes ``similarity_NAME.html`` in the course folder -- every pair above the threshold,
most similar first, side by side with the matched code highlighted -- and returns, per student, the
text of the report's ``similarity`` column (``conv2d: 92% like student bob; ...``). Points never
change: the instructor reads the pairs and decides.

The parts: :mod:`.normalize` (a function as a token stream that renaming, comments, formatting and the
order of independent statements do not change), :mod:`.compare` (winnowed fingerprints, scores),
:mod:`.corpus` (what is compared with what), :mod:`.page` (the HTML report).
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .compare import DEFAULT_MIN_TOKENS, DEFAULT_THRESHOLD, Match, Result, Settings, compare
from .. import report as rp
from ..report import StudentReport, atomic_write_text
from .normalize import TooLarge, Unit

__all__ = ["check_class", "after_grading", "ClassCheck", "Settings", "Result", "Match", "Unit", "compare", "flag_text",
           "DEFAULT_THRESHOLD", "DEFAULT_MIN_TOKENS"]


@dataclass
class ClassCheck:
    """What :func:`check_class` found: the comparison, the flags per student and the page written."""

    result: Result
    flags: dict[str, str]
    page: Path


def flag_text(matches: list[Match]) -> str:
    """``conv2d: 92% like student bob; correlate2d: 88% like cnnkit/ops/conv.py: correlate2d``."""
    return "; ".join(f"{m.function}: {m.score:.0%} like {m.other.label}" for m in matches)


def check_class(course: str | os.PathLike, assignment: str, *, settings: Settings = Settings(),
                submitted_dir: str = "submitted", source_dir: str = "solutions", release_dir: str = "assignments",
                package_dir: str | os.PathLike | None = None, lecture_dirs: list[Path] | None = None) -> ClassCheck:
    """Compare every hand-in of ``assignment`` in the course at ``course``; write ``similarity_<assignment>.html``.

    The folders are the course's (nbgrader's ``submitted_directory``, ``source_directory`` and
    ``release_directory``). The kit's code is the installed ``cnnkit`` package (``package_dir``) and the
    lectures in ``course/lectures`` and next to the package (``lecture_dirs``).
    """
    from . import corpus
    from .page import render

    course = Path(course)
    package = Path(package_dir) if package_dir is not None else Path(__file__).resolve().parents[2]
    if lecture_dirs is None:
        lecture_dirs = [d for d in (course / "lectures", package.parent / "lectures") if d.is_dir()]
    solutions = sorted((course / source_dir / assignment).glob("*.ipynb"))
    releases = sorted((course / release_dir / assignment).glob("*.ipynb"))
    if not solutions:
        raise ValueError(f"no solution notebook in {course / source_dir / assignment}: the similarity report "
                         "needs the instructor's source to know the graded functions")
    graded = corpus.graded_functions(solutions)
    notebooks = [p.name for p in releases] or [p.name for p in solutions]
    students: list[Unit] = []
    unreadable: dict[str, str] = {}
    for folder in sorted((course / submitted_dir).glob(f"*/{assignment}")):
        # a folder or notebook that is a link is not the student's own: never followed (findings.read_regular_file)
        if folder.is_dir() and not folder.is_symlink() and not folder.parent.is_symlink():
            renamed = sorted(p.name for p in folder.glob("*.ipynb") if p.name not in notebooks)
            try:  # one hand-in the parser cannot read (a 600-term expression...) is that student's row only
                students += corpus.submission_units(folder, renamed + notebooks, graded, folder.parent.name)
            except TooLarge as exc:
                unreadable[folder.parent.name] = f"not compared: {exc} (look at it yourself)"
            except Exception:  # noqa: BLE001 - whatever one hand-in does to the parser is that student's row only
                unreadable[folder.parent.name] = ("not compared: its code could not be read by the similarity "
                                                  "check (look at it yourself)")
    references = (corpus.kit_units(package, lecture_dirs)
                  + corpus.solution_units(course / source_dir, course))
    boilerplate = corpus.template_units(releases, course)
    result = compare(students, references, boilerplate, settings, functions=graded)
    page = course / f"similarity_{assignment}.html"

    atomic_write_text(page, render(result, assignment))
    flags = {student: flag_text(matches) for student, matches in result.flags().items()}
    flags.update(unreadable)
    return ClassCheck(result, flags, page)


def after_grading(course: Path, assignment: str, reports: list[StudentReport], coursedir, threshold: float
                  ) -> ClassCheck | None:
    """What ``grade()`` runs last: the flags go into the rows, the report files are written again, the page too.

    ``coursedir`` is nbgrader's CourseDirectory (its folder names). The grades are already written
    when this runs; should the comparison fail, that is said on stderr and the report stays as graded.
    """
    try:
        check = check_class(course, assignment, settings=Settings(threshold=threshold),
                            submitted_dir=coursedir.submitted_directory, source_dir=coursedir.source_directory,
                            release_dir=coursedir.release_directory)
    except Exception as exc:  # the grades stand whatever happens here
        print(f"cnnkit grade: no similarity report ({type(exc).__name__}: {exc}); the grades are written",
              file=sys.stderr)
        return None
    for report in reports:
        report.similarity = check.flags.get(report.student, "")
    rp.atomic_write_text(Path(course) / f"grading_report_{assignment}.csv", rp.reports_to_csv(reports))
    rp.atomic_write_text(Path(course) / f"grading_report_{assignment}.txt", rp.format_table(reports))
    print(f"similarity: {len(check.flags)} student(s) flagged at {threshold:.0%}; see {check.page}", file=sys.stderr)
    return check
