"""The test runner: runs the instructor's read-only cells of one submission, in a sandbox of its own.

A worker (:mod:`cnnkit.grading.worker`) grades a notebook by running the student's cells in the
student's sandboxed kernel and the gradebook's read-only cells (set-up, data, tests with their
hidden parts) here, in a second process that the student's code never touches. The worker starts
this process (inside bubblewrap too: read-only system and Python, no course folder, no network,
bounded memory) and talks to it over stdin / stdout, one :mod:`~cnnkit.grading.messages` line at a
time. This runner

* runs the set-up cells first, in the gradebook's order, whatever the submission did to them: ``np``,
  ``cnnkit``, ``check``, data and helpers are always the grader's own;
* sees, of the student's notebook, only the names the assignment declares: each declared function
  is a :class:`StudentFunction` (a call sends copies of the arguments to the kernel, through the
  worker, and gets data back, :mod:`cnnkit.grading.wire`); each declared value is fetched, as data,
  at the start of every cell that reads it; declared factories and objects (a PyTorch model) stay in
  the kernel as :class:`StudentObject` handles whose calls again return data;
* writes nothing back into the test's objects: a function declared to update its arguments
  (``train(params, ...)``) returns them in its answer, read with :func:`cnnkit.checks.call_updating`;
* hands the worker, per cell, only what it printed, its error and what ``check()`` found.

Three things keep a submission from learning the hidden tests by watching them: the seeds the
hidden tests pass to ``np.random.default_rng`` and ``torch.manual_seed`` are mixed with a secret
drawn for each grading (the kernel sees the inputs of this run only: no table of answers survives to
the next); a failed assertion inside hidden tests is reported without its message (numpy's would
show the expected values); and ``check(f).passed`` is decided once, in the first cell that asks, so a
prerequisite cannot pass its own cell and then fail on purpose where a later cell is judged on it.

Whatever it is fooled into, it can only change the verdicts of the submission it runs for.
"""
from __future__ import annotations

import ast
import base64
import builtins
import contextlib
import io
import itertools
import linecache
import os
import pickle
import sys
import traceback
from pathlib import Path
from typing import Any

from .messages import (MAX_LINE_BYTES, CellDone, KernelCall, KernelReply, MessageError, Prepare, Ready, RunCell,
                       read_message)
from .wire import BadAnswer, Budget, Decoder, NotData, exception_from, read_answer


class CellTimeoutError(BaseException):
    """A call into the student's kernel ran past the cell's time limit (it was interrupted).

    A BaseException, like KeyboardInterrupt: a test's ``except Exception`` does not swallow it.
    """


class KernelDied(BaseException):
    """The student's kernel stopped answering while a test called into it (a BaseException too)."""


class Channel:
    """The runner's line-based conversation with its worker (stdin in, a private copy of stdout out)."""

    def __init__(self, inbox, outbox) -> None:
        self.inbox, self.outbox = inbox, outbox

    def send(self, message) -> None:
        self.outbox.write(message.to_json() + "\n")
        self.outbox.flush()

    def receive(self, *kinds):
        line = self.inbox.readline(MAX_LINE_BYTES)
        if not line:
            raise EOFError("the worker closed the runner's input")
        return read_message(line, kinds)


class KernelSession:
    """Requests to the student's kernel: pickled here, relayed by the worker, answered as data."""

    def __init__(self, channel: Channel, answers: Path, budget: Budget) -> None:
        self.channel, self.answers, self.budget = channel, answers, budget
        self._refs = itertools.count(1)

    def new_ref(self) -> int:
        """A fresh number for an object the kernel is to hold (chosen here, never by the kernel)."""
        return next(self._refs)

    def request(self, request: dict) -> Any:
        """Send one request; return its decoded value, or raise what the student's code raised."""
        previous = sys.getprofile()
        sys.setprofile(None)  # the transport is the grader's business, not part of an integrity check
        try:
            return self._request(request)
        finally:
            sys.setprofile(previous)

    def _request(self, request: dict) -> Any:
        payload = base64.b64encode(pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)).decode("ascii")
        self.channel.send(KernelCall(payload))
        reply = self.channel.receive(KernelReply)
        if reply.status == "timeout":
            raise CellTimeoutError("the student's code ran past the cell's time limit and was interrupted")
        if reply.status == "died":
            raise KernelDied("the student's kernel died")
        if reply.status != "ok":
            raise BadAnswer(f"the student's kernel gave no answer ({reply.status[:200]})")
        name = Path(reply.prefix).name
        if not name.startswith("ans-") or not name[4:].isalnum():
            raise BadAnswer("the worker named an unexpected answer")
        prefix = self.answers / name
        try:
            data = read_answer(prefix)
        except FileNotFoundError:
            raise BadAnswer("the student's kernel gave no answer (its grading agent was replaced or failed)") from None
        if "raise" in data:
            raise exception_from(data["raise"])
        if "notdata" in data:
            what = data["notdata"] if isinstance(data["notdata"], str) else "something"
            raise NotData(f"the student's code gave {what[:200]}, which is not data: a test accepts numbers, "
                          "arrays, strings, and tuples / lists / dicts of those")
        if data.get("self") is True:
            return _SELF
        if "value" not in data:
            raise BadAnswer("malformed answer from the student's kernel")
        return Decoder(prefix, self.budget).decode(data["value"])


