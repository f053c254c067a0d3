"""The instructor's view of a graded class: the scores, which mistakes, how many students, what to reteach.

    python -m cnnkit report a1_convolution [--course DIR] [--names] [--format html|csv] [--export canvas|moodle]

Built from the gradebook (the points), the grader's diagnoses file (what :func:`cnnkit.checks.check` said
in every failed test cell) and the grading report (statuses, similarity flags); nothing is regraded.
``python -m cnnkit grade`` builds it at the end of every run. It writes, in the course folder:

* ``class_report_NAME.html`` -- one static page (plots as embedded PNGs, no script, nothing fetched);
* ``class_report_NAME.json`` -- the same numbers, for scripts;
* with ``--format csv``, ``class_report_NAME.csv`` -- one row per student x graded function x mistake,
  the columns :data:`CSV_COLUMNS` (a function that passes has one row with ``passed`` true);
* with ``--export``, the grades in Canvas's or Moodle's import format (:mod:`cnnkit.grading.exports`).

By default nothing in the page, the JSON or the CSV names a student: counts, shares and one anonymised
example per unknown failure (every roster id, name and email in it replaced by ``<student>``), and the
CSV's ``student`` column holds pseudonyms drawn afresh each run. ``--names`` adds who made each mistake.

How the numbers are counted. Scores are the gradebook's (hand-given points included, less the late
penalty); the distribution is over the students with a submission, quartiles by numpy's linear rule;
the hand-given part only over the students whose answers are all graded by hand.
A diagnosed student made a mistake when one of their failed checks names it; the share is of the
diagnosed students. A cell's lost points are split equally among its failed checks; a failed check that
names no mistake, and a cell that lost points with no failed check, are undiagnosed failures, grouped by
the first line of the check's message (or of the cell's error). "What to reteach" is the three mistakes
that cost the class the most points.
"""
from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import sys
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from .report import spreadsheet_safe

from .class_data import (
    CellDiagnosis,
    ClassGrades,
    Diagnoses,
    StatusRow,
    diagnoses_path,
    grading_report_path,
    read_diagnoses,
    read_gradebook,
    read_statuses,
)

FORMATS = ("html", "csv")
EXPORTS = ("canvas", "moodle")
#: Columns of ``--format csv``: one row per student x function x mistake.
CSV_COLUMNS = ("student", "function", "passed", "mistake", "title", "lecture", "undiagnosed", "cells",
               "points_lost")
#: How many mistakes "what to reteach" names.
RETEACH = 3
ANONYMOUS = "<student>"


# ---------------------------------------------------------------- the report's parts

@dataclass
class Stats:
    """Five numbers of a distribution (None for an empty one) and how many values."""

    n: int
    mean: float | None = None
    median: float | None = None
    q1: float | None = None
    q3: float | None = None
    min: float | None = None
    max: float | None = None


@dataclass
class CellSummary:
    """A graded cell: how many students got full, partial, no points, or wait for a hand grade."""

    notebook: str
    cell: str
    max_points: float
    by_hand: bool
    students: int
    full: int
    partial: int
    none: int
    pending: int


@dataclass
class MistakeSummary:
    """A catalogued mistake in one function: who made it (a count), what it cost, where it is taught."""

    id: str
    function: str
    title: str
    lecture: str
    link: str | None
    students: int
    share: float
    points_lost: float
    cells: list[str]
    names: list[str] | None = None


@dataclass
class UndiagnosedGroup:
    """Failures the catalogue does not name, grouped by their first failing check (or error line)."""

    function: str
    first_check: str
    kind: str            # "check": a failed check named no mistake; "cell": the cell failed, every check passed
    students: int
    share: float
    points_lost: float
    example: str         # anonymised
    names: list[str] | None = None


@dataclass
class FunctionSummary:
    function: str
    students_checked: int
    students_failed: int
    mistakes: list[MistakeSummary] = field(default_factory=list)
    undiagnosed: list[UndiagnosedGroup] = field(default_factory=list)


