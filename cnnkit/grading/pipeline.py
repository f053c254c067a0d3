"""``python -m cnnkit grade``: collect, autograde in parallel, give feedback, export, report.

The steps, for one assignment of an nbgrader course:

1. optionally ``zip_collect`` an LMS download into ``submitted/``;
2. snapshot the gradebook; N worker processes each autograde one student at a time into a
   private scratch copy (nbgrader's own Autograde: restore edited tests, re-insert deleted ones,
   execute with a per-cell limit), and write feedback with the hidden tests removed;
3. the parent, alone, merges each finished student into the main gradebook, moves the
   autograded notebooks and feedback into place, and records the student's state atomically
   (an interrupted run picks up where it stopped); a worker past the per-submission wall-clock
   limit is killed with its kernel;
4. ``nbgrader export`` to ``grades.csv``, and a report with one row per student whose status
   says why a score is what it is.

:func:`grade` reads as its stages, one small function each: lock the assignment's work folder,
collect who is to be graded, resume (keep what an earlier run settled), grade the rest in
workers, export.
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Iterator

from . import report as rp
from .class_report import ReportOptions, add_report_options, options_from, stored_summary, write_after_grading
from .findings import is_timestamp, read_regular_file
from .policy import similarity_threshold
from .report import StudentReport

if TYPE_CHECKING:  # pragma: no cover - annotations only: the workers' modules load when grading starts
    from .pool import Outcome
    from .messages import Answer, Task

#: Wall-clock seconds one submission may take (all its notebooks) when --timeout is not given.
DEFAULT_TIMEOUT = 1800.0
#: Used by --zip when the course config does not set FileNameCollectorPlugin.named_regexp:
#: files named ``<student>_<notebook>.ipynb`` anywhere in the extracted archives.
DEFAULT_ZIP_REGEXP = r".*/(?P<student_id>[^/_]+)_(?P<file_id>[^/]+)$"
WORK_DIR = ".cnnkit-grade"
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")


def grade(assignment: str, course_dir: str | os.PathLike = ".", *, jobs: int = 1, timeout: float | None = None,
          cell_timeout: int | None = None, collect: str | os.PathLike | None = None, force: bool = False,
          students: list[str] | None = None, sandbox: bool = True,
          progress: Callable[[StudentReport], None] | None = None,
          class_report: ReportOptions | None = None, similarity: bool = True) -> list[StudentReport]:
    """Grade every submission of ``assignment`` in the nbgrader course at ``course_dir``.

    ``jobs`` students are graded at once, each in its own process; ``timeout`` is the wall-clock
    limit per submission (default :data:`DEFAULT_TIMEOUT`), ``cell_timeout`` the per-cell limit
    (default: the course's ``Execute.timeout``). ``collect`` is a folder of LMS downloads to
    ``zip_collect`` first. Students already graded by an earlier (maybe interrupted) run are kept
    unless ``force``; ``students`` limits the run to some ids. Every submission runs in the
    bubblewrap sandbox (:mod:`cnnkit.grading.sandbox`); where this machine has none, grading
    refuses to start unless ``sandbox=False`` (``--unsandboxed``), and then every report row says
    the code ran unsandboxed. ``progress`` is called with each
    student's report as it is done. Writes ``grades.csv`` and ``grading_report_<assignment>.csv``
    / ``.txt`` in the course folder and returns the reports, one per student, sorted by id. Last, the
    class report (:mod:`cnnkit.grading.class_report`, with ``class_report``'s options) is written.
    With ``similarity`` the graded functions are compared with the kit, the solutions and each other
    (:mod:`cnnkit.grading.similarity`): ``similarity_<assignment>.html`` and a flag in the report's rows.
    """
    course = _check_args(assignment, course_dir, jobs, timeout, cell_timeout, collect, force, students)
    _require_sandbox(sandbox)
    run = _open_course(course, assignment, jobs=jobs, limit=DEFAULT_TIMEOUT if timeout is None else float(timeout),
                       cell_timeout=None if cell_timeout is None else int(cell_timeout), sandbox=sandbox,
                       progress=progress)
    threshold = similarity_threshold(run.cfg) if similarity else None   # a wrong setting stops us before grading
    with _locked(run):
        chosen, submitted = _collect(run, collect, students)
        reports, todo = _resume(run, chosen, submitted, force)
        reports.update(_grade_in_workers(run, todo))
        ordered = _export(run, reports)
        if threshold is not None:
            from .similarity import after_grading

            after_grading(run.course, assignment, ordered, run.coursedir, threshold)
        write_after_grading(assignment, run.course, class_report)
        return ordered


# ---------------------------------------------------------------- the stages of grade()

@dataclass
class _Run:
    """What one call of :func:`grade` works with: the course as nbgrader sees it, and the options."""

    course: Path
    assignment: str
    cfg: Any                  # the course's traitlets Config
    coursedir: Any            # nbgrader's CourseDirectory for the assignment
    max_score: float
    jobs: int = 1
    limit: float = DEFAULT_TIMEOUT
    cell_timeout: int | None = None
    sandbox: bool = True
    progress: Callable[[StudentReport], None] | None = None

    @property
    def db_url(self) -> str:
        return self.coursedir.db_url

    @property
    def course_id(self) -> str:
        return self.coursedir.course_id

    @property
    def work(self) -> Path:
        """The run's own folder in the course: its lock, each student's state, the workers' scratch."""
        return self.course / WORK_DIR / self.assignment

    def save(self, report: StudentReport, stamp: str | None) -> None:
        """Record atomically that a student is settled, for the submission of ``stamp`` (a later run keeps them)."""
        rp.save_state(self._state_file(report.student), report, submission_timestamp=stamp)

    def saved(self, student: str) -> tuple[StudentReport, dict] | None:
        """What an earlier run recorded for ``student``, if anything."""
        return rp.load_state(self._state_file(student))

    def tell(self, report: StudentReport) -> None:
        """Hand a settled student's row to ``progress``, if there is one."""
        if self.progress:
            self.progress(report)

    def _state_file(self, student: str) -> Path:
        return self.work / "state" / f"{student}.json"


def _require_sandbox(sandbox: bool) -> None:
    """RuntimeError when the sandbox is asked for and this machine has none (``--unsandboxed`` says otherwise)."""
    if not isinstance(sandbox, bool):
        raise TypeError(f"sandbox must be True or False, got {sandbox!r}")
    if sandbox:
        from .sandbox import unavailable_reason

        reason = unavailable_reason()
        if reason is not None:
            raise RuntimeError(f"cannot run student code in a sandbox on this machine: {reason}; install "
                               "bubblewrap, or pass --unsandboxed to run it with your own rights (every report "
                               "row then says so)")


def _open_course(course: Path, assignment: str, **options) -> _Run:
    """Read the course's config and gradebook; the run's options go into the :class:`_Run`.

    A folder that is no course, an assignment never generated, a mistake in ``c.CnnkitGrader``:
    each is a ValueError here, before anything is written.
    """
    from .nbgrader_glue import assignment_facts, load_config, make_coursedir, sqlite_path
    from .policy import sandbox_policy

    cfg = load_config(course)
    sandbox_policy(cfg, assignment)
    coursedir = make_coursedir(cfg, assignment_id=assignment)
    _check_course(course, sqlite_path(coursedir.db_url))
    facts = assignment_facts(coursedir.db_url, coursedir.course_id, assignment)
    return _Run(course, assignment, cfg, coursedir, facts.max_score, **options)


@contextmanager
def _locked(run: _Run) -> Iterator[None]:
    """Hold the assignment's lock file for the block: two runs never grade one assignment of a course at once."""
    run.work.mkdir(parents=True, exist_ok=True)
    with open(run.work / "lock", "w") as handle:
        try:
            _lock_exclusively(handle)
        except BlockingIOError:
            raise RuntimeError(f"another grading run of {run.assignment!r} is using {run.course}") from None
        yield


def _lock_exclusively(handle: IO) -> None:
    """Lock an open file for this process without waiting: BlockingIOError when another holds it.

    ``fcntl`` is Unix's and ``msvcrt`` Windows', so each is imported here, where it is used.
    """
    try:
        import fcntl
    except ImportError:
        fcntl = None
    if fcntl is not None:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    try:
        import msvcrt
    except ImportError:
        raise RuntimeError("cannot lock the grading folder on this system: it has neither fcntl nor msvcrt") from None
    try:
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
    except OSError as exc:
        raise BlockingIOError(str(exc)) from exc


def _collect(run: _Run, source: str | os.PathLike | None, students: list[str] | None
             ) -> tuple[list[str], set[str]]:
    """``zip_collect`` the LMS downloads in ``source``, if any; return whom to grade and who submitted.

    The known students are those with a ``submitted/<student>/<assignment>/`` folder and those of the
    gradebook's roster; ValueError names any of ``students`` who is neither.
    """
    from .nbgrader_glue import roster

    if source is not None:
        _zip_collect(run.course, run.assignment, Path(source), run.cfg)
    submitted = set(_submitted_students(run.coursedir, run.assignment))
    everyone = sorted(submitted | set(roster(run.db_url, run.course_id)))
    unknown = sorted(set(students or ()) - set(everyone))
    if unknown:
        raise ValueError(f"no student {', '.join(map(repr, unknown))} in {run.course}: students are those with a "
                         f"submitted/<student>/{run.assignment}/ folder or in the gradebook's roster "
                         f"({len(everyone)} known)")
    return (everyone if students is None else sorted(set(students))), submitted


def _resume(run: _Run, chosen: list[str], submitted: set[str], force: bool
            ) -> tuple[dict[str, StudentReport], list[tuple[str, str | None]]]:
    """Settle the students who need no grading now; return their reports and the ``(student, stamp)`` to grade.

    A student an earlier run settled, for the same submission and not as an ``error``, keeps that
    row unless ``force``; one who handed in nothing gets a ``missing notebook`` row at once.
    """
    reports: dict[str, StudentReport] = {}
    todo = []
    for student in chosen:
        stamp = _timestamp(run.coursedir, student, run.assignment)
        saved = run.saved(student)
        if (saved and not force and saved[0].status != rp.ERROR
                and saved[1].get("submission_timestamp") == stamp):
            reports[student] = saved[0]
        elif student not in submitted:
            reports[student] = StudentReport(student, 0.0, run.max_score, rp.MISSING, "nothing submitted")
            run.save(reports[student], stamp)
        else:
            todo.append((student, stamp))
    for report in reports.values():
        run.tell(report)
    return reports, todo


def _export(run: _Run, reports: dict[str, StudentReport]) -> list[StudentReport]:
    """Write ``grades.csv`` and the report files; return the rows, sorted, with the gradebook's points now."""
    from .nbgrader_glue import export_grades

    ordered = [_with_current_points(reports[student], run) for student in sorted(reports)]
    export_grades(run.db_url, run.course_id, run.course / "grades.csv")
    _write_diagnoses(run, ordered)
    rp.atomic_write_text(run.course / f"grading_report_{run.assignment}.csv", rp.reports_to_csv(ordered))
    rp.atomic_write_text(run.course / f"grading_report_{run.assignment}.txt", rp.format_table(ordered))
    return ordered


def _save_diagnoses(run: _Run, student: str, diagnoses: dict) -> None:
    """Keep what ``check()`` said in each graded cell of one student (for the class report), atomically."""
    import json

    rp.atomic_write_text(run.work / "diagnoses" / f"{student}.json", json.dumps(diagnoses))


def _write_diagnoses(run: _Run, reports: list[StudentReport]) -> None:
    """``grading_diagnoses_NAME.json``: every graded student's diagnoses with their cells' points."""
    import json

    from .nbgrader_glue import cell_points

    students = {}
    for report in reports:
        try:
            diagnoses = json.loads((run.work / "diagnoses" / f"{report.student}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        points = cell_points(run.db_url, run.course_id, run.assignment, report.student)
        students[report.student] = {
            notebook: {cell: {**entry, **points.get(notebook, {}).get(cell, {"points": None, "max_points": None})}
                       for cell, entry in cells.items()}
            for notebook, cells in diagnoses.items() if isinstance(cells, dict)}
    document = {"version": 1, "assignment": run.assignment, "students": students}
    rp.atomic_write_text(run.course / f"grading_diagnoses_{run.assignment}.json", json.dumps(document, indent=1))


def _check_course(course: Path, gradebook: Path) -> None:
    """ValueError unless ``course`` is an nbgrader course folder with a gradebook."""
    if not (course / "nbgrader_config.py").is_file() and not gradebook.is_file():
        raise ValueError(f"{course} is not an nbgrader course folder (no nbgrader_config.py, no gradebook.db): "
                         "pass --course with the folder you run nbgrader in")
    if not gradebook.is_file():
        raise ValueError(f"{course} has no gradebook yet ({gradebook.name}): run `nbgrader generate_assignment "
                         "NAME` there first")


def _with_current_points(report: StudentReport, run: _Run) -> StudentReport:
    """The report with the gradebook's points now (hand-given points arrive after autograding)."""
    from nbgrader.api import MissingEntry

    from .nbgrader_glue import submission_score

    try:
        points = submission_score(run.db_url, run.course_id, run.assignment, report.student)
    except MissingEntry:
        return report
    if report.status in (rp.GRADED, rp.LATE, rp.TAMPERED, rp.TIMEOUT, rp.LIMIT):
        return report.scores_from(points)
    report.auto_max, report.manual_max = points.auto_max, points.manual_max
    report.manual_score, report.manual_pending = points.manual, points.manual_pending
    return report


def regenerate_feedback(assignment: str, course_dir: str | os.PathLike = ".", *,
                        students: list[str] | None = None) -> list[Path]:
    """Write the feedback again from the main gradebook (after manual grading), hidden tests stripped.

    Plain ``nbgrader generate_feedback`` would put the hidden tests back in front of students;
    this runs the same converter with :class:`~cnnkit.grading.feedback.StripHiddenTests` first.
    ``students`` defaults to everyone with an autograded notebook. Returns the HTML files written.
    """
    course = _check_args(assignment, course_dir, 1, None, None, None, False, students)
    from .feedback import SafeGenerateFeedback
    from .nbgrader_glue import load_config, make_coursedir, run_converter
    from .worker import hidden_test_config

    cfg = load_config(course)
    hidden_test_config(cfg)
    written: list[Path] = []
    for student in (students or ["*"]):
        coursedir = make_coursedir(cfg, assignment_id=assignment, student_id=student)
        outcome = run_converter(SafeGenerateFeedback, coursedir, cfg)
        if not outcome["success"]:
            raise RuntimeError(f"feedback for {student!r} failed:\n{(outcome.get('log') or '')[-3000:]}")
        folder = Path(coursedir.format_path(coursedir.feedback_directory, student, assignment))
        written += sorted(Path(p) for p in glob.glob(str(folder / "*.html")))
    return written


# ---------------------------------------------------------------- grading in workers, settling each student

def _grade_in_workers(run: _Run, todo: list[tuple[str, str | None]]) -> dict[str, StudentReport]:
    """Autograde the ``todo`` students on ``run.jobs`` workers; settle each one as soon as it is done."""
    if not todo:
        return {}
    from .pool import WorkerPool

    stamps = dict(todo)
    scratch = _fresh_scratch(run)
    temp = _temp_root()
    tasks = [_task(run, scratch, temp, index, student) for index, student in enumerate(stamps)]
    results = {}
    pool = WorkerPool(min(run.jobs, len(tasks)), log_dir=scratch / "logs", env=_worker_env())
    try:
        for outcome in pool.run(tasks, run.limit):
            # the worker is done with (or was killed during) this task: its temporary files go, whatever happened
            shutil.rmtree(outcome.task.temp, ignore_errors=True)
            report = _record(run, outcome, stamps[outcome.task.student])
            shutil.rmtree(outcome.task.scratch, ignore_errors=True)
            results[report.student] = report
    finally:
        shutil.rmtree(temp, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
    return results


def _temp_root() -> Path:
    """A private folder for the tasks' temporary files: in RAM (``/dev/shm``) where there is one, so the
    kernels' channel files never reach the disk, else the system's temporary folder (short: socket paths)."""
    import tempfile

    shm, base = Path("/dev/shm"), None
    try:  # a container's /dev/shm may be 64 MB: too small for hand-ins and answers
        if shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free >= 2 << 30:
            base = shm
    except OSError:
        pass
    return Path(tempfile.mkdtemp(prefix="cnnkit-", dir=base))


def _fresh_scratch(run: _Run) -> Path:
    """A new scratch folder for this run's workers (older ones removed), with a snapshot of the gradebook."""
    from .nbgrader_glue import snapshot_gradebook, sqlite_path

    scratch = run.work / f"run-{uuid.uuid4().hex[:8]}"
    for old in run.work.glob("run-*"):
        shutil.rmtree(old, ignore_errors=True)
    scratch.mkdir()
    snapshot_gradebook(sqlite_path(run.db_url), scratch / "snapshot.db")
    return scratch


def _task(run: _Run, scratch: Path, temp: Path, index: int, student: str) -> Task:
    """The worker's task for one student: its own scratch and temporary folders, the shared gradebook snapshot."""
    from .messages import Task

    return Task(course=str(run.course), assignment=run.assignment, student=student,
                scratch=str(scratch / "students" / student), snapshot=str(scratch / "snapshot.db"),
                temp=str(temp / str(index)), cell_timeout=run.cell_timeout, sandboxed=run.sandbox)


def _record(run: _Run, outcome: Outcome, stamp: str | None) -> StudentReport:
    """Settle one worker outcome into a report row, save it as the student's state and tell ``progress``."""
    student = outcome.task.student
    try:
        report = _settle(outcome, run, stamp)
    except Exception as exc:  # e.g. the gradebook locked by a busy formgrader: say so, retry next run
        report = StudentReport(student, 0.0, run.max_score, rp.ERROR, f"could not record the result: {exc!r}"[:300],
                               stamp or "", round(outcome.seconds, 2))
    if not run.sandbox:
        report.sandbox = rp.UNSANDBOXED
        report.detail = "; ".join(filter(None, ["ran UNSANDBOXED (--unsandboxed)", report.detail]))
    run.save(report, stamp)
    run.tell(report)
    return report


def _settle(outcome: Outcome, run: _Run, stamp: str | None) -> StudentReport:
    """Turn one worker outcome into gradebook rows, files in place, and a report row."""
    from .messages import Answer

    answer = outcome.answer or Answer(outcome.task.student)
    base = dict(student=answer.student, timestamp=stamp or "", seconds=round(outcome.seconds, 2))
    if answer.ok:
        return _settle_graded(run, outcome, answer, base)
    return _settle_failed(run, outcome, answer, base, stamp)


def _settle_graded(run: _Run, outcome: Outcome, answer: Answer, base: dict) -> StudentReport:
    """Merge an autograded student into the gradebook, move their notebooks and feedback into the course."""
    from .nbgrader_glue import merge_submission, submission_score

    student, coursedir, notes = answer.student, run.coursedir, _notes(answer)
    _save_diagnoses(run, student, answer.diagnoses)
    merge_submission(f"sqlite:///{Path(outcome.task.scratch) / 'gradebook.db'}", run.db_url, run.course_id,
                     run.assignment, student)
    _install(Path(answer.autograded), Path(coursedir.format_path(coursedir.autograded_directory, student,
                                                                 run.assignment)))
    statuses = []
    if answer.feedback:
        _install(Path(answer.feedback), Path(coursedir.format_path(coursedir.feedback_directory, student,
                                                                   run.assignment)))
    else:
        statuses.append(rp.ERROR)
        notes.append("feedback failed: " + _last_line(answer.feedback_error or ""))
    points = submission_score(run.db_url, run.course_id, run.assignment, student)
    late = points.seconds_late
    statuses += [rp.TIMEOUT] * bool(answer.cell_timeouts) + [rp.MISSING] * bool(answer.missing)
    statuses += [rp.LIMIT] * bool(answer.limits or answer.limit_errors)
    statuses += [rp.TAMPERED] * bool(answer.tampered) + [rp.LATE] * (late > 0)
    if late > 0:
        notes.append(f"submitted {_duration(late)} late")
    return StudentReport(score=points.total, max_score=points.max_total, status=rp.worst(statuses),
                         detail="; ".join(notes), **base).scores_from(points)


def _settle_failed(run: _Run, outcome: Outcome, answer: Answer, base: dict, stamp: str | None) -> StudentReport:
    """Record a zero for a student whose autograding did not finish, with the reason."""
    from .nbgrader_glue import record_zero, submission_score

    status, message = _failure(outcome, answer, run.limit)
    record_zero(run.db_url, run.course_id, run.assignment, answer.student, timestamp=stamp)
    notes = ([message] if message else []) + _notes(answer)
    points = submission_score(run.db_url, run.course_id, run.assignment, answer.student)
    if points.seconds_late > 0:
        notes.append(f"submitted {_duration(points.seconds_late)} late")
    return StudentReport(score=0.0, max_score=points.max_total, status=status, detail="; ".join(notes),
                         **base).scores_from(points)


def _failure(outcome: Outcome, answer: Answer, limit: float) -> tuple[str, str]:
    """``(status, message)`` of an autograding that did not finish: the pool's failure, else the worker's."""
    from .findings import classify_failure
    from .pool import TIMED_OUT, UNREADABLE

    if outcome.failure == TIMED_OUT:
        status, message = rp.TIMEOUT, f"killed after the {limit:g} s wall-clock limit per submission"
    elif outcome.failure == UNREADABLE:
        status, message = rp.ERROR, f"unreadable answer from the grading worker: {_last_line(outcome.detail)}"
    elif outcome.failure is not None:
        status, message = rp.ERROR, f"grading worker died: {_last_line(outcome.detail)}"
    elif answer.crash:
        status, message = rp.ERROR, _last_line(answer.crash)
    elif answer.missing and not answer.log:
        status, message = rp.MISSING, ""
    else:
        status, message = classify_failure(answer.log)
    if answer.limits and status in (rp.KERNEL_DIED, rp.ERROR, rp.TIMEOUT):
        status = rp.LIMIT
    return status, message


def _notes(answer: Answer) -> list[str]:
    """What the worker found, in words for the report's detail column."""
    notes = [f"no {name}.ipynb" for name in answer.missing]
    if answer.unknown:
        notes.append("found " + ", ".join(f"{n}.ipynb" for n in answer.unknown) + " instead (renamed?)")
    if answer.cell_timeouts:
        notes.append("interrupted at the per-cell time limit: " + ", ".join(answer.cell_timeouts)
                     + " (the rest was graded)")
    if answer.limits:
        notes.append("stopped by the sandbox's bounds: " + ", ".join(answer.limits))
    if answer.limit_errors:
        notes.append("raised the error a bound gives (the sandbox's bound, or the code's own raise): "
                     + ", ".join(answer.limit_errors))
    if answer.cleaned:
        notes.append("shown cleaned: " + "; ".join(answer.cleaned))
    if answer.tampered:
        notes.append("; ".join(answer.tampered))
    if answer.restored:
        notes.append("restored: " + "; ".join(answer.restored) + " (graded as if untouched)")
    if answer.dropped:
        notes.append("not given to the kernel: " + ", ".join(answer.dropped))
    if answer.extra_files:
        notes.append("extra files: " + ", ".join(answer.extra_files))
    return notes


def _install(src: Path, dest: Path) -> None:
    """Move a finished folder into the course, replacing an older one (renames within one filesystem)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    trash = dest.with_name(f".{dest.name}.old-{uuid.uuid4().hex[:6]}")
    if dest.exists():
        os.replace(dest, trash)
    os.replace(src, dest)
    shutil.rmtree(trash, ignore_errors=True)


def _duration(seconds: float) -> str:
    hours, rest = divmod(int(round(seconds)), 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no message"


def _timestamp(coursedir, student: str, assignment: str) -> str | None:
    """The hand-in's ``timestamp.txt``, read as the student left it: a link, a pipe or a device is no timestamp.

    The student wrote this file (nbgrader's submit does, in their account): opened without following a
    link and without blocking, checked to be a regular file, read up to 200 bytes, so a link to a FIFO
    cannot hang the grader nor one to /dev/zero fill its memory.
    """
    path = Path(coursedir.format_path(coursedir.submitted_directory, student, assignment)) / "timestamp.txt"
    data = read_regular_file(path, 200, truncate=True)
    text = data.decode("utf-8", "replace").strip() if data is not None else ""
    return text if text and is_timestamp(text) else None




def _submitted_students(coursedir, assignment: str) -> list[str]:
    """Ids of the students with a ``submitted/<student>/<assignment>/`` folder (nbgrader's layout)."""
    pattern = coursedir.format_path(coursedir.submitted_directory, "*", assignment)
    regexp = coursedir.format_path(coursedir.submitted_directory, "(?P<student_id>[^/]+)", re.escape(assignment),
                                   escape=True)
    found = []
    for path in glob.glob(pattern):
        match = re.fullmatch(regexp, path)
        if match and os.path.isdir(path):
            found.append(match.group("student_id"))
    return sorted(found)


def _worker_env() -> dict[str, str]:
    """The environment of the workers: this Python's bin/ first on PATH (nbgrader calls `alembic`)."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = package_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _zip_collect(course: Path, assignment: str, source: Path, cfg) -> None:
    """Copy an LMS download folder into ``downloaded/<assignment>/archive`` and run nbgrader's zip_collect."""
    archive = course / "downloaded" / assignment / "archive"
    archive.mkdir(parents=True, exist_ok=True)
    for item in sorted(source.iterdir()):
        if item.is_file():
            shutil.copy2(item, archive / item.name)
    command = [sys.executable, "-m", "nbgrader", "zip_collect", assignment, "--force"]
    if "named_regexp" not in cfg.get("FileNameCollectorPlugin", {}):
        command.append(f"--FileNameCollectorPlugin.named_regexp={DEFAULT_ZIP_REGEXP}")
    done = subprocess.run(command, cwd=course, env=_worker_env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"nbgrader zip_collect failed (exit {done.returncode}):\n{done.stderr[-3000:]}")


def _check_args(assignment, course_dir, jobs, timeout, cell_timeout, collect, force, students) -> Path:
    if not isinstance(assignment, str) or not _SAFE_ID.match(assignment):
        raise ValueError(f"assignment must be a folder name such as 'a1_convolution', got {assignment!r}")
    course = Path(course_dir).resolve()
    if not course.is_dir():
        raise ValueError(f"course_dir must be an existing folder (an nbgrader course), got {str(course_dir)!r}")
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    for name, value in (("timeout", timeout), ("cell_timeout", cell_timeout)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
            raise ValueError(f"{name} must be a positive number of seconds or None, got {value!r}")
    if cell_timeout is not None and int(cell_timeout) != cell_timeout:
        raise ValueError(f"cell_timeout must be a whole number of seconds (nbgrader's Execute.timeout), "
                         f"got {cell_timeout!r}")
    if collect is not None and not Path(collect).is_dir():
        raise ValueError(f"collect must be a folder of downloaded submissions (zip files), got {str(collect)!r}")
    if not isinstance(force, bool):
        raise TypeError(f"force must be True or False, got {force!r}")
    if students is not None:
        if isinstance(students, str) or not all(isinstance(s, str) and _SAFE_ID.match(s) for s in students):
            raise ValueError(f"students must be a list of student ids (letters, digits, ._@+-), got {students!r}")
    return course


def main(argv: list[str] | None = None) -> int:
    """The command line: ``python -m cnnkit grade ASSIGNMENT [--course DIR] [--jobs N] ...``."""
    from ..cli import ArgumentParser, fail, int_arg

    parser = ArgumentParser(
        prog="python -m cnnkit grade",
        description="Collect, autograde (in parallel), give feedback (no hidden tests) and export grades "
                    "for one nbgrader assignment, with a report that says why each score is what it is.")
    parser.add_argument("assignment", help="assignment name, e.g. a1_convolution")
    parser.add_argument("--course", default=".", help="nbgrader course folder (default: current folder)")
    parser.add_argument("--jobs", type=int_arg, default=1, help="students graded at once, one process each")
    parser.add_argument("--timeout", type=float, default=None,
                        help=f"wall-clock seconds per submission (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--cell-timeout", type=int_arg, default=None,
                        help="seconds per cell (default: Execute.timeout of nbgrader_config.py)")
    parser.add_argument("--zip", dest="collect", default=None, metavar="DIR",
                        help="folder of LMS downloads (zip files) to zip_collect first")
    parser.add_argument("--force", action="store_true", help="regrade students graded by an earlier run")
    parser.add_argument("--student", dest="students", nargs="+", default=None, metavar="ID",
                        help="grade only these students")
    parser.add_argument("--unsandboxed", action="store_true",
                        help="run student code WITHOUT the bubblewrap sandbox, with your rights (only for a "
                             "machine that has none; every report row then says so)")
    parser.add_argument("--no-similarity", action="store_true",
                        help="skip the similarity report (similarity_NAME.html and the report's similarity column)")
    parser.add_argument("--feedback-only", action="store_true",
                        help="only write the feedback again from the gradebook (after manual grading)")
    add_report_options(parser)
    args = parser.parse_args(argv)
    from .worker import skip_slow_optional_imports

    skip_slow_optional_imports()

    def show(report: StudentReport) -> None:
        print(f"{report.student}: {report.score:g}/{report.max_score:g} {report.status}"
              + (f" ({report.detail})" if report.detail else ""), file=sys.stderr, flush=True)

    start, started = time.perf_counter(), time.time()
    if args.feedback_only:
        try:
            pages = regenerate_feedback(args.assignment, args.course, students=args.students)
        except (ValueError, TypeError, RuntimeError) as exc:
            return fail("cnnkit grade", exc)
        print(f"wrote {len(pages)} feedback pages (hidden tests stripped) in {time.perf_counter() - start:.0f} s")
        return 0
    try:
        reports = grade(args.assignment, args.course, jobs=args.jobs, timeout=args.timeout,
                        cell_timeout=args.cell_timeout, collect=args.collect, force=args.force,
                        students=args.students, sandbox=not args.unsandboxed, progress=show,
                        class_report=options_from(args), similarity=not args.no_similarity)
    except (ValueError, TypeError, RuntimeError) as exc:
        return fail("cnnkit grade", exc)
    except KeyboardInterrupt:
        print("cnnkit grade: interrupted; students finished so far are kept, run the same command to go on",
              file=sys.stderr)
        return 130
    print(rp.format_table(reports), end="")
    course = Path(args.course)
    print(f"\n{len(reports)} students in {time.perf_counter() - start:.0f} s; wrote {course / 'grades.csv'}, "
          f"{course / f'grading_report_{args.assignment}.csv'} and feedback/ (no hidden tests)")
    print(stored_summary(args.assignment, course, since=started), end="")
    return 0 if all(r.status != rp.ERROR for r in reports) else 1
