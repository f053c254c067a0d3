"""Per torch op: what the units of its output see (geometry), and what it costs (MACs).

A tensor's geometry is, per spatial axis (height, width), the interval of input pixels its
first unit sees and the jump between neighbouring units, ``(lo, hi, jump)``: unit ``u`` sees
``[lo + u*jump, hi + u*jump)``. An op that slides a window (a convolution, a pooling, a
strided slice, a pad) moves it by one step of the receptive-field recurrence,
:func:`cnnkit.arith.receptive_field_step`; a pointwise op with several inputs (an addition, a
concatenation along channels) takes the union, so the receptive field is the largest over
paths. An op after which a unit has no local window (flatten, a fully connected layer, a
global pool) gives :data:`UNDEFINED`.
"""
from __future__ import annotations

from typing import Any

import torch

from .._geometry import as_pair, conv_padding, square_or_pair
from ..arith import Axis, receptive_field_step

#: (height axis, width axis).
Geometry = tuple[Axis, Axis]
UNDEFINED = "undefined"
IDENTITY: Geometry = ((0, 1, 1), (0, 1, 1))

# Ops that mix pixels along the spatial axes in a way no window describes.
_NONLOCAL = {
    "linear", "bilinear", "matmul", "mm", "bmm", "einsum", "__matmul__", "__rmatmul__", "softmax", "log_softmax",
    "softmin", "cumsum", "cumprod", "sort", "argsort", "topk", "roll", "flip", "fliplr", "flipud", "rot90",
    "interpolate", "upsample", "grid_sample", "pixel_shuffle", "pixel_unshuffle", "unfold", "fold",
    "adaptive_avg_pool1d", "adaptive_max_pool1d", "conv1d", "conv3d", "fft_fft2", "fft_rfft2",
}
_COUNTED_MATMUL = {"matmul", "mm", "bmm", "__matmul__", "addmm", "baddbmm", "addbmm"}
_WINDOWS = ("conv2d", "max_pool2d", "avg_pool2d", "max_pool2d_with_indices", "lp_pool2d", "conv_transpose2d")


def arg(args: tuple, kwargs: dict, index: int, name: str, default: Any) -> Any:
    """Argument ``name`` of a torch call, given by keyword or at position ``index``."""
    if name in kwargs:
        return kwargs[name]
    return args[index] if len(args) > index else default


def pair_arg(value: Any, name: str) -> tuple[int, int]:
    """A torch op's int-or-sequence argument as ``(height, width)`` (a one-element list means both)."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    return as_pair(value, name)


def pool_stride(kernel: tuple[int, int], stride: Any) -> tuple[int, int]:
    """A pooling's stride: like the kernel when not given (None, or an empty list as torch passes it)."""
    return kernel if stride is None or stride == [] or stride == () else pair_arg(stride, "stride")


def spatial(t: torch.Tensor) -> tuple[int, int] | None:
    return (int(t.shape[-2]), int(t.shape[-1])) if t.dim() >= 4 else None


def _window(geom: Geometry, kernel, stride, padding, dilation) -> Geometry:
    return tuple(receptive_field_step(geom[a], kernel[a], stride[a], padding[a], dilation[a])  # type: ignore[return-value]
                 for a in range(2))


def _union(geoms: list[Geometry]) -> Geometry | str:
    """Several inputs combined pointwise (add, cat): the union of what their units see."""
    jumps = {(g[0][2], g[1][2]) for g in geoms}
    if len(jumps) != 1:
        return UNDEFINED  # misaligned grids: no single receptive field per unit
    return tuple((min(g[a][0] for g in geoms), max(g[a][1] for g in geoms), geoms[0][a][2])  # type: ignore[return-value]
                 for a in range(2))


