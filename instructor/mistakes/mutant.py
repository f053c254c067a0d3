"""The mutant entry type, and the lecture sections that mistakes point to.

A mutant is the instructor's solution of one graded function with exactly one realistic mistake.
Mutants stay here, in the repository: the students' package ships only what ``check()`` needs to
recognise each mistake (its outcomes on the checks' fixed cases, as data), written by
``instructor/build_catalogue.py``.
"""
from __future__ import annotations

import builtins
import types
from dataclasses import dataclass
from typing import Callable

from cnnkit.checks import Mistake
from cnnkit.checks._mistake import A1, A2, A3

__all__ = ["Mutant", "A1", "A2", "A3", "lecture", "bind_globals"]


@dataclass(frozen=True)
class Mutant:
    """One realistic mistake in one graded function, with the code that makes it.

    ``mutant`` is a plain numpy function with exactly the student function's signature that makes
    this mistake and no other; it is self-contained (it imports numpy in its body and calls nothing
    else of the kit), so its source can stand in a notebook as a student's answer.

    ``helpers``: ``(keyword, function)`` pairs to pass to :func:`~cnnkit.checks.check` together with
    the mutant, where the check needs a companion function that understands the mutant's cache
    (the 2x2 max-pool pair); those companions are correct and self-contained too.
    ``needs``: notebook globals that the mutant calls, as the student's function would
    (``train`` calls the notebook's ``loss_and_grads``); the check supplies them from its helpers.
    """

    id: str
    function: str
    assignment: str
    title: str
    lecture: str
    mutant: Callable
    helpers: tuple[tuple[str, Callable], ...] = ()
    needs: tuple[str, ...] = ()

    @property
    def mistake(self) -> Mistake:
        """The entry as the students' package knows it: no code."""
        return Mistake(self.id, self.function, self.assignment, self.title, self.lecture)

    def in_notebook(self, **globals_: Callable) -> Callable:
        """The mutant as it would run in a notebook that defines ``globals_`` (e.g. ``loss_and_grads``).

        Raises TypeError when a name in :attr:`needs` is not given.
        """
        missing = [n for n in self.needs if n not in globals_]
        if missing:
            raise TypeError(f"{self.id} calls the notebook's {', '.join(missing)}: pass it as a keyword")
        return bind_globals(self.mutant, self.needs, globals_)


def bind_globals(func: Callable, names: tuple[str, ...], scope: dict) -> Callable:
    """``func`` with the notebook globals it calls (``loss_and_grads``) taken from ``scope``."""
    if not names:
        return func
    namespace = {"__builtins__": builtins, **{n: scope[n] for n in names if n in scope}}
    bound = types.FunctionType(func.__code__, namespace, func.__name__, func.__defaults__, func.__closure__)
    bound.__kwdefaults__ = func.__kwdefaults__
    return bound


def _section(number: str, heading: str, what: str = "") -> str:
    return f"lecture {number}, section '{heading}'" + (f" ({what})" if what else "")


# Headings exactly as they stand in lectures/NN_*.ipynb (a test checks that they still do).
L01_RF = "01", "Receptive fields grow with depth"
L01_SHARING = "01", "2. Parameter sharing"
L02_CORR = "02", "2. Correlation, by the numbers: the lecture's box filter"
L02_FLIP = "02", "3. Correlation or convolution? And why libraries implement correlation"
L02_PHOTO = "02", "4. Filters on a real photograph"
L02_CHANNELS = "02", "6. Multiple channels and multiple filters"
L02_STRIDE = "02", "7. Stride and output size"
L03_POOL = "03", "2. Pooling functions"
L03_L2FEAT = "03", "L2 pooling over features: invariance to edge orientation"
L03_SHIFT = "03", "3. Invariance to small translations (Goodfellow et al., Fig. 9.8)"
L03_RF = "03", "5. Receptive field of convolution + pooling"
L04_LCN = "04", "1. Local contrast normalization"
L04_SYSTEM = "04", "4. The whole system"
L05_DETAIL = "05", "1. Convolutions in more detail: one filter, then six"
L07_CHAIN = "07", "1. The chain rule, layer after layer"
L07_EXERCISES = "07", "Exercises"


def lecture(where: tuple[str, str], what: str = "") -> str:
    return _section(where[0], where[1], what)