_SELF = object()


def _integrity_forwarded() -> dict:
    """The integrity check running in this process right now, to be applied in the kernel too."""
    from ..integrity import CallRecorder

    hook = sys.getprofile()
    owner = getattr(hook, "__self__", None)
    if isinstance(owner, CallRecorder):
        return {"watched": list(owner.watched), "allowed": list(owner.allowed)}
    return {}


class StudentFunction:
    """A function the assignment declares as the student's: it runs in the kernel, its results come back as data.

    Its ``__name__`` is the declared name (what ``check()`` picks its cases by), never anything the
    kernel reports.
    """

    __slots__ = ("_session", "__name__", "_updates", "_hold")

    def __init__(self, session: KernelSession, name: str, updates: tuple[int, ...] = (), hold: bool = False) -> None:
        self._session, self.__name__, self._updates, self._hold = session, name, tuple(updates), hold

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._hold:  # a factory (a model class): the object stays in the kernel
            ref = self._session.new_ref()
            self._session.request({"op": "call", "name": self.__name__, "args": args, "kwargs": kwargs,
                                   "hold": ref, **_integrity_forwarded()})
            return StudentObject(self._session, ref, f"{self.__name__}(...)")
        return self.__cnnkit_call_updating__(args, kwargs)[0]

    def __cnnkit_call_updating__(self, args: tuple, kwargs: dict) -> tuple[Any, list, dict]:
        """``(result, arguments after the call, keyword arguments after the call)``; see ``call_updating``."""
        import copy

        answer = self._session.request({"op": "call", "name": self.__name__, "args": args, "kwargs": kwargs,
                                        "updates": list(self._updates), **_integrity_forwarded()})
        after = [copy.deepcopy(a) for a in args]
        if not self._updates:
            return answer, after, copy.deepcopy(kwargs)
        if not isinstance(answer, dict) or set(answer) != {"result", "updated"} or \
                not isinstance(answer["updated"], list) or len(answer["updated"]) != len(self._updates):
            raise BadAnswer(f"malformed answer of {self.__name__} from the student's kernel")
        for index, value in zip(self._updates, answer["updated"]):
            if index < len(after):
                after[index] = value
        return answer["result"], after, copy.deepcopy(kwargs)

    def __reduce__(self):
        from . import agent

        return (agent.student_name, (self.__name__,))

    def __repr__(self) -> str:
        return f"<the student's {self.__name__}>"


class StudentObject:
    """An object that stays in the student's kernel (a model); calling it or its methods returns data.

    It claims no type: it is not an ``nn.Module`` here, has no truth value and equals only itself.
    ``cnnkit.modules.layer_kinds`` and ``count_parameters`` work on it.
    """

    __slots__ = ("_session", "_ref", "_label")

    def __init__(self, session: KernelSession, ref: int, label: str) -> None:
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_label", label)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._result(self._session.request({"op": "call_object", "ref": self._ref, "args": args,
                                                   "kwargs": kwargs, **_integrity_forwarded()}))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        session, ref = self._session, self._ref

        def method(*args: Any, **kwargs: Any) -> Any:
            return self._result(session.request({"op": "method", "ref": ref, "name": name, "args": args,
                                                 "kwargs": kwargs, **_integrity_forwarded()}))

        method.__name__ = name
        return method

    def __cnnkit_layer_kinds__(self) -> list[str]:
        kinds = self._session.request({"op": "layer_kinds", "ref": self._ref})
        if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
            raise BadAnswer("malformed layer list from the student's kernel")
        return kinds

    def _result(self, value: Any) -> Any:
        return self if value is _SELF else value

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError("a test cannot set attributes of an object in the student's kernel")

    def __bool__(self) -> bool:
        raise TypeError(f"{self._label} lives in the student's kernel and has no truth value in a test")

    def __eq__(self, other: Any) -> bool:
        return self is other

    def __hash__(self) -> int:
        return hash(("student-object", self._ref))

    def __reduce__(self):
        from . import agent

        return (agent.resolve, (self._ref,))

    def __repr__(self) -> str:
        return f"<{self._label} in the student's kernel>"


