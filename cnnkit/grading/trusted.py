"""nbgrader's Execute step, with the verdicts decided out of the student's reach.

nbgrader decides a test cell's points from the cell's outputs after running the whole notebook
in one kernel, where a student's earlier cell can replace ``numpy.testing``, the reference ops or
builtins. :class:`TrustedExecute` takes the place of nbgrader's ``Execute`` in autograding and
splits the work between two sandboxes that never share code:

* the student's kernel (bubblewrap, :mod:`cnnkit.grading.provisioner`) runs the notebook as the
  student wrote it, with the test cells as released (no hidden tests), so the student's state is
  what they saw;
* the test runner (:mod:`cnnkit.grading.runner`, in a sandbox of its own) runs the gradebook's
  read-only cells: the set-up cells first, in the gradebook's order, then each test cell (hidden
  tests included) when the notebook reaches it. It sees only the names the assignment declares;
  its requests to the kernel are relayed by this class, and the kernel's answers are files the
  runner reads as data.

This class, in the worker, touches neither student code nor student data: it moves bytes between
the two sandboxes, and builds each test cell's outputs (and so its points) from the runner's
:class:`~cnnkit.grading.messages.CellDone`. A read-only cell the gradebook does not know (one a
submission added or forged) is the student's code like any other. Set-up cells a submission moved
or deleted are put back at the top, in the gradebook's order, and the report says so.
"""
from __future__ import annotations

import base64
import binascii
import json
import os
import selectors
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Bool, Dict, List, Unicode

from .findings import CELL_TIMEOUT_ENAME, split_hidden
from .markup import sanitise_text_cells
from .messages import (MAX_LINE_BYTES, CellDone, KernelCall, KernelReply, MessageError, Prepare, Ready, RunCell,
                       read_message)
from .policy import Limits

#: Seconds the runner may take to start (imports) and to answer beyond a cell's own limit.
RUNNER_GRACE = 60.0
#: Output kinds kept from the student's kernel. Graded notebooks and feedback pages are opened in the
#: instructor's browser (the formgrader): HTML, SVG, JavaScript, Markdown and widget views could run
#: a student's script there, so they are replaced by a line saying so.
SAFE_MIME_TYPES = ("text/plain", "image/png", "image/jpeg", "image/gif")
#: Output the worker keeps from one notebook of a student, and the largest single message it accepts
#: from the kernel (a larger one is dropped by ZeroMQ before it reaches the worker's memory).
MAX_OUTPUT_BYTES = 16 << 20
MAX_MESSAGE_BYTES = 32 << 20
_OUTPUT_TYPES = ("stream", "display_data", "execute_result", "error", "update_display_data")


class RunnerFailed(RuntimeError):
    """The test runner died, sent something that is no message, or ran past its time."""


