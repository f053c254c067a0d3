"""The similarity cases as a class of a1_convolution hand-ins (used by tests/test_similarity.py and the benchmark).

``honest/<function>/*.py``: independent correct solutions, each written its own way; none may be flagged.
``copied_from_kit/<function>__<from>.py``: the kit's code (or the instructor's solution) adapted to the
assignment, names and comments changed; each must be flagged. ``shared/<function>__<student>.py``: two
students handing in one solution with cosmetic changes; each must be flagged against the other.

``heldout/`` holds a second set in the same layout, written afterwards by someone who had not seen the
detector nor these cases (kit copies with helpers inlined, solution copies with tuple assignments split
and temporaries added, honest "natural" loops written the way the lecture teaches): it measures how the
settings chosen on the first set do on code they were not tuned on (tests/test_similarity.py,
benchmarks/bench_similarity.py, README).
"""
from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path

CASES = Path(__file__).resolve().parent
HELDOUT = CASES / "heldout"
ASSIGNMENT = "a1_convolution"


@dataclass(frozen=True)
class Case:
    kind: str        # honest, copied_from_kit, shared
    function: str
    name: str
    source: str


def load_cases(folder: Path = CASES) -> list[Case]:
    """Every case file of ``folder``, sorted: its kind (sub-folder), the function it defines, its name and code."""
    cases = []
    for path in sorted((folder / "honest").glob("*/*.py")):
        cases.append(Case("honest", path.parent.name, path.stem, path.read_text()))
    for kind in ("copied_from_kit", "shared"):
        for path in sorted((folder / kind).glob("*.py")):
            function, _, name = path.stem.partition("__")
            cases.append(Case(kind, function, name, path.read_text()))
    return cases


def class_of_cases(cases: list[Case]) -> dict[str, dict[str, str]]:
    """Hand-ins by student: ``honest_<i>`` holds the i-th honest solution of every function, each copy is
    one student of its own, and the two ``shared_<name>`` students hold their shared functions."""
    students: dict[str, dict[str, str]] = {}
    by_function: dict[str, list[Case]] = {}
    for case in cases:
        if case.kind == "honest":
            by_function.setdefault(case.function, []).append(case)
        elif case.kind == "copied_from_kit":
            students[f"kitcopy_{case.function}_{case.name}"] = {case.function: case.source}
        else:
            students.setdefault(f"shared_{case.name}", {})[case.function] = case.source
    for function, honest in by_function.items():
        for i, case in enumerate(honest, 1):
            students.setdefault(f"honest_{i}", {})[function] = case.source
    return students


def write_course(course: Path, repo: Path, students: dict[str, dict[str, str]]) -> Path:
    """A course folder: the repo's a1 solution and release, and one hand-in per student (the release with
    the student's functions in their cells)."""
    for folder in ("solutions", "assignments"):
        dest = course / folder / ASSIGNMENT
        dest.mkdir(parents=True, exist_ok=True)
        (dest / f"{ASSIGNMENT}.ipynb").write_bytes((repo / folder / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes())
    release = json.loads((repo / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())
    for student, functions in students.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{ASSIGNMENT}.ipynb").write_text(json.dumps(handed_in(release, functions), indent=1))
    return course


def handed_in(release: dict, functions: dict[str, str]) -> dict:
    """The release notebook with each of ``functions`` (name -> source) put in place of the template's."""
    nb = json.loads(json.dumps(release))
    for cell in nb["cells"]:
        if cell["cell_type"] != "code" or not cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        tree = ast.parse(source)
        defined = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
        if not any(n.name in functions for n in defined):
            continue
        lines = source.splitlines(keepends=True)
        parts = [functions.get(n.name) or "".join(lines[n.lineno - 1:n.end_lineno]) for n in defined]
        cell["source"] = "\n\n".join(p.strip("\n") + "\n" for p in parts)
    return nb
