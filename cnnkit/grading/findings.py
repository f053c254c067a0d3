"""What went wrong with a submission, read from its files and its execution, not guessed from a 0.

Every function here is pure (notebooks and gradebook facts in, findings out), so each kind of
bad submission can be checked on its own.
"""
from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

#: nbgrader writes this ename into a cell that ran past ``Execute.timeout``.
CELL_TIMEOUT_ENAME = "CellTimeoutError"


@dataclass(frozen=True)
class LockedCell:
    """A read-only cell as the gradebook stores it: id, source (hidden tests included), nbgrader checksum."""

    name: str
    source: str
    checksum: str
    graded: bool = False


def split_hidden(source: str, begin: str = "BEGIN HIDDEN TESTS", end: str = "END HIDDEN TESTS"
                 ) -> tuple[str, list[str]]:
    """Return ``(visible source, hidden lines)``: the source without its hidden blocks, and what was cut.

    Raises ValueError on an unterminated or nested block, like nbgrader does when releasing.
    """
    visible, hidden, inside = [], [], False
    for line in source.split("\n"):
        if begin in line:
            if inside:
                raise ValueError(f"nested {begin!r} block in cell source")
            inside = True
        elif end in line:
            if not inside:
                raise ValueError(f"{end!r} without {begin!r} in cell source")
            inside = False
        elif inside:
            hidden.append(line)
        else:
            visible.append(line)
    if inside:
        raise ValueError(f"{begin!r} block is never closed in cell source")
    return "\n".join(visible), hidden


def notebook_files(folder: str | Path, expected: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Split a submission folder into (present, missing, unknown) notebook names (without ``.ipynb``).

    ``unknown`` notebooks are there but not part of the assignment: most often a renamed copy
    such as ``ps1-Copy1.ipynb``, which nbgrader would silently skip.
    """
    folder = Path(folder)
    found = sorted(p.stem for p in folder.glob("*.ipynb")) if folder.is_dir() else []
    present = [name for name in expected if name in found]
    missing = [name for name in expected if name not in found]
    unknown = [name for name in found if name not in expected]
    return present, missing, unknown


def extra_files(folder: str | Path, expected: list[str]) -> list[str]:
    """Files in a submission that are neither the assignment's notebooks nor nbgrader's own files."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    # nbgrader's exchange adds submission_secret.txt to every hand-in it collects
    known = {f"{name}.ipynb" for name in expected} | {"timestamp.txt", "submission_secret.txt"}
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and str(p.relative_to(folder)) not in known
                  and not p.name.endswith(".ipynb") and ".ipynb_checkpoints" not in p.parts)


def tampered_cells(nb, locked: list[LockedCell], *, begin: str = "BEGIN HIDDEN TESTS",
                   end: str = "END HIDDEN TESTS") -> list[str]:
    """Describe each read-only cell the student edited or deleted, e.g. ``"test_add edited (restored)"``.

    The gradebook's checksum covers the full source, hidden tests included, but students get
    the source without them. So a submitted cell whose source is the released one is given the
    full source back and then checked with nbgrader's own checksum (source, type, flags, id,
    points); any other source is an edit.
    """
    import copy

    from nbgrader.utils import compute_checksum

    submitted = {}
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id:
            submitted[grade_id] = cell
    findings = []
    for expected in locked:
        cell = submitted.get(expected.name)
        if cell is None:
            findings.append(f"{expected.name} deleted" + (" (re-inserted)" if expected.graded else ""))
            continue
        released = split_hidden(expected.source, begin, end)[0]
        intact = False
        if cell.source in (released, expected.source):
            probe = copy.deepcopy(cell)
            probe.source = expected.source
            try:
                intact = compute_checksum(probe) == expected.checksum
            except (KeyError, TypeError, ValueError):  # metadata mangled beyond nbgrader's reach
                intact = False
        if not intact:
            findings.append(f"{expected.name} edited (restored)")
    return findings


