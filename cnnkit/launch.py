"""The course's two commands without ``make``: ``cnnkit lab`` and ``cnnkit test``.

``make lab`` and ``make test`` call these, so a student on Windows, macOS or Linux who ran
``pip install -e .`` gets exactly the same JupyterLab and the same test run. The course folder is
the current folder (or the nearest one above it) holding ``lectures/``, else the checkout this
package was installed from (an editable install), else ``--course DIR``.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from cnnkit.cli import ArgumentParser, fail

__all__ = ["find_course", "lab_command", "pytest_command", "lab_main", "suite_main"]

#: The page JupyterLab opens on: the lecture tree.
LAB_START_PAGE = "/lab/tree/lectures"
#: Test workers when pytest-xdist is installed and no ``-n`` is given (``make test``'s JOBS).
DEFAULT_JOBS = 2


class CourseNotFound(LookupError):
    """No course folder (one holding ``lectures/``) where the command looked."""


def _is_course(folder: Path) -> bool:
    return (folder / "lectures").is_dir()


def find_course(course: str | os.PathLike | None = None, cwd: str | os.PathLike | None = None,
                installed_from: str | os.PathLike | None = None) -> Path:
    """The course folder: ``course`` if given, else ``cwd`` or a folder above it holding ``lectures/``,
    else the checkout the package was installed from (``installed_from``, default: the folder above
    the ``cnnkit`` package). Raises :class:`CourseNotFound` saying where it looked and what to do.
    """
    if course is not None:
        folder = Path(course).expanduser().resolve()
        if not _is_course(folder):
            raise CourseNotFound(f"argument --course: {folder} holds no lectures/ folder; "
                                 "give the course folder (the repository root)")
        return folder
    here = Path.cwd() if cwd is None else Path(cwd)
    here = here.resolve()
    for folder in (here, *here.parents):
        if _is_course(folder):
            return folder
    checkout = Path(__file__).resolve().parents[1] if installed_from is None else Path(installed_from).resolve()
    if _is_course(checkout):
        return checkout
    raise CourseNotFound(f"no course folder in {here} or above it (a course folder holds lectures/): "
                         "run this in the course folder, or pass --course DIR")


def _running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def lab_command(port: int = 8888, allow_root: bool | None = None, extra: Sequence[str] = ()) -> list[str]:
    """The JupyterLab command ``make lab`` has always run, to be started in the course folder.

    Jupyter refuses to run as root unless told (containers and CI machines often are root), so
    ``--allow-root`` is added there (``allow_root=None``: decided from the current user).
    """
    if allow_root is None:
        allow_root = _running_as_root()
    return [sys.executable, "-m", "jupyterlab", "--notebook-dir=.", f"--port={port}", "--no-browser",
            f"--ServerApp.default_url={LAB_START_PAGE}", *(["--allow-root"] if allow_root else []), *extra]


def _wants_own_workers(args: Sequence[str]) -> bool:
    return any(a in ("-n", "--numprocesses") or a.startswith("--numprocesses=")
               or (a.startswith("-n") and not a.startswith("--")) for a in args)


def pytest_command(args: Sequence[str] = (), xdist: bool | None = None) -> list[str]:
    """``python -m pytest`` with ``args``; with pytest-xdist and no ``-n`` of the caller's, 2 workers
    distributed by file (each file's shared fixture is built once), as ``make test`` does."""
    if xdist is None:
        xdist = importlib.util.find_spec("xdist") is not None
    workers = ["-n", str(DEFAULT_JOBS), "--dist", "loadfile"] if xdist and not _wants_own_workers(args) else []
    return [sys.executable, "-m", "pytest", *workers, *args]


def _environment() -> dict[str, str]:
    """This environment's scripts first on PATH (nbgrader shells out to ``alembic``; make did this)."""
    env = dict(os.environ)
    scripts = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([scripts, env["PATH"]]) if env.get("PATH") else scripts
    return env


def _run(command: list[str], cwd: Path) -> int:
    """Run ``command`` in ``cwd`` as this process (POSIX: Ctrl+C and signals go straight to it)."""
    sys.stdout.flush()
    env = _environment()
    if os.name == "posix":
        os.chdir(cwd)
        os.execve(command[0], command, env)
    try:
        return subprocess.call(command, cwd=cwd, env=env)
    except KeyboardInterrupt:
        return 130


def _missing(module: str) -> bool:
    return importlib.util.find_spec(module) is None


def lab_main(argv: list[str] | None = None) -> int:
    """Open the course in JupyterLab on the lecture tree (http://localhost:PORT/lab/tree/lectures)."""
    parser = ArgumentParser(prog="python -m cnnkit lab", description=lab_main.__doc__,
                            epilog="Other options (--ServerApp.token=..., --browser) go to JupyterLab unchanged.")
    parser.add_argument("--port", type=int, default=8888, help="the first port to try (default 8888)")
    parser.add_argument("--course", metavar="DIR", help="the course folder (default: found from here)")
    args, extra = parser.parse_known_args(argv)
    if not 1 <= args.port <= 65535:
        return fail(parser.prog, f"argument --port: must be a port number 1..65535, got {args.port}")
    try:
        course = find_course(args.course)
    except CourseNotFound as error:
        return fail(parser.prog, error)
    if _missing("jupyterlab"):
        return fail(parser.prog, "JupyterLab is not installed in this environment: "
                                 f'pip install -e "{course}[student]" (or [lab] for the whole course)', 1)
    print(f"cnnkit lab: the course in {course}, at http://localhost:{args.port}{LAB_START_PAGE} "
          "(the address with its token follows; Ctrl+C stops it)")
    return _run(lab_command(args.port, extra=extra), course)


def suite_main(argv: list[str] | None = None) -> int:
    """Run the course's test suite (python -m pytest in the course folder); options go to pytest."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["-h"], ["--help"]):
        print("usage: cnnkit test [pytest options and paths]\n\n"
              f"{suite_main.__doc__}\nWith pytest-xdist and no -n: -n {DEFAULT_JOBS} --dist loadfile.")
        return 0
    try:
        course = find_course()
    except CourseNotFound as error:
        return fail("python -m cnnkit test", error)
    if _missing("pytest"):
        return fail("python -m cnnkit test", f'the test suite needs the dev tools: pip install -e "{course}[dev]"', 1)
    return _run(pytest_command(argv), course)
