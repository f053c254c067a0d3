"""Run a notebook's code cells in order in one namespace, without Jupyter; report the cell that fails.

    python benchmarks/run_notebook.py lectures/07_depth_gradients_and_residuals.ipynb [--keep-going]
        [--cell-timeout 300] [--time-limit 600] [--json report.json]

Made for machines that have the kit's packages but no jupyter / nbclient / ipykernel / IPython
(a GPU check machine): it reads the .ipynb as JSON and executes each code cell as a Jupyter
kernel would, in the notebook's folder, with matplotlib's Agg backend:

- line magics (``%matplotlib inline``) and shell escapes (``!ls``) are skipped; ``%%time``,
  ``%%timeit`` and ``%%capture`` cells run their body, other cell magics are skipped;
- a cell whose last statement is an expression shows its value (unless it ends in ``;``);
  ``display(obj)`` is provided (figures are closed after each cell, as the inline backend does;
  other objects print their text form);
- a failing cell is reported with its number, its source and the traceback into the cell's own
  lines; ``--keep-going`` goes on with the next cells and reports every failure;
- ``--cell-timeout`` stops a cell, ``--time-limit`` the whole notebook, each reported as the
  cell that was running (set the limit below any outer ``timeout`` to learn which cell it was).

Exit status: 0 if every cell ran, 1 if one failed, 2 for a bad command line or notebook.
"""
from __future__ import annotations

import argparse
import ast
import builtins
import json
import linecache
import os
import re
import signal
import sys
import time
import traceback
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RUN_BODY_MAGICS = ("time", "timeit", "capture")
_ASSIGNED_MAGIC = re.compile(r"^(\s*)([\w., ]+?)\s*=\s*[%!]")  # files = !ls, t = %timeit -o f()


class CellTimeout(Exception):
    """A cell ran past --cell-timeout."""


@dataclass
class CellResult:
    """What happened to one code cell: ``index`` counts every cell of the notebook, from 0."""

    index: int
    status: str  # "ok", "failed" or "skipped"
    seconds: float = 0.0
    error: str = ""
    traceback: str = ""


@dataclass
class Report:
    notebook: str
    cells: list[CellResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[CellResult]:
        return [c for c in self.cells if c.status == "failed"]

    def as_dict(self) -> dict[str, Any]:
        return {"notebook": self.notebook, "ok": not self.failed, "seconds": round(self.seconds, 2),
                "failed_cells": [c.index for c in self.failed], "cells": [asdict(c) for c in self.cells]}


def code_cells(path: Path) -> list[tuple[int, str]]:
    """``(index, source)`` of every code cell, ``index`` counting all cells (as Jupyter shows them)."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = nb["cells"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"cannot read {path} as a notebook: {err}") from None
    out = []
    for index, cell in enumerate(cells):
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            out.append((index, "".join(source) if isinstance(source, list) else str(source)))
    return out


def strip_magics(source: str) -> str | None:
    """The cell's Python without IPython syntax, or None for a cell magic that cannot run here.

    Skipped lines become ``pass`` (same indentation), so blocks around them stay valid and line
    numbers in tracebacks still match the notebook's.
    """
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        magic = lines[0].lstrip()[2:].split()[0] if lines[0].strip() != "%%" else ""
        if magic not in RUN_BODY_MAGICS:
            return None
        lines = ["pass"] + lines[1:]
    out = []
    for line in lines:
        stripped = line.lstrip()
        indent = line[:len(line) - len(stripped)]
        assigned = _ASSIGNED_MAGIC.match(line)
        if stripped.startswith(("%", "!")):
            out.append(indent + "pass")
        elif assigned:
            out.append(f"{assigned.group(1)}{assigned.group(2)} = None")
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def display(*objects: Any, **_: Any) -> None:
    """Jupyter's ``display`` without IPython: figures are left for the end-of-cell close, the rest printed."""
    for obj in objects:
        if type(obj).__module__.startswith("matplotlib") and hasattr(obj, "savefig"):
            continue
        print(repr(obj))


def _show(value: Any) -> None:
    """Show a cell's last expression, as Jupyter's ``Out[n]`` would."""
    if value is not None:
        display(value)


def _register_source(filename: str, source: str) -> None:
    """Let tracebacks print the cell's lines (linecache is where traceback looks them up)."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)


def run_source(source: str, namespace: dict[str, Any], filename: str) -> None:
    """Execute a cell; if its last statement is an expression, show its value."""
    _register_source(filename, source)
    tree = ast.parse(source, filename)
    last = tree.body[-1] if tree.body else None
    if isinstance(last, ast.Expr) and not source.rstrip().endswith(";"):
        body = ast.Module(body=tree.body[:-1], type_ignores=[])
        exec(compile(body, filename, "exec"), namespace)  # noqa: S102 - running the notebook is the point
        _show(eval(compile(ast.Expression(last.value), filename, "eval"), namespace))  # noqa: S307
    else:
        exec(compile(tree, filename, "exec"), namespace)  # noqa: S102


@contextmanager
def time_limit(seconds: float | None):
    """Raise CellTimeout in the main thread after ``seconds`` (None or 0: no limit)."""
    if not seconds or not hasattr(signal, "SIGALRM"):
        yield
        return

    def expire(signum, frame):
        raise CellTimeout(f"cell stopped after {seconds:.0f} s (--cell-timeout / --time-limit)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _cell_traceback(error: BaseException) -> str:
    """The traceback from the cell's own frame on (the runner's frames left out)."""
    tb = error.__traceback__
    while tb is not None and not tb.tb_frame.f_code.co_filename.startswith("<cell "):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(error), error, tb or error.__traceback__))


def _close_figures() -> None:
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")


@contextmanager
def notebook_environment(folder: Path):
    """The notebook's folder as working directory and first import path, Agg for matplotlib."""
    os.environ["MPLBACKEND"] = "Agg"
    old_cwd, old_path = os.getcwd(), list(sys.path)
    os.chdir(folder)
    sys.path.insert(0, str(folder))
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*non-interactive.*cannot be shown")
            yield
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path