class Runner:
    """Runs the instructor's cells against the student's declared names (see the module doc)."""

    def __init__(self, channel: Channel, prepare: Prepare) -> None:
        self.session = KernelSession(channel, Path(prepare.channel), Budget(prepare.answer_bytes))
        self.salt, self.hidden = prepare.salt, (prepare.hidden_begin, prepare.hidden_end)
        _salt_numpy_seeds(self.salt)
        self._torch_salted = False
        self.values = set(prepare.values)
        self.objects = set(prepare.objects)
        self.namespace: dict = {"__name__": "__cnnkit_tests__", "__builtins__": builtins}
        updates = prepare.updates if isinstance(prepare.updates, dict) else {}
        self.declared: dict[str, Any] = {}
        for name in prepare.functions:
            positions = tuple(i for i in updates.get(name, ()) if type(i) is int and 0 <= i < 64)
            self.declared[name] = StudentFunction(self.session, name, positions)
        for name in prepare.factories:
            self.declared[name] = StudentFunction(self.session, name, hold=True)

    def run(self, cell: RunCell) -> CellDone:
        filename = f"<cell {cell.grade_id}>"
        linecache.cache[filename] = (len(cell.source), None, cell.source.splitlines(True), filename)
        hidden = hidden_lines(cell.source, *self.hidden) if cell.graded else set()
        _HIDDEN_LINES[filename] = hidden
        printed = io.StringIO()
        error = None
        found: list = []
        try:
            tree = ast.parse(cell.source, filename)
            code = compile(tree, filename, "exec")
            self._bind_student_names(tree)
            with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed), \
                    _recording(found if cell.graded else None):
                exec(code, self.namespace)  # noqa: S102 - the gradebook's own cell
        except (CellTimeoutError, KernelDied) as exc:
            error = _error(exc, filename)
        except Exception as exc:  # noqa: BLE001 - a failed test is an output, as in a kernel
            error = _error(exc, filename, hidden)
        finally:
            self._after_cell()
        return CellDone(cell.grade_id, printed.getvalue()[-100_000:], error, [_check_record(r) for r in found])

    def _after_cell(self) -> None:
        """Once the set-up has imported them: salt torch's seeds, and decide each ``check(f)`` once."""
        if not self._torch_salted and "torch" in sys.modules:
            self._torch_salted = True
            _salt_torch_seeds(self.salt)
        check = self.namespace.get("check")
        if check is not None and not isinstance(check, _CheckOnce) and _is_kit_check(check):
            self.namespace["check"] = _CheckOnce(check)

    def _bind_student_names(self, tree: ast.AST) -> None:
        """Declared functions always; declared values and objects as the kernel has them now."""
        self.namespace.update(self.declared)
        read = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
        for name in sorted(read & self.values):
            self.namespace.pop(name, None)
            try:
                self.namespace[name] = self.session.request({"op": "value", "name": name})
            except KeyError:
                pass  # not defined in the notebook: the test sees a NameError
            except NotData as exc:
                raise NotData(f"the notebook's {name}: {exc}") from None
        for name in sorted(read & self.objects):
            self.namespace.pop(name, None)
            ref = self.session.new_ref()
            try:
                self.session.request({"op": "hold", "name": name, "ref": ref})
            except KeyError:
                continue
            self.namespace[name] = StudentObject(self.session, ref, name)


#: The hidden-test lines of each cell run so far, by the file name its code is compiled under.
_HIDDEN_LINES: dict[str, set[int]] = {}


def _from_a_cell(depth: int = 2) -> bool:
    """Whether the function calling ours was called from a hidden-test line of an instructor cell.

    Only hidden tests get salted seeds: the visible ones are the student's to read anyway, and some of
    their statements hold for the seed they show (a fresh network's loss on *those* four images).
    """
    try:
        frame = sys._getframe(depth)
    except ValueError:
        return False
    return frame.f_lineno in _HIDDEN_LINES.get(frame.f_code.co_filename, ())


def _salted(salt: int, seed: Any) -> Any:
    import numpy as np

    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return [salt, int(seed) & (2**63 - 1)]
    return seed


def _salt_numpy_seeds(salt: int) -> None:
    """``np.random.default_rng(seed)`` called by a hidden test gets ``[salt, seed]`` (other callers: as asked)."""
    import numpy as np

    original = getattr(np.random.default_rng, "__wrapped__", np.random.default_rng)

    def default_rng(seed=None):
        return original(_salted(salt, seed) if _from_a_cell() else seed)

    default_rng.__wrapped__ = original
    default_rng.__doc__ = original.__doc__
    np.random.default_rng = default_rng


