"""A grading worker: a separate process that autogrades one student at a time with nbgrader.

The parent sends one :class:`Task` per line on stdin; for each the worker copies the gradebook
snapshot into the task's scratch folder, autogrades the student there (nbgrader's Autograde
converter: restore locked cells, re-insert deleted tests, execute, save grades), writes the
feedback without hidden tests, and answers a :class:`Started` line, then an :class:`Answer`
line. The parent alone touches the main gradebook and the course's ``autograded/`` and
``feedback/`` folders.

Run as ``python -m cnnkit.grading.worker``; it exits when its stdin closes or its parent dies.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import traceback
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from .checks import extra_files, limit_hits, notebook_files, tampered_cells, timed_out_cells

# ---------------------------------------------------------------- the messages, one JSON line each

_M = TypeVar("_M", bound="_Message")


class MessageError(ValueError):
    """A line that is no well-formed message: not JSON, another event, a field missing, unknown or mistyped."""


class _Message:
    """A dataclass that travels as one line of JSON: ``{"event": ..., <every field>}``.

    :meth:`from_json` accepts exactly the fields of the class, each of its declared type, so a line
    cut short by a killed worker, or one written by another version of the kit, is a
    :class:`MessageError` and never a half-filled message.
    """

    event: ClassVar[str]

    def to_json(self) -> str:
        """The message as one line of JSON (without the newline)."""
        return json.dumps({"event": self.event, **asdict(self)})

    @classmethod
    def from_json(cls: type[_M], line: str | bytes) -> _M:
        """Read a line written by :meth:`to_json`; MessageError says what is wrong with it."""
        return read_message(line, (cls,))

    @classmethod
    def from_dict(cls: type[_M], data: dict[str, Any]) -> _M:
        """Build the message from decoded JSON, checking that every field is there, known and well typed."""
        names = [f.name for f in fields(cls)]
        missing = [name for name in names if name not in data]
        unknown = sorted(set(data) - set(names) - {"event"})
        if missing or unknown:
            raise MessageError(f"{cls.event!r} message with " + "; ".join(
                [f"missing field(s) {', '.join(missing)}"] * bool(missing)
                + [f"unknown field(s) {', '.join(unknown)}"] * bool(unknown)))
        hints = typing.get_type_hints(cls)
        for name in names:
            if not _conforms(data[name], hints[name]):
                raise MessageError(f"{cls.event!r} message: {name} must be {_type_name(hints[name])}, "
                                   f"got {_excerpt(repr(data[name]))}")
        return cls(**{name: data[name] for name in names})


def _conforms(value: Any, hint: Any) -> bool:
    """Whether a decoded JSON value has a field's type: str, bool, int, float, ``X | None`` or ``list[X]``."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, option) for option in typing.get_args(hint))
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_conforms(v, item) for v in value)
    if hint is type(None):
        return value is None
    if hint in (int, float):  # JSON has one kind of number, and a bool is no number here
        return isinstance(value, int if hint is int else (int, float)) and not isinstance(value, bool)
    return isinstance(value, hint)


def _type_name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) and typing.get_origin(hint) is None else str(hint)


def _excerpt(text: str | bytes) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return text if len(text) <= 200 else text[:200] + "..."


def read_message(line: str | bytes, kinds: tuple[type[_M], ...]) -> _M:
    """The message on one line, of whichever of ``kinds`` its ``event`` names; MessageError if it is none."""
    try:
        data = json.loads(line)
    except ValueError as exc:  # UnicodeDecodeError included
        raise MessageError(f"not JSON ({exc}): {_excerpt(line)}") from None
    if not isinstance(data, dict):
        raise MessageError(f"not a JSON object: {_excerpt(line)}")
    for kind in kinds:
        if data.get("event") == kind.event:
            return kind.from_dict(data)
    expected = " or ".join(repr(kind.event) for kind in kinds)
    raise MessageError(f"event {_excerpt(repr(data.get('event')))} where {expected} was expected")


@dataclass(frozen=True)
class Task(_Message):
    """Parent to worker: autograde ``student`` into ``scratch``, starting from the gradebook ``snapshot``."""

    event: ClassVar[str] = "task"
    course: str
    assignment: str
    student: str
    scratch: str
    snapshot: str
    cell_timeout: int | None = None   # None: the course's Execute.timeout
    sandboxed: bool = True


@dataclass(frozen=True)
class Started(_Message):
    """Worker to parent, first: the task is begun, and its wall-clock limit runs from now."""

    event: ClassVar[str] = "started"
    student: str


