"""Catch a student function that calls the kit's reference code (or torch / scipy) instead of doing the work.

The graded assignments ask students to write, say, ``conv2d`` with explicit loops. A hidden test
compares their result with :func:`cnnkit.ops.conv2d`, so a student who simply *calls*
``cnnkit.ops.conv2d`` would pass. This module watches what a function calls while it runs:

    >>> from cnnkit import integrity
    >>> with integrity.forbid():          # raises IntegrityError on exit if a forbidden call happened
    ...     out = student_conv2d(x, w)

How it works: :func:`sys.setprofile` installs a hook that Python calls on every function call,
Python-level (``"call"``, with the frame of the callee) and C-level (``"c_call"``, with the
builtin being called). A Python call is forbidden when the callee's code lives in a file of a
watched package (``cnnkit/ops/``, ``torch/``, ...). Judging by the *file* rather than by names
makes it robust to aliasing: ``from cnnkit.ops import conv2d as c`` still runs code from
``cnnkit/ops/conv.py``. A C call is forbidden when the builtin belongs to a watched module
(``torch.conv2d``, a ``torch.Tensor`` method, ``scipy.signal``'s compiled core).

Only the outermost call into watched code is recorded (what ``conv2d`` calls inside the kit is
its own business), and modules (or single functions, ``"cnnkit.ops.conv.conv2d"``) named in
``allowed`` stay usable: by default the lecture's filter
bank, :mod:`cnnkit.ops.filters`, which is data rather than a solution.

What it cannot see: code copied into the notebook, or work handed to another thread. A student
who switches the hook off (``sys.setprofile``) is detected and reported as tampering.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterable

__all__ = ["DEFAULT_WATCHED", "DEFAULT_ALLOWED", "Call", "CallRecorder", "IntegrityError", "forbid", "call_clean"]

#: What a student's numpy implementation must not call: the kit's own ops and layers (and the window
#: arithmetic they share, cnnkit._geometry), the self-checks (whose reference computations must do no student work),
#: torch, scipy.signal.
DEFAULT_WATCHED: tuple[str, ...] = ("cnnkit.ops", "cnnkit._geometry", "cnnkit.nn", "cnnkit.checks", "torch",
                                     "scipy.signal")

#: Inside the watched packages, what students are meant to use: the lecture's filter bank is data, not a solution.
DEFAULT_ALLOWED: tuple[str, ...] = ("cnnkit.ops.filters",)


class IntegrityError(AssertionError):
    """A graded function called code it was meant to replace.

    Subclasses AssertionError so that, inside an nbgrader test cell, it fails the cell like any
    other failed check (the cell's points are not given).
    """


@dataclass(frozen=True)
class Call:
    """One recorded call into watched code: where it went (``module``), what (``name``), and how (``kind``)."""

    module: str
    name: str
    kind: str  # "python" or "c"

    def __str__(self) -> str:
        return f"{self.module}.{self.name}" if self.kind == "c" else f"{self.name} ({self.module})"


_THIS_FILE = os.path.realpath(__file__)


def _locations(module_name: str) -> tuple[str, ...]:
    """Files or folders that hold ``module_name``'s Python code, found without importing it.

    A package gives its folder (with a trailing separator, so ``torch`` does not match
    ``torchvision``); a single-file module gives its file. A module that is not installed gives ().
    """
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return ()
    if spec is None:
        return ()
    if spec.submodule_search_locations:
        return tuple(os.path.join(os.path.realpath(p), "") for p in spec.submodule_search_locations)
    if spec.origin and spec.origin not in ("built-in", "frozen"):
        return (os.path.realpath(spec.origin),)
    return ()


def _function_code(name: str) -> tuple[Any, ...]:
    """The code object of the function ``name`` (``"pkg.module.func"``), or () when it names no function.

    The module is imported: name only functions of modules that may be imported where you check.
    """
    module_name, _, attr = name.rpartition(".")
    if not module_name or _locations(name):
        return ()
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return ()
    func = getattr(module, attr, None)
    code = getattr(func, "__code__", None)
    return (code,) if code is not None else ()


def _is_lazy_loader(code: Any) -> bool:
    """True for a package's module-level ``__getattr__`` (PEP 562): it imports, it computes nothing."""
    return code.co_name in ("__getattr__", "__dir__") and os.path.basename(code.co_filename) == "__init__.py"


def _names(value: Any, name: str) -> tuple[str, ...]:
    """Module names as a tuple; a single string is one name."""
    names = (value,) if isinstance(value, str) else tuple(value)
    if not all(isinstance(m, str) and m for m in names):
        raise ValueError(f"{name} must be non-empty module names such as {DEFAULT_WATCHED}, got {names!r}")
    return names


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    """True if ``path`` is one of ``prefixes`` (files) or lies below one of them (folders end in a separator)."""
    return any(path == p or (p.endswith(os.sep) and path.startswith(p)) for p in prefixes)


def _in_modules(module: str, names: tuple[str, ...]) -> bool:
    """True if ``module`` is one of ``names`` or a submodule of one."""
    return any(module == m or module.startswith(m + ".") for m in names)


def _c_module(func: Any) -> str:
    """The module a builtin belongs to: its own ``__module__``, else that of its bound object's type."""
    module = getattr(func, "__module__", None)
    if isinstance(module, str) and module:
        return module
    owner = getattr(func, "__objclass__", None)  # unbound method descriptor, e.g. torch.Tensor.sum
    if owner is None:
        bound = getattr(func, "__self__", None)  # bound builtin method, e.g. tensor.sum
        if bound is not None and not isinstance(bound, type(sys)):
            owner = type(bound)
        elif bound is not None:
            return getattr(bound, "__name__", "") or ""
    if owner is not None:
        return getattr(owner, "__module__", "") or ""
    return ""


class CallRecorder:
    """Context manager that records every call into the watched modules made while it is active.

    ``watched`` names modules or packages (``"cnnkit.ops"``, ``"torch"``); a call counts when the
    callee's code lives in one of their files (Python functions) or when the builtin's module is
    one of them or below (C functions). ``allowed`` names modules inside the watched ones that
    stay permitted (by default the lecture's filter bank, :mod:`cnnkit.ops.filters`), or single
    functions inside them (``"cnnkit.ops.conv.conv2d"``: the forward a student is told to use), together with
    whatever they call. Only the outermost call into watched code is recorded. Afterwards ``calls``
    lists them in order, ``clean`` says whether there were none, and ``tampered`` whether the
    hook was removed while it ran.
    """

    def __init__(self, watched: Iterable[str] = DEFAULT_WATCHED, allowed: Iterable[str] = DEFAULT_ALLOWED) -> None:
        watched, allowed = _names(watched, "watched"), _names(allowed, "allowed")
        if not watched:
            raise ValueError(f"watched must name at least one module, such as {DEFAULT_WATCHED}, got {watched!r}")
        self.watched = watched
        self.allowed = allowed
        self._prefixes = tuple(loc for name in watched for loc in _locations(name))
        self._allowed_prefixes = tuple(loc for name in allowed for loc in _locations(name))
        self._allowed_codes = frozenset(code for name in allowed for code in _function_code(name))
        self._by_file: dict[str, str | None] = {}
        self._inside: Any = None  # the frame of the watched/allowed call we are in, if any
        self.calls: list[Call] = []
        self.tampered = False
        self._previous: Any = None
        self._active = False

    # -- deciding ---------------------------------------------------------------------------
    def _file_kind(self, filename: str) -> str | None:
        """"allowed", "watched" or None for the file a Python function's code lives in (cached)."""
        if filename not in self._by_file:
            real = os.path.realpath(filename) if os.path.isabs(filename) else filename
            kind = None
            if real != _THIS_FILE and _under(real, self._allowed_prefixes):
                kind = "allowed"
            elif real != _THIS_FILE and _under(real, self._prefixes):
                kind = "watched"
            self._by_file[filename] = kind
        return self._by_file[filename]

    def _module_kind(self, module: str) -> str | None:
        if _in_modules(module, self.allowed):
            return "allowed"
        return "watched" if _in_modules(module, self.watched) else None

    def _hook(self, frame, event: str, arg: Any) -> None:
        # Only the outermost entry into watched (or allowed) code is judged: what that code calls
        # in turn is its own business (an allowed filter may use the kit's private helpers).
        if self._inside is not None:
            if event == "return" and frame is self._inside:
                self._inside = None
        elif event == "call":
            code = frame.f_code
            kind = "allowed" if code in self._allowed_codes else self._file_kind(code.co_filename)
            if kind == "watched" and _is_lazy_loader(code):
                self._inside = frame  # a package's PEP 562 loader fetching a name: no computation
            elif kind is not None:
                self._inside = frame
                if kind == "watched":
                    module = frame.f_globals.get("__name__", code.co_filename)
                    self.calls.append(Call(str(module), getattr(code, "co_qualname", code.co_name), "python"))
        elif event == "c_call":
            module = _c_module(arg)
            if module and self._module_kind(module) == "watched":
                self.calls.append(Call(module, getattr(arg, "__name__", repr(arg)), "c"))
        if self._previous is not None:
            self._previous(frame, event, arg)

    # -- context manager --------------------------------------------------------------------
    def __enter__(self) -> "CallRecorder":
        if self._active:
            raise RuntimeError("this CallRecorder is already active; use a new one for a nested block")
        self.calls = []
        self.tampered = False
        self._inside = None
        self._previous = sys.getprofile()
        self._active = True
        sys.setprofile(self._hook)
        return self

    def __exit__(self, *exc_info) -> None:
        current = sys.getprofile()
        sys.setprofile(self._previous)
        self._active = False
        self._inside = None
        # A bound method compares equal to another bound method of the same object and function.
        self.tampered = current != self._hook

    @property
    def clean(self) -> bool:
        """True when nothing watched was called and the hook stayed in place."""
        return not self.calls and not self.tampered

    def report(self, limit: int = 5) -> str:
        """A one-line, human-readable account of what was recorded (for error messages)."""
        if self.tampered:
            return "the call profiler was switched off while the function ran (sys.setprofile was changed)"
        if not self.calls:
            return "no calls into " + ", ".join(self.watched)
        seen: list[str] = []
        for call in self.calls:
            text = str(call)
            if text not in seen:
                seen.append(text)
        shown = ", ".join(seen[:limit]) + (f", ... ({len(seen) - limit} more)" if len(seen) > limit else "")
        return f"called {shown}"


class forbid(CallRecorder):  # noqa: N801 - reads as a verb in `with integrity.forbid():`
    """Like :class:`CallRecorder`, but raises :class:`IntegrityError` at the end of the block if any
    watched code was called (or the hook was removed). An exception raised inside the block wins.

    >>> with forbid("cnnkit.ops"):
    ...     my_conv2d(x, w)
    """

    def __init__(self, *watched: str, allowed: Iterable[str] = DEFAULT_ALLOWED) -> None:
        super().__init__(watched or DEFAULT_WATCHED, allowed)

    def __exit__(self, exc_type, exc, tb) -> None:
        super().__exit__(exc_type, exc, tb)
        if exc_type is None and not self.clean:
            raise IntegrityError(
                "This function must be written by you, not delegate to the reference implementation: it "
                + self.report()
                + ". Calling the kit's reference (or torch / scipy) earns no points for this part."
            )


def call_clean(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``func(*args, **kwargs)`` under :class:`forbid` with the default watched modules; return its result.

    Raises TypeError if ``func`` is not callable and IntegrityError if it used forbidden code.
    """
    if not callable(func):
        raise TypeError(f"func must be callable, got {type(func).__name__}: {func!r}")
    with forbid():
        return func(*args, **kwargs)

