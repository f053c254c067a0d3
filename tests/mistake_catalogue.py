"""The instructor's mutants, for the tests (they run from the repository; the package never ships them).

``MUTANTS`` is ``instructor.mistakes.MUTANTS``: every catalogued mistake with the code that makes it.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from instructor.mistakes import MUTANTS, Mutant  # noqa: E402

__all__ = ["MUTANTS", "Mutant", "ROOT"]