def _salt_torch_seeds(salt: int) -> None:
    """The same for ``torch.manual_seed`` called by a hidden test."""
    import torch

    original = getattr(torch.manual_seed, "__wrapped__", torch.manual_seed)

    def manual_seed(seed):
        if _from_a_cell() and isinstance(seed, int) and not isinstance(seed, bool):
            seed = (salt ^ (seed * 0x9E3779B97F4A7C15)) & (2**63 - 1)
        return original(seed)

    manual_seed.__wrapped__ = original
    torch.manual_seed = manual_seed


def _is_kit_check(check: Any) -> bool:
    return getattr(check, "__module__", "") == "cnnkit.checks" and getattr(check, "__name__", "") == "check"


class _CheckOnce:
    """``check()`` with each verdict on a student's function decided once per grading (see the module doc)."""

    def __init__(self, check: Any) -> None:
        self.check, self.verdicts = check, {}

    def __call__(self, func: Any, name: str | None = None, **helpers: Any) -> Any:
        if not isinstance(func, StudentFunction):
            return self.check(func, name, **helpers)
        key = (func.__name__, name, tuple(sorted(
            (k, ("student", v.__name__) if isinstance(v, StudentFunction) else ("value", repr(v)))
            for k, v in helpers.items())))
        if key not in self.verdicts:
            self.verdicts[key] = self.check(func, name, **helpers)
        return self.verdicts[key]


def hidden_lines(source: str, begin: str, end: str) -> set[int]:
    """Line numbers (from 1) of a cell that lie inside its hidden-test blocks."""
    inside, lines = False, set()
    for number, line in enumerate(source.splitlines(), start=1):
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside:
            lines.add(number)
    return lines


@contextlib.contextmanager
def _recording(into: list | None):
    """Collect what ``check()`` returns during a graded cell (for the class report), where the kit can."""
    if into is None:
        yield
        return
    try:
        from ..checks import record_results
    except ImportError:
        yield
        return
    with record_results() as results:
        try:
            yield
        finally:
            into.extend(results)


def _check_record(result: Any) -> dict:
    def text(value: Any, limit: int = 4000) -> str | None:
        return value[:limit] if isinstance(value, str) else None

    return {"function": text(getattr(result, "function", None), 200), "passed": getattr(result, "passed", None) is True,
            "mistake": text(getattr(result, "mistake", None), 200), "title": text(getattr(result, "title", None), 500),
            "lecture": text(getattr(result, "lecture", None), 500), "message": text(getattr(result, "message", None))}


def _error(exc: BaseException, filename: str, hidden: set[int] = frozenset()) -> dict:
    """The cell's error as nbformat wants it, its traceback cut to the instructor cell's own frames.

    A failed assertion on a line of the hidden tests keeps only its type: its message (numpy's
    ``DESIRED: array(...)``) would show the student the expected values.
    """
    from ..integrity import IntegrityError

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    evalue = str(exc)
    if (frames and frames[-1].lineno in hidden and isinstance(exc, AssertionError)
            and not isinstance(exc, IntegrityError)):
        evalue = "a hidden test failed (its expected values are not shown)"
        exc = AssertionError(evalue)
    lines = ["Traceback (most recent call last):"] if frames else []
    for frame in frames:  # a hidden line is named by its number, never quoted
        lines.append(f'  File "{frame.filename}", line {frame.lineno}'
                     + ("" if frame.lineno in hidden or not frame.line else f"\n    {frame.line}"))
    lines += [line.rstrip("\n") for line in traceback.format_exception_only(type(exc), exc)]
    return {"ename": type(exc).__name__, "evalue": evalue[:20_000], "traceback": [l[:20_000] for l in lines[-60:]]}


def serve(channel: Channel) -> None:
    """Prepare, then run each cell the worker sends until it closes the input."""
    prepare = channel.receive(Prepare)
    runner = Runner(channel, prepare)
    channel.send(Ready())
    while True:
        try:
            cell = channel.receive(RunCell)
        except EOFError:
            return
        channel.send(runner.run(cell))


def main() -> int:
    # the conversation goes on a private copy of stdout; whatever libraries print goes to stderr
    outbox = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    inbox = os.fdopen(os.dup(0), "rb")
    try:
        serve(Channel(inbox, outbox))
    except (EOFError, MessageError) as exc:
        print(f"cnnkit test runner: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
