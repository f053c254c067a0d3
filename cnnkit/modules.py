"""Facts about any ``torch.nn.Module`` that several parts of the kit need, each in one place.

* :func:`check_module` -- the boundary check "model must be a torch.nn.Module";
* :func:`find_layer` -- a layer of a model by object, name (``"features.3"``) or child index;
* :func:`count_parameters` -- its learnable numbers, each shared parameter once;
* :func:`module_device` -- where its weights live;
* :func:`eval_mode` -- evaluation mode for a block of code, then every submodule's own
  ``training`` flag back as it was (a BatchNorm layer a user froze in eval mode stays frozen);
* :func:`layer_kinds` -- the class name of every module in it, in ``model.modules()`` order.

``layer_kinds`` also answers for a model that lives in a student's kernel while it is graded (the
grader's handle answers it as data), so an assignment's tests can count a model's layers the same
way in the notebook and in the grader.

Used by :mod:`cnnkit.arith`, :mod:`cnnkit.summary`, :mod:`cnnkit.train` and :mod:`cnnkit.viz`;
:mod:`cnnkit.models` re-exports :func:`count_parameters`. This is not the model zoo (that is
:mod:`cnnkit.models`). torch is never imported here: a torch module cannot exist before torch
is, so the checks look it up in ``sys.modules``.
"""
from __future__ import annotations

import contextlib
import sys
from typing import Any, Iterator

from ._geometry import is_int

__all__ = ["check_module", "find_layer", "count_parameters", "module_device", "eval_mode", "layer_kinds"]


def check_module(model: Any, name: str = "model") -> Any:
    """``model`` if it is a ``torch.nn.Module``, else TypeError naming ``name`` and what it got."""
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(model, torch.nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(model).__name__}")
    return model


def find_layer(model: Any, layer: Any) -> tuple[str, Any]:
    """``(name, module)`` of ``layer`` in ``model``: the module itself, its name in
    ``model.named_modules()`` (the model's class name means the model), or a child index."""
    check_module(model)
    torch = sys.modules["torch"]
    named = dict(model.named_modules())
    if isinstance(layer, torch.nn.Module):
        for name, module in named.items():
            if module is layer:
                return name, module
        raise ValueError(f"layer {type(layer).__name__} is not a submodule of the model")
    if isinstance(layer, str):
        if layer in named:
            return layer, named[layer]
        if layer == type(model).__name__:
            return "", model
        names = [n for n in named if n]
        shown = ", ".join(map(repr, names[:12])) + (" ..." if len(names) > 12 else "") if names else "(none)"
        raise ValueError(f"layer={layer!r} is not a module name of the model; names: {shown}")
    if is_int(layer):
        children = list(model.named_children())
        if not -len(children) <= layer < len(children):
            raise ValueError(f"layer index {layer} is out of range for a model with {len(children)} children")
        return children[int(layer)]
    raise TypeError(f"layer must be a module, a name from model.named_modules() or a child index, got {layer!r}")


def count_parameters(model: Any, *, trainable_only: bool = False) -> int:
    """Learnable numbers in ``model``, each shared parameter once: all of them, or with
    ``trainable_only=True`` only those with ``requires_grad``. Works on the meta device."""
    check_module(model)
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def module_device(model: Any) -> Any:
    """The device of ``model``'s first parameter or buffer; None for a model without any."""
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return None


@contextlib.contextmanager
def eval_mode(model: Any) -> Iterator[Any]:
    """``with eval_mode(model):`` runs the block in evaluation mode, then gives every submodule
    its own ``training`` flag back (not ``model.train(was_training)``, which would also switch a
    layer the user had frozen in eval mode back to training)."""
    flags = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, flag in flags:
            module.training = flag


def layer_kinds(model: Any) -> list[str]:
    """The class name of every module of ``model`` (itself first), in ``model.modules()`` order:
    ``layer_kinds(net).count("Conv2d")`` counts its convolutions."""
    remote = getattr(type(model), "__cnnkit_layer_kinds__", None)
    if remote is not None:  # a model in a student's kernel, seen from the grader
        return remote(model)
    check_module(model)
    return [type(module).__name__ for module in model.modules()]
