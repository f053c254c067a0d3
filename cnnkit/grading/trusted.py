"""Execute a submission so that its verdicts are decided out of the student's reach.

nbgrader decides a test cell's points from the cell's outputs after running the whole notebook
in one kernel, where a student's earlier cell can replace ``numpy.testing``, the reference ops,
the integrity hook or builtins. :class:`TrustedExecute` takes the place of nbgrader's
``Execute`` in autograding and splits the work:

* the student's kernel (sandboxed, :mod:`cnnkit.grading.sandbox`) runs the notebook as the
  student wrote it: every cell, with the test cells as released (no hidden tests), so the
  student's state is what they saw;
* the grader's own process runs the instructor's cells: every read-only cell whose id the
  gradebook knows, with the gradebook's source (hidden tests included). Its namespace holds what
  those cells define (``np``, ``rng``, reference imports) and sees the student's names through
  :mod:`cnnkit.grading.remote`: data by value, functions as handles that run in the kernel.

A test cell's outputs, and so its points, are those of the grader's run. A read-only cell the
gradebook does not know (one a submission added or forged) is the student's code like any other.
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import io
import json
import linecache
import shutil
import tempfile
import time
import traceback
from pathlib import Path

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer, List, Unicode

from .checks import split_hidden

_BUILTIN_NAMES = frozenset(dir(builtins))


class TrustedExecute(Execute):
    """nbgrader's Execute, with the gradebook's read-only cells run in the grader (see module doc)."""

    sandboxed = Bool(True, help="run the student's kernel in the bubblewrap sandbox").tag(config=True)
    hidden_modules = List(Unicode(), help="modules the sandbox replaces by ImportError stubs").tag(config=True)
    submission_dir = Unicode("", help="the student's handed-in files (a safe copy): shown to the kernel").tag(
        config=True)
    events_file = Unicode("", help="JSON-lines file where the bounds each notebook hit are appended").tag(
        config=True)
    channel_root = Unicode("", help="folder for the kernels' socket and message folders (default: the "
                                    "system's temporary folder; Unix socket paths must stay short)").tag(config=True)
    memory_mb = Integer(4096, help="address space of each sandboxed process, MiB").tag(config=True)
    max_processes = Integer(256, help="processes and threads in one sandbox").tag(config=True)
    cpu_seconds = Integer(3600, help="CPU seconds of each sandboxed process").tag(config=True)
    begin_hidden = Unicode("BEGIN HIDDEN TESTS").tag(config=True)
    end_hidden = Unicode("END HIDDEN TESTS").tag(config=True)

    # -- set-up -----------------------------------------------------------------------------
    def preprocess(self, nb, resources=None, km=None):
        self._trusted = _trusted_cells(resources)
        self._done: set[str] = set()
        self._namespace: dict = {"__name__": "__cnnkit_tests__", "__builtins__": builtins}
        self._owned: set[str] = set()
        self._session = None
        self._client = None
        self._sandbox_km = None
        # short paths: a Unix socket's path may not exceed 107 bytes
        self._base = Path(tempfile.mkdtemp(prefix="cnnkit-", dir=self.channel_root or None))
        self._channel = self._base / "c"
        try:
            return super().preprocess(nb, resources, km)
        finally:
            if self._client is not None:
                self._client.stop_channels()
            self._client = self._session = None
            self._record_limits((resources or {}).get("nbgrader", {}).get("notebook", ""))
            shutil.rmtree(self._base, ignore_errors=True)

    def _record_limits(self, notebook: str) -> None:
        events = list(getattr(self._sandbox_km, "limit_events", []) or [])
        if events and self.events_file:
            with open(self.events_file, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"notebook": notebook, "limits": events}) + "\n")

    def create_kernel_manager(self):
        if not self.kernel_name:
            self.kernel_name = self.nb.metadata.get("kernelspec", {}).get("name") or "python3"
        if not self.sandboxed:
            from jupyter_client.manager import AsyncKernelManager

            self.km = AsyncKernelManager(kernel_name=self.kernel_name, config=self.config)
            return self.km
        from .sandbox import Limits, SandboxKernelManager, SandboxSpec

        spec = SandboxSpec(submission=Path(self.submission_dir) if self.submission_dir else None,
                           channel_dir=self._channel, private_dir=self._base / "private",
                           hidden_modules=tuple(self.hidden_modules),
                           limits=Limits(memory_bytes=self.memory_mb << 20, processes=self.max_processes,
                                         cpu_seconds=self.cpu_seconds))
        self.km = self._sandbox_km = SandboxKernelManager(spec=spec, kernel_name=self.kernel_name,
                                                          config=self.config)
        return self.km

    def _remote(self):
        """The grader's own connection to the student's kernel (made on first use)."""
        if self._session is None:
            from .remote import KernelSession

            self._client = self.km.blocking_client()
            self._client.start_channels(iopub=False, stdin=False, hb=False)
            self._client.wait_for_ready(timeout=60)
            self._channel.mkdir(parents=True, exist_ok=True)
            self._session = KernelSession(self._client, self._channel, self._interrupt)
        return self._session

    def _interrupt(self) -> None:
        client = self._client
        client.control_channel.send(client.session.msg("interrupt_request", content={}))

    # -- cells ------------------------------------------------------------------------------
    def preprocess_cell(self, cell, resources, index):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        trusted = self._trusted.get(grade_id) if cell.cell_type == "code" else None
        if trusted is None or grade_id in self._done:
            return super().preprocess_cell(cell, resources, index)
        self._done.add(grade_id)
        source, graded = trusted
        # the student's kernel runs what the student saw: the released cell, hidden tests cut
        cell.source = split_hidden(source, self.begin_hidden, self.end_hidden)[0]
        cell, resources = super().preprocess_cell(cell, resources, index)
        student_outputs = cell.outputs
        cell.source = source
        outputs = self._run_here(source, grade_id, graded)
        self._drain_iopub()
        if graded:
            cell.outputs = outputs
        else:
            cell.outputs = student_outputs
        return cell, resources

    def _drain_iopub(self) -> None:
        """Drop the kernel's broadcasts about the grader's own requests (busy, idle, prints).

        Left queued they would fill the notebook client's subscription (ZeroMQ drops new
        messages past its high-water mark), and the next cell would miss its own "idle".
        """
        from queue import Empty

        from jupyter_core.utils import run_sync

        async def drain() -> None:
            while True:
                try:
                    await self.kc.iopub_channel.get_msg(timeout=0.05)
                except Empty:
                    return

        run_sync(drain)()

    def _run_here(self, source: str, grade_id: str, graded: bool) -> list[NotebookNode]:
        """Run an instructor cell in this process; return its outputs (what it printed, and its error)."""
        from nbclient.exceptions import DeadKernelError

        from .remote import KernelDied

        filename = f"<cell {grade_id}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        printed = io.StringIO()
        fetched: dict = {}
        error = None
        session = self._remote()
        session.deadline = time.monotonic() + (self.timeout or 10**9)
        tree = ast.Module(body=[], type_ignores=[])
        try:
            tree = ast.parse(source, filename)
            code = compile(tree, filename, "exec")
            wanted = _free_names(tree) - self._owned - _BUILTIN_NAMES
            if wanted:  # the student's current values (a name asked for earlier is asked for again)
                fetched = session.lookup(sorted(wanted))
                self._namespace.update(fetched)
            # warnings and stderr are shown, but only an exception fails a test (as for a student)
            with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
                exec(code, self._namespace)  # noqa: S102 - the gradebook's own cell, in the grader
        except KernelDied as exc:
            raise DeadKernelError(str(exc)) from exc
        except Exception as exc:  # noqa: BLE001 - a failed test is an output, as in a kernel
            error = _error_output(exc, filename)
        finally:
            session.deadline = float("inf")
        if graded:  # a test's helpers are the grader's; its scratch data may be a student's name too
            self._owned |= _defined_names(tree)
        else:  # a set-up cell (imports, data): everything it binds is the grader's from now on
            self._claim_names(fetched)
        outputs = []
        if printed.getvalue():
            outputs.append(NotebookNode(output_type="stream", name="stdout", text=printed.getvalue()))
        if error is not None:
            outputs.append(error)
        return outputs

    def _claim_names(self, fetched: dict) -> None:
        """Names an instructor cell bound are the grader's from now on; fetched ones are asked for again."""
        for name, value in list(self._namespace.items()):
            if name.startswith("__") and name.endswith("__"):
                continue
            if name in fetched and value is fetched[name]:
                self._owned.discard(name)
            else:
                self._owned.add(name)


