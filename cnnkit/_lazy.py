"""Names a package imports on first use (PEP 562), one loader for every package that needs it.

A package keeps its own module-level ``__getattr__`` and ``__dir__`` (so ``cnnkit.integrity``
still sees them as the package's loader) and hands the work to :func:`load` and :func:`names`
with its table ``{name: submodule}``. Nothing of the kit is imported here.
"""
from __future__ import annotations

import importlib
from typing import Any


def load(package: str, table: dict[str, str], namespace: dict[str, Any], name: str) -> Any:
    """``name`` from the submodule ``table[name]`` of ``package``, kept in ``namespace`` for next time.

    An ImportError of that submodule propagates unchanged; a name not in ``table`` is an AttributeError.
    """
    if name in table:
        value = getattr(importlib.import_module(f"{package}.{table[name]}"), name)
        namespace[name] = value
        return value
    raise AttributeError(f"module {package!r} has no attribute {name!r}")


def names(namespace: dict[str, Any], table: dict[str, str]) -> list[str]:
    """What ``dir(package)`` lists: the names already there and those :func:`load` can fetch."""
    return sorted(set(namespace) | set(table))
