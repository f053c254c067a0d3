"""What every ``python -m cnnkit`` command shares: bad input is one line on stderr and exit status 2.

The design's rule: a command checks its arguments, and the ValueError or TypeError a public
function raises for a bad value becomes one line that names the argument, the value and what
is allowed, never a traceback. :class:`ArgumentParser` does it for what argparse finds;
the ``*_arg`` types check numbers as argparse reads them; :func:`fail` prints the line.
"""
from __future__ import annotations

import argparse
import sys
from typing import NoReturn

__all__ = ["ArgumentParser", "fail", "one_line", "int_arg", "positive_int_arg", "positive_float_arg",
           "non_negative_float_arg", "require_positive"]

#: Exit status for bad input (argparse's own).
USAGE_ERROR = 2


def one_line(message: object) -> str:
    """``message`` on one line (an exception's text may span several)."""
    return " ".join(str(message).split())


def fail(prog: str, message: object, status: int = USAGE_ERROR) -> int:
    """Print ``prog: message`` as one line on stderr and return ``status`` (2: bad input)."""
    print(f"{prog}: {one_line(message)}", file=sys.stderr)
    return status


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line (``prog: argument --x: ...``) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments"):
            message += f" (see {self.prog} --help)"
        self.exit(USAGE_ERROR, f"{self.prog}: {one_line(message)}\n")


_POSITIVE_INT = "a positive int (1, 2, 3, ...)"


def _number(text: str, kind: type, allowed: str, ok) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not ok(value) or value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be {allowed}, got {text!r}")
    return value


def int_arg(text: str) -> int:
    """argparse type: any int (for ``int`` argparse says only "invalid int value")."""
    return _number(text, int, "an int", lambda v: True)


def positive_int_arg(text: str) -> int:
    """argparse type: 1, 2, 3, ..."""
    return _number(text, int, _POSITIVE_INT, lambda v: v >= 1)


def positive_float_arg(text: str) -> float:
    """argparse type: a finite number > 0."""
    return _number(text, float, "a number > 0", lambda v: v > 0)


def non_negative_float_arg(text: str) -> float:
    """argparse type: a finite number >= 0."""
    return _number(text, float, "a number >= 0", lambda v: v >= 0)


def require_positive(value: int | None, flag: str) -> None:
    """For an ``int_arg`` checked after parsing: ValueError naming ``flag`` unless None or >= 1."""
    if value is not None and value < 1:
        raise ValueError(f"argument {flag}: must be {_POSITIVE_INT}, got {value}")