def _trusted_cells(resources) -> dict[str, tuple[str, bool]]:
    """``grade_id -> (source, graded)`` for the read-only code cells of this notebook in the gradebook."""
    from nbgrader.api import Gradebook

    info = (resources or {}).get("nbgrader", {})
    with Gradebook(info["db_url"]) as gb:
        notebook = gb.find_notebook(info["notebook"], info["assignment"])
        graded = {cell.name for cell in notebook.grade_cells}
        return {cell.name: (cell.source, cell.name in graded)
                for cell in notebook.source_cells if cell.locked and cell.cell_type == "code"}


def _free_names(tree: ast.AST) -> set[str]:
    """Every name a cell reads (at any depth); the cell's own assignments are handled by the caller."""
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def _defined_names(tree: ast.Module) -> set[str]:
    """Names a cell binds at its top level with ``def``, ``class`` or ``import``."""
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names if alias.name != "*"}
    return names


def _error_output(exc: BaseException, filename: str) -> NotebookNode:
    """An nbformat error output for ``exc``, its traceback cut to the instructor cell's own frames."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    lines = ["Traceback (most recent call last):"] if frames else []
    lines += [line.rstrip("\n") for line in traceback.format_list(frames)]
    lines += [line.rstrip("\n") for line in traceback.format_exception_only(type(exc), exc)]
    return NotebookNode(output_type="error", ename=type(exc).__name__, evalue=str(exc), traceback=lines)
