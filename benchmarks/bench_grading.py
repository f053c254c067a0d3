"""Students graded per minute: ``cnnkit grade`` sandboxed vs ``--unsandboxed``, ``--jobs 1`` vs ``2``, and plain nbgrader.

Every run grades the same synthetic class (cnnkit.grading.synthetic, well-behaved students
only, so the figure is about throughput rather than time limits) in its own copy of the
course. "Grading" means the whole pipeline: autograde, feedback, export. The baseline is
``nbgrader autograde`` + ``nbgrader generate_feedback`` + ``nbgrader export`` run one after
the other, as an instructor would without this kit. ``cnnkit grade`` runs every notebook in the
bubblewrap sandbox and decides verdicts in the grader's process; ``--unsandboxed`` keeps the
trusted verdicts (the test runner as a plain process) but runs the kernel and the runner without
bubblewrap, so the difference is the sandboxes' cost.

    python benchmarks/bench_grading.py [--students 10] [--repeat 2]

The machine is shared, so its load drifts during a run: with ``--repeat 2`` the three
set-ups run in the order A B C, then C B A, and each one's best time is reported.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cnnkit.grading import grade, synthetic

KINDS = ["full marks", "mul wrong", "add wrong", "fails only hidden tests", "untouched release"]


def _class(n: int) -> dict[str, str]:
    return {f"b{i:03d}": KINDS[i % len(KINDS)] for i in range(n)}


def _nbgrader(course: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _time_nbgrader(template: Path, dest: Path) -> float:
    course = Path(shutil.copytree(template, dest))
    start = time.perf_counter()
    _nbgrader(course, "autograde", synthetic.ASSIGNMENT, "--force")
    _nbgrader(course, "generate_feedback", synthetic.ASSIGNMENT, "--force")
    _nbgrader(course, "export")
    return time.perf_counter() - start


def _time_cnnkit(template: Path, dest: Path, jobs: int, n: int, sandbox: bool = True) -> float:
    course = Path(shutil.copytree(template, dest))
    start = time.perf_counter()
    # like for like with plain nbgrader: no similarity report (it runs after grading, and is measured
    # on its own in bench_similarity.py)
    reports = grade(synthetic.ASSIGNMENT, course, jobs=jobs, cell_timeout=60, sandbox=sandbox, similarity=False)
    seconds = time.perf_counter() - start
    assert len(reports) == n and all(r.status == "graded" for r in reports), reports
    assert sum(r.score == synthetic.AUTO_POINTS for r in reports) == sum(
        KINDS[i % len(KINDS)] == "full marks" for i in range(n)), reports
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=10, help="class size (default 10)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds, alternating the order (default 1)")
    args = parser.parse_args(argv)
    if args.students < 1 or args.repeat < 1:
        parser.error("--students and --repeat must be >= 1")
    bindir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")  # nbgrader calls alembic
    setups = {
        "plain nbgrader (serial)": lambda t, d: _time_nbgrader(t, d),
        "cnnkit grade --jobs 1": lambda t, d: _time_cnnkit(t, d, 1, args.students),
        "cnnkit grade --jobs 2": lambda t, d: _time_cnnkit(t, d, 2, args.students),
        "--jobs 2 --unsandboxed": lambda t, d: _time_cnnkit(t, d, 2, args.students, sandbox=False),
    }
    timings: dict[str, list[float]] = {name: [] for name in setups}
    with tempfile.TemporaryDirectory() as tmp:
        template = synthetic.make_course(Path(tmp) / "template")
        synthetic.add_students(template, _class(args.students))
        for round_ in range(args.repeat):
            order = list(setups) if round_ % 2 == 0 else list(reversed(setups))
            for index, name in enumerate(order):
                timings[name].append(setups[name](template, Path(tmp) / f"r{round_}-{index}"))
    best = {name: min(values) for name, values in timings.items()}
    print(f"{args.students} students, {os.cpu_count()} CPUs, {args.repeat} round(s), "
          f"load average {os.getloadavg()[0]:.1f} at the end; best of each:")
    for name, seconds in best.items():
        print(f"{name:<26} {seconds:7.1f} s  {60 * args.students / seconds:6.1f} students/min   "
              f"(all: {', '.join(f'{t:.1f}' for t in timings[name])} s)")
    print(f"speedup --jobs 2 vs --jobs 1: {best['cnnkit grade --jobs 1'] / best['cnnkit grade --jobs 2']:.2f}x; "
          f"--jobs 2 vs plain nbgrader: {best['plain nbgrader (serial)'] / best['cnnkit grade --jobs 2']:.2f}x")
    cost = best["cnnkit grade --jobs 2"] / best["--jobs 2 --unsandboxed"] - 1
    print(f"the sandbox's cost at --jobs 2: {100 * cost:+.1f} % time (sandboxed vs --unsandboxed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
