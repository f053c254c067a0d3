"""What a network costs and what it sees: per-layer shapes, parameters, MACs/FLOPs, receptive fields.

:func:`summary` runs one forward pass of a batch of one and watches every torch operation
(a ``TorchFunctionMode``), so it works on any ``nn.Module``, with branches (Inception,
ResNet) or functional calls inside ``forward``:

* output shape and parameters (trainable or not) of every layer;
* multiply-accumulates (MACs) of convolutions, transposed convolutions, fully connected
  layers and matrix products. FLOPs = 2 x MACs (a multiply and an add). Pooling,
  activations, normalisation and additions are not counted, the usual convention
  (torchvision's documented "GFLOPS", fvcore, ptflops all count this way, so those
  figures are really GMACs);
* the receptive field of every layer's output, through branches: each tensor carries, per
  axis, the input interval its first unit sees and the jump (input pixels between
  neighbouring units); an addition or concatenation takes the union of its inputs, so the
  receptive field is the largest over paths (Araujo et al., Distill 2019).

:func:`gradient_receptive_field` measures the same thing another way: back-propagate from
one output unit and look at which input pixels get gradient. The two agree (tests check it).

Pass ``device="meta"`` (or build the model under ``torch.device("meta")``) to count a large
model without computing anything.
"""
from __future__ import annotations

import argparse
import numbers
import sys
import weakref
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

from . import arith
from .arith import Size

__all__ = [
    "LayerRow",
    "ModelSummary",
    "ReceptiveField",
    "GradientRF",
    "summary",
    "format_summary",
    "FLOP_CONVENTION",
    "count_parameters",
    "receptive_field_of",
    "gradient_receptive_field",
    "parse_input_size",
    "main",
    "rf_main",
]

FLOP_CONVENTION = (
    "MACs = multiply-accumulates of convolutions, fully connected layers and matrix products "
    "(pooling, activations, normalisation and additions not counted); FLOPs = 2 x MACs. "
    "torchvision's documented 'GFLOPS' are GMACs in this sense (ResNet-50: 4.09)."
)

# ----------------------------------------------------------------------------- geometry
# Per axis (lo, hi, jump): output unit u sees input pixels [lo + u*jump, hi + u*jump).
# A tensor's geometry is a pair of those (height, width), or UNDEFINED when it depends on the
# input but has no local receptive field (after flatten, a fully connected layer, a global pool).
Axis = tuple[int, int, int]
Geometry = tuple[Axis, Axis]
UNDEFINED = "undefined"
IDENTITY: Geometry = ((0, 1, 1), (0, 1, 1))


def _window(axis: Axis, kernel: int, stride: int, padding: int, dilation: int) -> Axis:
    """Geometry after a sliding window (convolution or pooling) along one axis."""
    lo, hi, jump = axis
    extent = dilation * (kernel - 1) + 1
    return lo - padding * jump, hi + (extent - 1 - padding) * jump, jump * stride


def _union(geoms: list[Geometry]) -> Geometry | str:
    """Several inputs combined pointwise (add, cat): the union of what their units see."""
    jumps = {(g[0][2], g[1][2]) for g in geoms}
    if len(jumps) != 1:
        return UNDEFINED  # misaligned grids: no single receptive field per unit
    return tuple((min(g[a][0] for g in geoms), max(g[a][1] for g in geoms), geoms[0][a][2])  # type: ignore[return-value]
                 for a in range(2))


def _two(value: Any) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        return (int(value[0]), int(value[-1])) if len(value) else (0, 0)
    return int(value), int(value)


def _arg(args: tuple, kwargs: dict, index: int, name: str, default: Any) -> Any:
    if name in kwargs:
        return kwargs[name]
    return args[index] if len(args) > index else default


def _collapse(pair: tuple[Any, Any]) -> Any:
    return pair[0] if pair[0] == pair[1] else pair


# Ops that mix pixels along the spatial axes in a way no window describes.
_NONLOCAL = {
    "linear", "bilinear", "matmul", "mm", "bmm", "einsum", "__matmul__", "__rmatmul__", "softmax", "log_softmax",
    "softmin", "cumsum", "cumprod", "sort", "argsort", "topk", "roll", "flip", "fliplr", "flipud", "rot90",
    "interpolate", "upsample", "grid_sample", "pixel_shuffle", "pixel_unshuffle", "unfold", "fold",
    "adaptive_avg_pool1d", "adaptive_max_pool1d", "conv1d", "conv3d", "fft_fft2", "fft_rfft2",
}
_COUNTED_MATMUL = {"matmul", "mm", "bmm", "__matmul__", "addmm", "baddbmm", "addbmm"}


