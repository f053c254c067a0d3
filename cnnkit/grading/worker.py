"""A grading worker: a separate process that autogrades one student at a time with nbgrader.

The parent sends one :class:`Task` per line on stdin; for each the worker copies the gradebook
snapshot into the task's scratch folder, autogrades the student there (nbgrader's Autograde
converter: restore locked cells, re-insert deleted tests, execute, save grades), writes the
feedback without hidden tests, and answers a :class:`Started` line, then an :class:`Answer`
line. The parent alone touches the main gradebook and the course's ``autograded/`` and
``feedback/`` folders.

Run as ``python -m cnnkit.grading.worker``; it exits when its stdin closes or its parent dies.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import traceback
from pathlib import Path

from .findings import extra_files, is_timestamp, limit_hits, notebook_files, tampered_cells
from .messages import Answer, Started, Task, _Message  # noqa: F401 - Task/Answer are this module's vocabulary

# ---------------------------------------------------------------- the worker process

def skip_slow_optional_imports() -> None:
    """Mark ``rfc3987_syntax`` absent in a grading process (call before nbformat is imported).

    jsonschema imports it, when installed, for an optional IRI format check that nbformat's
    schemas never use; the import builds a grammar and costs ~5 s of CPU per process here.
    """
    sys.modules.setdefault("rfc3987_syntax", None)


def _die_with_parent() -> None:
    """Ask Linux to send SIGTERM when the parent exits, so a killed grader leaves no workers behind."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def autograde_preprocessors() -> list[type]:
    """nbgrader's own autograde steps, in its order, with its Execute swapped for :class:`TrustedExecute`."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    from .trusted import TrustedExecute

    steps = Autograde.class_traits()["autograde_preprocessors"].default()
    if Execute not in steps:
        raise RuntimeError("this nbgrader's autograde has no Execute step to replace: cnnkit's grader needs 0.9")
    return [TrustedExecute if step is Execute else step for step in steps]


def _scratch_config(course: Path, scratch: Path, task: Task):
    from dataclasses import asdict

    from .nbgrader_glue import load_config, make_coursedir
    from .policy import sandbox_policy

    cfg = load_config(course)
    cfg.CourseDirectory.autograded_directory = os.path.relpath(scratch / "autograded", course)
    cfg.CourseDirectory.feedback_directory = os.path.relpath(scratch / "feedback", course)
    cfg.CourseDirectory.db_url = f"sqlite:///{scratch / 'gradebook.db'}"
    cfg.OverwriteCells.add_missing_cells = True
    cfg.HTMLExporter.sanitize_html = True  # feedback pages: no student script in the HTML, whatever the course says
    if task.cell_timeout is not None:
        cfg.Execute.timeout = task.cell_timeout
    # nbgrader's own steps, with its Execute replaced by the trusted, sandboxed one
    cfg.Autograde.autograde_preprocessors = autograde_preprocessors()
    policy = sandbox_policy(cfg, task.assignment)
    cfg.TrustedExecute.sandboxed = task.sandboxed
    cfg.TrustedExecute.hidden_modules = list(policy.hidden_modules)
    cfg.TrustedExecute.limits = asdict(policy.limits)
    cfg.TrustedExecute.temp_dir = task.temp
    cfg.TrustedExecute.source_dir = str(Path(make_coursedir(cfg, assignment_id=task.assignment).format_path(
        cfg.CourseDirectory.get("source_directory", "source"), ".", task.assignment)).resolve())
    delimiters = _delimiters(cfg)
    cfg.TrustedExecute.begin_hidden, cfg.TrustedExecute.end_hidden = delimiters["begin"], delimiters["end"]
    hidden_test_config(cfg)
    return cfg


def hidden_test_config(cfg) -> None:
    """Make the feedback strip hidden tests with the delimiters the course releases with."""
    for key in ("begin_test_delimeter", "end_test_delimeter"):
        if key in cfg.get("ClearHiddenTests", {}):
            cfg.StripHiddenTests[key] = cfg.ClearHiddenTests[key]


def _delimiters(cfg) -> dict[str, str]:
    hidden = cfg.get("ClearHiddenTests", {})
    return {"begin": hidden.get("begin_test_delimeter", "BEGIN HIDDEN TESTS"),
            "end": hidden.get("end_test_delimeter", "END HIDDEN TESTS")}


def grade_student(task: Task) -> Answer:
    """Autograde ``task.student`` into ``task.scratch``; return what happened."""
    from .nbgrader_glue import make_coursedir

    course, scratch = Path(task.course), Path(task.scratch)
    assignment, student = task.assignment, task.student
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    shutil.copyfile(task.snapshot, scratch / "gradebook.db")
    cfg = _scratch_config(course, scratch, task)
    handed_in = Path(make_coursedir(cfg, assignment_id=assignment, student_id=student).format_path(
        cfg.CourseDirectory.get("submitted_directory", "submitted"), student, assignment))
    # nbgrader copies a hand-in with the grader's rights, following links: it gets a copy made
    # of regular files only, outside the course (in the task's own temporary folder, which the
    # parent removes even when it has to kill this worker), so no link can pull a file of the course in
    safe_root = Path(task.temp) / "handed-in"
    try:
        dropped = safe_copy(handed_in, safe_root / student / assignment, max_bytes=_max_file_bytes(cfg))
        dropped += _drop_bad_timestamp(safe_root / student / assignment)
        cfg.CourseDirectory.submitted_directory = str(safe_root)
        cfg.TrustedExecute.submission_dir = str(safe_root / student / assignment)
        cfg.TrustedExecute.events_file = str(scratch / "limits.jsonl")
        answer = _autograde(cfg, scratch, assignment, student)
        answer.dropped = dropped
        return answer
    finally:
        shutil.rmtree(safe_root, ignore_errors=True)


def _drop_bad_timestamp(folder: Path) -> list[str]:
    """Remove a ``timestamp.txt`` nbgrader cannot read as a time (it would fail the student's whole run)."""
    path = folder / "timestamp.txt"
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return []
    if is_timestamp(text):
        return []
    path.unlink()
    return ["timestamp.txt (not a time: the hand-in is taken as on time)"]


def _max_file_bytes(cfg) -> int:
    """nbgrader's own limit on copied files (``CourseDirectory.max_file_size``, in KB)."""
    return int(cfg.CourseDirectory.get("max_file_size", 100_000)) * 1000


def safe_copy(src: Path, dest: Path, *, max_bytes: int, depth: int = 0) -> list[str]:
    """Copy the regular files and folders of ``src`` into ``dest``; return what was left out and why.

    Links (to files or folders), devices, pipes and files over ``max_bytes`` are not copied.
    Nothing is followed: each entry is judged by ``lstat``.
    """
    import stat

    dropped: list[str] = []
    dest.mkdir(parents=True, exist_ok=True)
    if depth > 20 or not src.is_dir() or src.is_symlink():
        return dropped
    for entry in sorted(os.scandir(src), key=lambda e: e.name):
        info = entry.stat(follow_symlinks=False)
        name = os.path.relpath(entry.path, src) if depth == 0 else entry.name
        if stat.S_ISDIR(info.st_mode):
            dropped += [f"{entry.name}/{d}" for d in safe_copy(Path(entry.path), dest / entry.name,
                                                               max_bytes=max_bytes, depth=depth + 1)]
        elif not stat.S_ISREG(info.st_mode):
            dropped.append(f"{name} (a link or special file)")
        elif info.st_size > max_bytes:
            dropped.append(f"{name} (larger than {max_bytes // 1_000_000} MB)")
        else:
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as fh, open(dest / entry.name, "wb") as out:
                shutil.copyfileobj(fh, out)
            os.utime(dest / entry.name, ns=(info.st_atime_ns, info.st_mtime_ns))
    return dropped


def _autograde(cfg, scratch: Path, assignment: str, student: str) -> Answer:
    """nbgrader's Autograde of one student (from the safe copy of the hand-in), then the feedback."""
    import nbformat
    from nbgrader.converters import Autograde

    from .feedback import SafeGenerateFeedback
    from .nbgrader_glue import assignment_facts, make_coursedir, run_converter

    coursedir = make_coursedir(cfg, assignment_id=assignment, student_id=student)
    facts = assignment_facts(coursedir.db_url, coursedir.course_id, assignment)
    submitted = Path(coursedir.format_path(coursedir.submitted_directory, student, assignment))
    present, missing, unknown = notebook_files(submitted, facts.notebooks)
    answer = Answer(student, missing=missing, unknown=unknown, extra_files=extra_files(submitted, facts.notebooks))
    if not present:
        return answer
    for name in present:
        nb = nbformat.read(submitted / f"{name}.ipynb", as_version=4)
        findings = tampered_cells(nb, facts.locked[name], **_delimiters(cfg))
        answer.tampered += [f"{name}: {finding}" for finding in findings]
        if _restore_metadata(nb, _release_dir(cfg, assignment) / f"{name}.ipynb"):
            nbformat.write(nb, submitted / f"{name}.ipynb")  # the hand-in's safe copy, never the course's
            answer.restored.append(f"{name}: nbgrader metadata of read-only or graded cells")

    outcome = run_converter(Autograde, coursedir, cfg)
    answer.log = ((outcome.get("log") or "") + (outcome.get("error") or ""))[-20000:]
    _read_findings(scratch / "limits.jsonl", answer)
    autograded = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment))
    if not outcome["success"] or not autograded.is_dir():
        return answer
    answer.ok, answer.autograded = True, str(autograded)
    for name in present:   # errors the code raised that look like a bound: words only, the status is the
        nb = nbformat.read(autograded / f"{name}.ipynb", as_version=4)   # sandbox's (a student can raise them)
        answer.limit_errors += [f"{name}: {hit}" for hit in limit_hits(nb)]

    feedback = run_converter(SafeGenerateFeedback, coursedir, cfg)
    folder = Path(coursedir.format_path(coursedir.feedback_directory, student, assignment))
    if feedback["success"] and folder.is_dir():
        answer.feedback = str(folder)
    else:
        answer.feedback_error = (feedback.get("error") or feedback.get("log") or "")[-2000:]
    return answer


