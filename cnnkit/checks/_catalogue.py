"""The catalogue, assembled from the three mutant modules.

Imported only when needed (a failed check's diagnosis, or ``cnnkit.checks.MISTAKES``), so that
``from cnnkit.checks import check`` works where the mutant modules are hidden (a grading sandbox
may hide them: every mutant is a solution with one mistake).
"""
from __future__ import annotations

from ._mistake import Mistake
from .mutants_a1 import MISTAKES_A1
from .mutants_a2 import MISTAKES_A2
from .mutants_a3 import MISTAKES_A3

MISTAKES: list[Mistake] = [*MISTAKES_A1, *MISTAKES_A2, *MISTAKES_A3]