#: Errors that mean the sandbox's bounds stopped the student's code (not a bug of the grader).
_LIMIT_ERRORS = {"MemoryError": "memory", "BlockingIOError": "processes"}
_LIMIT_TEXT = re.compile(r"Cannot allocate memory|Resource temporarily unavailable|can't start new thread"
                         r"|File too large|No space left on device", re.IGNORECASE)


def limit_hits(nb) -> list[str]:
    """The cells (grade id, or ``cell N``) whose code hit a sandbox bound, e.g. ``"cell 3: memory"``."""
    hits = []
    for name, errors in _cell_errors(nb):
        kinds = [kind for kind in map(_limit_kind, errors) if kind is not None]
        if kinds:
            hits.append(f"{name}: {kinds[0]}")
    return hits


def _limit_kind(error: dict) -> str | None:
    """Which bound an error output shows was hit (``memory``, ``processes``, ``resources``), if any."""
    kind = _LIMIT_ERRORS.get(error.get("ename", ""))
    if kind is None and _LIMIT_TEXT.search(str(error.get("evalue", ""))):
        kind = "resources"
    return kind


def _cell_errors(nb) -> Iterator[tuple[str, list[dict]]]:
    """Each cell with error outputs: its name (grade id, or ``cell N``) and those outputs."""
    for index, cell in enumerate(nb.cells):
        errors = [output for output in cell.get("outputs", []) if output.get("output_type") == "error"]
        if errors:
            yield cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or f"cell {index}", errors


_KERNEL_DIED = re.compile(r"DeadKernelError|Kernel died|kernel.*(died|dead|crashed)", re.IGNORECASE)
_TIMED_OUT = re.compile(r"UnresponsiveKernelError|CellTimeoutError|TimeoutError|timed out", re.IGNORECASE)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def classify_failure(log: str) -> tuple[str, str]:
    """Turn the log of a failed autograde into ``(status, message)``.

    ``status`` is ``"kernel died"``, ``"timeout"`` or ``"error"``; the message is the most
    telling line of the log (the exception), so the report says what happened.
    """
    from .report import ERROR, KERNEL_DIED, TIMEOUT

    text = _ANSI.sub("", log or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if _KERNEL_DIED.search(text):
        status = KERNEL_DIED
        pattern = _KERNEL_DIED
    elif _TIMED_OUT.search(text):
        status = TIMEOUT
        pattern = _TIMED_OUT
    else:
        status, pattern = ERROR, re.compile(r"(Error|Exception)\b")
    telling = [line for line in lines if pattern.search(line) and not line.startswith("File ")
               and "NbGraderException" not in line]  # nbgrader's own wrapper says only "see above"
    message = (telling[-1] if telling else (lines[-1] if lines else "no log"))
    return status, message[:300]


def is_timestamp(text: str) -> bool:
    """Whether nbgrader reads ``text`` as a time (a ``timestamp.txt`` it cannot read fails the student's run)."""
    from nbgrader.utils import parse_utc

    try:
        parse_utc(text)
    except (ValueError, OverflowError, TypeError):
        return False
    return True


def read_regular_file(path: Path, limit: int, *, truncate: bool = False) -> bytes | None:
    """The bytes of a student's file, if it is a regular file: never through a link, never blocking.

    None for a link, a FIFO, a device, or (unless ``truncate``) a file over ``limit`` bytes; with
    ``truncate``, its first ``limit`` bytes. The grader reads some hand-in files itself (the timestamp,
    the notebooks the similarity report compares): a link to a FIFO must not hang it, one to
    ``/dev/zero`` not fill its memory, one to a classmate's notebook not frame them.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"limit must be a number of bytes >= 0, got {limit!r}")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or (info.st_size > limit and not truncate):
            return None
        with os.fdopen(os.dup(fd), "rb") as fh:
            return fh.read(limit)
    except OSError:
        return None
    finally:
        os.close(fd)
