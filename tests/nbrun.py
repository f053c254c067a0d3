"""Execute a notebook with nbclient; on failure, say which cell failed and show its traceback."""
from __future__ import annotations

import os
import re
from pathlib import Path

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class NotebookError(AssertionError):
    """A cell of a notebook raised: carries the cell index, its source and the traceback."""


def run_notebook(path: str | os.PathLike, *, timeout: int = 600, cwd: str | os.PathLike | None = None,
                 env: dict[str, str] | None = None, kernel_name: str = "python3"):
    """Run every cell of ``path`` top to bottom in a fresh kernel and return the executed notebook.

    ``timeout`` is per cell (seconds). ``env`` adds environment variables for the kernel
    (``CNNKIT_SIZE`` stays ``small`` unless given). Raises :class:`NotebookError` naming the
    failing cell, its source and the traceback with colour codes removed.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    kernel_env = dict(os.environ)
    kernel_env.setdefault("CNNKIT_SIZE", "small")
    kernel_env.setdefault("MPLBACKEND", "Agg")
    kernel_env.update(env or {})
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name,
                            resources={"metadata": {"path": str(cwd or path.parent)}})
    old_env = dict(os.environ)
    os.environ.clear()
    os.environ.update(kernel_env)  # nbclient starts the kernel with this process's environment
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError) as exc:
        index, cell = _failing_cell(nb)
        source = cell.source if cell is not None else "<unknown cell>"
        raise NotebookError(
            f"{path.name}: cell {index} failed\n--- source ---\n{source}\n--- error ---\n{_ANSI.sub('', str(exc))}"
        ) from None
    finally:
        os.environ.clear()
        os.environ.update(old_env)
    return nb


def _failing_cell(nb):
    """The last code cell that produced an error output (or was left unexecuted after one)."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            return index, cell
    executed = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.get("execution_count")]
    return executed[-1] if executed else (None, None)