class TrustedExecute(Execute):
    """nbgrader's Execute, with the gradebook's read-only cells run by the sandboxed test runner (see module doc)."""

    sandboxed = Bool(True, help="run the student's kernel and the test runner in bubblewrap").tag(config=True)
    hidden_modules = List(Unicode(), help="modules the kernel's sandbox replaces by ImportError stubs").tag(config=True)
    submission_dir = Unicode("", help="the student's handed-in files (a safe copy): shown to the kernel").tag(
        config=True)
    temp_dir = Unicode("", help="this task's own temporary folder (the parent removes it)").tag(config=True)
    events_file = Unicode("", help="JSON-lines file where the bounds each notebook hit are appended").tag(
        config=True)
    limits = Dict(help="the Limits of each sandbox, as a dict of its fields").tag(config=True)
    source_dir = Unicode("", help="the assignment's source folder (the instructor's notebooks: declared "
                                  "names and the order of the read-only cells)").tag(config=True)
    begin_hidden = Unicode("BEGIN HIDDEN TESTS").tag(config=True)
    end_hidden = Unicode("END HIDDEN TESTS").tag(config=True)

    # -- set-up -----------------------------------------------------------------------------
    def preprocess(self, nb, resources=None, km=None):
        self._trusted = _trusted_cells(resources)
        self._notebook = (resources or {}).get("nbgrader", {}).get("notebook", "")
        self.declared, self.locked_order, self._instructor_text = _source_facts(
            Path(self.source_dir) / f"{self._notebook}.ipynb")
        self._done: set[str] = set()
        self._limits = Limits(**self.limits) if self.limits else Limits()
        self._client = None
        self._runner: RunnerProcess | None = None
        self._kernel_died = False
        self._output_bytes = 0
        self._flood_noted = False
        self.diagnoses: dict[str, dict] = {}
        self._timeouts: list[str] = []
        self._cell_name = ""
        base = Path(self.temp_dir) if self.temp_dir else Path("/tmp")
        base.mkdir(parents=True, exist_ok=True)
        # short paths: a Unix socket's path may not exceed 107 bytes
        self._base = base / uuid.uuid4().hex[:8]
        self._channel = self._base / "c"
        self._channel.mkdir(parents=True)
        restored = restore_setup_cells(nb, self._trusted, self.locked_order)
        if restored:
            self._record({"restored": restored})
        cleaned = sanitise_text_cells(nb.cells, self._instructor_text)   # no student script reaches the formgrader
        if cleaned:
            self._record({"cleaned": cleaned})
        try:
            self._runner = RunnerProcess(self._channel, self._base / "runner", self._limits, self.sandboxed,
                                         (self.begin_hidden, self.end_hidden))
            self._runner.prepare(self.declared)
            self._runner.start(self._setup_cells())  # the runner imports and loads while the kernel starts
            return super().preprocess(nb, resources, km)
        finally:
            events = [f"test runner: {e}" for e in self._runner.close()] if self._runner is not None else []
            if self._client is not None:
                self._client.stop_channels()
            self._client = None
            limits = self._kernel_limits() + events
            if limits:
                self._record({"limits": limits})
            if self._timeouts:
                self._record({"timeouts": self._timeouts})
            if self.diagnoses:
                self._record({"diagnoses": self.diagnoses})
            shutil.rmtree(self._base, ignore_errors=True)

    def _kernel_limits(self) -> list[str]:
        """The bounds the kernel's sandbox ran into (its provisioner wrote them when the kernel was shut down)."""
        found = []
        try:
            lines = (self._base / "kernel-events.jsonl").read_text(encoding="utf-8").splitlines()
        except OSError:
            return found
        for line in lines:
            found += json.loads(line).get("limits", [])
        return found

    def _record(self, finding: dict) -> None:
        """Append what this notebook's run found (bounds hit, cells restored, diagnoses) for the worker."""
        if self.events_file:
            with open(self.events_file, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"notebook": self._notebook, **finding}) + "\n")

    def create_kernel_manager(self):
        km = self._create_kernel_manager()
        import zmq

        km.context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)  # every socket to this kernel
        return km

    def _create_kernel_manager(self):
        from jupyter_client.manager import AsyncKernelManager

        if not self.kernel_name:
            self.kernel_name = self.nb.metadata.get("kernelspec", {}).get("name") or "python3"
        if not self.sandboxed:
            self.km = AsyncKernelManager(kernel_name=self.kernel_name, config=self.config)
            return self.km
        from .provisioner import sandboxed_kernel_spec_manager
        from .sandbox import SandboxSpec

        spec = SandboxSpec(submission=Path(self.submission_dir) if self.submission_dir else None,
                           channel_dir=self._channel, private_dir=self._base / "kernel",
                           hidden_modules=tuple(self.hidden_modules), limits=self._limits)
        spec.private_dir.mkdir(parents=True, exist_ok=True)
        spec_file = spec.private_dir / "spec.json"
        spec_file.write_text(spec.to_json(), encoding="utf-8")
        events = self._base / "kernel-events.jsonl"
        self.km = AsyncKernelManager(kernel_name=self.kernel_name, config=self.config, transport="ipc",
                                     ip=str(self._channel / "kernel"),
                                     connection_file=str(self._channel / "kernel.json"),
                                     kernel_spec_manager=sandboxed_kernel_spec_manager(spec_file, events))
        return self.km

    # -- the kernel's outputs ---------------------------------------------------------------
    def process_message(self, msg, cell, cell_index):
        """nbclient's handling of one kernel message, with the student's outputs made safe and bounded."""
        msg_type = msg.get("msg_type")
        if msg_type in _OUTPUT_TYPES:
            content = msg.get("content") or {}
            if isinstance(content.get("data"), dict):
                content["data"] = _safe_data(content["data"])
                content["metadata"] = {}
            self._output_bytes += _output_size(content)
            if self._output_bytes > MAX_OUTPUT_BYTES:
                if not self._flood_noted:
                    self._flood_noted = True
                    cell.outputs.append(NotebookNode(output_type="stream", name="stderr", text=(
                        f"[the grader keeps {MAX_OUTPUT_BYTES >> 20} MiB of output per notebook: the rest is "
                        "dropped]\n")))
                if msg_type != "error":
                    return None
        return super().process_message(msg, cell, cell_index)

    def handle_comm_msg(self, outs, msg, cell_index):  # noqa: D102 - widgets are not kept in graded notebooks
        return None

    # -- cells ------------------------------------------------------------------------------
    async def _async_handle_timeout(self, timeout, cell=None):
        """nbclient's per-cell time limit ran out: note the cell here, where the student cannot forge it."""
        self._timeouts.append(self._cell_name)
        return await super()._async_handle_timeout(timeout, cell)

    def preprocess_cell(self, cell, resources, index):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        self._cell_name = grade_id or f"cell {index}"
        trusted = self._trusted.get(grade_id) if cell.cell_type == "code" else None
        if trusted is None or grade_id in self._done:
            return super().preprocess_cell(cell, resources, index)
        self._done.add(grade_id)
        source, graded = trusted
        # the student's kernel runs what the student saw: the released cell, hidden tests cut
        cell.source = split_hidden(source, self.begin_hidden, self.end_hidden)[0]
        cell, resources = super().preprocess_cell(cell, resources, index)
        cell.source = source
        if graded:
            cell.outputs = self._run_in_runner(grade_id, source, graded=True)
            self._drain_iopub()
            if self._kernel_died:
                from nbclient.exceptions import DeadKernelError

                raise DeadKernelError("the student's kernel died while a test called into it")
        return cell, resources

    def _setup_cells(self) -> list[RunCell]:
        """The gradebook's set-up cells, in its order: the runner runs them first (the test's world is the grader's)."""
        cells = []
        for grade_id in self.locked_order:
            source, graded = self._trusted.get(grade_id, ("", True))
            if not graded and source:
                cells.append(RunCell(grade_id, source, False))
        return cells

    def _run_in_runner(self, grade_id: str, source: str, graded: bool) -> list[NotebookNode]:
        """Run one read-only cell in the test runner, relaying its calls to the kernel; return its outputs."""
        deadline = time.monotonic() + (self.timeout or 10**9)
        try:
            done = self._runner.run(RunCell(grade_id, source, graded), deadline, self._relay)
        except RunnerFailed as exc:
            self._runner.restart(self.declared, self._setup_cells())
            return [_error_output("TestRunnerError", f"the grader's test runner stopped: {exc}")]
        if done.error is not None and done.error.get("ename") == CELL_TIMEOUT_ENAME:
            self._timeouts.append(grade_id)              # the runner stopped the student's code: trusted
        if graded:
            self.diagnoses[grade_id] = {"checks": done.checks, "failure": _first_line(done.error)}
        outputs = []
        if done.stdout:
            outputs.append(NotebookNode(output_type="stream", name="stdout", text=done.stdout))
        if done.error is not None:
            outputs.append(_checked_error(done.error))
        return outputs

    def _relay(self, payload: str, deadline: float) -> tuple[str, str]:
        """Pass one request of the runner to the student's kernel; ``(status, answer prefix)``."""
        try:
            data = base64.b64decode(payload.encode("ascii"), validate=True)
        except (binascii.Error, ValueError):
            return "malformed request", ""
        client = self._kernel_client()
        token = uuid.uuid4().hex
        request_path, prefix = self._channel / f"req-{token}.pkl", self._channel / f"ans-{token}"
        fd = os.open(request_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        code = (f"__import__('cnnkit.grading.agent', fromlist=['serve']).serve({str(request_path)!r}, "
                f"{str(prefix)!r})")
        msg_id = client.execute(code, silent=True, store_history=False, allow_stdin=False)
        status = self._wait_reply(client, msg_id, deadline)
        if status == "died":
            self._kernel_died = True
        return status, str(prefix)

    def _kernel_client(self):
        """The worker's own connection to the student's kernel (made on first use)."""
        if self._client is None:
            self._client = self.km.blocking_client()
            self._client.start_channels(iopub=False, stdin=False, hb=False)
            self._client.wait_for_ready(timeout=60)
        return self._client

    def _wait_reply(self, client, msg_id: str, deadline: float) -> str:
        from queue import Empty

        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                client.control_channel.send(client.session.msg("interrupt_request", content={}))
                self._drain_shell(client, msg_id, 10.0)
                return "timeout"
            try:
                reply = client.get_shell_msg(timeout=min(remaining, 2.0))
            except Empty:
                if not client.is_alive():
                    return "died"
                continue
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                return "ok"

    @staticmethod
    def _drain_shell(client, msg_id: str, seconds: float) -> None:
        from queue import Empty

        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                reply = client.get_shell_msg(timeout=max(0.1, end - time.monotonic()))
            except Empty:
                return
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                return

    def _drain_iopub(self, seconds: float = 10.0) -> None:
        """Drop the kernel's broadcasts about the relayed requests (busy, idle, prints), within a deadline.

        Left queued they would fill the notebook client's subscription (ZeroMQ drops new
        messages past its high-water mark), and the next cell would miss its own "idle".
        """
        from queue import Empty

        from jupyter_core.utils import run_sync

        end = time.monotonic() + seconds

        async def drain() -> None:
            while time.monotonic() < end:
                try:
                    await self.kc.iopub_channel.get_msg(timeout=0.05)
                except Empty:
                    return

        run_sync(drain)()


class RunnerProcess:
    """The test runner's process (sandboxed or not) and the worker's end of its conversation."""

    def __init__(self, channel: Path, private: Path, limits: Limits, sandboxed: bool,
                 hidden: tuple[str, str] = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")) -> None:
        import secrets

        self.channel, self.private, self.limits, self.sandboxed = channel, private, limits, sandboxed
        self.hidden = hidden
        self.salt = secrets.randbits(62)  # one per submission: its hidden inputs are seen once
        self._cgroups: list[Path] = []
        self.events: list[str] = []
        self._start()

    def _start(self) -> None:
        command = [sys.executable, "-m", "cnnkit.grading.runner"]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "MPLBACKEND": "agg",
               "PYTHONDONTWRITEBYTECODE": "1", "CNNKIT_OFFLINE": "1", "NBGRADER_EXECUTION": "autograde",
               "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        for name in ("CNNKIT_DATA", "CNNKIT_SIZE", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "HOME", "MPLCONFIGDIR",
                     "PYTHONPATH"):
            if os.environ.get(name):
                env[name] = os.environ[name]
        if self.sandboxed:
            from .sandbox import SandboxSpec, bwrap_command, make_cgroups

            self.private.mkdir(parents=True, exist_ok=True)
            spec = SandboxSpec(submission=None, channel_dir=self.channel, private_dir=self.private,
                               limits=self.limits, channel_readonly=True)
            self._cgroups = make_cgroups(self.limits)
            command = bwrap_command(spec, command, cgroups=self._cgroups)
            env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        self.private.mkdir(parents=True, exist_ok=True)
        self._log = open(self.private / "runner.log", "wb")
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
                                     env=env, start_new_session=True, pass_fds=())
        self._buffer = b""
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.proc.stdout, selectors.EVENT_READ)

    def prepare(self, declared: dict) -> None:
        self._send(Prepare(channel=str(self.channel), functions=list(declared.get("functions", ())),
                           values=list(declared.get("values", ())), objects=list(declared.get("objects", ())),
                           factories=list(declared.get("factories", ())), updates=dict(declared.get("updates", {})),
                           answer_bytes=self.limits.answer_bytes, salt=self.salt, hidden_begin=self.hidden[0],
                           hidden_end=self.hidden[1]))
        self._waiting: list[str] = ["ready"]

    def start(self, setup: list[RunCell]) -> None:
        """Queue the set-up cells; their answers are collected before the first test (:meth:`_settle`)."""
        for cell in setup:
            self._send(cell)
            self._waiting.append(cell.grade_id)

    def _settle(self, deadline: float) -> None:
        """Collect what :meth:`prepare` and :meth:`start` are owed (set-up cells ask nothing of the kernel)."""
        while self._waiting:
            expected = self._waiting[0]
            if expected == "ready":
                self._receive((Ready,), deadline)
            else:
                message = self._receive((KernelCall, CellDone), deadline)
                if isinstance(message, KernelCall):  # a set-up cell runs before the student's code exists
                    self._send(KernelReply("refused: a set-up cell cannot call the student's code", ""))
                    continue
                if message.grade_id != expected:
                    raise RunnerFailed("the runner answered for another cell")
            self._waiting.pop(0)

    def run(self, cell: RunCell, deadline: float, relay) -> CellDone:
        """Send a cell; relay its kernel calls until it is done. RunnerFailed when the runner misbehaves."""
        self._settle(max(deadline, time.monotonic() + RUNNER_GRACE) + RUNNER_GRACE)
        self._send(cell)
        previous: str | None = None
        try:
            while True:
                message = self._receive((KernelCall, CellDone), deadline + RUNNER_GRACE)
                if previous is not None:  # the runner has read that answer: its files can go
                    _remove_answer(Path(previous))
                    previous = None
                if isinstance(message, CellDone):
                    if message.grade_id != cell.grade_id:
                        raise RunnerFailed("the runner answered for another cell")
                    return message
                status, prefix = relay(message.payload, deadline)
                previous = prefix or None
                self._send(KernelReply(status, prefix))
        finally:
            if previous is not None:
                _remove_answer(Path(previous))

    def _send(self, message) -> None:
        try:
            self.proc.stdin.write((message.to_json() + "\n").encode("utf-8"))
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise RunnerFailed(f"it is gone ({exc.__class__.__name__}){self._tail()}") from None

    def _receive(self, kinds: tuple, deadline: float):
        line = self._readline(deadline)
        try:
            return read_message(line, kinds)
        except MessageError as exc:
            raise RunnerFailed(f"it sent no well-formed message ({exc})") from None

    def _readline(self, deadline: float) -> bytes:
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_LINE_BYTES:
                raise RunnerFailed("it sent an oversized line")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RunnerFailed("it ran past its time")
            if not self._selector.select(timeout=min(remaining, 5.0)):
                continue
            chunk = os.read(self.proc.stdout.fileno(), 1 << 20)
            if not chunk:
                raise RunnerFailed(f"it exited{self._tail()}")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _tail(self) -> str:
        try:
            self._log.flush()
            text = (self.private / "runner.log").read_bytes()[-2000:].decode("utf-8", "replace").strip()
        except OSError:
            return ""
        return f": {text.splitlines()[-1][:300]}" if text else ""

    def restart(self, declared: dict, setup: list[RunCell]) -> None:
        self.close()
        self._start()
        try:
            self.prepare(declared)
            self.start(setup)
        except RunnerFailed:
            pass

    def close(self) -> list[str]:
        """Stop the runner and everything it started; return the bounds its sandbox ran into."""
        from .pool import kill_tree

        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        kill_tree(self.proc.pid)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self._selector.close()
        self.proc.stdout.close()
        self._log.close()
        if self._cgroups:
            from .sandbox import limit_events, remove_cgroups

            self.events += limit_events(self._cgroups, self.limits)
            remove_cgroups(self._cgroups)
            self._cgroups = []
        return self.events


