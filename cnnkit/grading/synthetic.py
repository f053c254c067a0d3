"""A tiny synthetic nbgrader course: one fast notebook and a class of students, good and bad.

Used by the tests and the benchmark of :mod:`cnnkit.grading`, and handy for an instructor
who wants to try ``python -m cnnkit grade`` before the real class submits: every kind of
bad submission the grader must survive (syntax error, infinite loop, crashed kernel, huge
output, a memory hog, edited or deleted tests, missing or renamed notebook, extra file, late)
is here.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path

ASSIGNMENT = "ps1"
#: Appears only inside the hidden tests: feedback must never contain it.
HIDDEN_MARKER = "HIDDEN-7f3a9c"
#: Points of the autograded cells (test_add 2, test_mul 3) and the manually graded answer (1).
AUTO_POINTS = 5.0
MAX_POINTS = 6.0
DUEDATE = "2026-01-10 17:00:00 UTC"
ON_TIME = "2026-01-10 12:00:00.000000 UTC"
LATE = "2026-01-11 09:30:00.000000 UTC"

_CONFIG = '''c = get_config()  # noqa: F821
c.CourseDirectory.root = "."
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.course_id = "synthetic"
c.Execute.timeout = 30
c.OverwriteCells.add_missing_cells = True
c.ClearOutput.enabled = True
'''

ADD_SOLUTION = "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION"
MUL_SOLUTION = "def mul(a, b):\n    ### BEGIN SOLUTION\n    return a * b\n    ### END SOLUTION"
TEST_ADD = (
    "assert add(1, 2) == 3, 'add(1, 2) should be 3'\n"
    "### BEGIN HIDDEN TESTS\n"
    f"assert add(-4, 4) == 0, '{HIDDEN_MARKER}: add(-4, 4)'\n"
    "### END HIDDEN TESTS"
)
TEST_MUL = (
    "assert mul(2, 3) == 6, 'mul(2, 3) should be 6'\n"
    "### BEGIN HIDDEN TESTS\n"
    f"assert mul(-2, 5) == -10, '{HIDDEN_MARKER}: mul(-2, 5)'\n"
    "### END HIDDEN TESTS"
)
# The kit's switch at work: long "training" shrinks while nbgrader grades.
TRAINING = (
    "from cnnkit.config import is_grading\n"
    "steps = 1_000 if is_grading() else 300_000_000  # a long training run, shrunk at grading time\n"
    "total = sum(range(steps))"
)


def _meta(grade_id: str, *, grade: bool = False, solution: bool = False, locked: bool = False,
          points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def source_notebook():
    """The instructor's notebook: two solution cells, their tests (visible + hidden), one free-text answer."""
    import nbformat.v4 as v4

    cells = [
        v4.new_markdown_cell("# Problem set 1\nImplement `add` and `mul`. 6 points: 5 autograded, 1 by hand.",
                             metadata=_meta("intro", locked=True)),
        v4.new_code_cell("import os", metadata={}),
        v4.new_code_cell(TRAINING, metadata={}),
        v4.new_code_cell(ADD_SOLUTION, metadata=_meta("add", solution=True)),
        v4.new_code_cell(TEST_ADD, metadata=_meta("test_add", grade=True, locked=True, points=2)),
        v4.new_code_cell(MUL_SOLUTION, metadata=_meta("mul", solution=True)),
        v4.new_code_cell(TEST_MUL, metadata=_meta("test_mul", grade=True, locked=True, points=3)),
        v4.new_markdown_cell("Explain in one sentence why `add` is commutative.",
                             metadata=_meta("explain_q", locked=True)),
        v4.new_markdown_cell("YOUR ANSWER HERE", metadata=_meta("explain", grade=True, solution=True, points=1)),
    ]
    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["cnnkit"] = {"graded": {"functions": ["add", "mul"]}}  # what the tests may take from the kernel
    return nb


def make_course(root: str | os.PathLike, *, assignment: str = ASSIGNMENT) -> Path:
    """Write the source notebook and config under ``root``, then run nbgrader's generate_assignment.

    The assignment gets a due date (:data:`DUEDATE`) so late submissions can be told apart.
    Returns the course folder.
    """
    import nbformat
    from nbgrader.api import Gradebook
    from nbgrader.converters import GenerateAssignment

    from .nbgrader_glue import load_config, make_coursedir, run_converter

    root = Path(root).resolve()
    (root / "solutions" / assignment).mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text(_CONFIG)
    nbformat.write(source_notebook(), root / "solutions" / assignment / f"{assignment}.ipynb")
    cfg = load_config(root)
    coursedir = make_coursedir(cfg, assignment_id=assignment)
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        gb.update_or_create_assignment(assignment, duedate=DUEDATE)
    result = run_converter(GenerateAssignment, coursedir, cfg)
    if not result["success"]:
        raise RuntimeError(f"nbgrader generate_assignment failed:\n{result.get('log', '')}")
    return root


