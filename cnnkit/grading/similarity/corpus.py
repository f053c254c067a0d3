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
import textwrap
from pathlib import Path

from ..findings import read_regular_file
from .normalize import Unit, code_lines, import_aliases, normalise, source_lines, strip_magics, top_level_functions, units_from_code

KIT, SOLUTION, STUDENT, TEMPLATE = "kit", "solution", "student", "template"


#: A notebook larger than this is not read (a class's hand-ins are a few hundred KB each).
MAX_NOTEBOOK_BYTES = 32 * 2**20


def code_cells(path: Path) -> list[tuple[int, str, dict]]:
    """``(index, source, nbgrader metadata)`` of each code cell of a notebook ([] when unreadable)."""
    data = read_regular_file(Path(path), MAX_NOTEBOOK_BYTES)
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
    aliases: dict[str, str] = {}
    for _, source, _ in code_cells(path):
        code = strip_magics(source)
        if "import" not in code:          # only a cell that imports can add an alias; parsing is most of the cost
            continue
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
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
        aliases, lines = import_aliases(tree), code_lines(code)
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


#: At most this many modules handed in beside the notebooks are read (sub-folders included).
MAX_MODULES = 100


def submission_units(folder: Path, notebooks: list[str], graded: list[str], student: str) -> list[Unit]:
    """The graded functions one student handed in (in ``folder``), each with the student's own helpers it calls.

    Definitions come from any code cell of the notebooks (the last one wins, as when the notebook runs)
    and from the Python modules handed in with them, in sub-folders too (``from mylib.ops import conv2d``).
    A graded name bound by an assignment stands for the functions its right-hand side names
    (``conv2d = _mine``, ``conv2d, _ = _mine, None``, ``conv2d = _Impl.conv2d``, ``conv2d = _factory()``).
    The helpers a graded function calls by name -- functions or methods the student defined, not graded
    ones -- are compared as part of it: a copy moved behind a one-line wrapper is still the copy (the red
    teams' evasions). A graded name bound in a way none of this follows is compared as all the student's
    own functions together.
    """
    wanted = set(graded)
    code = _Code()
    for path in _modules(Path(folder)):
        code.add(_read_module(path))
    for name in notebooks:
        for _, source, _ in code_cells(Path(folder) / name):
            code.add(strip_magics(source))
    units = []
    for name in graded:
        found = code.resolve(name)
        if found is None and name in code.bound:           # bound in a way not followed: everything the student wrote
            found = next(iter(code.own_functions(wanted)), None)
        if found is None:
            continue
        node, original = found
        helpers = [h for h in code.helpers(node, wanted) if h[1] != original]
        if name in code.bound and name not in code.defined:
            helpers += [h for h in code.own_functions(wanted) if h[1] != original and h not in helpers]
        combined = ast.parse(original).body[0]                   # a fresh copy: the helpers go inside it
        combined.name = name
        combined.body = [ast.parse(src).body[0] for _, src in helpers] + combined.body
        shown = "".join(src for _, src in helpers) + original
        units.append(normalise(combined, source=f"student {student}", name=name, kind=STUDENT, aliases=code.aliases,
                               original=shown))
    return units


