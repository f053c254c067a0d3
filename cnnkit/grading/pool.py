"""N grading workers, each a process running :mod:`cnnkit.grading.worker`, with a wall-clock limit per task.

A task that runs past its limit has its worker killed together with everything it started
(the Jupyter kernel runs in its own session, so a process-group kill would miss it); a fresh
worker takes the next task. Results come back in completion order. Parent and workers speak in
the typed messages of :mod:`cnnkit.grading.worker` (:class:`Task` down, :class:`Started` and
:class:`Answer` up); a worker whose line is no such message is killed, and its task reported as
:data:`UNREADABLE`, never guessed at.
"""
from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .messages import Answer, MessageError, Started, Task, read_message

#: Reported in place of a worker's answer when its task ran out of time.
TIMED_OUT = "timed out"
#: Reported when the worker process ended without answering (it crashed or was killed).
WORKER_DIED = "worker died"
#: Reported when the worker wrote a line that is no well-formed message (the detail says what is wrong).
UNREADABLE = "unreadable answer"
#: Seconds a worker may take to start a task (a fresh worker imports nbgrader first) before its
#: wall-clock limit starts; past this plus the limit, the task is reported as timed out.
STARTUP_GRACE = 300.0


def kill_tree(pid: int) -> None:
    """Kill a process and all its descendants (all collected first, then all killed)."""
    _kill(pid, include_self=True)


def kill_children(pid: int) -> None:
    """Kill every descendant of a process, but not the process itself."""
    _kill(pid, include_self=False)


def _kill(pid: int, include_self: bool) -> None:
    import psutil

    try:
        parent = psutil.Process(pid)
        procs = parent.children(recursive=True) + ([parent] if include_self else [])
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=10)


@dataclass
class _Worker:
    proc: subprocess.Popen
    buffer: bytes = b""
    task: Task | None = None
    deadline: float = float("inf")
    started: float = 0.0
    limit: float = 0.0
    log_path: Path | None = None


@dataclass
class Outcome:
    """What came back for a task: the worker's answer, or a failure and what is known of it.

    ``failure`` is :data:`TIMED_OUT`, :data:`WORKER_DIED` or :data:`UNREADABLE`; ``detail`` is then the
    end of the worker's log, or what was wrong with the line it wrote.
    """

    task: Task
    answer: Answer | None
    failure: str | None = None
    seconds: float = 0.0
    detail: str = field(default="", repr=False)


class WorkerPool:
    """Run tasks (:class:`Task`) on ``jobs`` worker processes; :meth:`run` yields an :class:`Outcome` per task.

    ``command`` starts one worker (default: this Python running :mod:`cnnkit.grading.worker`).
    """

    def __init__(self, jobs: int, *, log_dir: str | os.PathLike, env: dict[str, str] | None = None,
                 command: list[str] | None = None):
        if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
            raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
        self.jobs = jobs
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.env = env
        self.command = command or [sys.executable, "-m", "cnnkit.grading.worker"]
        self._workers: list[_Worker] = []
        self._spawned = 0

    def _spawn(self) -> _Worker:
        self._spawned += 1
        log = open(self.log_dir / f"worker-{self._spawned}.log", "wb")
        proc = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                env=self.env)
        log.close()
        os.set_blocking(proc.stdout.fileno(), False)
        worker = _Worker(proc, log_path=self.log_dir / f"worker-{self._spawned}.log")
        self._workers.append(worker)
        return worker

    def _retire(self, worker: _Worker) -> None:
        kill_tree(worker.proc.pid)
        worker.proc.wait()
        for stream in (worker.proc.stdin, worker.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self._workers.remove(worker)

    def _tail(self, worker: _Worker) -> str:
        try:
            return worker.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def run(self, tasks: list[Task], limit: float) -> Iterator[Outcome]:
        """Yield one :class:`Outcome` per task; a task is given at most ``limit`` seconds of wall clock."""
        pending = deque(tasks)
        selector = selectors.DefaultSelector()
        try:
            while pending or any(w.task is not None for w in self._workers):
                for worker in [w for w in self._workers if w.task is None]:
                    if not pending:
                        break
                    self._assign(worker, pending.popleft(), limit, selector)
                while pending and len(self._workers) < self.jobs:
                    self._assign(self._spawn(), pending.popleft(), limit, selector)
                busy = [w for w in self._workers if w.task is not None]
                wait = max(0.0, min(w.deadline for w in busy) - time.monotonic())
                for key, _ in selector.select(timeout=min(wait, 1.0)):
                    worker = key.data
                    outcome = self._read(worker, selector)
                    if outcome is not None:
                        yield outcome
                now = time.monotonic()
                for worker in [w for w in self._workers if w.task is not None and now >= w.deadline]:
                    yield self._end(worker, selector, None, TIMED_OUT, "", retire=True)
        finally:
            selector.close()
            self.close()

    def _assign(self, worker: _Worker, task: Task, limit: float, selector) -> None:
        worker.task, worker.started, worker.limit = task, time.monotonic(), limit
        worker.deadline = worker.started + STARTUP_GRACE + limit
        selector.register(worker.proc.stdout, selectors.EVENT_READ, worker)
        try:
            worker.proc.stdin.write((task.to_json() + "\n").encode())
            worker.proc.stdin.flush()
        except BrokenPipeError:
            pass  # the worker is gone; its stdout reaches EOF and _read reports it

    def _read(self, worker: _Worker, selector) -> Outcome | None:
        """The outcome of the worker's task if what it wrote now ends the task (its answer, or EOF)."""
        try:
            chunk = os.read(worker.proc.stdout.fileno(), 1 << 16)
        except BlockingIOError:
            return None
        if not chunk:  # EOF: the worker died mid-task
            tail = self._tail(worker)
            return self._end(worker, selector, None, WORKER_DIED, tail, retire=True)
        worker.buffer += chunk
        while b"\n" in worker.buffer:
            line, worker.buffer = worker.buffer.split(b"\n", 1)
            try:
                message = self._message(worker, line)
            except MessageError as exc:  # the worker's state is unknown: it grades no one else
                return self._end(worker, selector, None, UNREADABLE, str(exc), retire=True)
            if isinstance(message, Started):  # the wall-clock limit runs from here
                worker.started = time.monotonic()
                worker.deadline = worker.started + worker.limit
                continue
            return self._end(worker, selector, message, None, "", retire=False)
        return None

    @staticmethod
    def _message(worker: _Worker, line: bytes) -> Started | Answer:
        """The message on ``line``, which must be about the worker's current student."""
        message = read_message(line, (Started, Answer))
        if message.student != worker.task.student:
            raise MessageError(f"{message.event!r} message about {message.student!r} while grading "
                               f"{worker.task.student!r}")
        return message

    def _end(self, worker: _Worker, selector, answer: Answer | None, failure: str | None, detail: str, *,
             retire: bool) -> Outcome:
        """Close the worker's current task as an :class:`Outcome`; ``retire`` stops the worker too."""
        outcome = Outcome(worker.task, answer, failure, time.monotonic() - worker.started, detail)
        worker.task, worker.deadline = None, float("inf")
        selector.unregister(worker.proc.stdout)
        if retire:
            self._retire(worker)
        return outcome

    def close(self) -> None:
        """Stop every worker (and its kernels)."""
        for worker in list(self._workers):
            self._retire(worker)