def _remove_answer(prefix: Path) -> None:
    for path in prefix.parent.glob(f"{prefix.name}*"):
        try:
            path.unlink()
        except OSError:
            pass
    token = prefix.name[4:]
    try:
        (prefix.parent / f"req-{token}.pkl").unlink()
    except OSError:
        pass


def restore_setup_cells(nb, trusted: dict[str, tuple[str, bool]], order: list[str]) -> list[str]:
    """Put the gradebook's set-up cells back where a run needs them; return what was restored, in words.

    When the read-only cells of ``nb`` do not stand in the source's order (``order``), or a set-up
    cell is missing, every set-up cell is moved (or re-created from the gradebook) to the top of the
    notebook, in the source's order: they only import and load data, so running them first gives the
    student the same start as the untouched notebook.
    """
    setup = [gid for gid in order if gid in trusted and not trusted[gid][1]]
    if not setup:
        return []

    def grade_id(cell) -> str | None:
        return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")

    present = [grade_id(c) for c in nb.cells if grade_id(c) in trusted]
    wanted = [gid for gid in order if gid in present]
    missing = [gid for gid in setup if gid not in present]
    if not missing and present == wanted:
        return []
    found = {}
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid in setup and gid not in found:
            found[gid] = cell
    rest = [c for c in nb.cells if grade_id(c) not in setup]
    top = []
    for gid in setup:
        cell = found.get(gid)
        if cell is None:
            cell = NotebookNode(cell_type="code", execution_count=None, id=f"restored-{gid}"[:64], outputs=[],
                                source=trusted[gid][0],
                                metadata=NotebookNode(nbgrader=NotebookNode(grade=False, grade_id=gid, locked=True,
                                                                            schema_version=3, solution=False)))
        top.append(cell)
    nb.cells = top + rest
    notes = [f"set-up cell {gid} was deleted and is put back" for gid in missing]
    moved = [gid for gid in setup if gid not in missing]
    if moved and present != wanted:
        notes.append("read-only cells out of order: set-up cell(s) " + ", ".join(moved)
                     + " moved back to the top")
    return notes