def _modules(folder: Path) -> list[Path]:
    """The ``.py`` files under ``folder``, sub-folders included, never through a link, at most MAX_MODULES."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        found += [Path(root) / f for f in sorted(files) if f.endswith(".py")]
        if len(found) >= MAX_MODULES:
            break
    return found[:MAX_MODULES]


def _read_module(path: Path) -> str:
    data = read_regular_file(path, MAX_MODULE_BYTES)
    return data.decode("utf-8", "replace") if data is not None else ""


class _Code:
    """What one student's code defines: functions (top level, methods, by name), and what each name is bound to."""

    def __init__(self) -> None:
        self.latest: dict[str, tuple] = {}      # name -> ("def", node, source) or ("expr", value node)
        self.methods: dict[str, tuple[ast.AST, str]] = {}
        self.aliases: dict[str, str] = {}
        self.defined: set[str] = set()
        self.bound: set[str] = set()

    def add(self, code: str) -> None:
        if not code or ("def " not in code and "=" not in code and "import" not in code):
            return
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError):
            return
        self.aliases.update(import_aliases(tree))
        lines = code_lines(code)
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.latest[node.name] = ("def", node, source_lines(lines, node))
                self.defined.add(node.name)
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        source = textwrap.dedent(source_lines(lines, item))
                        self.methods[item.name] = (ast.parse(source).body[0], source)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    pairs = (zip(target.elts, node.value.elts) if isinstance(target, ast.Tuple)
                             and isinstance(node.value, ast.Tuple) and len(target.elts) == len(node.value.elts)
                             else [(t, node.value) for t in (target.elts if isinstance(target, ast.Tuple) else [target])])
                    for name_node, value in pairs:
                        if isinstance(name_node, ast.Name):
                            self.latest[name_node.id] = ("expr", value)
                            self.bound.add(name_node.id)
                            self.defined.discard(name_node.id)

    def resolve(self, name: str, calls: bool = True) -> tuple[ast.AST, str] | None:
        """The function ``name`` stands for, following assignments (the first one :meth:`references` finds)."""
        found = self.references(name, calls)
        return found[0] if found else None

    def references(self, name: str, calls: bool = True, seen: set[str] | None = None) -> list[tuple[ast.AST, str]]:
        """Every function ``name`` refers to: its ``def``, or the functions the expression bound to it names
        (``_IMPL = {"loop": _mine}`` names ``_mine``). With ``calls``, a function that expression *calls*
        counts too (``conv2d = _factory()``: right for a graded name, wrong for a data variable
        ``out = conv2d(x)``). Each name is visited once: a cell binding names to each other in a cycle
        made this exponential (the fourth red team's four-line hang)."""
        seen = set() if seen is None else seen
        if name in seen or len(seen) > 500:
            return []
        seen.add(name)
        entry = self.latest.get(name)
        if entry is None:
            return []
        if entry[0] == "def":
            return [(entry[1], entry[2])]
        called = {id(item.func) for item in ast.walk(entry[1]) if isinstance(item, ast.Call)}
        found: list[tuple[ast.AST, str]] = []
        for item in ast.walk(entry[1]):
            if not calls and id(item) in called:
                continue
            if isinstance(item, ast.Name) and item.id != name:
                found += [f for f in self.references(item.id, calls, seen) if f not in found]
            elif isinstance(item, ast.Attribute) and item.attr in self.methods and self.methods[item.attr] not in found:
                found.append(self.methods[item.attr])
        return found

    def helpers(self, node: ast.AST, graded: set[str]) -> list[tuple[str, str]]:
        """The student's own functions and methods ``node`` calls, and theirs in turn (not graded ones).

        Called by name, or named in a value a name is bound to (a table of implementations). A call
        through a subscript or a call's result (``_IMPL["loop"](x)``, ``globals()["f"](x)``) could reach
        any of them: then every function of the student's is a helper.
        """
        found: dict[str, str] = {}
        todo = [node]
        while todo and len(found) < 50:
            current = todo.pop()
            local = {n.id for n in ast.walk(current) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
            local |= {a.arg for a in ast.walk(current) if isinstance(a, ast.arg)}
            indirect = any(isinstance(item, ast.Call) and isinstance(item.func, (ast.Subscript, ast.Call))
                           for item in ast.walk(current))
            for item in ast.walk(current):
                name = item.id if isinstance(item, ast.Name) and isinstance(item.ctx, ast.Load) else \
                    item.attr if isinstance(item, ast.Attribute) and item.attr in self.methods else None
                if name is None or name in graded or name in found or name in local:
                    continue
                resolved = self.references(name, calls=False) or ([self.methods[name]] if name in self.methods else [])
                for index, (target, source) in enumerate(resolved):
                    if target is not node:
                        found[name if index == 0 else f"{name}[{index}]"] = source
                        todo.append(target)
            if indirect:
                for target, source in self.own_functions(graded):
                    if target is not node and source not in found.values():
                        found[f"_own_{len(found)}"] = source
                        todo.append(target)
        return list(found.items())

    def own_functions(self, graded: set[str]) -> list[tuple[ast.AST, str]]:
        """Every function and method the student defined under a name that is not graded."""
        functions = [(entry[1], entry[2]) for name, entry in self.latest.items()
                     if entry[0] == "def" and name not in graded]
        return functions + [m for name, m in self.methods.items() if name not in graded]


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return Path(path).name