def _spatial(t: torch.Tensor) -> tuple[int, int] | None:
    return (int(t.shape[-2]), int(t.shape[-1])) if t.dim() >= 4 else None


def _op_geometry(name: str, args: tuple, kwargs: dict, inputs: list[tuple[torch.Tensor, Any]], out: torch.Tensor):
    """Geometry of ``out`` given the op and its tracked inputs (tensor, geometry)."""
    if any(g == UNDEFINED for _, g in inputs) or _spatial(out) is None:
        return UNDEFINED
    first_tensor, first = inputs[0]
    if name in ("conv2d", "max_pool2d", "avg_pool2d", "max_pool2d_with_indices", "lp_pool2d", "conv_transpose2d"):
        if name == "lp_pool2d":  # (input, norm_type, kernel_size, stride, ceil_mode): no padding
            args = (args[0], *args[2:4])
        if first_tensor is not args[0] or len(inputs) > 1 or _spatial(first_tensor) is None:
            return UNDEFINED
        if name == "conv2d":
            kernel = tuple(args[1].shape[-2:]) if len(args) > 1 else tuple(kwargs["weight"].shape[-2:])
            stride = _two(_arg(args, kwargs, 3, "stride", 1))
            padding = _arg(args, kwargs, 4, "padding", 0)
            dilation = _two(_arg(args, kwargs, 5, "dilation", 1))
            if isinstance(padding, str):
                padding = (0, 0) if padding == "valid" else tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation))
            padding = _two(padding)
        elif name == "conv_transpose2d":
            # Only the stride-1 case has a fixed window: a convolution padded by D(K-1) - P.
            kernel = tuple(args[1].shape[-2:]) if len(args) > 1 else tuple(kwargs["weight"].shape[-2:])
            if _two(_arg(args, kwargs, 3, "stride", 1)) != (1, 1):
                return UNDEFINED
            dilation = _two(_arg(args, kwargs, 7, "dilation", 1))
            pad = _two(_arg(args, kwargs, 4, "padding", 0))
            stride, padding = (1, 1), tuple(d * (k - 1) - p for k, d, p in zip(kernel, dilation, pad))
        else:
            kernel = _two(_arg(args, kwargs, 1, "kernel_size", 1))
            raw_stride = _arg(args, kwargs, 2, "stride", None)
            stride = kernel if raw_stride is None or raw_stride == [] or raw_stride == () else _two(raw_stride)
            padding = _two(_arg(args, kwargs, 3, "padding", 0))
            dilation = _two(_arg(args, kwargs, 4, "dilation", 1)) if "max" in name else (1, 1)
        return tuple(_window(first[a], kernel[a], stride[a], padding[a], dilation[a]) for a in range(2))
    if name in ("adaptive_avg_pool2d", "adaptive_max_pool2d"):
        (h, w), (oh, ow) = _spatial(first_tensor), _spatial(out)
        axes = []
        for a, (n, m) in enumerate(((h, oh), (w, ow))):
            if n == m:
                axes.append(first[a])
            elif m == 1 or n % m:
                return UNDEFINED  # global pooling, or windows of varying size
            else:
                axes.append(_window(first[a], n // m, n // m, 0, 1))
        return tuple(axes)
    if name == "pad":
        pads = list(_arg(args, kwargs, 1, "pad", ()))
        pads += [0] * (4 - len(pads))
        left, top = pads[0], pads[2]
        (lo_h, hi_h, j_h), (lo_w, hi_w, j_w) = first
        return (lo_h - top * j_h, hi_h - top * j_h, j_h), (lo_w - left * j_w, hi_w - left * j_w, j_w)
    if name == "__getitem__":
        return _slice_geometry(first_tensor, first, args[1], out)
    if name in _NONLOCAL:
        return UNDEFINED
    if name in ("transpose", "swapaxes", "swapdims", "permute", "movedim"):
        # Fine as long as the last two axes stay where they are.
        ndim = first_tensor.dim()
        dims = [d for a in args[1:] for d in (a if isinstance(a, (tuple, list)) else (a,)) if isinstance(d, int)]
        dims += [d for k in ("dim0", "dim1", "dims") for d in
                 (kwargs[k] if isinstance(kwargs.get(k), (tuple, list)) else [kwargs[k]] if k in kwargs else [])]
        if name == "permute":
            if [d % ndim for d in dims[-2:]] != [ndim - 2, ndim - 1]:
                return UNDEFINED
        elif any(d % ndim >= ndim - 2 for d in dims):
            return UNDEFINED
    if name in ("cat", "concat", "concatenate", "stack"):
        dim = _arg(args, kwargs, 1, "dim", 0)
        ndim = out.dim()
        if name != "stack" and dim % ndim >= ndim - 2:
            return UNDEFINED
    # Anything else is taken as pointwise: allowed only when all inputs share the output's grid.
    size = _spatial(out)
    if any(_spatial(t) != size for t, _ in inputs):
        return UNDEFINED
    return _union([g for _, g in inputs])


def _slice_geometry(tensor: torch.Tensor, geom: Geometry, index: Any, out: torch.Tensor):
    """``x[:, :, a::s, b::t]`` keeps every s-th row from row a: a 1x1 window with stride s."""
    index = index if isinstance(index, tuple) else (index,)
    if any(i is Ellipsis or i is None or not isinstance(i, slice) for i in index) or out.dim() != tensor.dim():
        return UNDEFINED if _spatial(out) != _spatial(tensor) else geom
    index = index + (slice(None),) * (tensor.dim() - len(index))
    axes = []
    for a, (sl, n) in enumerate(zip(index[-2:], _spatial(tensor))):
        start, _, step = sl.indices(n)
        lo, hi, jump = geom[a]
        axes.append((lo + start * jump, hi + start * jump, jump * step))
    return tuple(axes)


def _op_macs(name: str, args: tuple, kwargs: dict, out: Any) -> int:
    """Multiply-accumulates of one op (0 for the ops the convention does not count)."""
    if not isinstance(out, torch.Tensor):
        out = out[0] if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor) else None
        if out is None:
            return 0
    if name == "conv2d" or name == "conv1d" or name == "conv3d":
        weight = args[1] if len(args) > 1 else kwargs["weight"]
        return out.numel() * weight[0].numel()  # each output: (in/groups) * kH * kW MACs
    if name.startswith("conv_transpose"):
        weight = args[1] if len(args) > 1 else kwargs["weight"]
        return args[0].numel() * weight[0].numel()  # each input pixel is spread over (out/groups)*kH*kW
    if name == "linear":
        weight = args[1] if len(args) > 1 else kwargs["weight"]
        return out.numel() * weight.shape[-1]
    if name in _COUNTED_MATMUL:
        a = args[1] if name in ("addmm", "baddbmm", "addbmm") else args[0]
        inner = a.shape[-1] if isinstance(a, torch.Tensor) and a.dim() else 1
        return out.numel() * inner
    return 0


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True)
class LayerRow:
    """One module call in a :class:`ModelSummary`.

    ``params`` / ``trainable_params`` are counted at a module's first call only (a module
    used twice shows its parameters once); a container's include everything below it.
    ``macs`` are this call's multiply-accumulates (a container's: all of its layers'),
    ``flops = 2 * macs``. ``rf`` is the receptive field of the output in input pixels (an
    int, or an (h, w) pair when not square), ``None`` where undefined (after flatten, a fully
    connected layer or a global pool); ``jump`` and ``effective_padding`` likewise.
    ``leaf`` is False for container modules (blocks, stages), listed in :attr:`ModelSummary.all_rows`.
    """

    name: str
    type: str
    output_shape: Optional[tuple[int, ...]]
    params: int
    trainable_params: int
    macs: int
    flops: int
    rf: Optional[Size]
    jump: Optional[Size] = None
    effective_padding: Optional[Size] = None
    depth: int = 0
    leaf: bool = True


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field of one layer's output: size, jump, effective padding, map size.

    ``region(unit)`` gives the input pixels ``((top, bottom), (left, right))`` of one unit
    (inclusive-exclusive, unclipped), the same convention as :func:`cnnkit.arith.receptive_field_region`.
    """

    layer: str
    rf: Size
    jump: Size
    effective_padding: Size
    output_size: tuple[int, int]
    geometry: Geometry = field(repr=False)

    def region(self, unit: tuple[int, int], clip_to: Optional[tuple[int, int]] = None):
        """Input rows and columns one unit sees; ``clip_to=(H, W)`` cuts them to the image."""
        if (not isinstance(unit, (tuple, list)) or len(unit) != 2
                or not all(isinstance(u, numbers.Integral) and 0 <= u < n for u, n in zip(unit, self.output_size))):
            raise ValueError(f"unit must be an (i, j) pair inside the output {self.output_size}, got {unit!r}")
        out = []
        for a in range(2):
            lo, hi, jump = self.geometry[a]
            top, bottom = lo + int(unit[a]) * jump, hi + int(unit[a]) * jump
            if clip_to is not None:
                top, bottom = max(top, 0), min(bottom, clip_to[a])
            out.append((top, bottom))
        return out[0], out[1]


@dataclass(frozen=True, eq=False)
class GradientRF:
    """Receptive field measured by back-propagation (see :func:`gradient_receptive_field`).

    ``region``: bounding box ``((top, bottom), (left, right))`` of the input pixels with
    non-zero gradient; ``rf`` its size (int when square); ``mask``: the (H, W) boolean map
    of those pixels; ``touches_border``: True when the box reaches the image edge, so the
    true receptive field may be larger than measured.
    """

    layer: str
    unit: tuple[int, int]
    region: tuple[tuple[int, int], tuple[int, int]]
    rf: Size
    mask: np.ndarray = field(repr=False)
    touches_border: bool


@dataclass
class ModelSummary:
    """Result of :func:`summary`: rows (leaf layers), all_rows (containers too) and totals.

    Rows are in call order, a container just before its own layers (as torchinfo lists them).
    """

    model_name: str
    input_size: tuple[int, ...]
    rows: list[LayerRow]
    all_rows: list[LayerRow]
    output_shape: Optional[tuple[int, ...]]
    total_params: int
    trainable_params: int
    total_macs: int
    receptive_field: Optional[ReceptiveField]

    @property
    def total_flops(self) -> int:
        """2 x :attr:`total_macs`."""
        return 2 * self.total_macs

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    def __str__(self) -> str:
        return format_summary(self)


# ----------------------------------------------------------------------------- the tracer
class _Tracer(TorchFunctionMode):
    """Watches every torch op of one forward pass: MACs per module and tensor geometry."""

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
        if name in ("__get__", "dim", "size", "numel", "__len__"):
            return out
        macs = _op_macs(name, args, kwargs, out)
        if macs:
            self.total_macs += macs
            for acc in self.stack:
                acc[0] += macs
        inputs = [(t, g) for t in tree_flatten((args, kwargs))[0] if (g := self.lookup(t)) is not None]
        if inputs:  # the op depends on the model's input: work out what its outputs see
            for t in tree_flatten(out)[0]:
                if isinstance(t, torch.Tensor):
                    self.mark(t, _op_geometry(name, args, kwargs, inputs, t))
        return out


def _first_tensor(output: Any) -> Optional[torch.Tensor]:
    for t in tree_flatten(output)[0]:
        if isinstance(t, torch.Tensor):
            return t
    return None


def _module_type(module: nn.Module) -> str:
    return type(module).__name__


def _geometry_fields(geom: Any, tensor: Optional[torch.Tensor]):
    if tensor is None or geom is None or geom == UNDEFINED or _spatial(tensor) is None:
        return None, None, None
    rf = _collapse(tuple(g[1] - g[0] for g in geom))
    jump = _collapse(tuple(g[2] for g in geom))
    pad = _collapse(tuple(-g[0] for g in geom))
    return rf, jump, pad


def parse_input_size(value: Any) -> tuple[int, ...]:
    """``"3x224x224"``, ``(3, 224, 224)`` or ``[1, 28, 28]`` -> a tuple of positive ints (no batch)."""
    if isinstance(value, str):
        parts = value.lower().replace("*", "x").replace(",", "x").split("x")
        try:
            value = tuple(int(p) for p in parts)
        except ValueError:
            raise ValueError(f"input_size must look like '3x224x224', got {value!r}") from None
    if (not isinstance(value, (tuple, list, torch.Size)) or not value
            or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in value)):
        raise ValueError(f"input_size must be positive ints such as (3, 224, 224) (no batch dimension), got {value!r}")
    return tuple(int(v) for v in value)


def _check_model(model: Any) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return model


def _model_device(model: nn.Module) -> Optional[torch.device]:
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return None


class _EvalMode:
    """Put the model in eval mode for one pass, then restore each module's own flag."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.flags = [(m, m.training) for m in model.modules()]

    def __enter__(self):
        self.model.eval()

    def __exit__(self, *exc):
        for module, flag in self.flags:
            module.training = flag



