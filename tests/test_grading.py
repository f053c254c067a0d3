"""`python -m cnnkit grade`: parallel autograding on nbgrader, honest statuses, no hidden tests in feedback.

The slow tests share one synthetic course (cnnkit.grading.synthetic: 20 students, each bad
submission kind of the assignments issue) built once per session and copied per test.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from cnnkit.grading import STATUSES, StudentReport, grade, main
from cnnkit.grading import report as rp
from cnnkit.grading.findings import (LockedCell, classify_failure, extra_files, notebook_files, split_hidden,
                                   tampered_cells)

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbgrader")

VENV_BIN = str(Path(sys.executable).parent)
#: The slow tests share session fixtures: keep them on one xdist worker (`make test` uses --dist loadgroup).
one_class = pytest.mark.xdist_group("grading-class")
CELL_TIMEOUT = 4      # the infinite-loop student is interrupted after this many seconds
WALL_TIMEOUT = 240    # per submission; generous, the machine is shared


# ---------------------------------------------------------------- fast: pure helpers

def test_split_hidden_cuts_blocks_and_rejects_broken_ones():
    source = "a = 1\n### BEGIN HIDDEN TESTS\nassert secret\n### END HIDDEN TESTS\nb = 2"
    assert split_hidden(source) == ("a = 1\nb = 2", ["assert secret"])
    assert split_hidden("x = 1") == ("x = 1", [])
    with pytest.raises(ValueError, match="never closed"):
        split_hidden("### BEGIN HIDDEN TESTS\nassert x")
    with pytest.raises(ValueError, match="nested"):
        split_hidden("### BEGIN HIDDEN TESTS\n### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS")


def _test_cell(source: str, points: float = 2.0):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "test_add", "locked": True, "points": points,
                                 "solution": False, "schema_version": 3, "task": False}
    return cell


def test_tampered_cells_uses_nbgraders_checksum_on_the_released_source():
    from nbgrader.utils import compute_checksum

    full = "assert add(1, 2) == 3\n### BEGIN HIDDEN TESTS\nassert add(0, 0) == 0\n### END HIDDEN TESTS"
    intro = nbformat.v4.new_markdown_cell("# Read me")
    intro.metadata["nbgrader"] = {"grade": False, "grade_id": "intro", "locked": True, "solution": False}
    locked = [LockedCell("test_add", full, compute_checksum(_test_cell(full)), graded=True),
              LockedCell("intro", intro.source, compute_checksum(intro))]
    released = nbformat.v4.new_notebook(cells=[intro, _test_cell("assert add(1, 2) == 3")])
    assert tampered_cells(released, locked) == []
    with_hidden = nbformat.v4.new_notebook(cells=[intro, _test_cell(full)])  # the instructor's own notebook
    assert tampered_cells(with_hidden, locked) == []
    edited = nbformat.v4.new_notebook(cells=[intro, _test_cell("pass")])
    assert tampered_cells(edited, locked) == ["test_add edited (restored)"]
    more_points = nbformat.v4.new_notebook(cells=[intro, _test_cell("assert add(1, 2) == 3", points=20)])
    assert tampered_cells(more_points, locked) == ["test_add edited (restored)"]
    ungraded = _test_cell("assert add(1, 2) == 3")
    ungraded.metadata["nbgrader"]["grade"] = False
    assert tampered_cells(nbformat.v4.new_notebook(cells=[intro, ungraded]), locked) == ["test_add edited (restored)"]
    no_points = _test_cell("assert add(1, 2) == 3")
    del no_points.metadata["nbgrader"]["points"]
    assert tampered_cells(nbformat.v4.new_notebook(cells=[intro, no_points]), locked) == ["test_add edited (restored)"]
    deleted = nbformat.v4.new_notebook(cells=[])
    assert tampered_cells(deleted, locked) == ["test_add deleted (re-inserted)", "intro deleted"]
    # a course with its own delimiters: the released source is cut with those
    custom_full = "a\n# <hide>\nb\n# </hide>"
    custom = [LockedCell("test_add", custom_full, compute_checksum(_test_cell(custom_full)), graded=True)]
    assert tampered_cells(nbformat.v4.new_notebook(cells=[_test_cell("a")]), custom,
                          begin="<hide>", end="</hide>") == []


def test_notebook_files_tell_missing_from_renamed(tmp_path):
    (tmp_path / "ps1-Copy1.ipynb").write_text("{}")
    (tmp_path / "timestamp.txt").write_text("2026-01-01 00:00:00")
    (tmp_path / "data.csv").write_text("1")
    assert notebook_files(tmp_path, ["ps1"]) == ([], ["ps1"], ["ps1-Copy1"])
    assert extra_files(tmp_path, ["ps1"]) == ["data.csv"]
    assert notebook_files(tmp_path / "absent", ["ps1"]) == ([], ["ps1"], [])


def test_report_csv_cells_never_start_a_formula_and_read_back_as_written(tmp_path):
    """The red team's timestamp.txt ``=HYPERLINK(...)`` became a live formula in the instructor's spreadsheet."""
    row = StudentReport("eve", 1.0, 2.0, rp.GRADED, detail="-1 point: see above", timestamp='=HYPERLINK("x")',
                        similarity="@SUM(A1)")
    text = rp.reports_to_csv([row])
    cells = [cell for line in list(csv.reader(text.splitlines()))[1:] for cell in line]
    assert not any(cell.startswith(rp.FORMULA_STARTS) for cell in cells), cells
    path = tmp_path / "r.csv"
    path.write_text(text)
    back = rp.read_csv(path)[0]
    assert (back.timestamp, back.detail, back.similarity) == (row.timestamp, row.detail, row.similarity)


@pytest.mark.parametrize("log, status", [
    ("[ERROR] ...\nnbclient.exceptions.DeadKernelError: Kernel died\n[ERROR] There was an error", rp.KERNEL_DIED),
    ("nbgrader.preprocessors.execute.UnresponsiveKernelError", rp.TIMEOUT),
    ("Traceback...\nsqlalchemy.exc.OperationalError: database is locked", rp.ERROR),
    ("", rp.ERROR),
])
def test_classify_failure(log, status):
    found, message = classify_failure(log)
    assert found == status
    assert message


def test_feedback_preprocessor_strips_hidden_source_and_quoting_outputs():
    from cnnkit.grading.feedback import WITHHELD, StripHiddenTests

    marker = "SECRET-123"
    cell = _test_cell(f"assert add(1, 2) == 3, 'visible'\n### BEGIN HIDDEN TESTS\n"
                      f"assert add(-4, 4) == 0, '{marker}'\n### END HIDDEN TESTS")
    # an IPython traceback colours the quoted line: the ANSI codes must not hide it
    cell.outputs = [
        nbformat.v4.new_output("error", ename="AssertionError", evalue=marker,
                               traceback=[f"\x1b[0;32massert\x1b[0m add(-4, 4) == 0, '{marker}'"]),
        nbformat.v4.new_output("stream", name="stdout", text="harmless\n"),
    ]
    visible_failure = _test_cell("assert add(1, 2) == 3, 'visible'\n### BEGIN HIDDEN TESTS\nassert h()\n"
                                 "### END HIDDEN TESTS")
    visible_failure.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="visible",
                                                      traceback=["----> 1 assert add(1, 2) == 3, 'visible'",
                                                                 "      2 assert h()"])]
    nb = nbformat.v4.new_notebook(cells=[cell, visible_failure])
    out, _ = StripHiddenTests().preprocess(nb, {})
    text = json.dumps(out)
    assert marker not in text and "assert h()" not in text and "HIDDEN TESTS" not in text
    assert out.cells[0].outputs[0].evalue == WITHHELD and out.cells[0].outputs[1].text == "harmless\n"
    # the visible test's message survives, the traceback that quotes a hidden line does not
    assert out.cells[1].outputs[0].evalue == "visible"


def test_report_csv_roundtrip_table_and_atomic_state(tmp_path):
    reports = [StudentReport("s1", 5, 6, rp.GRADED), StudentReport("s2", 0, 6, rp.KERNEL_DIED, "Kernel died, x")]
    path = tmp_path / "r.csv"
    rp.atomic_write_text(path, rp.reports_to_csv(reports))
    assert rp.read_csv(path) == reports
    table = rp.format_table(reports)
    assert "kernel died" in table and "1 graded, 1 kernel died" in table
    rp.save_state(tmp_path / "s" / "s1.json", reports[0], submission_timestamp="t")
    assert rp.load_state(tmp_path / "s" / "s1.json") == (reports[0], {"submission_timestamp": "t"})
    assert rp.load_state(tmp_path / "s" / "nobody.json") is None
    assert [p.name for p in (tmp_path / "s").iterdir()] == ["s1.json"]  # no temporary files left
    assert rp.worst([rp.LATE, rp.TAMPERED, rp.GRADED]) == rp.TAMPERED and rp.worst([]) == rp.GRADED
    with pytest.raises(ValueError, match="status must be one of"):
        StudentReport("s", 0, 1, "fine")


@pytest.mark.parametrize("kwargs, match", [
    (dict(jobs=0), "jobs"), (dict(jobs=1.5), "jobs"), (dict(timeout=-1), "timeout"),
    (dict(cell_timeout=2.5), "cell_timeout"), (dict(students="s01"), "students"),
    (dict(collect="/no/such/folder"), "collect"), (dict(course_dir="/no/such/course"), "course_dir"),
])
def test_grade_validates_its_arguments(tmp_path, kwargs, match):
    kwargs.setdefault("course_dir", tmp_path)
    with pytest.raises(ValueError, match=match):
        grade("ps1", **kwargs)
    with pytest.raises(ValueError, match="assignment"):
        grade("../ps1", tmp_path)


@pytest.mark.slow  # creates a gradebook: seconds of SQLAlchemy set-up
def test_grade_explains_an_assignment_that_was_never_generated(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    with pytest.raises(ValueError, match="generate_assignment"):
        grade("ps1", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nbgrader_config.py"]  # nothing written


def test_grade_refuses_a_folder_that_is_no_course(tmp_path):
    with pytest.raises(ValueError, match="not an nbgrader course"):
        grade("ps1", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_cli_reports_bad_arguments(tmp_path, capsys):
    assert main(["ps1", "--course", str(tmp_path), "--jobs", "0"]) == 2
    assert "jobs must be" in capsys.readouterr().err


def test_grading_imports_where_fcntl_and_resource_do_not_exist():
    """Unix-only modules are imported where they are used, so ``import cnnkit.grading`` works on Windows."""
    code = ("import sys; sys.modules['fcntl'] = sys.modules['resource'] = None\n"
            "import cnnkit.grading\n"
            "from cnnkit.grading import findings, nbgrader_glue, pipeline, policy, pool, report, synthetic, worker\n"
            "try:\n"
            "    with open(sys.argv[1], 'w') as fh: pipeline._lock_exclusively(fh)\n"
            "except RuntimeError as exc: print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code, os.devnull], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "neither fcntl nor msvcrt" in done.stdout  # Linux has no msvcrt: a clear error, at locking time


def test_one_grading_run_per_assignment_at_a_time(tmp_path):
    from types import SimpleNamespace

    from cnnkit.grading.pipeline import _locked

    run = SimpleNamespace(course=tmp_path, assignment="ps1", work=tmp_path / ".cnnkit-grade" / "ps1")
    with _locked(run):
        with pytest.raises(RuntimeError, match="another grading run of 'ps1'"):
            with _locked(run):
                pass
    with _locked(run):  # released at the end of the block
        pass


def test_worker_messages_round_trip_and_refuse_anything_malformed():
    from cnnkit.grading.messages import Answer, MessageError, Started, Task, read_message

    task = Task("/course", "ps1", "s01", "/run/students/s01", "/run/snapshot.db", "/dev/shm/t/0", cell_timeout=4,
                sandboxed=False)
    assert Task.from_json(task.to_json()) == task
    answer = Answer("s01", ok=True, log="...", missing=["ps2"], limits=["ps1: cell 3: memory"], autograded="/x")
    assert Answer.from_json(answer.to_json()) == answer
    assert read_message(Started("s01").to_json(), (Started, Answer)) == Started("s01")
    line = answer.to_json()
    for bad, match in [
        (line[:40], "not JSON"),                                          # cut short by a killed worker
        ('["done"]', "not a JSON object"),
        (line.replace('"ok": true, ', ""), "missing field.* ok"),
        (line.replace('"log"', '"logs"'), "missing field.* log; unknown field.* logs"),
        (line.replace('"ok": true', '"ok": 1'), "ok must be bool"),
        (line.replace('["ps2"]', '["ps2", 7]'), "missing must be list"),
        (line.replace('"autograded": "/x"', '"autograded": 3'), "autograded must be"),
        (Started("s01").to_json(), "event 'started' where 'done' was expected"),
    ]:
        with pytest.raises(MessageError, match=match):
            Answer.from_json(bad)
    with pytest.raises(MessageError, match="cell_timeout"):
        Task.from_json(task.to_json().replace('"cell_timeout": 4', '"cell_timeout": 4.5'))


_FAKE_WORKER = """
import sys, time
from cnnkit.grading.messages import Answer, Started, Task
for line in sys.stdin:
    task = Task.from_json(line)
    print(Started(task.student).to_json(), flush=True)
    if task.student == "cut":        # killed half-way through its answer
        sys.stdout.write('{"event": "done", "stud'); sys.stdout.flush(); sys.exit(1)
    elif task.student == "garbled":  # a line with fields missing, then still busy
        print('{"event": "done", "student": "garbled", "ok": true}', flush=True); time.sleep(120)
    elif task.student == "other":    # an answer about someone else
        print(Answer("s99", ok=True).to_json(), flush=True)
    else:
        print(Answer(task.student, ok=True, log="fine").to_json(), flush=True)