def run_notebook(path: str | os.PathLike, keep_going: bool = False, cell_timeout: float | None = None,
                 time_limit_s: float | None = None, echo: bool = True) -> Report:
    """Run the code cells of ``path`` in order in one fresh namespace; return what happened to each.

    ``cell_timeout`` bounds each cell, ``time_limit_s`` all of them together (seconds, None: no limit).
    """
    path = Path(path).resolve()
    cells = code_cells(path)
    report = Report(notebook=str(path))
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins, "display": display}
    start = time.perf_counter()
    with notebook_environment(path.parent):
        for position, (index, source) in enumerate(cells):
            python = strip_magics(source)
            if python is None:
                report.cells.append(CellResult(index, "skipped", error="cell magic not supported here"))
                continue
            limit = _cell_limit(cell_timeout, time_limit_s, time.perf_counter() - start)
            if limit is not None and limit <= 0:
                report.cells += [CellResult(i, "skipped", error="not run: --time-limit reached")
                                 for i, _ in cells[position:]]
                break
            if echo:
                print(f"--- cell {index} ---", flush=True)
            t0 = time.perf_counter()
            try:
                with time_limit(limit):
                    run_source(python, namespace, f"<cell {index}>")
            except Exception as error:  # noqa: BLE001 - every failure (CellTimeout too) is reported
                result = CellResult(index, "failed", time.perf_counter() - t0,
                                    f"{type(error).__name__}: {error}", _cell_traceback(error))
                report.cells.append(result)
                _print_failure(result, source)
                if not keep_going:
                    report.cells += [CellResult(i, "skipped", error="not run: an earlier cell failed")
                                     for i, _ in cells[position + 1:]]
                    break
            else:
                report.cells.append(CellResult(index, "ok", time.perf_counter() - t0))
            finally:
                sys.stdout.flush()
                _close_figures()
    report.seconds = time.perf_counter() - start
    return report


def _cell_limit(cell_timeout: float | None, time_limit_s: float | None, elapsed: float) -> float | None:
    """Seconds the next cell may run: the tighter of the per-cell and the remaining total limit."""
    limits = [t for t in (cell_timeout or None, None if not time_limit_s else time_limit_s - elapsed)
              if t is not None]
    return min(limits) if limits else None


def _print_failure(result: CellResult, source: str) -> None:
    bar = "=" * 78
    print(f"\n{bar}\nFAILED: cell {result.index} after {result.seconds:.1f} s: {result.error}\n"
          f"--- source ---\n{source.rstrip()}\n--- traceback ---\n{result.traceback.rstrip()}\n{bar}",
          file=sys.stderr, flush=True)


def summary_line(report: Report) -> str:
    ran = sum(c.status == "ok" for c in report.cells)
    name = Path(report.notebook).name
    if not report.failed:
        return f"OK {name}: {ran} code cells in {report.seconds:.1f} s"
    failed = ", ".join(f"cell {c.index} ({c.error.splitlines()[0][:120]})" for c in report.failed)
    return f"FAILED {name}: {ran} cells ran, failed: {failed}; {report.seconds:.1f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--keep-going", action="store_true", help="run the cells after a failing one too")
    parser.add_argument("--cell-timeout", type=float, default=0, help="seconds per cell (0: no limit)")
    parser.add_argument("--time-limit", type=float, default=0, help="seconds for all cells (0: no limit)")
    parser.add_argument("--json", type=Path, help="write the report here as JSON")
    args = parser.parse_args(argv)
    if not args.notebook.is_file():
        parser.error(f"no such notebook: {args.notebook}")
    try:
        report = run_notebook(args.notebook, keep_going=args.keep_going, cell_timeout=args.cell_timeout,
                              time_limit_s=args.time_limit)
    except ValueError as err:
        print(f"run_notebook: {err}", file=sys.stderr)
        return 2
    if args.json:
        args.json.write_text(json.dumps(report.as_dict(), indent=2))
    print(summary_line(report), flush=True)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