def _release_dir(cfg, assignment: str) -> Path:
    from .nbgrader_glue import make_coursedir

    coursedir = make_coursedir(cfg, assignment_id=assignment)
    return Path(coursedir.format_path(cfg.CourseDirectory.get("release_directory", "release"), ".", assignment))


def _restore_metadata(nb, source: Path) -> bool:
    """Give every cell the release knows (by grade id) the release's nbgrader metadata and cell type.

    nbgrader restores a read-only cell's source but stops at a cell whose metadata was edited (say
    ``"grade": false`` on a test): the whole notebook would fail to grade. Returns whether anything changed.
    """
    import copy

    import nbformat

    if not source.exists():
        return False
    known = {}
    for cell in nbformat.read(source, as_version=4).cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade_id"):
            known[meta["grade_id"]] = (cell.cell_type, meta)
    changed = False
    for cell in nb.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid not in known:
            continue
        kind, meta = known[gid]
        if cell.metadata.get("nbgrader") != meta or cell.cell_type != kind:
            cell.metadata["nbgrader"] = copy.deepcopy(meta)
            if cell.cell_type != kind:
                cell.cell_type = kind
                if kind == "code":
                    cell.setdefault("outputs", [])
                    cell.setdefault("execution_count", None)
                else:
                    cell.pop("outputs", None)
                    cell.pop("execution_count", None)
            changed = True
    return changed


