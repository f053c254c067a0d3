"""The catalogue entry type, and the lecture sections that mistakes point to."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Mistake:
    """One realistic mistake in one graded function.

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

    def in_notebook(self, **globals_: Callable) -> Callable:
        """The mutant as it would run in a notebook that defines ``globals_`` (e.g. ``loss_and_grads``).

        Raises TypeError when a name in :attr:`needs` is not given.
        """
        from ._core import bind_globals

        missing = [n for n in self.needs if n not in globals_]
        if missing:
            raise TypeError(f"{self.id} calls the notebook's {', '.join(missing)}: pass it as a keyword")
        return bind_globals(self.mutant, self.needs, globals_)


A1 = "a1_convolution"
A2 = "a2_pooling_normalization"
A3 = "a3_cnn_from_scratch"


def _section(lecture: str, heading: str, what: str = "") -> str:
    return f"lecture {lecture}, section '{heading}'" + (f" ({what})" if what else "")


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