def _cell(nb, grade_id: str):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise KeyError(grade_id)


#: student id -> (kind, what its submission should get from the grader)
CLASS = {
    "s01": "full marks", "s02": "untouched release", "s03": "mul wrong", "s04": "fails only hidden tests",
    "s05": "syntax error", "s06": "infinite loop", "s07": "kernel crash (os._exit)", "s08": "huge output",
    "s09": "edited test cell", "s10": "deleted test cell", "s11": "missing notebook", "s12": "renamed notebook",
    "s13": "extra file", "s14": "late", "s15": "full marks", "s16": "add wrong", "s17": "untouched release",
    "s18": "full marks", "s19": "fails only hidden tests", "s20": "memory hog",
}


#: The right answers, by grade id of the answer cell.
_GOOD = {"add": "def add(a, b):\n    return a + b", "mul": "def mul(a, b):\n    return a * b"}
#: kind -> the answers it gets wrong (every other answer is right).
_WRONG = {
    "mul wrong": {"mul": "def mul(a, b):\n    return a * b + 1"},
    "add wrong": {"add": "def add(a, b):\n    return a - b"},
    "fails only hidden tests": {"add": "def add(a, b):\n    return abs(a) + b"},
    "syntax error": {"add": "def add(a, b) return a + b"},
    "infinite loop": {"add": "while True:\n    pass"},
    "kernel crash (os._exit)": {"mul": "import os\nos._exit(1)"},
    # a MemoryError, in the sandbox (4 GiB) and without one (1 TiB > any RAM)
    "memory hog": {"add": _GOOD["add"] + "\nwaste = bytearray(2**40)  # 1 TiB"},
    "huge output": {"add": _GOOD["add"] + "\nprint(('noise ' * 10 + '\\n') * 100_000)  # 6 MB of output"},
}


def _student_notebook(release, kind: str):
    nb = copy.deepcopy(release)
    if kind == "untouched release":
        return nb
    for grade_id, source in {**_GOOD, **_WRONG.get(kind, {})}.items():
        _cell(nb, grade_id).source = source
    _cell(nb, "explain").source = "Because addition of numbers is commutative."
    if kind == "edited test cell":
        _cell(nb, "add").source = "def add(a, b):\n    return 0"
        _cell(nb, "test_add").source = "pass  # tests? what tests?"
    elif kind == "deleted test cell":
        nb.cells.remove(_cell(nb, "test_mul"))
    return nb


def add_students(root: str | os.PathLike, students: dict[str, str] | None = None, *,
                 assignment: str = ASSIGNMENT) -> list[str]:
    """Write ``submitted/<student>/<assignment>/`` for each student of ``students`` (default :data:`CLASS`).

    Each submission is the release edited as its kind says, with a ``timestamp.txt``.
    Returns the student ids.
    """
    import nbformat

    root = Path(root)
    students = CLASS if students is None else students
    release = nbformat.read(root / "assignments" / assignment / f"{assignment}.ipynb", as_version=4)
    for student, kind in students.items():
        folder = root / "submitted" / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "timestamp.txt").write_text(LATE if kind == "late" else ON_TIME)
        if kind == "missing notebook":
            (folder / "notes.txt").write_text("I could not finish, sorry.")
            continue
        name = f"{assignment}-Copy1.ipynb" if kind == "renamed notebook" else f"{assignment}.ipynb"
        nbformat.write(_student_notebook(release, kind), folder / name)
        if kind == "extra file":
            (folder / "data.csv").write_text("x,y\n1,2\n")
    return list(students)


def expected_auto_score(kind: str) -> float:
    """What each kind should score on the autograded cells (the manual answer is not graded here)."""
    return {
        "full marks": 5.0, "untouched release": 0.0, "mul wrong": 2.0, "add wrong": 3.0,
        "fails only hidden tests": 3.0, "syntax error": 3.0, "infinite loop": 3.0,
        "kernel crash (os._exit)": 0.0, "huge output": 5.0, "edited test cell": 3.0,
        "deleted test cell": 5.0, "missing notebook": 0.0, "renamed notebook": 0.0,
        "extra file": 5.0, "late": 5.0, "memory hog": 5.0,
    }[kind]

