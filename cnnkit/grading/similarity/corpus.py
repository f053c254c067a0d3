"""The code a class's functions are compared with, read from the course and the kit.

* the graded functions: those the instructor's solution cells define (``solutions/<assignment>/``);
* the submissions: each student's definition of each graded function, from any code cell of their
  notebooks (the last definition wins, as when the notebook runs);
* the references: every function of the ``cnnkit`` package, every code cell of the lectures, and every
  function in the solution cells of the instructor's notebooks (all assignments);
* the boilerplate: every code cell of the released notebooks (the template the students start from).

Notebooks are read as JSON (nbformat's validation is slow to import and not needed to read code).
"""
from __future__ import annotations

import ast
import json
import os
import stat
from pathlib import Path

from .normalize import Unit, import_aliases, normalise, source_lines, strip_magics, top_level_functions, units_from_code

KIT, SOLUTION, STUDENT, TEMPLATE = "kit", "solution", "student", "template"


#: A notebook larger than this is not read (a class's hand-ins are a few hundred KB each).
MAX_NOTEBOOK_BYTES = 32 * 2**20


def read_regular_file(path: Path, limit: int = MAX_NOTEBOOK_BYTES) -> bytes | None:
    """The bytes of a regular file of at most ``limit`` bytes; None for a link, a pipe, a device, a larger file.

    Hand-ins are the students' files: a link in a submission folder must not show another student's
    notebook (or the instructor's) as this one's, nor a FIFO hang the grader.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        with os.fdopen(os.dup(fd), "rb") as fh:
            return fh.read(limit + 1)[:limit]
    except OSError:
        return None
    finally:
        os.close(fd)


def code_cells(path: Path) -> list[tuple[int, str, dict]]:
    """``(index, source, nbgrader metadata)`` of each code cell of a notebook ([] when unreadable)."""
    data = read_regular_file(Path(path))
    try:
        nb = json.loads(data.decode("utf-8")) if data is not None else {}
        cells = nb["cells"]
    except (ValueError, KeyError, TypeError):
        return []
    found = []
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell.get("metadata"), dict) else {}
        found.append((index, source, meta if isinstance(meta, dict) else {}))
    return found


def notebook_aliases(path: Path) -> dict[str, str]:
    """The imports of all code cells of a notebook (``np`` -> ``numpy``), for the cells that use them."""
    return _aliases(_parsed_cells(path))


def _parsed_cells(path: Path, wanted: set[str] | None = None) -> list[tuple[int, str, dict, ast.Module | None]]:
    """The code cells with their syntax trees, parsing only what can matter.

    With ``wanted``, a cell is parsed only when it imports something or mentions ``def`` and one of the
    wanted names (a class's notebooks have many cells; parsing is most of the cost).
    """
    found = []
    for index, source, meta in code_cells(path):
        code = strip_magics(source)
        tree = None
        if wanted is None or "import" in code or ("def " in code and any(name in code for name in wanted)):
            try:
                tree = ast.parse(code)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                tree = None
        found.append((index, code, meta, tree))
    return found


def _aliases(cells) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for _, _, _, tree in cells:
        if tree is not None:
            aliases.update(import_aliases(tree))
    return aliases


def graded_functions(solution_notebooks: list[Path]) -> list[str]:
    """Names of the functions the solution cells define, in notebook order."""
    names: list[str] = []
    for path in solution_notebooks:
        for _, source, meta in code_cells(path):
            if not meta.get("solution"):
                continue
            try:
                tree = ast.parse(source)
            except SyntaxError:
                continue
            names += [n.name for n in top_level_functions(tree) if n.name not in names]
    return names


def solution_units(source_root: Path, relative_to: Path) -> list[Unit]:
    """Every function of the solution cells of every notebook under ``source_root`` (the instructor's)."""
    units = []
    for path in sorted(Path(source_root).glob("*/*.ipynb")):
        label, aliases = _relative(path, relative_to), notebook_aliases(path)
        for _, source, meta in code_cells(path):
            if meta.get("solution"):
                units += units_from_code(source, source=label, kind=SOLUTION, aliases=aliases)
    return units


def template_units(release_notebooks: list[Path], relative_to: Path) -> list[Unit]:
    """Every code cell of the released notebooks, functions and loose code: the boilerplate."""
    units = []
    for path in release_notebooks:
        label, aliases = _relative(path, relative_to), notebook_aliases(path)
        for index, source, _ in code_cells(path):
            units += units_from_code(source, source=label, kind=TEMPLATE, loose_code=True, cell=f"cell {index}",
                                     aliases=aliases)
    return units


def kit_units(package_dir: Path, lecture_dirs: list[Path]) -> list[Unit]:
    """Every function and method of the package's modules, and every code cell of the lectures."""
    units = []
    package_dir = Path(package_dir)
    for path in sorted(package_dir.rglob("*.py")):
        try:
            code = path.read_text(encoding="utf-8")
            tree = ast.parse(code)
        except (OSError, SyntaxError, ValueError):
            continue
        label = _relative(path, package_dir.parent)
        aliases, lines = import_aliases(tree), code.splitlines(keepends=True)
        for node in top_level_functions(tree):
            units.append(normalise(node, source=label, name=node.name, kind=KIT, aliases=aliases,
                                   original=source_lines(lines, node)))
    seen = set()
    for folder in lecture_dirs:
        for path in sorted(Path(folder).glob("*.ipynb")):
            if path.name in seen:
                continue
            seen.add(path.name)
            label, aliases = f"lectures/{path.name}", notebook_aliases(path)
            for index, source, _ in code_cells(path):
                units += units_from_code(source, source=label, kind=KIT, loose_code=True, cell=f"cell {index}",
                                         aliases=aliases)
    return units


#: A module handed in beside the notebooks larger than this is not read.
MAX_MODULE_BYTES = 2 * 2**20


def submission_units(folder: Path, notebooks: list[str], graded: list[str], student: str) -> list[Unit]:
    """The graded functions one student handed in (in ``folder``), each with the student's own helpers it calls.

    Definitions come from any code cell of the notebooks (the last one wins, as when the notebook runs)
    and from Python modules handed in beside them (``from mylib import conv2d``). A graded name bound to
    another function (``conv2d = _my_conv``) is that function. The helpers a graded function calls by
    name -- functions the student defined, not graded ones -- are compared as part of it, so a copy
    moved into ``_work(...)`` behind a one-line wrapper is still the copy (the red team's evasion).
    """
    wanted = set(graded)
    latest: dict[str, tuple[ast.FunctionDef | str, str]] = {}   # name -> (its def, or the name it is bound to; source)
    aliases: dict[str, str] = {}
    pieces = [_read_module(path) for path in sorted(Path(folder).glob("*.py"))]
    for name in notebooks:
        pieces += [strip_magics(code) for _, code, _ in code_cells(Path(folder) / name)]
    for code in pieces:
        if not code or ("def " not in code and "=" not in code and "import" not in code):
            continue
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError):
            continue
        aliases.update(import_aliases(tree))
        lines = code.splitlines(keepends=True)
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                latest[node.name] = (node, source_lines(lines, node))
            elif (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                  and isinstance(node.value, ast.Name)):
                latest[node.targets[0].id] = (node.value.id, "")
    units = []
    for name in graded:
        found = _resolve(name, latest)
        if found is None:
            continue
        node, original = found
        helpers = _helpers(node, latest, wanted)
        combined = ast.parse(original).body[0]                   # a fresh copy: the helpers go inside it
        combined.name = name
        combined.body = [ast.parse(src).body[0] for _, src in helpers] + combined.body
        shown = "".join(src for _, src in helpers) + original
        units.append(normalise(combined, source=f"student {student}", name=name, kind=STUDENT, aliases=aliases,
                               original=shown))
    return units


def _read_module(path: Path) -> str:
    data = read_regular_file(path, MAX_MODULE_BYTES)
    return data.decode("utf-8", "replace") if data is not None else ""


def _resolve(name: str, latest: dict) -> tuple[ast.FunctionDef, str] | None:
    """The definition ``name`` stands for, following ``name = other`` bindings (a few steps at most)."""
    seen = set()
    while name in latest and name not in seen:
        seen.add(name)
        target, source = latest[name]
        if not isinstance(target, str):
            return target, source
        name = target
    return None


def _helpers(node: ast.AST, latest: dict, graded: set[str]) -> list[tuple[str, str]]:
    """The student's own functions ``node`` calls by name, and theirs in turn (not the graded ones), in order found."""
    found: dict[str, str] = {}
    todo = [node]
    while todo and len(found) < 50:
        current = todo.pop()
        for item in ast.walk(current):
            if isinstance(item, ast.Name) and isinstance(item.ctx, ast.Load) and item.id not in graded \
                    and item.id not in found:
                resolved = _resolve(item.id, latest)
                if resolved is not None and resolved[0] is not node:
                    found[item.id] = resolved[1]
                    todo.append(resolved[0])
    return list(found.items())


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return Path(path).name