def _window_args(name: str, args: tuple, kwargs: dict):
    """(kernel, stride, padding, dilation) of a window op, or None where no fixed window exists."""
    if name in ("conv2d", "conv_transpose2d"):
        kernel = tuple(args[1].shape[-2:]) if len(args) > 1 else tuple(kwargs["weight"].shape[-2:])
        if name == "conv_transpose2d":
            # Only the stride-1 case has a fixed window: a convolution padded by D(K-1) - P.
            if pair_arg(arg(args, kwargs, 3, "stride", 1), "stride") != (1, 1):
                return None
            dilation = pair_arg(arg(args, kwargs, 7, "dilation", 1), "dilation")
            pad = pair_arg(arg(args, kwargs, 4, "padding", 0), "padding")
            return kernel, (1, 1), tuple(d * (k - 1) - p for k, d, p in zip(kernel, dilation, pad)), dilation
        stride = pair_arg(arg(args, kwargs, 3, "stride", 1), "stride")
        padding = arg(args, kwargs, 4, "padding", 0)
        dilation = pair_arg(arg(args, kwargs, 5, "dilation", 1), "dilation")
        if isinstance(padding, str):
            (top, _), (left, _) = conv_padding(padding, kernel, stride, dilation)
            return kernel, stride, (top, left), dilation
        return kernel, stride, pair_arg(padding, "padding"), dilation
    if name == "lp_pool2d":  # (input, norm_type, kernel_size, stride, ceil_mode): no padding
        args = (args[0], *args[2:4])
    kernel = pair_arg(arg(args, kwargs, 1, "kernel_size", 1), "kernel_size")
    stride = pool_stride(kernel, arg(args, kwargs, 2, "stride", None))
    padding = pair_arg(arg(args, kwargs, 3, "padding", 0), "padding")
    dilation = pair_arg(arg(args, kwargs, 4, "dilation", 1), "dilation") if "max" in name else (1, 1)
    return kernel, stride, padding, dilation


def op_geometry(name: str, args: tuple, kwargs: dict, inputs: list[tuple[torch.Tensor, Any]], out: torch.Tensor):
    """Geometry of ``out`` given the op and its tracked inputs (tensor, geometry)."""
    if any(g == UNDEFINED for _, g in inputs) or spatial(out) is None:
        return UNDEFINED
    first_tensor, first = inputs[0]
    if name in _WINDOWS:
        if first_tensor is not args[0] or len(inputs) > 1 or spatial(first_tensor) is None:
            return UNDEFINED
        window = _window_args(name, args, kwargs)
        return UNDEFINED if window is None else _window(first, *window)
    if name in ("adaptive_avg_pool2d", "adaptive_max_pool2d"):
        axes = []
        for a, (n, m) in enumerate(zip(spatial(first_tensor), spatial(out))):
            if n == m:
                axes.append(first[a])
            elif m == 1 or n % m:
                return UNDEFINED  # global pooling, or windows of varying size
            else:
                axes.append(receptive_field_step(first[a], n // m, n // m, 0))
        return tuple(axes)
    if name == "pad":
        pads = list(arg(args, kwargs, 1, "pad", ()))
        pads += [0] * (4 - len(pads))
        left, top = pads[0], pads[2]  # a pad shifts the grid: a 1x1 window "padded" by (top, left)
        return _window(first, (1, 1), (1, 1), (top, left), (1, 1))
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
        dim = arg(args, kwargs, 1, "dim", 0)
        ndim = out.dim()
        if name != "stack" and dim % ndim >= ndim - 2:
            return UNDEFINED
    # Anything else is taken as pointwise: allowed only when all inputs share the output's grid.
    size = spatial(out)
    if any(spatial(t) != size for t, _ in inputs):
        return UNDEFINED
    return _union([g for _, g in inputs])


def _slice_geometry(tensor: torch.Tensor, geom: Geometry, index: Any, out: torch.Tensor):
    """``x[:, :, a::s, b::t]`` keeps every s-th row from row a: a 1x1 window with stride s, shifted by a."""
    index = index if isinstance(index, tuple) else (index,)
    if any(i is Ellipsis or i is None or not isinstance(i, slice) for i in index) or out.dim() != tensor.dim():
        return UNDEFINED if spatial(out) != spatial(tensor) else geom
    index = index + (slice(None),) * (tensor.dim() - len(index))
    starts, steps = zip(*(sl.indices(n)[::2] for sl, n in zip(index[-2:], spatial(tensor))))
    return _window(geom, (1, 1), steps, tuple(-s for s in starts), (1, 1))


def geometry_fields(geom: Any, tensor: torch.Tensor | None):
    """``(rf, jump, effective padding)`` of a tensor's geometry (ints when square), or Nones."""
    if tensor is None or geom is None or geom == UNDEFINED or spatial(tensor) is None:
        return None, None, None
    rf = square_or_pair(tuple(g[1] - g[0] for g in geom))
    jump = square_or_pair(tuple(g[2] for g in geom))
    pad = square_or_pair(tuple(-g[0] for g in geom))
    return rf, jump, pad


def op_macs(name: str, args: tuple, kwargs: dict, out: Any) -> int:
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