def _source_facts(path: Path) -> tuple[dict, list[str], frozenset[str]]:
    """The declared student names, the order of the read-only code cells, and the Markdown texts of a
    source notebook (the instructor's own: never cleaned)."""
    from dataclasses import asdict

    import nbformat

    from .policy import declared_names

    nb = nbformat.read(path, as_version=4)
    declared = asdict(declared_names(nb.metadata, where=str(path.name)))
    order = [c.metadata.nbgrader.grade_id for c in nb.cells
             if c.cell_type == "code" and c.get("metadata", {}).get("nbgrader", {}).get("locked")
             and c.metadata.nbgrader.get("grade_id")]
    text = frozenset(c.source for c in nb.cells if c.cell_type == "markdown")
    return declared, order, text


def _trusted_cells(resources) -> dict[str, tuple[str, bool]]:
    """``grade_id -> (source, graded)`` for the read-only code cells of this notebook in the gradebook."""
    from nbgrader.api import Gradebook

    info = (resources or {}).get("nbgrader", {})
    with Gradebook(info["db_url"]) as gb:
        notebook = gb.find_notebook(info["notebook"], info["assignment"])
        graded = {cell.name for cell in notebook.grade_cells}
        return {cell.name: (cell.source, cell.name in graded)
                for cell in notebook.source_cells if cell.locked and cell.cell_type == "code"}