@dataclass
class ClassReport:
    """Everything the page, the JSON and the text summary show (see the module doc for how it is counted)."""

    assignment: str
    generated_at: str
    roster: int
    submitted: int
    diagnosed: int
    max_points: float
    auto_max: float
    manual_max: float
    total: Stats
    auto: Stats
    manual: Stats
    manual_pending_students: int
    histogram: dict          # total scores: {"edges": [...], "counts": [...]}
    histogram_auto: dict
    histogram_manual: dict
    cells: list[CellSummary]
    functions: list[FunctionSummary]
    statuses: dict[str, int]
    similarity_flags: int
    reteach: list[MistakeSummary]
    similarity_by_function: dict[str, int] = field(default_factory=dict)  # function -> students flagged in it
    names_included: bool = False
    similarity: list[dict] | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=False)

    @classmethod
    def from_json(cls, text: str) -> "ClassReport":
        """The report back from :meth:`to_json` (``class_report_NAME.json``)."""
        data = json.loads(text)
        for key in ("total", "auto", "manual"):
            data[key] = Stats(**data[key])
        data["cells"] = [CellSummary(**c) for c in data["cells"]]
        data["functions"] = [FunctionSummary(f["function"], f["students_checked"], f["students_failed"],
                                             [MistakeSummary(**m) for m in f["mistakes"]],
                                             [UndiagnosedGroup(**u) for u in f["undiagnosed"]])
                             for f in data["functions"]]
        data["reteach"] = [MistakeSummary(**m) for m in data["reteach"]]
        return cls(**data)


# ---------------------------------------------------------------- building it

def build_report(grades: ClassGrades, diagnoses: Diagnoses | None, statuses: list[StatusRow], *,
                 names: bool = False, site_dir: str | os.PathLike | None = None,
                 report_dir: str | os.PathLike = ".") -> ClassReport:
    """Count everything the report shows. ``site_dir`` is the built course site (``make site``'s ``_site/``)
    whose lecture pages the mistakes link to, relative to ``report_dir``, where the page is written."""
    students = sorted(grades.submissions)
    totals = [grades.total(s) for s in students]
    autos = [grades.part(s, by_hand=False) for s in students]
    waiting = {s for s in students if any(grades.submissions[s].points.get(c.key, 0.0) is None for c in grades.cells)}
    manual = [grades.part(s, by_hand=True) for s in students if s not in waiting]  # fully graded by hand only
    pending = len(waiting)
    notes = []
    diagnosed = sorted(set(diagnoses.students) & set(students)) if diagnoses else []
    if diagnoses is None:
        notes.append("no diagnoses file: the grader has not written one for this assignment, so no mistake is "
                     "named (grade again with the current grader)")
    elif len(diagnosed) < len(students):
        notes.append(f"{len(students) - len(diagnosed)} of {len(students)} students with a submission have no "
                     "diagnoses (graded by an older grader, or not autograded): they are left out of the mistakes")
    anonymise = _anonymiser(grades)
    links = _LectureLinks(site_dir, report_dir)
    functions = _functions(grades, diagnoses, diagnosed, names, anonymise, links)
    flagged = [r for r in statuses if r.flagged]
    counts: dict[str, int] = {}
    for row in statuses:
        counts[row.status] = counts.get(row.status, 0) + 1
    if not statuses:
        notes.append("no grading report (grading_report_NAME.csv): statuses unknown")
    return ClassReport(
        assignment=grades.assignment, generated_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        roster=len(set(grades.roster) | set(students)), submitted=len(students), diagnosed=len(diagnosed),
        max_points=grades.max_points, auto_max=grades.auto_max, manual_max=grades.manual_max,
        total=_stats(totals), auto=_stats(autos), manual=_stats(manual), manual_pending_students=pending,
        histogram=_histogram(totals, grades.max_points), histogram_auto=_histogram(autos, grades.auto_max),
        histogram_manual=_histogram(manual, grades.manual_max),
        cells=_cells(grades, students), functions=functions, statuses=counts, similarity_flags=len(flagged),
        reteach=_reteach(functions), names_included=names, similarity_by_function=_flagged_functions(flagged),
        similarity=[{"student": r.student, "flag": r.similarity} for r in flagged] if names else None,
        notes=notes)


