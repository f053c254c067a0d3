"""The tracer: a ``TorchFunctionMode`` that watches every torch op of one forward pass.

For each op it adds the op's MACs to every module call in progress, and marks each output
tensor that depends on the model's input with its geometry (:mod:`.op_geometry`).
"""
from __future__ import annotations

import weakref
from typing import Any, Optional

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

from .op_geometry import op_geometry, op_macs

#: Attribute reads and size queries: no op to account for.
_IGNORED = ("__get__", "dim", "size", "numel", "__len__")


class Tracer(TorchFunctionMode):
    """Watches every torch op of one forward pass: MACs per module call and tensor geometry."""

    def __init__(self) -> None:
        super().__init__()
        self.geometry: dict[int, tuple[weakref.ref, Any]] = {}
        self.stack: list[list[int]] = [[0]]  # MAC accumulators of the active module calls
        self.total_macs = 0

    def mark(self, tensor: torch.Tensor, geom: Any) -> None:
        # A weak reference: activations are freed as usual, and a dead tensor's reused id
        # is not mistaken for it.
        self.geometry[id(tensor)] = (weakref.ref(tensor), geom)

    def lookup(self, tensor: Any) -> Any:
        found = self.geometry.get(id(tensor)) if isinstance(tensor, torch.Tensor) else None
        return None if found is None or found[0]() is not tensor else found[1]

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = getattr(func, "__name__", "")
        if name in _IGNORED:
            return out
        macs = op_macs(name, args, kwargs, out)
        if macs:
            self.total_macs += macs
            for acc in self.stack:
                acc[0] += macs
        inputs = [(t, g) for t in tree_flatten((args, kwargs))[0] if (g := self.lookup(t)) is not None]
        if inputs:  # the op depends on the model's input: work out what its outputs see
            for t in tree_flatten(out)[0]:
                if isinstance(t, torch.Tensor):
                    self.mark(t, op_geometry(name, args, kwargs, inputs, t))
        return out


def first_tensor(output: Any) -> Optional[torch.Tensor]:
    """The first tensor in a module's output (a tensor, or a tuple / dict / named tuple of them)."""
    for t in tree_flatten(output)[0]:
        if isinstance(t, torch.Tensor):
            return t
    return None
