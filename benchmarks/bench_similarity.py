"""The similarity report of ``cnnkit grade``: seconds for a class of a1, and its errors on the real cases.

1. **Speed.** A synthetic class of ``--students`` (default 300) a1 hand-ins is made from
   tests/similarity_cases: each student's six functions are drawn from the honest cases, a few from
   the copies, with every variable renamed per student (so no two texts are alike). The figure is the
   wall-clock time of :func:`cnnkit.grading.similarity.check_class` on that course: reading every
   notebook, normalising the kit (cnnkit/ and the lectures) and the solutions, fingerprinting,
   comparing, writing the HTML page. It runs in one process (the machine's other core stays free);
   the CPU seconds are printed too, as a shared machine stretches the wall-clock time. The class is a
   worst case for the report: a handful of solutions per function, each handed in (renamed) by dozens
   of students, so most students match many others.
2. **Errors.** On the cases themselves (tests/similarity_cases: honest solutions, copies of the kit's
   code and of the solution, two students sharing one), the false positives (honest functions flagged)
   and false negatives (copies not flagged) at several thresholds, the default marked; then the same on
   the held-out cases (tests/similarity_cases/heldout), which the settings were not chosen on.

    python benchmarks/bench_similarity.py [--students 300] [--repeat 1]
"""
from __future__ import annotations

import argparse
import ast
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from cnnkit.grading.similarity import Settings, check_class  # noqa: E402
from cnnkit.grading.similarity import corpus  # noqa: E402
from similarity_cases.load import ASSIGNMENT, CASES, HELDOUT, class_of_cases, load_cases, write_course  # noqa: E402
from machine import cpu_name  # noqa: E402  (benchmarks/machine.py)


def renamed(source: str, suffix: str) -> str:
    """The function with every variable it binds renamed (``out`` -> ``out_s17``): the same code, another text."""
    tree = ast.parse(source)
    function = tree.body[0]
    bound = {n.id for n in ast.walk(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and node.id in bound:
            node.id += suffix
    return ast.unparse(tree)


def synthetic_class(n: int, seed: int = 0) -> dict[str, dict[str, str]]:
    """``n`` students: honest functions drawn at random, one in ten with a copied function, all renamed."""
    rng = random.Random(seed)
    cases = load_cases()
    honest: dict[str, list[str]] = {}
    for case in cases:
        if case.kind == "honest":
            honest.setdefault(case.function, []).append(case.source)
    copies = [c for c in cases if c.kind != "honest"]
    students = {}
    for i in range(n):
        functions = {name: rng.choice(sources) for name, sources in honest.items()}
        if i % 10 == 0:
            copy = rng.choice(copies)
            functions[copy.function] = copy.source
        students[f"s{i:03d}"] = {name: renamed(src, f"_s{i}") for name, src in functions.items()}
    return students


def errors_on_the_cases(thresholds: list[float], folder: Path = CASES) -> None:
    cases = load_cases(folder)
    students = class_of_cases(cases)
    with tempfile.TemporaryDirectory() as tmp:
        course = write_course(Path(tmp), REPO, students)
        check = check_class(course, ASSIGNMENT, package_dir=REPO / "cnnkit", lecture_dirs=[REPO / "lectures"],
                            settings=Settings(threshold=min(thresholds)))
    best: dict[tuple[str, str], float] = {}
    for m in check.result.matches:
        best[(m.student, m.function)] = max(best.get((m.student, m.function), 0.0), m.score)
    skipped = {(s.student, s.function) for s in check.result.skipped}
    honest = {(s, f) for s, fs in students.items() if s.startswith("honest") for f in fs}
    copies = {(s, f) for s, fs in students.items() if not s.startswith("honest") for f in fs}
    print(f"\n{folder.relative_to(REPO)}: {len(honest)} honest functions ({len(honest & skipped)} under the size floor, not compared), "
          f"{len(copies)} copied ({len(copies & skipped)} not compared)")
    print(f"{'threshold':>9}  {'false positives':>15}  {'false negatives':>15}")
    for t in thresholds:
        fp = sorted(k for k in honest if best.get(k, 0) >= t)
        fn = sorted(k for k in copies - skipped if best.get(k, 0) < t)
        mark = "  (default)" if abs(t - Settings().threshold) < 1e-9 else ""
        print(f"{t:>9.2f}  {len(fp):>15}  {len(fn):>15}{mark}")
        if mark:
            print("           flagged honest:", ", ".join(f"{s}/{f} {best[(s, f)]:.0%}" for s, f in fp) or "none")
            print("           copies missed: ", ", ".join(f"{s}/{f} {best.get((s, f), 0):.0%}" for s, f in fn) or "none")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    print(f"CPU: {cpu_name()}; Python {platform.python_version()}")
    students = synthetic_class(args.students)
    with tempfile.TemporaryDirectory() as tmp:
        course = write_course(Path(tmp), REPO, students)
        times, cpu = [], []
        for _ in range(args.repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            check = check_class(course, ASSIGNMENT, package_dir=REPO / "cnnkit", lecture_dirs=[REPO / "lectures"])
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        start = time.process_time()
        kit = corpus.kit_units(REPO / "cnnkit", [REPO / "lectures"])
        kit_seconds = time.process_time() - start
    result = check.result
    print(f"{args.students} students of {ASSIGNMENT}: {result.compared} functions compared against "
          f"{result.references} pieces of reference code and each other in {min(times):.1f} s wall-clock, "
          f"{min(cpu):.1f} s of CPU (best of {args.repeat}; of which normalising the kit: {kit_seconds:.1f} s CPU, "
          f"{len(kit)} units; `uptime` tells how busy the machine was); "
          f"{len(check.flags)} students flagged, {len(result.matches)} matches above {result.settings.threshold:.0%}")
    errors_on_the_cases([0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8])
    errors_on_the_cases([0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8], HELDOUT)


if __name__ == "__main__":
    main()
