"""The catalogue entry type: one known mistake, in words (the package holds no code that makes it)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mistake:
    """One realistic mistake in one graded function: its id (``conv2d.no_bias``), the function and
    assignment, a plain-words title and the lecture section that explains it.

    :func:`~cnnkit.checks.check` recognises it by what a function making it returns on the check's
    fixed cases, stored as data in ``cnnkit/checks/catalogue.json`` (built by the instructor's
    ``instructor/build_catalogue.py`` from code that stays out of this package).
    """

    id: str
    function: str
    assignment: str
    title: str
    lecture: str


A1 = "a1_convolution"
A2 = "a2_pooling_normalization"
A3 = "a3_cnn_from_scratch"
