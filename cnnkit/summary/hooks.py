"""The hook driver: one forward pass with every module hooked and every op traced.

A forward pre-hook and hook on each module open and close its call: the tracer
(:class:`.tracer.Tracer`) adds the MACs of the ops in between, and the hook reads the
geometry of the module's output. The calls become :class:`.results.LayerRow` rows, and
:func:`summary` and :func:`receptive_field_of` read them.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import Any, Optional, Union

import torch
from torch import nn

from .._geometry import is_int
from ..modules import check_module, count_parameters, eval_mode, module_device
from .op_geometry import IDENTITY, geometry_fields
from .results import LayerRow, ModelSummary, ReceptiveField
from .tracer import Tracer, first_tensor


def parse_input_size(value: Any) -> tuple[int, ...]:
    """``"3x224x224"``, ``(3, 224, 224)`` or ``[1, 28, 28]`` -> a tuple of positive ints (no batch)."""
    if isinstance(value, str):
        parts = value.lower().replace("*", "x").replace(",", "x").split("x")
        try:
            value = tuple(int(p) for p in parts)
        except ValueError:
            raise ValueError(f"input_size must look like '3x224x224', got {value!r}") from None
    if (not isinstance(value, (tuple, list, torch.Size)) or not value
            or not all(is_int(v) and v > 0 for v in value)):
        raise ValueError(f"input_size must be positive ints such as (3, 224, 224) (no batch dimension), got {value!r}")
    return tuple(int(v) for v in value)


def module_type(module: nn.Module) -> str:
    return type(module).__name__


def _run(model: nn.Module, x: torch.Tensor, device: torch.device) -> Any:
    """``model(x)``; when the weights live elsewhere, with copies on ``device`` in their place.

    For ``device="meta"`` the copies are empty meta tensors: nothing is allocated or computed.
    ``torch.func.functional_call`` leaves the model's own tensors where they are.
    """
    here = module_device(model)
    if here is None or here == device:
        return model(x)

    def copy(tensor: torch.Tensor) -> torch.Tensor:
        return torch.empty_like(tensor, device=device) if device.type == "meta" else tensor.detach().to(device)

    tensors = {name: copy(t) for name, t in chain(model.named_parameters(), model.named_buffers())}
    return torch.func.functional_call(model, tensors, (x,))


@dataclass
class Trace:
    records: list[LayerRow]  # in the order the calls finished (a block after its layers)
    geometries: list[Any]
    starts: list[int]  # the order the calls started (a block before its layers), for display
    output: Any
    total_macs: int

    def display_order(self) -> list[LayerRow]:
        return [row for _, row in sorted(zip(self.starts, self.records), key=lambda pair: pair[0])]


def trace(model: nn.Module, size: tuple[int, ...], device: torch.device, dtype: torch.dtype) -> Trace:
    """One forward pass of a batch of one, in eval mode without gradients, every module hooked."""
    x = torch.zeros((1, *size), device=device, dtype=dtype)
    names = {id(m): n for n, m in model.named_modules()}
    tracer = Tracer()
    tracer.mark(x, IDENTITY)
    records: list[LayerRow] = []
    geometries: list[Any] = []
    seen: set[int] = set()
    calls: list[tuple[nn.Module, list[int]]] = []
    starts: list[int] = []
    started = [0]

    def pre_hook(module, args):
        acc = [0, started[0]]
        started[0] += 1
        calls.append((module, acc))
        tracer.stack.append(acc)

    def post_hook(module, args, output):
        while calls and calls[-1][0] is not module:  # a call that raised never reached its post hook
            calls.pop()
            tracer.stack.pop()
        _, acc = calls.pop()
        tracer.stack.pop()
        leaf = not any(True for _ in module.children())
        params = trainable = 0
        if id(module) not in seen:  # a container counts everything below it
            seen.add(id(module))
            params = count_parameters(module)
            trainable = count_parameters(module, trainable_only=True)
        tensor = first_tensor(output)
        geom = tracer.lookup(tensor)
        rf, jump, pad = geometry_fields(geom, tensor)
        name = names.get(id(module), "") or module_type(module)
        records.append(LayerRow(
            name=name, type=module_type(module),
            output_shape=tuple(tensor.shape) if tensor is not None else None,
            params=params, trainable_params=trainable, macs=acc[0], flops=2 * acc[0], rf=rf, jump=jump,
            effective_padding=pad, depth=0 if module is model else name.count(".") + 1, leaf=leaf,
        ))
        geometries.append(geom if rf is not None else None)
        starts.append(acc[1])

    handles = []
    for module in model.modules():
        handles.append(module.register_forward_pre_hook(pre_hook))
        handles.append(module.register_forward_hook(post_hook))
    try:
        with eval_mode(model), torch.no_grad(), tracer:
            output = _run(model, x, device)
    except RuntimeError as err:  # say which layer could not take the input, as arith does
        if not calls:
            raise
        failing = calls[-1][0]
        name = names.get(id(failing), "") or module_type(failing)
        raise ValueError(f"layer {name!r} ({module_type(failing)}) fails on input size {size}: {err}") from err
    finally:
        for handle in handles:
            handle.remove()
    return Trace(records, geometries, starts, output, tracer.total_macs)


def _pick_rf(result: Trace, layer: Optional[str]) -> Optional[ReceptiveField]:
    """The named layer's last call, or by default the last output that has a receptive field."""
    for row, geom in zip(reversed(result.records), reversed(result.geometries)):
        if (layer is None and geom is not None) or (layer is not None and row.name == layer):
            if geom is None:
                raise ValueError(f"layer={layer!r} has no receptive field: its output {row.output_shape} "
                                 "has no spatial grid (flattened, fully connected or globally pooled)")
            return ReceptiveField(layer=row.name, rf=row.rf, jump=row.jump, effective_padding=row.effective_padding,
                                  output_size=tuple(row.output_shape[-2:]), geometry=geom)
    if layer is not None:
        known = [r.name for r in result.records]
        raise ValueError(f"layer={layer!r} is not a module of the model that ran; known: {', '.join(known[:12])}"
                         + (" ..." if len(known) > 12 else ""))
    return None