"""


def test_pool_turns_a_malformed_answer_into_a_failed_student(tmp_path):
    from cnnkit.grading.pipeline import _failure, _worker_env
    from cnnkit.grading.pool import UNREADABLE, WORKER_DIED, WorkerPool
    from cnnkit.grading.messages import Answer, Task

    names = ["good", "garbled", "other", "cut", "after"]
    tasks = [Task("/c", "ps1", name, str(tmp_path / name), "/s.db", str(tmp_path / "t" / name)) for name in names]
    pool = WorkerPool(1, log_dir=tmp_path / "logs", env=_worker_env(), command=[sys.executable, "-c", _FAKE_WORKER])
    outcomes = {o.task.student: o for o in pool.run(tasks, limit=60)}
    # a worker that sent garbage is not waited for: no task ends at the wall-clock limit
    from cnnkit.grading.pool import TIMED_OUT

    assert all(o.failure != TIMED_OUT for o in outcomes.values()), {n: o.failure for n, o in outcomes.items()}
    assert sorted(outcomes) == sorted(names)
    for name in ("good", "after"):
        assert outcomes[name].failure is None and outcomes[name].answer.log == "fine"
    assert (outcomes["garbled"].failure, outcomes["garbled"].answer) == (UNREADABLE, None)
    assert "missing field" in outcomes["garbled"].detail
    assert outcomes["other"].failure == UNREADABLE and "'s99'" in outcomes["other"].detail
    assert outcomes["cut"].failure == WORKER_DIED
    status, message = _failure(outcomes["garbled"], Answer("garbled"), 60)
    assert status == rp.ERROR and message.startswith("unreadable answer from the grading worker: ")


# ---------------------------------------------------------------- slow: a whole class on nbgrader

@pytest.fixture(scope="session")
def course_template(tmp_path_factory):
    """The synthetic course with its 20 submissions, generated once (nbgrader generate_assignment)."""
    from cnnkit.grading import synthetic

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", VENV_BIN + os.pathsep + os.environ.get("PATH", ""))  # nbgrader calls alembic
        root = synthetic.make_course(tmp_path_factory.mktemp("grading") / "template")
        synthetic.add_students(root)
        yield root


def _copy(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest)
    return dest


@pytest.fixture(scope="session")
def graded_jobs1(course_template, tmp_path_factory):
    course = _copy(course_template, tmp_path_factory.mktemp("jobs1") / "course")
    reports = grade("ps1", course, jobs=1, cell_timeout=CELL_TIMEOUT, timeout=WALL_TIMEOUT)
    return course, reports


EXPECTED_STATUS = {
    "late": rp.LATE, "edited test cell": rp.TAMPERED, "deleted test cell": rp.TAMPERED,
    "missing notebook": rp.MISSING, "renamed notebook": rp.MISSING, "infinite loop": rp.TIMEOUT,
    "kernel crash (os._exit)": rp.KERNEL_DIED, "memory hog": rp.LIMIT,
}


def _db_rows(course: Path) -> dict[str, list]:
    with sqlite3.connect(course / "gradebook.db") as db:
        return {
            "submissions": db.execute("select student_id from submitted_assignment").fetchall(),
            "notebooks": db.execute("select assignment_id, notebook_id from submitted_notebook").fetchall(),
            "grades": db.execute("select notebook_id, cell_id from grade").fetchall(),
        }


def _grades_csv(course: Path) -> dict[str, tuple]:
    with open(course / "grades.csv", newline="") as fh:
        return {row["student_id"]: (row["timestamp"], row["score"], row["max_score"]) for row in csv.DictReader(fh)}


@pytest.mark.slow
@one_class
def test_every_student_gets_a_row_and_an_honest_status(graded_jobs1):
    from cnnkit.grading.synthetic import CLASS, MAX_POINTS, expected_auto_score

    course, reports = graded_jobs1
    assert [r.student for r in reports] == sorted(CLASS)
    for r in reports:
        kind = CLASS[r.student]
        assert r.status == EXPECTED_STATUS.get(kind, rp.GRADED), (r, kind)
        assert (r.score, r.max_score) == (expected_auto_score(kind), MAX_POINTS), (r, kind)
    assert {r.status for r in reports} == set(STATUSES) - {rp.ERROR}  # every kind told apart
    by_id = {r.student: r for r in reports}
    assert "renamed" in by_id["s12"].detail and "ps1-Copy1.ipynb" in by_id["s12"].detail
    assert "data.csv" in by_id["s13"].detail and "late" in by_id["s14"].detail
    assert "Kernel died" in by_id["s07"].detail
    # nothing lost, nothing doubled: one submission, one notebook, three grades per student
    rows = _db_rows(course)
    assert len(rows["submissions"]) == len(set(rows["submissions"])) == 20
    assert len(rows["notebooks"]) == len(set(rows["notebooks"])) == 20
    assert len(rows["grades"]) == len(set(rows["grades"])) == 60
    exported = _grades_csv(course)
    assert sorted(exported) == sorted(CLASS)
    assert {s: float(v[1]) for s, v in exported.items()} == {r.student: r.score for r in reports}
    assert rp.read_csv(course / "grading_report_ps1.csv") == reports
    assert "kernel died" in (course / "grading_report_ps1.txt").read_text()


@pytest.mark.slow
@one_class
def test_feedback_never_contains_hidden_tests(graded_jobs1):
    from cnnkit.grading.synthetic import HIDDEN_MARKER

    course, reports = graded_jobs1
    feedback = sorted((course / "feedback").rglob("*.html"))
    graded = [r.student for r in reports if r.status not in (rp.MISSING, rp.KERNEL_DIED)]
    assert sorted(p.parts[-3] for p in feedback) == graded
    for page in feedback:
        text = page.read_text()
        assert HIDDEN_MARKER not in text and "HIDDEN TESTS" not in text, page
    # ... while the instructor's autograded notebooks keep them
    autograded = sorted((course / "autograded").rglob("*.ipynb"))
    assert len(autograded) == len(graded)
    assert all(HIDDEN_MARKER in nb.read_text() for nb in autograded)
    # a student failing a hidden test sees that something failed, not what (the test runner reports a failed
    # hidden assertion without its message and never quotes a hidden line; the feedback withholds the rest)
    page = (course / "feedback" / "s04" / "ps1" / "ps1.html").read_text()
    assert "a hidden test failed" in page or "withheld" in page


@pytest.mark.slow
@one_class
def test_feedback_after_manual_grading_still_hides_the_tests(graded_jobs1, tmp_path):
    from nbgrader.api import Gradebook

    from cnnkit.grading import regenerate_feedback
    from cnnkit.grading.synthetic import HIDDEN_MARKER

    course = Path(shutil.copytree(graded_jobs1[0], tmp_path / "course"))
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "synthetic") as gb:
        gb.find_grade("explain", "ps1", "ps1", "s01").manual_score = 1.0  # what the formgrader does
        gb.db.commit()
    pages = regenerate_feedback("ps1", course, students=["s01", "s04"])
    assert [p.parts[-3] for p in pages] == ["s01", "s04"]
    assert "Score: 6.0 / 6.0" in pages[0].read_text()  # the manual point reached the feedback
    assert all(HIDDEN_MARKER not in p.read_text() and "HIDDEN TESTS" not in p.read_text() for p in pages)


def _state_stamps(course: Path) -> dict[str, int]:
    folder = course / ".cnnkit-grade" / "ps1" / "state"
    return {p.stem: p.stat().st_mtime_ns for p in folder.glob("*.json")} if folder.is_dir() else {}


@pytest.mark.slow
@one_class
def test_jobs2_interrupted_and_resumed_matches_jobs1(course_template, graded_jobs1, tmp_path):
    course = _copy(course_template, tmp_path / "course")
    env = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ["PATH"])
    command = [sys.executable, "-m", "cnnkit", "grade", "ps1", "--course", str(course), "--jobs", "2",
               "--cell-timeout", str(CELL_TIMEOUT), "--timeout", str(WALL_TIMEOUT)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while len(_state_stamps(course)) < 6 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)  # the harshest interruption: no clean-up in the parent at all
    finally:
        proc.wait()
    before = _state_stamps(course)
    assert 6 <= len(before) < 20, "the run should have been cut part-way"

    reports = grade("ps1", course, jobs=2, cell_timeout=CELL_TIMEOUT, timeout=WALL_TIMEOUT)
    after = _state_stamps(course)
    assert {s: after[s] for s in before} == before, "students graded before the interruption were regraded"
    assert len(after) == 20
    _, reports1 = graded_jobs1
    assert [(r.student, r.score, r.max_score, r.status, r.detail) for r in reports] == \
        [(r.student, r.score, r.max_score, r.status, r.detail) for r in reports1]
    rows = _db_rows(course)
    assert len(rows["submissions"]) == len(set(rows["submissions"])) == 20
    assert len(rows["grades"]) == len(set(rows["grades"])) == 60
    assert _grades_csv(course) == _grades_csv(graded_jobs1[0])

    # again: nothing to do; then --force for one student regrades only that one
    grade("ps1", course, jobs=2)
    assert _state_stamps(course) == after
    assert main(["ps1", "--course", str(course), "--force", "--student", "s03", "--cell-timeout", "5"]) == 0
    changed = {s for s, stamp in _state_stamps(course).items() if stamp != after[s]}
    assert changed == {"s03"}


def _processes_with(marker: str) -> list[int]:
    import psutil

    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and proc.environ().get("CNNKIT_TEST_MARK") == marker:
                found.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return found


@pytest.mark.slow
@one_class
def test_wall_clock_limit_kills_the_submission_and_its_kernel(course_template, tmp_path, monkeypatch):
    course = _copy(course_template, tmp_path / "course")
    corrupt = course / "submitted" / "s99" / "ps1"
    corrupt.mkdir(parents=True)
    (corrupt / "ps1.ipynb").write_text("{ this is not a notebook")
    marker = uuid.uuid4().hex
    monkeypatch.setenv("CNNKIT_TEST_MARK", marker)  # inherited by the workers and their kernels
    looping, broken = grade("ps1", course, students=["s06", "s99"], jobs=2, cell_timeout=120, timeout=8)
    assert (looping.status, looping.score) == (rp.TIMEOUT, 0.0)
    assert "wall-clock" in looping.detail
    assert _processes_with(marker) == [], "the infinite loop's kernel survived"
    # anything else is an `error` that carries the message, still with its row
    assert (broken.status, broken.score) == (rp.ERROR, 0.0)
    assert "JSON" in broken.detail or "json" in broken.detail, broken.detail
    assert {"s06", "s99"} <= set(_grades_csv(course))


@pytest.mark.slow
@one_class
def test_zip_collect_then_grade(course_template, tmp_path):
    import zipfile

    course = _copy(course_template, tmp_path / "course")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with zipfile.ZipFile(downloads / "lms-export.zip", "w") as archive:  # as an LMS hands them out
        archive.write(course / "submitted" / "s01" / "ps1" / "ps1.ipynb", "s21_ps1.ipynb")
    reports = grade("ps1", course, collect=downloads, students=["s21"], cell_timeout=CELL_TIMEOUT)
    assert (course / "submitted" / "s21" / "ps1" / "ps1.ipynb").is_file()
    assert [(r.student, r.status, r.score) for r in reports] == [("s21", rp.GRADED, 5.0)]
    assert "s21" in _grades_csv(course)


@pytest.mark.slow
def test_a_killed_worker_leaves_no_temporary_files(tmp_path):
    """A submission past --timeout is killed with its worker; what it wrote next to its kernel (its channel
    folder) and the copy of its hand-in are removed by the parent all the same."""
    import secrets

    import nbformat

    from cnnkit.grading import synthetic

    course = synthetic.make_course(tmp_path / "c")
    synthetic.add_students(course, {"ok": "full marks", "litter": "full marks"})
    token = f"litter-{secrets.token_hex(6)}"
    path = course / "submitted" / "litter" / "ps1" / "ps1.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(1, nbformat.v4.new_code_cell(
        "import os, time, ipykernel.connect\n"
        f"open(os.path.join(os.path.dirname(ipykernel.connect.get_connection_file()), {token!r}), 'w').write('x')\n"
        f"open({token!r}, 'w').write('x')\n"
        "while True:\n    time.sleep(1)\n"))
    nbformat.write(nb, path)
    from cnnkit.grading.sandbox import available

    args = ["--cell-timeout", "300", "--timeout", "25"] + ([] if available() else ["--unsandboxed"])
    env = dict(os.environ, PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    done = subprocess.run([sys.executable, "-m", "cnnkit", "grade", "ps1", "--course", str(course), "--jobs", "2",
                           *args], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    rows = {r.student: r for r in rp.read_csv(course / "grading_report_ps1.csv")}
    assert rows["litter"].status == "timeout" and rows["ok"].score == 5.0
    left = []
    import tempfile

    for root in ("/dev/shm", tempfile.gettempdir(), str(course)):
        for top, dirs, files in os.walk(root):
            if top.count(os.sep) - root.count(os.sep) > 6:
                dirs[:] = []
            left += [os.path.join(top, f) for f in files if f == token]
    assert left == [], left


def test_no_control_character_of_a_student_reaches_the_report():
    """The red team named handed-in folders with escape codes: ``cat`` of the report cleared the screen
    and drew a forged table. Every text of a row is printable; line breaks become spaces."""
    evil = "extra files: x\x1b[H\x1b[2J\nhonest  0 / 26 auto  kernel died\x1b[8m\u202e"
    row = StudentReport("eve\x1b[31m", 1.0, 2.0, rp.GRADED, detail=evil, similarity="conv2d: 90% like student \x07b")
    for text in (rp.format_table([row]), rp.reports_to_csv([row])):
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
        assert "\\x1b[2J" in text                       # shown, not obeyed
    assert "\n" not in row.detail


def test_bad_arguments_of_the_report_and_file_helpers_are_named(tmp_path):
    from cnnkit.grading.exchange import account_uid
    from cnnkit.grading.findings import read_regular_file

    with pytest.raises(TypeError, match="text must be a str"):
        rp.printable(None)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="limit"):
            read_regular_file(tmp_path / "x", bad)
    with pytest.raises(TypeError, match="username"):
        account_uid(1000)
