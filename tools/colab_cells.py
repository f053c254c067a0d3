"""Put the "Open in Colab" badge and the kit's install cell at the top of the torch notebooks.

They go right after the notebook's first cell (its title, or an assignment's header) and before its
first code cell.

    python tools/colab_cells.py --check     # exit 1 and one line per notebook that is out of date
    python tools/colab_cells.py --write     # insert or update the two cells (idempotent)

The notebooks are ``cnnkit._course.COLAB_NOTEBOOKS`` (or the paths given), the repository and branch
``cnnkit._course.COURSE_REPOSITORY`` / ``COURSE_BRANCH``: a course that forks the kit changes those
and runs ``--write`` again. The two cells are recognised by their metadata (``"cnnkit": {"colab":
...}``), so running the tool twice changes nothing and every other cell is left byte for byte. The
install cell is an ordinary cell (no nbgrader metadata: unlocked and ungraded), does nothing where
cnnkit is importable (a laptop, a hub, the grader), and in Colab installs the kit from the
repository (``CNNKIT_INSTALL_SPEC`` overrides what is installed, e.g. a wheel), uses the GPU when
the runtime has one (``CNNKIT_SIZE=full`` unless set) and keeps data sets in the session's cache.
An assignment's source notebook in ``solutions/`` carries the cells into its release: its badge
points at the release (``assignments/``); regenerate the release after ``--write``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

COURSE = Path(__file__).resolve().parents[1]
if str(COURSE) not in sys.path:  # runs from a checkout whether or not the kit is installed
    sys.path.insert(0, str(COURSE))

from cnnkit import _course  # noqa: E402

MARK = "cnnkit"
BADGE_ID, INSTALL_ID = "colab-badge", "colab-install"
# The badge is a text link, not Colab's badge image: a notebook of an offline course loads nothing from the
# network (the course site refuses pages that would, site/build_site.py); a link is followed only on a click.


def github_path(repository: str) -> str:
    """``owner/name`` of a ``https://github.com/owner/name`` URL (Colab opens notebooks from GitHub)."""
    prefix = "https://github.com/"
    parts = repository.removesuffix(".git").removeprefix(prefix).strip("/").split("/")
    if not repository.startswith(prefix) or len(parts) != 2 or not all(parts):
        raise ValueError(f"COURSE_REPOSITORY must be https://github.com/OWNER/NAME, got {repository!r}")
    return "/".join(parts)


def published_path(relative: str) -> str:
    """Where students open the notebook: an assignment's source in solutions/ is released in assignments/."""
    parts = relative.split("/")
    return "/".join(["assignments", *parts[1:]]) if parts[0] == "solutions" else relative


def badge_cell(relative: str, repository: str, branch: str) -> dict:
    url = (f"https://colab.research.google.com/github/{github_path(repository)}/blob/{branch}/"
           f"{published_path(relative)}")
    text = (f"**[Open in Colab]({url})** (a free GPU): there, pick *Runtime → Change runtime type → GPU* and "
            "run the next cell first: it installs the course kit. On your own machine, on a JupyterHub and while "
            "grading it does nothing.")
    return _cell("markdown", BADGE_ID, "badge", text)


def install_source(repository: str, branch: str) -> str:
    """The install cell's code: a no-op where cnnkit imports; installs it and picks the GPU in Colab.

    Plain statements, no helper function (a lecture defines none; see tests/test_lectures.py).
    """
    spec = f"cnnkit @ git+https://github.com/{github_path(repository)}@{branch}"
    return f'''# Colab, or any Python without the course kit: install it. Where cnnkit is installed this does nothing.
import importlib.util, os, sys
if importlib.util.find_spec("cnnkit") is None:
    import subprocess
    CNNKIT_SOURCE = os.environ.get("CNNKIT_INSTALL_SPEC", "{spec}")
    print(f"installing the course kit: pip install {{CNNKIT_SOURCE}}")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", CNNKIT_SOURCE], check=True)
    importlib.invalidate_caches()
if "google.colab" in sys.modules:  # Colab: its GPU if the runtime has one; data sets cached for the session
    import torch
    if torch.cuda.is_available():
        os.environ.setdefault("CNNKIT_SIZE", "full")
        print(f"Colab GPU {{torch.cuda.get_device_name(0)}}: running at size {{os.environ['CNNKIT_SIZE']!r}} "
              "(%env CNNKIT_SIZE=small before this cell for the quick version)")
    else:
        print("No GPU in this Colab session: running small on the CPU "
              "(Runtime > Change runtime type > GPU, then run again, for the full size).")'''