def _flagged_functions(flagged: list[StatusRow]) -> dict[str, int]:
    """Students flagged per function, from flags like ``conv2d: 92% like student bob; edge_strength: ...``
    (a flag in another form counts under "other")."""
    counts: dict[str, int] = {}
    for row in flagged:
        functions = {m.group(1) for part in row.similarity.split(";")
                     if (m := re.match(r"\s*([A-Za-z_]\w*)\s*:", part))} or {"other"}
        for function in functions:
            counts[function] = counts.get(function, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _stats(values: list[float]) -> Stats:
    import numpy as np

    if not values:
        return Stats(0)
    a = np.asarray(values, dtype=float)
    q1, median, q3 = (float(v) for v in np.percentile(a, [25, 50, 75]))
    return Stats(len(values), round(float(a.mean()), 4), median, q1, q3, float(a.min()), float(a.max()))


def _histogram(values: list[float], top: float) -> dict:
    import numpy as np

    edges = _bin_edges(top)
    counts = np.histogram(np.asarray(values, dtype=float), bins=edges)[0] if values else [0] * (len(edges) - 1)
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def _bin_edges(top: float) -> list[float]:
    """Bins of one point up to 40 points, else of ceil(top / 20); the last bin includes the maximum."""
    import math

    if top <= 0:
        return [0.0, 1.0]
    width = 1.0 if top <= 40 else float(math.ceil(top / 20))
    edges = [i * width for i in range(int(math.ceil(top / width)) + 1)]
    edges[-1] = max(edges[-1], top)
    return edges


def _cells(grades: ClassGrades, students: list[str]) -> list[CellSummary]:
    found = []
    for cell in grades.cells:
        full = partial = none = pending = 0
        for student in students:
            got = grades.submissions[student].points.get(cell.key, 0.0)
            if got is None:
                pending += 1
            elif got >= cell.max_points:
                full += 1
            elif got > 0:
                partial += 1
            else:
                none += 1
        found.append(CellSummary(cell.notebook, cell.name, cell.max_points, cell.by_hand, len(students),
                                 full, partial, none, pending))
    return found


def _lost(grades: ClassGrades, student: str, key: tuple[str, str], diag: CellDiagnosis) -> float:
    """Points a cell lost, by the gradebook (the diagnoses' own figure where the gradebook has none)."""
    points = grades.submissions.get(student)
    got = points.points.get(key) if points else None
    cell = next((c for c in grades.cells if c.key == key), None)
    if got is None or cell is None:
        return max(0.0, diag.max_points - diag.points)
    return max(0.0, cell.max_points - got)


def _functions(grades: ClassGrades, diagnoses: Diagnoses | None, diagnosed: list[str], names: bool,
               anonymise, links: "_LectureLinks") -> list[FunctionSummary]:
    """Per graded function, its mistakes and undiagnosed failures, in the order the notebook grades them."""
    order = {c.key: i for i, c in enumerate(grades.cells)}
    checked: dict[str, set] = defaultdict(set)
    failed: dict[str, set] = defaultdict(set)
    made: dict[tuple[str, str], dict] = {}        # (function, mistake) -> students, points, cells, title, lecture
    unknown: dict[tuple[str, str, str], dict] = {}  # (function, kind, first line) -> students, points, example
    first_seen: dict[str, int] = {}
    for student in diagnosed:
        for key, diag in sorted(diagnoses.students[student].items(), key=lambda kv: order.get(kv[0], 1 << 30)):
            lost = _lost(grades, student, key, diag)
            bad = [c for c in diag.checks if not c.passed]
            for c in diag.checks:
                checked[c.function].add(student)
                first_seen.setdefault(c.function, order.get(key, 1 << 30))
            for c in bad:
                failed[c.function].add(student)
                share_lost = lost / len(bad)
                if c.mistake:
                    entry = made.setdefault((c.function, c.mistake), {"students": set(), "points": 0.0,
                                                                     "cells": set(), "title": c.title,
                                                                     "lecture": c.lecture})
                    entry["title"] = entry["title"] or c.title
                    entry["lecture"] = entry["lecture"] or c.lecture
                else:
                    line = _first_line(c.message) or f"{c.function}: failed, without a message"
                    entry = unknown.setdefault((c.function, "check", line), {"students": set(), "points": 0.0,
                                                                            "example": c.message})
                entry["students"].add(student)
                entry["points"] += share_lost
                entry.setdefault("cells", set()).add(key[1])
            if not bad and lost > 0:
                function = diag.checks[0].function if diag.checks else f"cell {key[1]}"
                first_seen.setdefault(function, order.get(key, 1 << 30))
                failed[function].add(student)
                line = _first_line(diag.failure or "") or "the cell failed without an error message"
                entry = unknown.setdefault((function, "cell", line), {"students": set(), "points": 0.0,
                                                                      "example": diag.failure or line})
                entry["students"].add(student)
                entry["points"] += lost
    n = len(diagnosed) or 1
    summaries = {f: FunctionSummary(f, len(checked[f]), len(failed[f])) for f in first_seen}
    for (function, mistake), e in made.items():
        lecture = e["lecture"] or ""
        summaries[function].mistakes.append(MistakeSummary(
            mistake, function, e["title"] or mistake, lecture, links.href(lecture), len(e["students"]),
            round(len(e["students"]) / n, 4), round(e["points"], 4), sorted(e["cells"]),
            sorted(e["students"]) if names else None))
    for (function, kind, line), e in unknown.items():
        summaries[function].undiagnosed.append(UndiagnosedGroup(
            function, anonymise(line), kind, len(e["students"]), round(len(e["students"]) / n, 4),
            round(e["points"], 4), anonymise(e["example"])[:2000], sorted(e["students"]) if names else None))
    for s in summaries.values():
        s.mistakes.sort(key=lambda m: (-m.students, -m.points_lost, m.id))
        s.undiagnosed.sort(key=lambda u: (-u.students, -u.points_lost, u.first_check))
    return sorted(summaries.values(), key=lambda s: (first_seen[s.function], s.function))


def _reteach(functions: list[FunctionSummary]) -> list[MistakeSummary]:
    """The :data:`RETEACH` mistakes that cost the class the most points (one entry per mistake id)."""
    by_id: dict[str, MistakeSummary] = {}
    for f in functions:
        for m in f.mistakes:
            if m.id in by_id:  # the same mistake seen through two functions' checks
                kept = by_id[m.id]
                by_id[m.id] = MistakeSummary(kept.id, kept.function, kept.title, kept.lecture, kept.link,
                                             kept.students + m.students, round(kept.share + m.share, 4),
                                             round(kept.points_lost + m.points_lost, 4),
                                             sorted(set(kept.cells) | set(m.cells)), kept.names)
            else:
                by_id[m.id] = m
    ranked = sorted((m for m in by_id.values() if m.points_lost > 0),
                    key=lambda m: (-m.points_lost, -m.students, m.id))
    return ranked[:RETEACH]


def _first_line(text: str) -> str:
    return next((line.strip() for line in (text or "").splitlines() if line.strip()), "")


def _anonymiser(grades: ClassGrades):
    """A function that replaces every roster id, name and email in a text by :data:`ANONYMOUS`."""
    words = sorted({w for p in grades.roster.values() for w in p.words()} | set(grades.submissions),
                   key=len, reverse=True)
    if not words:
        return lambda text: text
    pattern = re.compile(r"(?<![\w@.])(?:" + "|".join(map(re.escape, words)) + r")(?![\w@])", re.IGNORECASE)
    return lambda text: pattern.sub(ANONYMOUS, text or "")


# ---------------------------------------------------------------- links into the course site

#: What nbconvert keeps unescaped in a heading's id (nbconvert.filters.strings._convert_header_id).
_ANCHOR_SAFE = "?/:@!$&'()*+,;="
_LECTURE = re.compile(r"^lecture (\w+), section '")


def heading_anchor(heading: str) -> str:
    """The id nbconvert gives a markdown heading in the site's pages: spaces to '-', the rest URL-quoted."""
    return quote(heading.replace(" ", "-"), safe=_ANCHOR_SAFE)


class _LectureLinks:
    """Map "lecture 02, section '6. Multiple channels ...' (...)" to ``_site/02_....html#6.-Multiple-...``.

    Only pages that exist are linked, and the anchor only when the page has a heading with that id;
    otherwise the section stays plain text (the site is built by ``make site``; it may not be).
    """

    def __init__(self, site_dir, report_dir) -> None:
        self.site = Path(site_dir) if site_dir else None
        self.report_dir = Path(report_dir)
        self._ids: dict[str, tuple[Path, set[str]] | None] = {}

    def _page(self, number: str) -> tuple[Path, set[str]] | None:
        if number not in self._ids:
            pages = sorted(self.site.glob(f"{number}_*.html")) if self.site and self.site.is_dir() else []
            if pages:
                import html

                text = pages[0].read_text(encoding="utf-8", errors="replace")
                ids = {html.unescape(i) for i in re.findall(r"<h[1-6][^>]*?\sid=\"([^\"]+)\"", text)}
                self._ids[number] = (pages[0], ids)
            else:
                self._ids[number] = None
        return self._ids[number]

    def href(self, lecture: str) -> str | None:
        match = _LECTURE.match(lecture or "")
        found = self._page(match.group(1)) if match else None
        if not found:
            return None
        page, ids = found
        rest = lecture[match.end():]
        href = Path(os.path.relpath(page, self.report_dir)).as_posix()
        ends = [i for i, ch in enumerate(rest) if ch == "'"]
        for end in reversed(ends):  # the longest heading that the page has
            anchor = heading_anchor(rest[:end])
            if anchor in ids:
                return f"{href}#{anchor}"
        return href


# ---------------------------------------------------------------- outputs

def summary_text(report: ClassReport) -> str:
    """A few lines for the end of the grading command's output."""
    def num(v):
        return "-" if v is None else f"{v:g}"

    t, a, m = report.total, report.auto, report.manual
    lines = [f"class report {report.assignment}: {report.submitted} submitted of {report.roster} on the roster, "
             f"{report.diagnosed} diagnosed",
             f"  score (of {report.max_points:g}): median {num(t.median)}, quartiles {num(t.q1)} - {num(t.q3)}; "
             f"auto (of {report.auto_max:g}) median {num(a.median)}; by hand (of {report.manual_max:g}) median "
             f"{num(m.median)}" + (f", {report.manual_pending_students} students with answers pending"
                                   if report.manual_pending_students else "")]
    if report.statuses:
        lines.append("  statuses: " + ", ".join(f"{n} {s}" for s, n in sorted(report.statuses.items(),
                                                                                key=lambda kv: -kv[1]))
                     + (f"; {report.similarity_flags} students flagged as similar ("
                        + ", ".join(f"{f} {n}" for f, n in report.similarity_by_function.items()) + ")"
                        if report.similarity_flags else ""))
    if report.reteach:
        lines.append("  what to reteach (points the class lost):")
        for i, m in enumerate(report.reteach, 1):
            lines.append(f"    {i}. {m.title} [{m.id}]: {m.points_lost:g} points, {m.students} students "
                         f"({m.share:.0%}); {m.lecture}")
    unknown = sum(u.students for f in report.functions for u in f.undiagnosed)
    groups = sum(len(f.undiagnosed) for f in report.functions)
    if groups:
        lines.append(f"  undiagnosed failures: {unknown} in {groups} groups (see the page)")
    lines += [f"  note: {n}" for n in report.notes]
    return "\n".join(lines) + "\n"


def mistake_rows(grades: ClassGrades, diagnoses: Diagnoses | None, *, names: bool = False) -> list[dict]:
    """The ``--format csv`` rows: per diagnosed student and graded function, one row per mistake (or one
    row saying it passed); undiagnosed failures carry their first failing line in ``undiagnosed``."""
    if diagnoses is None:
        return []
    students = sorted(set(diagnoses.students) & set(grades.submissions))
    pseudonyms = _pseudonyms(students) if not names else {s: s for s in students}
    anonymise = _anonymiser(grades)
    rows = []
    for student in students:
        per_function: dict[str, dict[tuple, dict]] = {}
        for key, diag in diagnoses.students[student].items():
            lost = _lost(grades, student, key, diag)
            bad = [c for c in diag.checks if not c.passed]
            for c in diag.checks:
                found = per_function.setdefault(c.function, {})
                if c.passed:
                    continue
                row_key = (c.mistake or "", "" if c.mistake else _first_line(c.message))
                row = found.setdefault(row_key, {"title": c.title or "", "lecture": c.lecture or "",
                                                 "cells": set(), "points_lost": 0.0})
                row["cells"].add(key[1])
                row["points_lost"] += lost / len(bad)
            if not bad and lost > 0:
                function = diag.checks[0].function if diag.checks else f"cell {key[1]}"
                row = per_function.setdefault(function, {}).setdefault(
                    ("", _first_line(diag.failure or "") or "the cell failed"),
                    {"title": "", "lecture": "", "cells": set(), "points_lost": 0.0})
                row["cells"].add(key[1])
                row["points_lost"] += lost
        for function, found in sorted(per_function.items()):
            if not found:
                rows.append({"student": pseudonyms[student], "function": function, "passed": True, "mistake": "",
                             "title": "", "lecture": "", "undiagnosed": "", "cells": "", "points_lost": 0.0})
            for (mistake, line), row in sorted(found.items()):
                rows.append({"student": pseudonyms[student], "function": function, "passed": False,
                             "mistake": mistake, "title": row["title"], "lecture": row["lecture"],
                             "undiagnosed": anonymise(line), "cells": " ".join(sorted(row["cells"])),
                             "points_lost": round(row["points_lost"], 4)})
    return rows


def _pseudonyms(students: list[str]) -> dict[str, str]:
    """``student-001`` ... in a random order drawn afresh each call, so no row can be traced to an id."""
    shuffled = list(students)
    random.SystemRandom().shuffle(shuffled)
    return {s: f"student-{i + 1:03d}" for i, s in enumerate(shuffled)}


def rows_to_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: spreadsheet_safe(value) for key, value in row.items()} for row in rows)
    return buffer.getvalue()


