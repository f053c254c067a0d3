"""The instructor workflow of the graded assignments, end to end, in a temporary course on the CPU.

One course for the whole module: copy ``nbgrader_config.py`` and ``solutions/``, run
``nbgrader generate_assignment`` for every assignment, hand in submissions for a class of
students (correct ones, untouched ones and every kind of broken one on a1), autograde them all,
generate feedback, enter the hand-graded points for the correct students, export ``grades.csv``
and check what each student got, and that nobody is lost.
"""
from __future__ import annotations

import csv
import fcntl
import os
import pickle
import re
import shutil
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from nbhelpers import SOLUTION_MARKERS, nbg, regions, solved

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

ASSIGNMENTS = ["a1_convolution", "a2_pooling_normalization", "a3_cnn_from_scratch", "a4_resnet_gpu"]

#: Per-cell limit (s) for everyone but the infinite-loop student; generous for a loaded 2-core machine.
TIMEOUT = 180
#: The infinite-loop student is graded with a short per-cell limit, so the run stays short.
LOOP_TIMEOUT = 15





def workflow(test):
    """A test of the shared course: slow, and kept on the one xdist worker that built the course."""
    return pytest.mark.slow(pytest.mark.xdist_group("nbgrader_course")(test))


# ----------------------------------------------------------------------------------------- helpers
def cell_by_id(nb, grade_id):
    for cell in nb.cells:
        if nbg(cell).get("grade_id") == grade_id:
            return cell
    raise KeyError(grade_id)


def replace_in_cell(nb, grade_id, old, new):
    cell = cell_by_id(nb, grade_id)
    assert old in cell.source, (grade_id, old)
    cell.source = cell.source.replace(old, new, 1)


def insert_code_after(nb, grade_id, code):
    index = next(i for i, c in enumerate(nb.cells) if nbg(c).get("grade_id") == grade_id)
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(code))


# ----------------------------------------------------------------------------------------- the class
def bad_a1_submissions(source_nb, release_nb) -> dict[str, object]:
    """Every kind of broken a1 hand-in: student id -> notebook (or a callable that writes the folder)."""
    subs: dict[str, object] = {}

    nb = solved(source_nb, release_nb)
    replace_in_cell(nb, "conv2d", "def conv2d(x, w, b=None, stride=1, padding=0):",
                    "def conv2d(x, w, b=None, stride=1, padding=0)  # forgot the colon")
    subs["syntax_error"] = nb

    nb = solved(source_nb, release_nb)
    cell_by_id(nb, "conv2d").source += "\n\nwhile True:  # 'just one more iteration'\n    pass\n"
    subs["infinite_loop"] = nb

    nb = solved(source_nb, release_nb)
    cell_by_id(nb, "conv2d").source = (
        "from cnnkit.ops import conv2d as fast_conv  # the kit's reference, under another name\n\n\n"
        "def conv2d(x, w, b=None, stride=1, padding=0):\n"
        "    return fast_conv(x, w, b, stride=stride, padding=padding)\n")
    subs["calls_reference"] = nb

    nb = solved(source_nb, release_nb)
    insert_code_after(nb, "test_convolve2d", "import os\nos._exit(1)  # the kernel dies here")
    subs["kernel_crash"] = nb

    nb = solved(source_nb, release_nb)
    insert_code_after(nb, "test_correlate2d", "print('debugging output\\n' * 300_000)")
    subs["huge_output"] = nb

    nb = solved(source_nb, release_nb)
    replace_in_cell(nb, "sizes", "return span // stride + 1", "return span // stride  # off by one")
    cell_by_id(nb, "test_conv_output_size").source = "# the test was in my way\npass"
    subs["edited_tests"] = nb

    nb = solved(source_nb, release_nb)
    nb.cells = [c for c in nb.cells if nbg(c).get("grade_id") != "test_conv_param_count"]
    subs["deleted_tests"] = nb

    def missing(folder: Path) -> None:
        (folder / "I_will_send_it_later.txt").write_text("the notebook is on my other laptop\n")

    subs["missing_notebook"] = missing

    def renamed(folder: Path) -> None:
        nbformat.write(solved(source_nb, release_nb), folder / "a1_convolution (1).ipynb")

    subs["renamed_notebook"] = renamed

    def extra_file(folder: Path) -> None:
        nbformat.write(solved(source_nb, release_nb), folder / "a1_convolution.ipynb")
        (folder / "scratch.py").write_text("print('my experiments')\n")

    subs["extra_file"] = extra_file
    return subs


