"""What the light install lacks, said in one line: PyTorch.

``pip install "cnnkit[student]"`` runs the numpy part of the course without PyTorch. Where a
notebook or a command reaches a part that needs it, the student reads one line saying what to
install, not a traceback: :func:`require_torch` raises :class:`TorchMissing` (a
ModuleNotFoundError, so ``except ImportError`` still catches it), the command line prints the line
and exits with status 1, and in a notebook :func:`show_hint_in_notebooks` (called by ``import
cnnkit`` where torch is missing) shows any ``No module named 'torch'`` as that line.
"""
from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import Any

__all__ = ["TORCH_HINT", "TorchMissing", "torch_installed", "is_torch_missing", "require_torch",
           "optional_torch", "skip_without_torch", "show_hint_in_notebooks"]

#: What to do, after "<this part> needs PyTorch".
TORCH_HINT = ("which is not installed here: pip install torch "
              "(in a notebook: %pip install torch, then restart the kernel)")


def _message(what: str) -> str:
    return f"{what} needs PyTorch, {TORCH_HINT}"


class TorchMissing(ModuleNotFoundError):
    """PyTorch is not installed; the message says what needs it and how to install it."""

    def __init__(self, what: str = "this part") -> None:
        super().__init__(_message(what), name="torch")


def torch_installed() -> bool:
    """Whether ``import torch`` can find PyTorch (without importing it)."""
    if "torch" in sys.modules:
        return True
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def is_torch_missing(error: BaseException) -> bool:
    """Whether ``error`` is PyTorch (or one of its modules) missing."""
    return isinstance(error, ModuleNotFoundError) and (error.name or "").split(".")[0] == "torch"


def require_torch(what: str = "this part") -> ModuleType:
    """``torch``, or :class:`TorchMissing` naming ``what`` needs it."""
    try:
        import torch
    except ModuleNotFoundError as error:
        if not is_torch_missing(error):
            raise
        raise TorchMissing(what) from None
    return torch


def optional_torch(what: str) -> ModuleType | None:
    """``torch``, or None after one printed line saying ``what`` is skipped and how to get it.

    For the optional cross-checks of a numpy lecture: the lecture goes on without them.
    """
    try:
        return require_torch(what)
    except TorchMissing:
        skip_without_torch(what)
        return None


def skip_without_torch(what: str) -> None:
    """Print the one line a lecture shows where it skips ``what`` for want of PyTorch.

    For a lecture's ``if TORCH: ... else: skip_without_torch("section 5")`` guards.
    """
    print(f"skipped: {_message(what)}")


def _notebook_handler(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: int | None = None) -> None:
    """IPython's custom-exception hook: shows the one line for a missing torch, the usual traceback otherwise.

    The cell still fails (Run All stops there); only what it shows changes.
    """
    if is_torch_missing(value):
        message = str(value) if isinstance(value, TorchMissing) else _message("this part")
        shell._showtraceback(etype, value, [f"{TorchMissing.__name__}: {message}"])
    else:
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)


def show_hint_in_notebooks() -> bool:
    """In an IPython kernel without PyTorch, show "No module named 'torch'" as the one-line hint.

    Does nothing (and returns False) outside IPython, where torch is installed, or where the shell
    already has a custom exception handler of its own. Cheap: it never imports IPython itself.
    """
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if get_ipython is not None else None
    if shell is None or torch_installed():
        return False
    if shell.custom_exceptions and getattr(shell, "_cnnkit_torch_hint", False) is False:
        return False
    shell.set_custom_exc((ModuleNotFoundError,), _notebook_handler)
    shell._cnnkit_torch_hint = True
    return True