def _safe_data(data: dict) -> dict:
    """A display output's data with only the kinds a browser shows without running anything."""
    kept = {kind: value for kind, value in data.items() if kind in SAFE_MIME_TYPES and isinstance(value, str)}
    if len(kept) < len(data) and "text/plain" not in kept:
        kept["text/plain"] = "[an HTML / JavaScript / SVG / widget output: not kept in graded notebooks]"
    return kept


def _output_size(content: dict) -> int:
    size = len(content.get("text") or "") if isinstance(content.get("text"), str) else 0
    data = content.get("data")
    if isinstance(data, dict):
        size += sum(len(v) for v in data.values() if isinstance(v, str))
    for key in ("evalue", "ename"):
        if isinstance(content.get(key), str):
            size += len(content[key])
    if isinstance(content.get("traceback"), list):
        size += sum(len(t) for t in content["traceback"] if isinstance(t, str))
    return size


def _first_line(error: dict | None) -> str | None:
    if not error:
        return None
    text = f"{error.get('ename', '')}: {error.get('evalue', '')}"
    return text.splitlines()[0][:500] if text.strip() else None


def _checked_error(error: dict) -> NotebookNode:
    """The runner's error as an nbformat output, every field checked (the runner is trusted, but sandboxed)."""
    ename = error.get("ename") if isinstance(error.get("ename"), str) else "Error"
    evalue = error.get("evalue") if isinstance(error.get("evalue"), str) else ""
    lines = error.get("traceback") if isinstance(error.get("traceback"), list) else []
    lines = [line for line in lines if isinstance(line, str)][-60:]
    return NotebookNode(output_type="error", ename=ename[:200], evalue=evalue[:20_000], traceback=lines)


def _error_output(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])