def _read_findings(path: Path, answer: Answer) -> None:
    """What TrustedExecute recorded per notebook: bounds hit (``processes (54 forks refused)``), set-up
    cells restored, and what ``check()`` said in each graded cell."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return
    for line in lines:
        entry = json.loads(line)
        name = entry["notebook"]
        answer.limits += [f"{name}: {limit}" for limit in entry.get("limits", [])]
        answer.restored += [f"{name}: {note}" for note in entry.get("restored", [])]
        answer.cell_timeouts += [f"{name}: {cell}" for cell in entry.get("timeouts", [])]
        answer.cleaned += [f"{name}: {note}" for note in entry.get("cleaned", [])]
        if "diagnoses" in entry:
            answer.diagnoses.setdefault(name, {}).update(entry["diagnoses"])


def serve(tasks, answers) -> None:
    """Answer each :class:`Task` line from ``tasks`` on ``answers``: a :class:`Started` line, then an :class:`Answer`.

    The parent's wall-clock limit runs from ``started``, so the worker's own start-up (importing
    nbgrader takes seconds) is not charged to the first student it grades.
    """
    for line in tasks:
        if not line.strip():
            continue
        task = Task.from_json(line)  # a malformed task is the parent's bug: this worker stops with the traceback
        _send(answers, Started(task.student))
        try:
            answer = grade_student(task)
        except Exception:  # reported to the parent as an `error` row, never swallowed
            answer = Answer(task.student, crash=traceback.format_exc())
        _send(answers, answer)


def _send(answers, message: _Message) -> None:
    answers.write(message.to_json() + "\n")
    answers.flush()


def _stop(signum, frame) -> None:
    """On SIGTERM (sent too when the parent dies) take the running kernel down with this worker."""
    from .pool import kill_children

    kill_children(os.getpid())
    os._exit(128 + signum)


def main() -> int:
    skip_slow_optional_imports()
    _die_with_parent()
    signal.signal(signal.SIGTERM, _stop)
    # Answers go on a private copy of stdout; anything printed by libraries goes to stderr.
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    import nbformat  # noqa: F401  (imported before the first task: start-up is not a student's time)
    import nbgrader.converters  # noqa: F401

    from . import feedback  # noqa: F401
    serve(sys.stdin, answers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