@dataclass
class Answer(_Message):
    """Worker to parent, last: what autograding one student found, and where it left the results.

    ``ok`` says nbgrader's Autograde finished and ``autograded`` holds its notebooks; otherwise
    ``log`` (or ``crash``, a traceback of the worker itself) says why not. The lists are the
    findings the report explains a score with.
    """

    event: ClassVar[str] = "done"
    student: str
    ok: bool = False
    log: str = ""                     # nbgrader's log of the Autograde (the end of it)
    crash: str | None = None          # the worker's own traceback, when grading the student raised
    missing: list[str] = field(default_factory=list)        # notebooks not handed in
    unknown: list[str] = field(default_factory=list)        # notebooks handed in under another name
    extra_files: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)        # files not given to the kernel, and why
    tampered: list[str] = field(default_factory=list)       # read-only cells edited or deleted
    cell_timeouts: list[str] = field(default_factory=list)  # cells stopped at the per-cell limit
    limits: list[str] = field(default_factory=list)         # cells stopped by the sandbox's bounds
    autograded: str | None = None     # the scratch folder with the autograded notebooks
    feedback: str | None = None       # the scratch folder with the feedback pages
    feedback_error: str | None = None


# ---------------------------------------------------------------- the worker process

def skip_slow_optional_imports() -> None:
    """Mark ``rfc3987_syntax`` absent in a grading process (call before nbformat is imported).

    jsonschema imports it, when installed, for an optional IRI format check that nbformat's
    schemas never use; the import builds a grammar and costs ~5 s of CPU per process here.
    """
    sys.modules.setdefault("rfc3987_syntax", None)


def _die_with_parent() -> None:
    """Ask Linux to send SIGTERM when the parent exits, so a killed grader leaves no workers behind."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _scratch_config(course: Path, scratch: Path, task: Task):
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput,
                                        SaveAutoGrades)

    from .nbgrader_glue import load_config
    from .policy import sandbox_policy
    from .trusted import TrustedExecute

    cfg = load_config(course)
    cfg.CourseDirectory.autograded_directory = os.path.relpath(scratch / "autograded", course)
    cfg.CourseDirectory.feedback_directory = os.path.relpath(scratch / "feedback", course)
    cfg.CourseDirectory.db_url = f"sqlite:///{scratch / 'gradebook.db'}"
    cfg.OverwriteCells.add_missing_cells = True
    if task.cell_timeout is not None:
        cfg.Execute.timeout = task.cell_timeout
    # nbgrader's own steps, with its Execute replaced by the trusted, sandboxed one
    cfg.Autograde.autograde_preprocessors = [TrustedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
                                             SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
    policy = sandbox_policy(cfg, task.assignment)
    cfg.TrustedExecute.sandboxed = task.sandboxed
    cfg.TrustedExecute.hidden_modules = list(policy.hidden_modules)
    cfg.TrustedExecute.memory_mb = policy.memory_mb
    cfg.TrustedExecute.max_processes = policy.max_processes
    delimiters = _delimiters(cfg)
    cfg.TrustedExecute.begin_hidden, cfg.TrustedExecute.end_hidden = delimiters["begin"], delimiters["end"]
    hidden_test_config(cfg)
    return cfg


def hidden_test_config(cfg) -> None:
    """Make the feedback strip hidden tests with the delimiters the course releases with."""
    for key in ("begin_test_delimeter", "end_test_delimeter"):
        if key in cfg.get("ClearHiddenTests", {}):
            cfg.StripHiddenTests[key] = cfg.ClearHiddenTests[key]


def _delimiters(cfg) -> dict[str, str]:
    hidden = cfg.get("ClearHiddenTests", {})
    return {"begin": hidden.get("begin_test_delimeter", "BEGIN HIDDEN TESTS"),
            "end": hidden.get("end_test_delimeter", "END HIDDEN TESTS")}


def grade_student(task: Task) -> Answer:
    """Autograde ``task.student`` into ``task.scratch``; return what happened."""
    from .nbgrader_glue import make_coursedir

    course, scratch = Path(task.course), Path(task.scratch)
    assignment, student = task.assignment, task.student
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    shutil.copyfile(task.snapshot, scratch / "gradebook.db")
    cfg = _scratch_config(course, scratch, task)
    handed_in = Path(make_coursedir(cfg, assignment_id=assignment, student_id=student).format_path(
        cfg.CourseDirectory.get("submitted_directory", "submitted"), student, assignment))
    # nbgrader copies a hand-in with the grader's rights, following links: it gets a copy made
    # of regular files only, outside the course, so no link can pull a file of the course in
    safe_root = Path(tempfile.mkdtemp(prefix="cnnkit-sub-"))
    try:
        dropped = safe_copy(handed_in, safe_root / student / assignment, max_bytes=_max_file_bytes(cfg))
        cfg.CourseDirectory.submitted_directory = str(safe_root)
        cfg.TrustedExecute.submission_dir = str(safe_root / student / assignment)
        cfg.TrustedExecute.events_file = str(scratch / "limits.jsonl")
        answer = _autograde(cfg, scratch, assignment, student)
        answer.dropped = dropped
        return answer
    finally:
        shutil.rmtree(safe_root, ignore_errors=True)


def _max_file_bytes(cfg) -> int:
    """nbgrader's own limit on copied files (``CourseDirectory.max_file_size``, in KB)."""
    return int(cfg.CourseDirectory.get("max_file_size", 100_000)) * 1000


