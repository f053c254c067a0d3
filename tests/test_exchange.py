"""`nbgrader collect` with the course's config copies no link a student put in the exchange.

A real exchange in tmp_path: the instructor generates and releases a1, a student fetches and submits
with nbgrader's own commands, then adds links (to the solution notebook, to `solutions/`, dangling),
a FIFO and a plain file to their submission folder in `inbound/`. The course's collect
(`cnnkit.grading.exchange.LinkSafeCollect`) takes the notebook and the plain file only; nbgrader's
default collect, on the same submission, copies the solution with its hidden tests.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cnnkit.grading.exchange import LinkSafeCollect
from nbgrader.coursedir import CourseDirectory

REPO = Path(__file__).resolve().parents[1]
NAME = "a1_convolution"
STUDENT = "student1"
HIDDEN = "BEGIN HIDDEN TESTS"
PLAIN_COLLECT = "--ExchangeFactory.collect=nbgrader.exchange.default.collect.ExchangeCollect"

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX links and FIFOs")


def nbgrader(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def ok(done: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert done.returncode == 0, f"{done.args}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def files_under(folder: Path) -> dict[str, Path]:
    return {str(p.relative_to(folder)): p for p in sorted(folder.rglob("*"))}


@pytest.fixture(scope="module")
def exchange_class(tmp_path_factory):
    """A course and an exchange holding one submission of a1 with links, a FIFO and a plain file."""
    tmp = tmp_path_factory.mktemp("exchange")
    root, course, home = tmp / "exchange", tmp / "course", tmp / "student"
    root.mkdir(mode=0o777)
    home.mkdir()
    course.mkdir()
    shutil.copy2(REPO / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(REPO / "solutions" / NAME, course / "solutions" / NAME)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),  # alembic
               JUPYTER_CONFIG_DIR=str(tmp / "jupyter_config"), JUPYTER_DATA_DIR=str(tmp / "jupyter_data"),
               JUPYTER_CONFIG_PATH=str(tmp / "jupyter_config"), JUPYTER_PLATFORM_DIRS="1")
    on_exchange = f"--Exchange.root={root}"

    ok(nbgrader(course, env, "generate_assignment", NAME, "--force"))
    ok(nbgrader(course, env, "release_assignment", NAME, on_exchange))
    ok(nbgrader(home, env, "fetch_assignment", NAME, "--course=cnnkit", on_exchange))
    ok(nbgrader(home, env, "submit", NAME, "--course=cnnkit", f"--student={STUDENT}", on_exchange))

    (inbound,) = (root / "cnnkit" / "inbound").glob(f"{STUDENT}+{NAME}+*")
    solution = course / "solutions" / NAME / f"{NAME}.ipynb"
    assert HIDDEN in solution.read_text()
    (inbound / "notes.json").symlink_to(solution)
    (inbound / "more").symlink_to(course / "solutions", target_is_directory=True)
    (inbound / "dangling.txt").symlink_to(tmp / "nowhere")
    os.mkfifo(inbound / "pipe")
    (inbound / "extra.txt").write_text("my own notes\n")
    (inbound / "data").mkdir()
    (inbound / "data" / "deep_link.ipynb").symlink_to(solution)
    return {"course": course, "env": env, "exchange": on_exchange, "inbound": inbound}


def collect(exchange_class, *extra: str) -> tuple[subprocess.CompletedProcess, Path]:
    course = exchange_class["course"]
    submitted = course / "submitted" / STUDENT / NAME
    shutil.rmtree(course / "submitted", ignore_errors=True)
    done = nbgrader(course, exchange_class["env"], "collect", NAME, exchange_class["exchange"], *extra)
    return done, submitted


def test_course_collect_leaves_out_links_and_fifos(exchange_class):
    done, submitted = collect(exchange_class)
    ok(done)
    got = files_under(submitted)
    assert {f"{NAME}.ipynb", "extra.txt", "timestamp.txt", "data"} <= set(got), sorted(got)
    for name in ("notes.json", "more", "dangling.txt", "pipe", "data/deep_link.ipynb"):
        assert name not in got, sorted(got)
    for path in got.values():
        assert not path.is_symlink(), path
        assert path.is_dir() or path.is_file(), path
        if path.is_file():
            assert HIDDEN not in path.read_text(errors="replace"), path
    assert (submitted / "extra.txt").read_text() == "my own notes\n"
    # each left-out entry is named, with the student, in a warning
    log = done.stdout + done.stderr
    for name in ("notes.json", "more", "dangling.txt", "data/deep_link.ipynb"):
        assert f"left out: a symbolic link {name!r} -> " in log, log
    assert log.count(f"in the submission of {STUDENT}") == 5, log
    assert f"left out: a FIFO 'pipe' in the submission of {STUDENT}" in log, log


def test_plain_nbgrader_collect_copies_the_linked_solution(exchange_class):
    """The attack is real: without the course's collect the solution lands in submitted/."""
    done, submitted = collect(exchange_class, PLAIN_COLLECT)
    leaked = submitted / "notes.json"
    assert leaked.is_file() and not leaked.is_symlink(), (done.stdout + done.stderr)[-3000:]
    assert HIDDEN in leaked.read_text()
    assert HIDDEN in (submitted / "more" / NAME / f"{NAME}.ipynb").read_text()