def _run(model: nn.Module, x: torch.Tensor, device: torch.device) -> Any:
    """``model(x)``; when the weights live elsewhere, run with copies on ``device`` swapped in.

    For ``device="meta"`` the copies are empty meta tensors: nothing is allocated or computed.
    The model's own tensors are put back afterwards, whatever happens.
    """
    here = _model_device(model)
    if here is None or here == device:
        return model(x)
    swapped = []
    try:
        for module in model.modules():
            for table in (module._parameters, module._buffers):
                for key, tensor in table.items():
                    if tensor is None:
                        continue
                    if device.type == "meta":
                        copy = torch.empty_like(tensor, device=device)
                    else:
                        copy = tensor.detach().to(device)
                    if isinstance(tensor, nn.Parameter):
                        copy = nn.Parameter(copy, requires_grad=tensor.requires_grad)
                    swapped.append((table, key, tensor))
                    table[key] = copy
        return model(x)
    finally:
        for table, key, tensor in swapped:
            table[key] = tensor


@dataclass
class _Trace:
    records: list[LayerRow]  # in the order the calls finished (a block after its layers)
    geometries: list[Any]
    starts: list[int]  # the order the calls started (a block before its layers), for display
    output: Any
    total_macs: int

    def display_order(self) -> list[LayerRow]:
        return [row for _, row in sorted(zip(self.starts, self.records), key=lambda pair: pair[0])]