def safe_copy(src: Path, dest: Path, *, max_bytes: int, depth: int = 0) -> list[str]:
    """Copy the regular files and folders of ``src`` into ``dest``; return what was left out and why.

    Links (to files or folders), devices, pipes and files over ``max_bytes`` are not copied.
    Nothing is followed: each entry is judged by ``lstat``.
    """
    import stat

    dropped: list[str] = []
    dest.mkdir(parents=True, exist_ok=True)
    if depth > 20 or not src.is_dir() or src.is_symlink():
        return dropped
    for entry in sorted(os.scandir(src), key=lambda e: e.name):
        info = entry.stat(follow_symlinks=False)
        name = os.path.relpath(entry.path, src) if depth == 0 else entry.name
        if stat.S_ISDIR(info.st_mode):
            dropped += [f"{entry.name}/{d}" for d in safe_copy(Path(entry.path), dest / entry.name,
                                                               max_bytes=max_bytes, depth=depth + 1)]
        elif not stat.S_ISREG(info.st_mode):
            dropped.append(f"{name} (a link or special file)")
        elif info.st_size > max_bytes:
            dropped.append(f"{name} (larger than {max_bytes // 1_000_000} MB)")
        else:
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as fh, open(dest / entry.name, "wb") as out:
                shutil.copyfileobj(fh, out)
            os.utime(dest / entry.name, ns=(info.st_atime_ns, info.st_mtime_ns))
    return dropped


def _autograde(cfg, scratch: Path, assignment: str, student: str) -> Answer:
    """nbgrader's Autograde of one student (from the safe copy of the hand-in), then the feedback."""
    import nbformat
    from nbgrader.converters import Autograde

    from .feedback import SafeGenerateFeedback
    from .nbgrader_glue import assignment_facts, make_coursedir, run_converter

    coursedir = make_coursedir(cfg, assignment_id=assignment, student_id=student)
    facts = assignment_facts(coursedir.db_url, coursedir.course_id, assignment)
    submitted = Path(coursedir.format_path(coursedir.submitted_directory, student, assignment))
    present, missing, unknown = notebook_files(submitted, facts.notebooks)
    answer = Answer(student, missing=missing, unknown=unknown, extra_files=extra_files(submitted, facts.notebooks))
    if not present:
        return answer
    for name in present:
        nb = nbformat.read(submitted / f"{name}.ipynb", as_version=4)
        findings = tampered_cells(nb, facts.locked[name], **_delimiters(cfg))
        answer.tampered += [f"{name}: {finding}" for finding in findings]

    outcome = run_converter(Autograde, coursedir, cfg)
    answer.log = ((outcome.get("log") or "") + (outcome.get("error") or ""))[-20000:]
    answer.limits += _recorded_limits(scratch / "limits.jsonl")
    autograded = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment))
    if not outcome["success"] or not autograded.is_dir():
        return answer
    answer.ok, answer.autograded = True, str(autograded)
    for name in present:
        nb = nbformat.read(autograded / f"{name}.ipynb", as_version=4)
        answer.cell_timeouts += [f"{name}: {cell}" for cell in timed_out_cells(nb)]
        answer.limits += [f"{name}: {hit}" for hit in limit_hits(nb)]

    feedback = run_converter(SafeGenerateFeedback, coursedir, cfg)
    folder = Path(coursedir.format_path(coursedir.feedback_directory, student, assignment))
    if feedback["success"] and folder.is_dir():
        answer.feedback = str(folder)
    else:
        answer.feedback_error = (feedback.get("error") or feedback.get("log") or "")[-2000:]
    return answer


def _recorded_limits(path: Path) -> list[str]:
    """The bounds the sandbox recorded (``processes (54 forks refused)``), per notebook."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        entry = json.loads(line)
        found += [f"{entry['notebook']}: {limit}" for limit in entry.get("limits", [])]
    return found


def serve(tasks, answers) -> None:
    """Answer each :class:`Task` line from ``tasks`` on ``answers``: a :class:`Started` line, then an :class:`Answer`.

    The parent's wall-clock limit runs from ``started``, so the worker's own start-up (importing
    nbgrader takes seconds) is not charged to the first student it grades.
    """
    for line in tasks:
        if not line.strip():
            continue
        task = Task.from_json(line)  # a malformed task is the parent's bug: this worker stops with the traceback
        _send(answers, Started(task.student))
        try:
            answer = grade_student(task)
        except Exception:  # reported to the parent as an `error` row, never swallowed
            answer = Answer(task.student, crash=traceback.format_exc())
        _send(answers, answer)


def _send(answers, message: _Message) -> None:
    answers.write(message.to_json() + "\n")
    answers.flush()


def _stop(signum, frame) -> None:
    """On SIGTERM (sent too when the parent dies) take the running kernel down with this worker."""
    from .pool import kill_children

    kill_children(os.getpid())
    os._exit(128 + signum)


def main() -> int:
    skip_slow_optional_imports()
    _die_with_parent()
    signal.signal(signal.SIGTERM, _stop)
    # Answers go on a private copy of stdout; anything printed by libraries goes to stderr.
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    import nbformat  # noqa: F401  (imported before the first task: start-up is not a student's time)
    import nbgrader.converters  # noqa: F401

    from . import feedback  # noqa: F401
    serve(sys.stdin, answers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
