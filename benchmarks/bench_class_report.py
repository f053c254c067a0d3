"""Seconds to build the class report of a large class: ``python -m cnnkit report`` from the stored files.

A synthetic a1_convolution class (tests/class_synthetic.py: the instructor's solutions with catalogued
mutants, unknown mistakes and failing hidden tests; gradebook written through nbgrader's API, diagnoses
from cnnkit.checks.check) is built once, untimed. Then the whole command runs in a fresh process, as an
instructor runs it (imports, gradebook, diagnoses, plots, page, JSON, both exports), best of ``--repeat``;
and its stages are timed in this process. The issue's bar: 300 students in under 10 s on 2 cores.

    python benchmarks/bench_class_report.py [--students 300] [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import class_synthetic as synth  # noqa: E402
from machine import cpu_name  # noqa: E402  (benchmarks/machine.py)


def _stages(course: Path) -> dict[str, tuple[float, float]]:
    """(wall, CPU) seconds of each stage, in this (warm) process."""
    from cnnkit.grading import class_data as cd
    from cnnkit.grading import class_report as cr
    from cnnkit.grading.class_page import render_page

    times = {}

    def timed(name, work):
        wall, cpu = time.perf_counter(), time.process_time()
        result = work()
        times[name] = (time.perf_counter() - wall, time.process_time() - cpu)
        return result

    grades = timed("read gradebook", lambda: cd.read_gradebook(f"sqlite:///{course / 'gradebook.db'}",
                                                                synth.COURSE_ID, synth.ASSIGNMENT))
    diagnoses, statuses = timed("read diagnoses + statuses", lambda: (
        cd.read_diagnoses(cd.diagnoses_path(course, synth.ASSIGNMENT), synth.ASSIGNMENT),
        cd.read_statuses(cd.grading_report_path(course, synth.ASSIGNMENT))))
    report = timed("count", lambda: cr.build_report(grades, diagnoses, statuses, report_dir=course))
    timed("plots + page", lambda: render_page(report))
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sys.modules.setdefault("rfc3987_syntax", None)  # as the commands do: jsonschema's slow optional import
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               MPLBACKEND="Agg")
    os.environ["PATH"] = env["PATH"]  # nbgrader creates the gradebook with alembic
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp) / "course"
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            planted = synth.build_class(course, args.students)
        (course / "nbgrader_config.py").write_text(f'c = get_config()  # noqa: F821\n'
                                                   f'c.CourseDirectory.course_id = "{synth.COURSE_ID}"\n')
        print(f"built a class of {len(planted.students)} students (+{len(planted.missing)} absent), "
              f"{sum(planted.mistakes.values())} diagnosed mistakes of {len(planted.mistakes)} kinds, "
              f"in {time.perf_counter() - start:.0f} s (not timed below)")
        command = [sys.executable, "-m", "cnnkit", "report", synth.ASSIGNMENT, "--course", str(course),
                   "--export", "canvas", "--export", "moodle"]
        best = best_cpu = float("inf")
        for _ in range(args.repeat):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            done = subprocess.run(command, env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return 1
            best = min(best, seconds)
            best_cpu = min(best_cpu, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        stages = _stages(course)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"CPU: {cpu_name()}, {cores} cores available")
    print(f"python -m cnnkit report, {args.students} students (whole command, fresh process, best of "
          f"{args.repeat}): {best:.2f} s wall, {best_cpu:.2f} s CPU (user + system)  (issue's bar: < 10 s on 2 cores)")
    print(f"  load average while measuring: {os.getloadavg()[0]:.1f} (wall time grows with other work on the machine)")
    for name, (wall, cpu) in stages.items():
        print(f"  {name:<28} {wall:6.2f} s wall, {cpu:6.2f} s CPU (in a warm process)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
