"""The instructor's catalogue of realistic mistakes, each with its mutant (instructors only).

``MUTANTS`` lists every catalogued mistake with the code that makes it. The students' package
(``cnnkit.checks``) never imports this: ``instructor/build_catalogue.py`` runs each mutant on the
checks' fixed cases and writes what it returned into ``cnnkit/checks/catalogue.json``, which is
all that ``check()`` needs to recognise the mistake.
"""
from __future__ import annotations

from .mutant import Mutant
from .mutants_a1 import MISTAKES_A1
from .mutants_a2 import MISTAKES_A2
from .mutants_a3 import MISTAKES_A3

MUTANTS: list[Mutant] = [*MISTAKES_A1, *MISTAKES_A2, *MISTAKES_A3]

__all__ = ["MUTANTS", "Mutant"]