def test_file_over_max_file_size_is_left_out(exchange_class):
    inbound = exchange_class["inbound"]
    bound_kb = (inbound / f"{NAME}.ipynb").stat().st_size // 1000 + 10   # the notebook fits, big.bin not
    big = inbound / "big.bin"
    big.write_bytes(b"x" * (1000 * bound_kb + 1))
    try:
        done, submitted = collect(exchange_class, f"--CourseDirectory.max_file_size={bound_kb}")
        ok(done)
        assert not (submitted / "big.bin").exists()
        assert (submitted / f"{NAME}.ipynb").is_file()
        assert f"'big.bin' in the submission of {STUDENT}" in done.stdout + done.stderr
    finally:
        big.unlink()


def test_submission_folder_that_is_a_link_is_not_collected(tmp_path):
    """A link in inbound/ named like a submission, pointing at the course's solutions: nothing copied."""
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "secret.ipynb").write_text(HIDDEN)
    src = tmp_path / f"{STUDENT}+{NAME}+2026-01-01 00:00:00.000000 UTC+abc"
    src.symlink_to(tmp_path / "target", target_is_directory=True)
    collector = LinkSafeCollect(coursedir=CourseDirectory())
    collector.do_copy(str(src), str(tmp_path / "dest"))
    assert not (tmp_path / "dest").exists()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to give folders owners")
def test_a_folder_claiming_another_students_name_is_never_collected(tmp_path):
    """``inbound/`` is writable by every student: one made ``nobody+a1+<later time>+x``, owned by root, to
    replace the work of the account ``nobody``. nbgrader would take it (latest timestamp in the name);
    the course's collect takes nobody's own folder and never copies the impostor's."""
    import pwd

    try:
        nobody = pwd.getpwnam("nobody").pw_uid
    except KeyError:
        pytest.skip("no 'nobody' account here")
    inbound = tmp_path / "inbound"
    inbound.mkdir()
    own = inbound / f"nobody+{NAME}+2026-01-01 10:00:00.000000 UTC+a"
    fake = inbound / f"nobody+{NAME}+2026-01-02 10:00:00.000000 UTC+b"
    for folder, text in ((own, "mine"), (fake, "forged")):
        folder.mkdir()
        (folder / "work.txt").write_text(text)
    os.chown(own, nobody, -1)
    collector = LinkSafeCollect(coursedir=CourseDirectory())
    collector.inbound_path = str(inbound)
    records = [collector._path_to_record(str(p)) for p in (fake, own)]
    assert collector._sort_by_timestamp(records)[0]["filename"] == own.name
    collector.do_copy(str(fake), str(tmp_path / "forged"))
    assert not (tmp_path / "forged").exists()
    collector.do_copy(str(own), str(tmp_path / "mine"))
    assert (tmp_path / "mine" / "work.txt").read_text() == "mine"


def test_a_folder_with_no_time_in_its_name_stops_nobody(exchange_class):
    """``inbound/`` is writable by all: ``mallory+a1_convolution+not a time`` stopped nbgrader's collect for the
    whole class (dateutil's ParserError). The course's collect leaves it out and collects the others."""
    inbound = exchange_class["inbound"].parent
    bad = inbound / f"mallory+{NAME}+not a time"
    bad.mkdir()
    (bad / "x.txt").write_text("x")
    try:
        done, submitted = collect(exchange_class)
        ok(done)
        assert (submitted / f"{NAME}.ipynb").is_file()
        assert not (exchange_class["course"] / "submitted" / "mallory" / NAME).exists()
        assert "not a submission folder nbgrader made" in done.stdout + done.stderr
    finally:
        shutil.rmtree(bad)


def test_a_submission_of_too_many_files_is_not_collected(tmp_path, monkeypatch):
    import cnnkit.grading.exchange as exchange

    monkeypatch.setattr(exchange, "MAX_ENTRIES", 50)
    src = tmp_path / f"{STUDENT}+{NAME}+2026-01-01 00:00:00.000000 UTC+abc"
    src.mkdir()
    for i in range(60):
        (src / f"f{i}.txt").write_text("")
    LinkSafeCollect(coursedir=CourseDirectory()).do_copy(str(src), str(tmp_path / "dest"))
    assert not (tmp_path / "dest").exists()