@dataclass
class Course:
    root: Path
    results: dict = field(default_factory=dict)          # (student, assignment) -> autograde result dict
    feedback: dict = field(default_factory=dict)         # assignment -> generate_feedback result dict
    grades: list = field(default_factory=list)           # rows of grades.csv
    max_scores: dict = field(default_factory=dict)       # assignment -> max score
    manual_points: dict = field(default_factory=dict)    # assignment -> points graded by hand
    cell_scores: dict = field(default_factory=dict)      # (student, assignment) -> {grade_id: score}
    students: list = field(default_factory=list)
    seconds: dict = field(default_factory=dict)          # (student, assignment) -> autograde wall time

    def grade(self, student, assignment) -> float:
        rows = [r for r in self.grades if r["student_id"] == student and r["assignment"] == assignment]
        assert len(rows) == 1, (student, assignment, rows)
        return float(rows[0]["score"])

    def autograded(self, student, assignment) -> Path:
        return self.root / "autograded" / student / assignment / f"{assignment}.ipynb"


def _run(cmd, cwd, env):
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Course:
    """The graded course, built once per test session even when several xdist workers ask for it.

    The tests carry ``xdist_group`` so ``--dist loadgroup`` keeps them on one worker; in case a
    worker gets some of them anyway (pytest-xdist 3.8 with pytest 9 ignores the groups), the
    first worker builds the course under a file lock and the others load its pickled result.
    """
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    with open(shared / "nbgrader_course.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = shared / "nbgrader_course.pickle"
        if done.exists():
            return pickle.loads(done.read_bytes())
        course = build_course(shared / "nbgrader_course")
        done.write_bytes(pickle.dumps(course))
        return course


def build_course(root: Path) -> Course:
    """Release, hand in, autograde, give feedback, hand-grade and export a whole class in ``root``."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    root.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(REPO / "solutions", root / "solutions")
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               CNNKIT_SIZE="small", MPLBACKEND="Agg")
    env.pop("NBGRADER_EXECUTION", None)

    # 1. release, exactly as an instructor does it (the CLI; it shells out to alembic for the gradebook)
    for name in ASSIGNMENTS:
        _run([str(BIN / "nbgrader"), "generate_assignment", name, "--force"], root, env)

    # 2. the class hands in
    c = Course(root=root)
    submitted = root / "submitted"
    plan: dict[tuple[str, str], object] = {}
    for name in ASSIGNMENTS:
        source_nb = nbformat.read(root / "solutions" / name / f"{name}.ipynb", as_version=4)
        release_nb = nbformat.read(root / "assignments" / name / f"{name}.ipynb", as_version=4)
        plan[("solution", name)] = solved(source_nb, release_nb)
        plan[("untouched", name)] = release_nb
        if name == "a1_convolution":
            for student, sub in bad_a1_submissions(source_nb, release_nb).items():
                plan[(student, name)] = sub
    for (student, name), sub in plan.items():
        folder = submitted / student / name
        folder.mkdir(parents=True)
        (folder / "timestamp.txt").write_text("2026-11-20 12:00:00.000000 UTC")
        if callable(sub):
            sub(folder)
        else:
            nbformat.write(sub, folder / f"{name}.ipynb")
    c.students = sorted({s for s, _ in plan})
    # the class roster: a student whose hand-in never reaches grading still gets a row
    (root / "roster.csv").write_text("id,first_name,last_name\n" + "".join(f"{s},{s},Test\n" for s in c.students))
    _run([str(BIN / "nbgrader"), "db", "student", "import", "roster.csv"], root, env)

    # 3. autograde, feedback, hand grading, export: the in-process API, with the course's own config
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    def api(timeout):
        config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
        config.merge(Config({"CourseDirectory": {"root": str(root)}, "Execute": {"timeout": timeout}}))
        return NbGraderAPI(CourseDirectory(config=config), config=config)

    normal, short = api(TIMEOUT), api(LOOP_TIMEOUT)
    saved_env = dict(os.environ)
    os.environ.update(env)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        for (student, name) in plan:
            grader = short if student == "infinite_loop" else normal
            start = time.perf_counter()
            c.results[(student, name)] = grader.autograde(name, student)
            c.seconds[(student, name)] = time.perf_counter() - start
        for name in ASSIGNMENTS:
            c.feedback[name] = normal.generate_feedback(name)
        db_url = f"sqlite:///{root / 'gradebook.db'}"
        with Gradebook(db_url, course_id="cnnkit") as gb:
            for name in ASSIGNMENTS:
                assignment = gb.find_assignment(name)
                c.max_scores[name] = assignment.max_score
                c.manual_points[name] = sum(
                    g.max_score for nb in assignment.notebooks for g in nb.grade_cells if g.cell_type == "markdown")
                # The instructor grades the free-text answers of the correct student in the formgrader.
                sub = gb.find_submission(name, "solution")
                for nb in sub.notebooks:
                    for grade in nb.grades:
                        if grade.cell.cell_type == "markdown":
                            grade.manual_score = grade.max_score
                gb.db.commit()
            for (student, name) in plan:
                try:
                    sub_nb = gb.find_submission_notebook(name, name, student)
                except Exception:  # noqa: BLE001 - a submission that never got that far
                    continue
                c.cell_scores[(student, name)] = {g.name: g.score for g in sub_nb.grades}
    finally:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    _run([str(BIN / "nbgrader"), "export", "--to", "grades.csv"], root, env)
    with open(root / "grades.csv", newline="") as fh:
        c.grades = list(csv.DictReader(fh))
    print("autograde seconds:", {f"{s}/{a}": round(t, 1) for (s, a), t in c.seconds.items()})
    return c


# ----------------------------------------------------------------------------------------- fast checks
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_source_and_release_are_well_formed(name):
    """Without running nbgrader: metadata, points, no outputs, the first cell, ids."""
    source_path = REPO / "solutions" / name / f"{name}.ipynb"
    source = nbformat.read(source_path, as_version=4)
    release = nbformat.read(REPO / "assignments" / name / f"{name}.ipynb", as_version=4)
    assert sorted(p.name for p in source_path.parent.iterdir()) == [source_path.name], \
        "only the notebook may live in solutions/NAME/ (any other file is copied into the release)"
    ids = [nbg(c)["grade_id"] for c in source.cells if nbg(c)]
    assert len(ids) == len(set(ids)), "grade ids must be unique"
    first_code = next(c for c in source.cells  # after the Colab install cell of tools/colab_cells.py, if any
                      if c.cell_type == "code" and "colab" not in c.metadata.get("cnnkit", {}))
    assert "import cnnkit" in first_code.source and "SIZE = cnnkit.config.run_size()" in first_code.source
    assert re.search(r"default_rng\(\d+\)|manual_seed\(\d+\)", first_code.source), "the first cell sets a seed"
    for nb in (source, release):
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, "notebooks are committed without outputs"
    for cell in source.cells:
        meta = nbg(cell)
        if meta.get("solution") and cell.cell_type == "code":
            assert not meta["grade"] and not meta["locked"]
            assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
        if meta.get("grade") and cell.cell_type == "code":
            assert meta["locked"] and meta["points"] > 0
            visible, _, hidden = cell.source.partition("### BEGIN HIDDEN TESTS")
            assert visible.strip() and "### END HIDDEN TESTS" in hidden, f"{meta['grade_id']}: visible then hidden tests"
            assert "integrity" in hidden or meta["grade_id"] in {"test_network_gradients", "test_training",
                                                                 "test_degradation"}, \
                f"{meta['grade_id']}: hidden tests must check the student did not call the reference"
        if meta.get("grade") and cell.cell_type == "markdown":
            assert meta["solution"] and meta["points"] > 0, "free-text answers are graded by hand"
    auto = sum(nbg(c)["points"] for c in source.cells if nbg(c).get("grade") and c.cell_type == "code")
    manual = sum(nbg(c)["points"] for c in source.cells if nbg(c).get("grade") and c.cell_type == "markdown")
    assert f"## Points: {auto + manual} in total ({auto} auto-graded, {manual} graded by hand)" in source.cells[0].source
    assert "Goals" in source.cells[0].source


#: Students who hand in the kit's reference under their own function's name, per graded test cell.
CHEATS = {
    ("a1_convolution", "test_conv2d_basic"): """
        import numpy as np, cnnkit
        from cnnkit.checks import check
        from cnnkit.ops import filters, correlate2d
        from cnnkit.ops import conv2d as fast_conv
        rng = np.random.default_rng(0)
        def conv2d(x, w, b=None, stride=1, padding=0):
            return fast_conv(x, w, b, stride=stride, padding=padding)
    """,
    ("a2_pooling_normalization", "test_pool_max"): """
        import numpy as np, cnnkit
        from cnnkit import ops
        from cnnkit.checks import check
        rng = np.random.default_rng(0)
        def pool2d(x, kernel_size, stride, kind):
            return ops.max_pool2d(x, kernel_size, stride)
    """,
    ("a2_pooling_normalization", "test_receptive_field"): """
        import numpy as np
        from cnnkit.arith import receptive_field as rf_table
        from cnnkit.checks import check
        def receptive_field(layers):
            return [(r.rf, r.jump) for r in rf_table([("conv", k, s, 0) for k, s in layers])]
    """,
    ("a3_cnn_from_scratch", "test_conv2d_backward"): """
        import numpy as np, cnnkit
        from cnnkit import ops
        from cnnkit.ops.gradcheck import numeric_gradient, rel_error
        from cnnkit.checks import check
        rng = np.random.default_rng(0)
        def conv2d_backward(dout, x, w, stride=1, padding=0):
            return ops.conv2d_backward(dout, x, w, stride, padding)
    """,
    ("a4_resnet_gpu", "test_residual_block"): """
        import numpy as np, torch, cnnkit
        from torch import nn
        import torch.nn.functional as F
        from cnnkit.models.blocks import BasicBlock
        class ResidualBlock(BasicBlock):
            def __init__(self, in_channels, out_channels, stride=1, residual=True):
                super().__init__(in_channels, out_channels, stride, shortcut="A", residual=residual)
    """,
}


@pytest.mark.parametrize("name, grade_id", sorted(CHEATS))
def test_hidden_tests_catch_a_call_to_the_reference(name, grade_id):
    """The visible checks pass for a function that calls the reference; the hidden ones refuse it."""
    from cnnkit.integrity import IntegrityError

    source = nbformat.read(REPO / "solutions" / name / f"{name}.ipynb", as_version=4)
    cell = cell_by_id(source, grade_id).source
    visible = cell.partition("### BEGIN HIDDEN TESTS")[0]
    namespace: dict = {}
    exec(textwrap.dedent(CHEATS[(name, grade_id)]), namespace)  # noqa: S102 - test code we wrote
    exec(visible, namespace)  # noqa: S102 - the visible checks alone are fooled
    with pytest.raises(IntegrityError):
        exec(cell, namespace)  # noqa: S102 - the whole cell, hidden tests included, is not


# ----------------------------------------------------------------------------------------- release
@workflow
def test_committed_release_is_what_nbgrader_generates(course):
    for name in ASSIGNMENTS:
        fresh = nbformat.read(course.root / "assignments" / name / f"{name}.ipynb", as_version=4)
        committed = nbformat.read(REPO / "assignments" / name / f"{name}.ipynb", as_version=4)
        assert len(fresh.cells) == len(committed.cells), f"{name}: regenerate with `nbgrader generate_assignment {name} --force`"
        for i, (a, b) in enumerate(zip(fresh.cells, committed.cells)):
            assert (a.cell_type, a.source, nbg(a)) == (b.cell_type, b.source, nbg(b)), (
                f"{name} cell {i} differs from a fresh release: run `nbgrader generate_assignment {name} --force`")
        files = sorted(p.name for p in (REPO / "assignments" / name).iterdir())
        assert files == [f"{name}.ipynb"], f"{name}: the release must hold only the notebook, found {files}"


@workflow
def test_release_hides_solutions_and_hidden_tests(course):
    for name in ASSIGNMENTS:
        source = nbformat.read(REPO / "solutions" / name / f"{name}.ipynb", as_version=4)
        release = nbformat.read(REPO / "assignments" / name / f"{name}.ipynb", as_version=4)
        released_text = "\n".join(c.source for c in release.cells)
        for marker in SOLUTION_MARKERS:
            assert marker not in released_text
        # text that exists only inside solution / hidden regions (or model answers) must be gone
        public, secret = [], []
        for cell in source.cells:
            meta = nbg(cell)
            if cell.cell_type == "markdown" and meta.get("solution"):
                secret += cell.source.splitlines()
                continue
            lines = cell.source.splitlines()
            hidden = regions(cell.source, "### BEGIN SOLUTION", "### END SOLUTION") + regions(
                cell.source, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
            secret += hidden
            public += [line for line in lines if line not in hidden]
        public_set = {line.strip() for line in public}
        secret = {line.strip() for line in secret if len(line.strip()) > 8} - public_set
        assert secret, f"{name}: no solution text found in the source, is it an nbgrader notebook?"
        released_lines = {line.strip() for line in released_text.splitlines()}
        leaked = [line for line in secret if line in released_lines]
        assert not leaked, f"{name}: the release shows solution/hidden-test lines: {leaked[:5]}"
        # every graded test cell is locked and carries points; every stated total matches
        tests = [c for c in source.cells if nbg(c).get("grade") and c.cell_type == "code"]
        assert tests and all(nbg(c)["locked"] and nbg(c)["points"] > 0 for c in tests)
        assert all("### BEGIN HIDDEN TESTS" in c.source for c in tests), f"{name}: each test cell has hidden tests"
        total = sum(nbg(c)["points"] for c in source.cells if nbg(c).get("grade"))
        assert re.search(rf"## Points: {total} in total", source.cells[0].source), f"{name}: header total != {total}"
        assert course.max_scores[name] == total


# ----------------------------------------------------------------------------------------- grades
@workflow
def test_every_student_and_assignment_has_a_row(course):
    pairs = [(r["student_id"], r["assignment"]) for r in course.grades]
    assert len(pairs) == len(set(pairs))
    assert set(pairs) == {(s, a) for s in course.students for a in ASSIGNMENTS}


@workflow
def test_solutions_score_full_marks(course):
    for name in ASSIGNMENTS:
        result = course.results[("solution", name)]
        assert result["success"], result.get("error")
        scores = course.cell_scores[("solution", name)]
        failed = {k: v for k, v in scores.items() if v is None or v <= 0}
        assert not failed, f"{name}: the solution lost points in {failed}\n{result.get('log', '')[-2000:]}"
        assert course.grade("solution", name) == course.max_scores[name]


@workflow
def test_untouched_release_scores_zero_without_crashing(course):
    for name in ASSIGNMENTS:
        result = course.results[("untouched", name)]
        assert result["success"], result.get("error")
        assert course.autograded("untouched", name).exists()
        assert course.grade("untouched", name) == 0.0


def _a1_auto(course, student):
    return course.cell_scores[(student, "a1_convolution")]


@workflow
def test_syntax_error_loses_only_what_depends_on_it(course):
    assert course.results[("syntax_error", "a1_convolution")]["success"]
    scores = _a1_auto(course, "syntax_error")
    assert scores["test_conv2d_basic"] == 0 and scores["test_conv2d_stride_padding"] == 0
    assert scores["test_correlate2d"] == 5 and scores["test_edge_strength"] == 4
    nb = nbformat.read(course.autograded("syntax_error", "a1_convolution"), as_version=4)
    assert "SyntaxError" in str(cell_by_id(nb, "conv2d").outputs)


@workflow
def test_calling_the_reference_earns_nothing_for_that_part(course):
    assert course.results[("calls_reference", "a1_convolution")]["success"]
    scores = _a1_auto(course, "calls_reference")
    assert scores["test_conv2d_basic"] == 0 and scores["test_conv2d_stride_padding"] == 0
    assert scores["test_correlate2d"] == 5 and scores["test_conv_output_size"] == 2
    nb = nbformat.read(course.autograded("calls_reference", "a1_convolution"), as_version=4)
    assert "IntegrityError" in str(cell_by_id(nb, "test_conv2d_basic").outputs)


@workflow
def test_infinite_loop_times_out_and_the_rest_is_graded(course):
    assert course.results[("infinite_loop", "a1_convolution")]["success"]
    nb = nbformat.read(course.autograded("infinite_loop", "a1_convolution"), as_version=4)
    outputs = str(cell_by_id(nb, "conv2d").outputs)
    assert "Timeout" in outputs or "KeyboardInterrupt" in outputs, outputs[:500]
    scores = _a1_auto(course, "infinite_loop")
    # conv2d was defined before the loop started, so everything still passes after the interrupt
    assert scores["test_correlate2d"] == 5 and scores["test_conv_output_size"] == 2


@workflow
def test_kernel_crash_is_flagged_with_the_reason(course):
    result = course.results[("kernel_crash", "a1_convolution")]
    assert not result["success"]
    assert re.search(r"kernel died|DeadKernel|Kernel died", result.get("error", "") + result.get("log", ""), re.I)
    assert course.grade("kernel_crash", "a1_convolution") == 0.0


@workflow
def test_huge_output_is_truncated_and_graded(course):
    assert course.results[("huge_output", "a1_convolution")]["success"]
    path = course.autograded("huge_output", "a1_convolution")
    assert path.stat().st_size < 1_000_000, "LimitOutput should have cut the 300,000 printed lines"
    assert "Output truncated" in path.read_text()
    assert course.grade("huge_output", "a1_convolution") == course.max_scores["a1_convolution"] - course.manual_points["a1_convolution"]


@workflow
def test_edited_test_cells_are_restored_and_count(course):
    assert course.results[("edited_tests", "a1_convolution")]["success"]
    nb = nbformat.read(course.autograded("edited_tests", "a1_convolution"), as_version=4)
    assert "the test was in my way" not in cell_by_id(nb, "test_conv_output_size").source
    scores = _a1_auto(course, "edited_tests")
    assert scores["test_conv_output_size"] == 0, "the restored test must catch the off-by-one"
    assert scores["test_conv_param_count"] == 2


@workflow
def test_deleted_test_cells_are_put_back_and_count(course):
    assert course.results[("deleted_tests", "a1_convolution")]["success"]
    nb = nbformat.read(course.autograded("deleted_tests", "a1_convolution"), as_version=4)
    cell_by_id(nb, "test_conv_param_count")  # re-inserted
    assert _a1_auto(course, "deleted_tests")["test_conv_param_count"] == 2


@workflow
@pytest.mark.parametrize("student, reason", [
    ("missing_notebook", r"No notebooks (found|were matched)"),
    ("renamed_notebook", r"Skipping unknown notebook"),
])
def test_missing_or_renamed_notebook_is_flagged(course, student, reason):
    result = course.results[(student, "a1_convolution")]
    assert not result["success"]
    assert re.search(reason, result.get("log", "") + result.get("error", "")), result
    assert course.grade(student, "a1_convolution") == 0.0


@workflow
def test_extra_file_does_not_hurt(course):
    assert course.results[("extra_file", "a1_convolution")]["success"]
    auto = course.max_scores["a1_convolution"] - course.manual_points["a1_convolution"]
    assert course.grade("extra_file", "a1_convolution") == auto


@workflow
def test_feedback_is_generated_for_every_graded_notebook(course):
    for name in ASSIGNMENTS:
        assert course.feedback[name]["success"], course.feedback[name].get("error")
        for student in course.students:
            if course.autograded(student, name).exists():
                html = course.root / "feedback" / student / name / f"{name}.html"
                assert html.exists(), f"no feedback for {student}/{name}"