def install_cell(repository: str, branch: str) -> dict:
    return _cell("code", INSTALL_ID, "install", install_source(repository, branch))


def _cell(kind: str, cell_id: str, role: str, text: str) -> dict:
    lines = text.splitlines(keepends=True)
    cell = {"cell_type": kind}
    if kind == "code":
        cell["execution_count"] = None
    cell["id"] = cell_id
    cell["metadata"] = {MARK: {"colab": role}}
    if kind == "code":
        cell["outputs"] = []
    cell["source"] = lines
    return cell


def _ours(cell: dict) -> bool:
    return isinstance(cell.get("metadata", {}).get(MARK), dict) and "colab" in cell["metadata"][MARK]


def with_colab_cells(notebook: dict, relative: str, repository: str, branch: str) -> dict:
    """``notebook`` with the badge and install cells right after its first cell (the title, or an
    assignment's header), before any code; earlier cells of the tool's are replaced."""
    rest = [cell for cell in notebook["cells"] if not _ours(cell)]
    clash = {cell.get("id") for cell in rest} & {BADGE_ID, INSTALL_ID}
    if clash:
        raise ValueError(f"{relative}: a cell of its own already has the id {sorted(clash)[0]!r}")
    at = 1 if rest and rest[0]["cell_type"] == "markdown" else 0
    ours = [badge_cell(relative, repository, branch), install_cell(repository, branch)]
    return {**notebook, "cells": [*rest[:at], *ours, *rest[at:]]}


def dumps(notebook: dict) -> str:
    """The notebook as Jupyter writes it (indent 1, UTF-8 as is, the keys' order kept)."""
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def notebooks(course: Path, patterns=_course.COLAB_NOTEBOOKS) -> list[Path]:
    """The notebooks named by ``patterns``; each must match exactly one."""
    found = []
    for pattern in patterns:
        matches = sorted(course.glob(pattern))
        if len(matches) != 1:
            raise ValueError(f"COLAB_NOTEBOOKS pattern {pattern!r} matches {len(matches)} notebooks in {course}; "
                             "it must match exactly one")
        found.append(matches[0])
    return found


def update(path: Path, course: Path, write: bool, repository: str = _course.COURSE_REPOSITORY,
           branch: str = _course.COURSE_BRANCH) -> bool:
    """Whether ``path`` lacked the current cells (and, with ``write``, now has them)."""
    old = path.read_text(encoding="utf-8")
    relative = path.resolve().relative_to(course.resolve()).as_posix()
    new = dumps(with_colab_cells(json.loads(old), relative, repository, branch))
    if new == old:
        return False
    if write:
        tmp = path.with_name(f".{path.name}.colab-tmp")
        tmp.write_text(new, encoding="utf-8")
        tmp.replace(path)  # atomic: a reader sees the old notebook or the new one
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/colab_cells.py", description=__doc__.split("\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--check", action="store_true", help="exit 1 if a notebook lacks the current cells")
    action.add_argument("--write", action="store_true", help="insert or update the cells")
    parser.add_argument("--course", type=Path, default=COURSE, help="the course folder (default: this checkout)")
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks (default: COLAB_NOTEBOOKS)")
    args = parser.parse_args(argv)
    try:
        paths = args.notebooks or notebooks(args.course)
        stale = [path for path in paths if update(path, args.course, args.write)]
    except (OSError, ValueError) as error:
        print(f"{parser.prog}: {error}", file=sys.stderr)
        return 2
    for path in stale:
        print(f"{'updated' if args.write else 'out of date'}: {path}")
    if args.check and stale:
        print(f"{parser.prog}: {len(stale)} notebook(s) lack the current Colab cells; run {parser.prog} --write",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
