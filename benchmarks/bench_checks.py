"""CPU time of ``check()``: each graded function passing, and each catalogued mistake diagnosed.

``check()`` runs at the top of every graded cell, in the student's notebook and in the grader's test
runner, so it must stay well under a second. This prints the CPU time (best of two runs, so that a
loaded machine does not decide) of the slowest checks. It reuses the test suite's correct functions and
the instructor's mutants (``tests/test_checks.py``, ``instructor/mistakes``), so run it from a checkout:

    python benchmarks/bench_checks.py [--top 8]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO)]


def cpu_seconds(call, repeat: int = 2) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        call()
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=8, help="how many of the slowest checks to print")
    args = parser.parse_args()
    import test_checks as t

    from cnnkit.checks import FUNCTIONS, check

    costs = {name: cpu_seconds(lambda name=name: check(t.CORRECT[name], **t.student_helpers(name, vars(t))))
             for name in FUNCTIONS}
    costs.update({m.id: cpu_seconds(lambda m=m: check(t.as_student(m), name=m.function, **t.mutant_helpers(m)))
                  for m in t.MISTAKES})
    print(f"check(): {len(FUNCTIONS)} functions passing, {len(t.MISTAKES)} mistakes diagnosed; CPU seconds, best of 2")
    for key in sorted(costs, key=costs.get, reverse=True)[:args.top]:
        print(f"  {key:<45} {costs[key] * 1000:8.1f} ms")
    print(f"  median {sorted(costs.values())[len(costs) // 2] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
