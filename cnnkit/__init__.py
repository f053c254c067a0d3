"""cnnkit: a course kit that teaches convolutional neural networks.

Submodules load on first use, so ``import cnnkit`` stays fast and pulls in neither
torch, matplotlib nor ipywidgets:

    >>> import cnnkit
    >>> cnnkit.ops.conv2d          # imports cnnkit.ops (numpy only) now
    >>> cnnkit.models.get("resnet20", num_classes=10)   # imports torch now

Layers (lower never import higher): _geometry, modules -> ops, arith -> models, summary -> data,
train -> viz -> widgets. ``_geometry`` holds the integer checks and the window arithmetic,
``modules`` what the kit needs to know about any torch module (neither imports torch).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_SUBMODULES = (
    "arith",
    "checks",
    "config",
    "data",
    "diagrams",
    "grading",
    "integrity",
    "models",
    "modules",
    "nn",
    "optional",
    "ops",
    "summary",
    "train",
    "viz",
    "widgets",
)

__all__ = ["__version__", *_SUBMODULES]

if TYPE_CHECKING:  # pragma: no cover - for editors and type checkers only
    from . import (arith, checks, config, data, diagrams, grading, integrity, models, nn, ops, summary,  # noqa: F401
                   train, viz, widgets)


def __getattr__(name: str) -> Any:
    """Import a submodule the first time it is used (PEP 562)."""
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'cnnkit' has no attribute {name!r}; submodules: {', '.join(_SUBMODULES)}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SUBMODULES))


# In a notebook without PyTorch (the light `student` install), "No module named 'torch'" becomes one
# line saying what to install (cnnkit.optional); elsewhere this does nothing.
def _hint_where_torch_is_missing() -> None:
    import importlib.util
    import sys

    if "IPython" not in sys.modules:
        return
    try:
        missing = "torch" not in sys.modules and importlib.util.find_spec("torch") is None
    except (ImportError, ValueError):
        missing = True
    if missing:  # only then is cnnkit.optional loaded: the layers below import nothing above them
        from .optional import show_hint_in_notebooks

        show_hint_in_notebooks()


_hint_where_torch_is_missing()