def _trace(model: nn.Module, size: tuple[int, ...], device: torch.device, dtype: torch.dtype) -> _Trace:
    """One forward pass with every module hooked and every op watched."""
    x = torch.zeros((1, *size), device=device, dtype=dtype)
    names = {id(m): n for n, m in model.named_modules()}
    tracer = _Tracer()
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
            for p in module.parameters():
                params += p.numel()
                trainable += p.numel() if p.requires_grad else 0
        tensor = _first_tensor(output)
        geom = tracer.lookup(tensor)
        rf, jump, pad = _geometry_fields(geom, tensor)
        name = names.get(id(module), "") or _module_type(module)
        records.append(LayerRow(
            name=name, type=_module_type(module),
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
        with _EvalMode(model), torch.no_grad(), tracer:
            output = _run(model, x, device)
    except RuntimeError as err:  # say which layer could not take the input, as arith does
        if not calls:
            raise
        failing = calls[-1][0]
        name = names.get(id(failing), "") or _module_type(failing)
        raise ValueError(f"layer {name!r} ({_module_type(failing)}) fails on input size {size}: {err}") from err
    finally:
        for handle in handles:
            handle.remove()
    return _Trace(records, geometries, starts, output, tracer.total_macs)


def _pick_rf(trace: _Trace, layer: Optional[str]) -> Optional[ReceptiveField]:
    """The named layer's last call, or by default the last output that has a receptive field."""
    for row, geom in zip(reversed(trace.records), reversed(trace.geometries)):
        if (layer is None and geom is not None) or (layer is not None and row.name == layer):
            if geom is None:
                raise ValueError(f"layer={layer!r} has no receptive field: its output {row.output_shape} "
                                 "has no spatial grid (flattened, fully connected or globally pooled)")
            return ReceptiveField(layer=row.name, rf=row.rf, jump=row.jump, effective_padding=row.effective_padding,
                                  output_size=tuple(row.output_shape[-2:]), geometry=geom)
    if layer is not None:
        known = [r.name for r in trace.records]
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
    model = _check_model(model)
    size = parse_input_size(input_size)
    device = torch.device(device)
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype, got {dtype!r}")
    trace = _trace(model, size, device, dtype)
    out_tensor = _first_tensor(trace.output)
    return ModelSummary(
        model_name=_module_type(model), input_size=size,
        rows=[r for r in trace.display_order() if r.leaf], all_rows=trace.display_order(),
        output_shape=tuple(out_tensor.shape) if out_tensor is not None else None,
        total_params=count_parameters(model),
        trainable_params=count_parameters(model, trainable_only=True),
        total_macs=trace.total_macs, receptive_field=_pick_rf(trace, None),
    )


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Learnable numbers in ``model`` (each shared parameter once); all of them unless ``trainable_only``."""
    _check_model(model)
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def receptive_field_of(model: nn.Module, input_size: Any, layer: Optional[str] = None, *,
                       device: Union[str, torch.device, None] = None) -> ReceptiveField:
    """Analytic receptive field of one layer's output (default: the last layer that has one).

    Follows every path through the network (branches, shortcuts, concatenations) and keeps
    the largest extent, so an Inception or ResNet block is handled exactly. ``layer`` is a
    module name as in ``model.named_modules()`` (``"layer4"``, ``"features.12"``). Runs one
    forward pass on the model's own device; ``device="meta"`` follows only the shapes.
    """
    model = _check_model(model)
    size = parse_input_size(input_size)
    if layer is not None and not isinstance(layer, str):
        raise TypeError(f"layer must be a module name (str) or None, got {layer!r}")
    where = torch.device(device) if device is not None else (_model_device(model) or torch.device("cpu"))
    trace = _trace(model, size, where, torch.float32)
    found = _pick_rf(trace, layer)
    if found is None:
        raise ValueError(f"no layer of {_module_type(model)} has a spatial output for input {size}")
    return found


# ----------------------------------------------------------------------------- gradients
_ACTIVATIONS = {
    "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "elu", "elu_", "selu", "selu_", "celu", "celu_", "gelu",
    "silu", "mish", "hardtanh", "hardtanh_", "hardswish", "hardsigmoid", "sigmoid", "sigmoid_", "tanh", "tanh_",
    "softplus", "threshold", "threshold_", "prelu", "rrelu", "rrelu_", "logsigmoid",
    "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout",
    "batch_norm", "instance_norm", "layer_norm", "group_norm", "local_response_norm",
}


class _LinearSurrogate(TorchFunctionMode):
    """Turns a network into a linear one with positive weights, for :func:`gradient_receptive_field`.

    Convolutions and fully connected layers get equal positive weights and no bias, max
    pooling becomes average pooling over the same windows, activations, dropout and
    normalisation become the identity. Every input pixel on some path to a unit then gets a positive
    gradient: nothing cancels, no ReLU is dead, no max pool picks one pixel of its window.
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name in _ACTIVATIONS and args and isinstance(args[0], torch.Tensor):
            return args[0]
        if name in ("conv2d", "conv_transpose2d", "linear", "conv1d", "conv3d"):
            args = list(args)
            weight = args[1] if len(args) > 1 else kwargs.pop("weight")
            # 1 / (inputs per output channel and tap): the gradient of a pixel reached along a
            # single path stays near 1 however deep the network (no underflow to a false zero).
            fan = weight.shape[0] if name == "conv_transpose2d" else weight.shape[1]
            ones = torch.full_like(weight, 1.0 / fan, dtype=args[0].dtype)
            if len(args) > 1:
                args[1] = ones
            else:
                kwargs["weight"] = ones
            if len(args) > 2:
                args[2] = None
            kwargs.pop("bias", None)
            return func(*args, **kwargs)
        if name == "max_pool2d":
            kernel = _arg(args, kwargs, 1, "kernel_size", 1)
            stride = _arg(args, kwargs, 2, "stride", None)
            padding = _arg(args, kwargs, 3, "padding", 0)
            dilation = _arg(args, kwargs, 4, "dilation", 1)
            ceil_mode = _arg(args, kwargs, 5, "ceil_mode", False)
            if not _arg(args, kwargs, 6, "return_indices", False):
                return _mean_pool(args[0], kernel, stride, padding, dilation, ceil_mode)
        if name == "adaptive_max_pool2d" and not _arg(args, kwargs, 2, "return_indices", False):
            return torch.nn.functional.adaptive_avg_pool2d(args[0], _arg(args, kwargs, 1, "output_size", 1))
        return func(*args, **kwargs)


def _mean_pool(x: torch.Tensor, kernel: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool) -> torch.Tensor:
    """Average over the exact windows a max pool would use (dilated ones too), padding as zeros."""
    k, p, d = _two(kernel), _two(padding), _two(dilation)
    s = k if stride is None or stride == [] or stride == () else _two(stride)
    if d == (1, 1):
        return torch.nn.functional.avg_pool2d(x, k, s, p, ceil_mode, True)
    size = arith.pool_output_size(tuple(x.shape[-2:]), k, s, p, d, ceil_mode)
    extra = [s[a] - 1 if ceil_mode else 0 for a in range(2)]  # room for ceil_mode's last window
    x = torch.nn.functional.pad(x, (p[1], p[1] + extra[1], p[0], p[0] + extra[0]))
    channels = x.shape[1]
    weight = torch.full((channels, 1, *k), 1.0 / (k[0] * k[1]), dtype=x.dtype, device=x.device)
    out = torch.nn.functional.conv2d(x, weight, None, s, 0, d, channels)
    return out[..., : size[0], : size[1]]


def _module_named(model: nn.Module, layer: str) -> nn.Module:
    modules = dict(model.named_modules())
    if layer in modules:
        return modules[layer]
    if layer == _module_type(model):
        return model
    raise ValueError(f"layer={layer!r} is not a module of the model; known: {', '.join(list(modules)[1:13])} ...")


def gradient_receptive_field(model: nn.Module, input_size: Any, unit: Optional[tuple[int, int]] = None, *,
                             layer: Optional[str] = None) -> GradientRF:
    """Measure the receptive field by back-propagation from one unit of ``layer``'s output.

    The unit (default: the centre of the map) sums its channels and back-propagates to an
    input of ones; the input pixels with non-zero gradient are what the unit sees. The model
    is first made linear with positive weights (see ``_LinearSurrogate``; the model itself is
    not changed) so that no pixel's influence cancels or is cut by a ReLU or max pool.
    ``layer`` defaults to the layer :func:`receptive_field_of` picks. Choose an input larger
    than the receptive field, or the measured box is cut at the image border
    (``touches_border`` says so).
    """
    model = _check_model(model)
    size = parse_input_size(input_size)
    if len(size) < 3:
        raise ValueError(f"input_size needs channels, height and width, got {size}")
    if layer is None:
        layer = receptive_field_of(model, size).layer
    device = _model_device(model) or torch.device("cpu")
    if device.type == "meta":
        raise ValueError("gradient_receptive_field needs a model with real weights; this one is on the meta "
                         "device (use receptive_field_of for the analytic answer)")
    target = _module_named(model, layer)
    captured: list[torch.Tensor] = []
    handle = target.register_forward_hook(lambda module, args, output: captured.append(_first_tensor(output)))
    x = torch.ones((1, *size), dtype=torch.float32, device=device, requires_grad=True)
    try:
        with _EvalMode(model), torch.enable_grad(), _LinearSurrogate():
            model(x)
    finally:
        handle.remove()
    spatial = [t for t in captured if t is not None and t.dim() >= 4]
    out = spatial[-1] if spatial else (captured[-1] if captured else None)  # a shared module: its last map
    if out is None or out.dim() < 4:
        raise ValueError(f"layer={layer!r} output {None if out is None else tuple(out.shape)} has no spatial units")
    height, width = out.shape[-2:]
    if unit is None:
        unit = (height // 2, width // 2)
    if (not isinstance(unit, (tuple, list)) or len(unit) != 2
            or not all(isinstance(u, numbers.Integral) and 0 <= u < n for u, n in zip(unit, (height, width)))):
        raise ValueError(f"unit must be an (i, j) pair inside the {height}x{width} output of {layer!r}, got {unit!r}")
    unit = (int(unit[0]), int(unit[1]))
    # autograd.grad, not backward(): nothing accumulates in the model's own .grad fields.
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(out[0, ..., unit[0], unit[1]].sum(), x)
    grad = grad[0].abs().sum(0)
    mask = (~(grad == 0)).cpu().numpy()
    rows, cols = np.nonzero(mask)
    if not len(rows):
        raise ValueError(f"no input pixel gets gradient from unit {tuple(unit)} of {layer!r}: "
                         "it sees only zero padding")
    region = ((int(rows.min()), int(rows.max()) + 1), (int(cols.min()), int(cols.max()) + 1))
    touches = region[0][0] == 0 or region[1][0] == 0 or region[0][1] == size[-2] or region[1][1] == size[-1]
    rf = _collapse((region[0][1] - region[0][0], region[1][1] - region[1][0]))
    return GradientRF(layer=layer, unit=tuple(unit), region=region, rf=rf, mask=mask, touches_border=bool(touches))


# ----------------------------------------------------------------------------- text
def _shape(shape: Optional[tuple[int, ...]]) -> str:
    return "-" if shape is None else "[" + ", ".join(map(str, shape)) + "]"


def _size(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, tuple):
        return "x".join(map(str, value))
    return str(value)


def _si(n: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:g}"


def _table(header: Sequence[str], body: list[Sequence[str]], right: set[int]) -> list[str]:
    widths = [max(len(str(line[c])) for line in [header, *body]) for c in range(len(header))]

    def line(cells):
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(header), "-" * len(line(header)), *map(line, body)]


def format_summary(result: ModelSummary, *, all_rows: bool = False) -> str:
    """The torchinfo-like text table of a :class:`ModelSummary` (containers too with ``all_rows``)."""
    rows = result.all_rows if all_rows else result.rows
    body = [(("  " * max(r.depth - 1, 0) if all_rows else "") + f"{r.name} ({r.type})", _shape(r.output_shape),
             f"{r.params:,}" if r.params else "-", f"{r.macs:,}" if r.macs else "-", _size(r.rf))
            for r in rows]
    lines = _table(("Layer (type)", "Output shape", "Params", "MACs", "RF"), body, {2, 3, 4})
    width = len(lines[0])
    rf = result.receptive_field
    footer = [
        "=" * width,
        f"Total params: {result.total_params:,}   (trainable {result.trainable_params:,}, "
        f"non-trainable {result.non_trainable_params:,})",
        f"Input: {'x'.join(map(str, (1, *result.input_size)))} (a batch of one); output: {_shape(result.output_shape)}",
        f"MACs: {result.total_macs:,} ({_si(result.total_macs)}MAC);  "
        f"FLOPs = 2 x MACs = {_si(result.total_flops)}FLOP",
    ]
    if rf is not None:
        footer.append(f"Receptive field ({rf.layer}): {_size(rf.rf)} input pixels, jump {_size(rf.jump)}, "
                      f"effective padding {_size(rf.effective_padding)}")
    footer.append("Convention: " + FLOP_CONVENTION)
    return "\n".join(lines + footer)


# ----------------------------------------------------------------------------- command line
def _default_input(model: nn.Module) -> tuple[int, ...]:
    kind = _module_type(model)
    first = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    channels = first.in_channels if first is not None else 3
    if kind.startswith("LeNet") or kind.startswith("Cifar"):
        return channels, 32, 32
    return channels, 224, 224


def _build(name: str, num_classes: Optional[int], device: str) -> nn.Module:
    from . import models

    with torch.device(device):
        return models.get(name, num_classes=num_classes)


def _cli_parser(prog: str, description: str) -> argparse.ArgumentParser:
    from . import models

    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("model", help=f"one of: {', '.join(models.names())}")
    parser.add_argument("--input", default=None,
                        help="input size without batch, e.g. 3x224x224 (default: 1x32x32 LeNet, 3x32x32 CIFAR nets, "
                             "3x224x224 otherwise)")
    parser.add_argument("--num-classes", type=int, default=None, help="number of outputs (default: the model's)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "meta"),
                        help="cpu (default) runs a real forward pass; meta only follows shapes (no memory)")
    return parser


def _summarise_cli(args) -> ModelSummary:
    model = _build(args.model, args.num_classes, args.device)
    size = parse_input_size(args.input) if args.input else _default_input(model)
    return summary(model, size, device=args.device)


def main(argv: Optional[list[str]] = None) -> int:
    """``python -m cnnkit summary MODEL [--input 3x224x224]``: the per-layer table of a model."""
    parser = _cli_parser("python -m cnnkit summary", "Per-layer output shapes, parameters, MACs/FLOPs and "
                         "receptive fields of a cnnkit model.")
    parser.add_argument("--all", action="store_true", help="also list blocks and stages (container modules)")
    args = parser.parse_args(argv)
    try:
        result = _summarise_cli(args)
    except (ValueError, TypeError, RuntimeError) as err:
        print(f"cnnkit summary: {err}", file=sys.stderr)
        return 2
    print(format_summary(result, all_rows=args.all))
    return 0


def rf_main(argv: Optional[list[str]] = None) -> int:
    """``python -m cnnkit rf MODEL [--input ...]``: the receptive field after every layer and block."""
    parser = _cli_parser("python -m cnnkit rf", "Receptive field, jump and effective padding after every layer "
                         "and block of a cnnkit model.")
    parser.add_argument("--depth", type=int, default=None, help="only modules at most this deep (1 = top level)")
    args = parser.parse_args(argv)
    if args.depth is not None and args.depth < 1:
        print(f"cnnkit rf: --depth must be >= 1, got {args.depth}", file=sys.stderr)
        return 2
    try:
        result = _summarise_cli(args)
    except (ValueError, TypeError, RuntimeError) as err:
        print(f"cnnkit rf: {err}", file=sys.stderr)
        return 2
    rows = [r for r in result.all_rows if r.rf is not None and r.depth > 0
            and (args.depth is None or r.depth <= args.depth)]
    body = [(("  " * (r.depth - 1)) + r.name, r.type, _size(tuple(r.output_shape[-2:])), _size(r.rf), _size(r.jump),
             _size(r.effective_padding)) for r in rows]
    print("\n".join(_table(("Layer", "Type", "Output", "RF", "Jump", "Eff. padding"), body, {2, 3, 4, 5})))
    rf = result.receptive_field
    if rf is not None:
        print(f"\n{args.model}: receptive field {_size(rf.rf)} input pixels at {rf.layer} "
              f"(input {'x'.join(map(str, result.input_size))}); layers after it have no spatial grid.")
    return 0
