"""The messages the grading processes exchange: one JSON line each, every field checked on arrival.

Two conversations use them:

* the parent (:mod:`cnnkit.grading.pipeline`) and a worker (:mod:`cnnkit.grading.worker`):
  :class:`Task` down, :class:`Started` and :class:`Answer` up;
* a worker and the test runner of one submission (:mod:`cnnkit.grading.runner`), which runs the
  instructor's cells in a sandbox of its own: :class:`Prepare` and :class:`RunCell` down,
  :class:`KernelCall` up (a request for the student's kernel, relayed by the worker),
  :class:`KernelReply` down, :class:`CellDone` up.

:meth:`_Message.from_json` accepts exactly the fields of the class, each of its declared type, so a
line cut short by a killed process, or written by something else, is a :class:`MessageError` and
never a half-filled message.
"""
from __future__ import annotations

import json
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, TypeVar

#: Longest line a receiver reads (a kernel request with its arguments travels in one).
MAX_LINE_BYTES = 96 << 20


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
    """Whether a decoded JSON value has a field's type: str, bool, int, float, dict, ``X | None`` or ``list[X]``."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, option) for option in typing.get_args(hint))
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_conforms(v, item) for v in value)
    if hint is type(None):
        return value is None
    if hint is dict:  # a JSON object whose contents the receiver checks itself
        return isinstance(value, dict)
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



# ---------------------------------------------------------------- parent <-> worker

@dataclass(frozen=True)
class Task(_Message):
    """Parent to worker: autograde ``student`` into ``scratch``, starting from the gradebook ``snapshot``.

    ``temp`` is a folder the parent made for this task (the kernel's channel, the copy of the
    hand-in): the parent removes it when the task ends, also when it had to kill the worker.
    """

    event: ClassVar[str] = "task"
    course: str
    assignment: str
    student: str
    scratch: str
    snapshot: str
    temp: str
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
    findings the report explains a score with; ``diagnoses`` is what ``check()`` said in each
    graded cell (``{notebook: {grade_id: {"checks": [...], "failure": ...}}}``), for the class report.
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
    restored: list[str] = field(default_factory=list)       # set-up cells put back in place before running
    cell_timeouts: list[str] = field(default_factory=list)  # cells the grader stopped at the per-cell limit
    limits: list[str] = field(default_factory=list)         # bounds the sandboxes counted being hit
    limit_errors: list[str] = field(default_factory=list)   # errors raised that look like a bound (MemoryError...)
    cleaned: list[str] = field(default_factory=list)        # Markdown/raw cells shown cleaned (script removed)
    diagnoses: dict = field(default_factory=dict)
    autograded: str | None = None     # the scratch folder with the autograded notebooks
    feedback: str | None = None       # the scratch folder with the feedback pages
    feedback_error: str | None = None


# ---------------------------------------------------------------- worker <-> test runner

@dataclass(frozen=True)
class Prepare(_Message):
    """Worker to runner, once: what the student's names are and where the kernel's answers appear.

    ``functions``, ``values``, ``objects`` and ``factories`` are the names the assignment declares as
    the student's (the only names a test may take from the kernel); ``objects`` stay in the kernel
    as handles (a PyTorch model), and ``factories`` are callables whose *results* stay
    there (a model class); ``updates`` lists, per function, the positions of the
    arguments it updates in place (sent back as data in its answer).
    """

    event: ClassVar[str] = "prepare"
    channel: str
    functions: list[str]
    values: list[str]
    objects: list[str]
    factories: list[str]
    updates: dict
    answer_bytes: int
    salt: int                # mixed into the seeds the instructor's cells use: new inputs every grading run
    hidden_begin: str        # the markers of hidden tests: a failure there is reported without its message
    hidden_end: str


@dataclass(frozen=True)
class Ready(_Message):
    """Runner to worker: prepared (the grader's own imports done)."""

    event: ClassVar[str] = "ready"


@dataclass(frozen=True)
class RunCell(_Message):
    """Worker to runner: run one of the gradebook's read-only cells (its source, hidden tests included)."""

    event: ClassVar[str] = "run"
    grade_id: str
    source: str
    graded: bool


@dataclass(frozen=True)
class KernelCall(_Message):
    """Runner to worker: pass this request (base64 of the runner's pickle) to the student's kernel."""

    event: ClassVar[str] = "kernel"
    payload: str


@dataclass(frozen=True)
class KernelReply(_Message):
    """Worker to runner: the kernel finished the request (``ok``: its answer files are at ``prefix``),
    ran past the cell's time limit (``timeout``) or died (``died``)."""

    event: ClassVar[str] = "reply"
    status: str
    prefix: str


@dataclass(frozen=True)
class CellDone(_Message):
    """Runner to worker: what an instructor cell printed, its error (None when it passed), its checks."""

    event: ClassVar[str] = "cell"
    grade_id: str
    stdout: str
    error: dict | None
    checks: list[dict]