# ---------------------------------------------------------------- from a course folder

@dataclass
class ReportOptions:
    """What ``cnnkit report`` (and ``cnnkit grade``) are asked for: names, the format, LMS exports."""

    names: bool = False
    format: str = "html"
    exports: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.names, bool):
            raise TypeError(f"names must be True or False, got {self.names!r}")
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {self.format!r}")
        if isinstance(self.exports, str) or any(e not in EXPORTS for e in self.exports):
            raise ValueError(f"exports must be a list of {', '.join(EXPORTS)}, got {self.exports!r}")
        self.exports = tuple(dict.fromkeys(self.exports))


def class_report_paths(course: str | os.PathLike, assignment: str) -> dict[str, Path]:
    """The files the report writes: ``html``, ``json``, ``csv``."""
    return {ext: Path(course) / f"class_report_{assignment}.{ext}" for ext in ("html", "json", "csv")}


def write_class_report(assignment: str, course_dir: str | os.PathLike = ".", options: ReportOptions | None = None,
                       *, site_dir: str | os.PathLike | None = None) -> tuple[ClassReport, list[Path]]:
    """Build the report of ``assignment`` from the course's gradebook and stored diagnoses and write its files.

    ``site_dir`` defaults to ``_site/`` in the course folder. Returns the report and the files written.
    ValueError for a folder that is no course, an assignment not in the gradebook, a malformed diagnoses file.
    """
    from .exports import write_exports
    from .nbgrader_glue import load_config, make_coursedir, sqlite_path
    from .report import atomic_write_text

    options = options or ReportOptions()
    course = Path(course_dir).resolve()
    if not isinstance(assignment, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", assignment):
        raise ValueError(f"assignment must be a folder name such as 'a1_convolution', got {assignment!r}")
    if not course.is_dir():
        raise ValueError(f"course must be an existing folder (an nbgrader course), got {str(course_dir)!r}")
    coursedir = make_coursedir(load_config(course), assignment_id=assignment)
    if coursedir.db_url.startswith("sqlite:///") and not sqlite_path(coursedir.db_url).is_file():
        raise ValueError(f"{course} has no gradebook ({sqlite_path(coursedir.db_url).name}): pass --course with "
                         "the folder you grade in")
    grades = read_gradebook(coursedir.db_url, coursedir.course_id, assignment)
    source = diagnoses_path(course, assignment)
    diagnoses = read_diagnoses(source, assignment) if source.is_file() else None
    statuses = read_statuses(grading_report_path(course, assignment))
    report = build_report(grades, diagnoses, statuses, names=options.names,
                          site_dir=course / "_site" if site_dir is None else site_dir, report_dir=course)
    paths = class_report_paths(course, assignment)
    written = [paths["json"]]
    atomic_write_text(paths["json"], report.to_json())
    if options.format == "html":
        from .class_page import render_page

        atomic_write_text(paths["html"], render_page(report))
        written.append(paths["html"])
    else:
        atomic_write_text(paths["csv"], rows_to_csv(mistake_rows(grades, diagnoses, names=options.names)))
        written.append(paths["csv"])
    written += write_exports(grades, course, options.exports)
    return report, written


def write_after_grading(assignment: str, course_dir: str | os.PathLike,
                        options: ReportOptions | None = None) -> ClassReport | None:
    """The report at the end of ``cnnkit grade``: grades are settled by then, so a report that cannot be
    built (a malformed diagnoses file, say) is one line on stderr and None, never a failed grading run."""
    try:
        return write_class_report(assignment, course_dir, options)[0]
    except (ValueError, TypeError, OSError) as exc:
        from cnnkit.cli import one_line

        print(f"cnnkit grade: the class report was not written: {one_line(exc)} (the grades were; fix it and run "
              f"python -m cnnkit report {assignment})", file=sys.stderr)
        return None


def stored_summary(assignment: str, course_dir: str | os.PathLike = ".", since: float | None = None) -> str:
    """:func:`summary_text` of the report last written for ``assignment``: "" when there is none, or when it
    is older than ``since`` (a ``time.time()``: the run that should have written it did not)."""
    path = class_report_paths(course_dir, assignment)["json"]
    try:
        if since is not None and path.stat().st_mtime < since:
            return ""
        return summary_text(ClassReport.from_json(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError):
        return ""


def add_report_options(parser) -> None:
    """The options ``cnnkit report`` and ``cnnkit grade`` share: --names, --format, --export."""
    parser.add_argument("--names", action="store_true",
                        help="name the students who made each mistake (default: counts only, safe to show the class)")
    parser.add_argument("--format", choices=FORMATS, default="html",
                        help="html: the page (class_report_NAME.html); csv: one row per student x function x "
                             "mistake (class_report_NAME.csv); the JSON is written either way")
    parser.add_argument("--export", dest="exports", action="append", choices=EXPORTS, default=None,
                        help="also write the grades in Canvas's or Moodle's import format (repeatable)")


def options_from(args) -> ReportOptions:
    return ReportOptions(names=args.names, format=args.format, exports=tuple(args.exports or ()))


def main(argv: list[str] | None = None) -> int:
    """``python -m cnnkit report NAME [--course DIR] [--names] [--format html|csv] [--export canvas|moodle]``."""
    from cnnkit.cli import ArgumentParser, fail

    prog = "python -m cnnkit report"
    parser = ArgumentParser(prog=prog, description="Rebuild the class report of a graded assignment from the "
                                                   "gradebook and the stored diagnoses, without regrading.")
    parser.add_argument("assignment", help="assignment name, e.g. a1_convolution")
    parser.add_argument("--course", default=".", help="nbgrader course folder (default: current folder)")
    add_report_options(parser)
    args = parser.parse_args(argv)
    if not Path(args.course).is_dir():
        parser.error(f"argument --course: must be an existing folder (an nbgrader course), got {args.course!r}")
    # as the grader does: jsonschema (under nbgrader) would import this for a check nbformat never makes, ~5 s
    sys.modules.setdefault("rfc3987_syntax", None)
    try:
        report, written = write_class_report(args.assignment, args.course, options_from(args))
    except (ValueError, TypeError) as exc:
        return fail(prog, exc)
    print(summary_text(report), end="")
    print("wrote " + ", ".join(str(p) for p in written), file=sys.stdout)
    return 0
