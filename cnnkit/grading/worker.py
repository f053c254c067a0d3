"""A grading worker: a separate process that autogrades one student at a time with nbgrader.

The parent sends one JSON task per line on stdin; for each the worker copies the gradebook
snapshot into the task's scratch folder, autogrades the student there (nbgrader's Autograde
converter: restore locked cells, re-insert deleted tests, execute, save grades), writes the
feedback without hidden tests, and answers one JSON line. The parent alone touches the main
gradebook and the course's ``autograded/`` and ``feedback/`` folders.

Run as ``python -m cnnkit.grading.worker``; it exits when its stdin closes or its parent dies.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

from .checks import extra_files, limit_hits, notebook_files, tampered_cells, timed_out_cells


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


def _scratch_config(course: Path, scratch: Path, task: dict):
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput,
                                        SaveAutoGrades)

    from .nbgrader_glue import load_config
    from .policy import sandbox_policy
    from .trusted import TrustedExecute

    cfg = load_config(course)
    cfg.CourseDirectory.autograded_directory = os.path.relpath(scratch / "autograded", course)
    cfg.CourseDirectory.feedback_directory = os.path.relpath(scratch / "feedback", course)
    cfg.CourseDirectory.db_url = f"sqlite:///{scratch / 'gradebook.db'}"
    cfg.OverwriteCells.add_missing_cells = True
    if task.get("cell_timeout") is not None:
        cfg.Execute.timeout = int(task["cell_timeout"])
    # nbgrader's own steps, with its Execute replaced by the trusted, sandboxed one
    cfg.Autograde.autograde_preprocessors = [TrustedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
                                             SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
    policy = sandbox_policy(cfg, task["assignment"])
    cfg.TrustedExecute.sandboxed = bool(task.get("sandboxed", True))
    cfg.TrustedExecute.hidden_modules = list(policy.hidden_modules)
    cfg.TrustedExecute.memory_mb = policy.memory_mb
    cfg.TrustedExecute.max_processes = policy.max_processes
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


def grade_student(task: dict) -> dict:
    """Autograde ``task["student"]`` into ``task["scratch"]``; return what happened as a JSON-able dict."""
    import nbformat
    from nbgrader.converters import Autograde
    from nbgrader.utils import capture_log

    from .feedback import SafeGenerateFeedback
    from .nbgrader_glue import assignment_facts, make_coursedir

    course, scratch = Path(task["course"]), Path(task["scratch"])
    assignment, student = task["assignment"], task["student"]
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    shutil.copyfile(task["snapshot"], scratch / "gradebook.db")
    cfg = _scratch_config(course, scratch, task)
    handed_in = Path(make_coursedir(cfg, assignment_id=assignment, student_id=student).format_path(
        cfg.CourseDirectory.get("submitted_directory", "submitted"), student, assignment))
    # nbgrader copies a hand-in with the grader's rights, following links: it gets a copy made
    # of regular files only, outside the course, so no link can pull a file of the course in
    safe_root = Path(tempfile.mkdtemp(prefix="cnnkit-sub-"))
    try:
        dropped = safe_copy(handed_in, safe_root / student / assignment, max_bytes=_max_file_bytes(cfg))
        cfg.CourseDirectory.submitted_directory = str(safe_root)
        cfg.TrustedExecute.submission_dir = str(safe_root / student / assignment)
        cfg.TrustedExecute.events_file = str(scratch / "limits.jsonl")
        result = _autograde(cfg, course, scratch, assignment, student)
        result["dropped"] = dropped
        return result
    finally:
        shutil.rmtree(safe_root, ignore_errors=True)


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


def _autograde(cfg, course: Path, scratch: Path, assignment: str, student: str) -> dict:
    """nbgrader's Autograde of one student (from the safe copy of the hand-in), then the feedback."""
    import nbformat
    from nbgrader.converters import Autograde
    from nbgrader.utils import capture_log

    from .feedback import SafeGenerateFeedback
    from .nbgrader_glue import assignment_facts, make_coursedir

    coursedir = make_coursedir(cfg, assignment_id=assignment, student_id=student)
    facts = assignment_facts(coursedir.db_url, coursedir.course_id, assignment)
    submitted = Path(coursedir.format_path(coursedir.submitted_directory, student, assignment))
    present, missing, unknown = notebook_files(submitted, facts.notebooks)
    timestamp = coursedir.get_existing_timestamp(str(submitted))
    result = {"student": student, "ok": False, "log": "", "missing": missing, "unknown": unknown,
              "extra_files": extra_files(submitted, facts.notebooks), "tampered": [], "cell_timeouts": [],
              "limits": [],
              "timestamp": timestamp.isoformat(sep=" ") if timestamp else None,
              "autograded": None, "feedback": None, "feedback_error": None}
    if not present:
        return result
    for name in present:
        nb = nbformat.read(submitted / f"{name}.ipynb", as_version=4)
        findings = tampered_cells(nb, facts.locked[name], **_delimiters(cfg))
        result["tampered"] += [f"{name}: {finding}" for finding in findings]

    converter = Autograde(coursedir=coursedir, config=cfg)
    converter.force = True
    outcome = capture_log(converter)
    result["log"] = ((outcome.get("log") or "") + (outcome.get("error") or ""))[-20000:]
    result["limits"] += _recorded_limits(scratch / "limits.jsonl")
    autograded = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment))
    if not outcome["success"] or not autograded.is_dir():
        return result
    result["ok"] = True
    result["autograded"] = str(autograded)
    for name in present:
        nb = nbformat.read(autograded / f"{name}.ipynb", as_version=4)
        result["cell_timeouts"] += [f"{name}: {cell}" for cell in timed_out_cells(nb)]
        result["limits"] += [f"{name}: {hit}" for hit in limit_hits(nb)]

    feedback = SafeGenerateFeedback(coursedir=coursedir, config=cfg)
    feedback.force = True
    fb_outcome = capture_log(feedback)
    folder = Path(coursedir.format_path(coursedir.feedback_directory, student, assignment))
    if fb_outcome["success"] and folder.is_dir():
        result["feedback"] = str(folder)
    else:
        result["feedback_error"] = (fb_outcome.get("error") or fb_outcome.get("log") or "")[-2000:]
    return result


def _recorded_limits(path: Path) -> list[str]:
    """The bounds the sandbox recorded (``processes (54 forks refused)``), per notebook."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        entry = json.loads(line)
        found += [f"{entry['notebook']}: {limit}" for limit in entry.get("limits", [])]
    return found


def serve(tasks, answers) -> None:
    """Answer each JSON task line from ``tasks`` on ``answers``: a ``started`` line, then a ``done`` line.

    The parent's wall-clock limit runs from ``started``, so the worker's own start-up (importing
    nbgrader takes seconds) is not charged to the first student it grades.
    """
    for line in tasks:
        if not line.strip():
            continue
        task = json.loads(line)
        answers.write(json.dumps({"event": "started", "student": task.get("student")}) + "\n")
        answers.flush()
        start = time.perf_counter()
        try:
            result = grade_student(task)
        except Exception:  # reported to the parent as an `error` row, never swallowed
            result = {"student": task.get("student"), "ok": False, "crash": traceback.format_exc()}
        result["seconds"] = time.perf_counter() - start
        answers.write(json.dumps({"event": "done", **result}) + "\n")
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
