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
from pathlib import Path

from .normalize import Unit, import_aliases, normalise, source_lines, strip_magics, top_level_functions, units_from_code

KIT, SOLUTION, STUDENT, TEMPLATE = "kit", "solution", "student", "template"


def code_cells(path: Path) -> list[tuple[int, str, dict]]:
    """``(index, source, nbgrader metadata)`` of each code cell of a notebook ([] when unreadable)."""
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
        cells = nb["cells"]
    except (OSError, ValueError, KeyError, TypeError):
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


def submission_units(folder: Path, notebooks: list[str], graded: list[str], student: str) -> list[Unit]:
    """The graded functions one student handed in (in ``folder``), from any code cell of their notebooks."""
    found: dict[str, Unit] = {}
    wanted = set(graded)
    for name in notebooks:
        cells = _parsed_cells(Path(folder) / name, wanted)
        aliases = _aliases(cells)
        for _, code, _, tree in cells:
            if tree is None or "def " not in code:
                continue
            for unit in units_from_code(code, source=f"student {student}", kind=STUDENT, names=wanted,
                                        aliases=aliases, tree=tree):
                found[unit.name] = unit
    return [found[name] for name in graded if name in found]


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return Path(path).name
