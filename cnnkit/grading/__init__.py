"""Grading a class with nbgrader, in parallel and honest about failures: ``python -m cnnkit grade``.

Importing this package is cheap; nbgrader is imported when grading starts.
"""
from .pipeline import DEFAULT_TIMEOUT, grade, main, regenerate_feedback
from .report import STATUSES, StudentReport

__all__ = ["grade", "regenerate_feedback", "main", "StudentReport", "STATUSES", "DEFAULT_TIMEOUT"]