def summary(model: nn.Module, input_size: Any, *, device: Union[str, torch.device] = "cpu",
            dtype: torch.dtype = torch.float32) -> ModelSummary:
    """Per-layer output shapes, parameters, MACs/FLOPs and receptive fields of ``model``.

    ``input_size`` is one example without the batch dimension, e.g. ``(3, 224, 224)`` or
    ``"3x224x224"``; a batch of one runs (eval mode, no gradients), so MACs are per image.
    ``device="meta"`` counts without computing anything (the model's weights are not touched).
    ``str(result)`` is a readable table; ``result.rows`` the same as data.
    """
    model = check_module(model)
    size = parse_input_size(input_size)
    device = torch.device(device)
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype, got {dtype!r}")
    result = trace(model, size, device, dtype)
    out_tensor = first_tensor(result.output)
    return ModelSummary(
        model_name=module_type(model), input_size=size,
        rows=[r for r in result.display_order() if r.leaf], all_rows=result.display_order(),
        output_shape=tuple(out_tensor.shape) if out_tensor is not None else None,
        total_params=count_parameters(model),
        trainable_params=count_parameters(model, trainable_only=True),
        total_macs=result.total_macs, receptive_field=_pick_rf(result, None),
    )


def receptive_field_of(model: nn.Module, input_size: Any, layer: Optional[str] = None, *,
                       device: Union[str, torch.device, None] = None) -> ReceptiveField:
    """Analytic receptive field of one layer's output (default: the last layer that has one).

    Follows every path through the network (branches, shortcuts, concatenations) and keeps
    the largest extent, so an Inception or ResNet block is handled exactly. ``layer`` is a
    module name as in ``model.named_modules()`` (``"layer4"``, ``"features.12"``). Runs one
    forward pass on the model's own device; ``device="meta"`` follows only the shapes.
    """
    model = check_module(model)
    size = parse_input_size(input_size)
    if layer is not None and not isinstance(layer, str):
        raise TypeError(f"layer must be a module name (str) or None, got {layer!r}")
    where = torch.device(device) if device is not None else (module_device(model) or torch.device("cpu"))
    found = _pick_rf(trace(model, size, where, torch.float32), layer)
    if found is None:
        raise ValueError(f"no layer of {module_type(model)} has a spatial output for input {size}")
    return found
