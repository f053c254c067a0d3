"""The receptive field measured by back-propagation, to check the analytic one.

Back-propagate from one output unit and look at which input pixels get gradient: those are
what the unit sees. So that no pixel's influence cancels, is cut by a ReLU or is dropped by a
max pool, the network is first made linear with positive weights (:class:`_LinearSurrogate`);
the model itself is not changed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from .. import arith
from .._geometry import as_pair, is_int, square_or_pair
from ..arith import Size
from ..modules import check_module, eval_mode, find_layer, module_device
from .hooks import parse_input_size, receptive_field_of
from .op_geometry import arg, pair_arg, pool_stride
from .tracer import first_tensor

_ACTIVATIONS = {
    "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "elu", "elu_", "selu", "selu_", "celu", "celu_", "gelu",
    "silu", "mish", "hardtanh", "hardtanh_", "hardswish", "hardsigmoid", "sigmoid", "sigmoid_", "tanh", "tanh_",
    "softplus", "threshold", "threshold_", "prelu", "rrelu", "rrelu_", "logsigmoid",
    "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout",
    "batch_norm", "instance_norm", "layer_norm", "group_norm", "local_response_norm",
}


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
            kernel = arg(args, kwargs, 1, "kernel_size", 1)
            stride = arg(args, kwargs, 2, "stride", None)
            padding = arg(args, kwargs, 3, "padding", 0)
            dilation = arg(args, kwargs, 4, "dilation", 1)
            ceil_mode = arg(args, kwargs, 5, "ceil_mode", False)
            if not arg(args, kwargs, 6, "return_indices", False):
                return _mean_pool(args[0], kernel, stride, padding, dilation, ceil_mode)
        if name == "adaptive_max_pool2d" and not arg(args, kwargs, 2, "return_indices", False):
            return torch.nn.functional.adaptive_avg_pool2d(args[0], arg(args, kwargs, 1, "output_size", 1))
        return func(*args, **kwargs)


def _mean_pool(x: torch.Tensor, kernel: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool) -> torch.Tensor:
    """Average over the exact windows a max pool would use (dilated ones too), padding as zeros."""
    k, p, d = pair_arg(kernel, "kernel_size"), pair_arg(padding, "padding"), pair_arg(dilation, "dilation")
    s = pool_stride(k, stride)
    if d == (1, 1):
        return torch.nn.functional.avg_pool2d(x, k, s, p, ceil_mode, True)
    size = arith.pool_output_size(tuple(x.shape[-2:]), k, s, p, d, ceil_mode)
    extra = [s[a] - 1 if ceil_mode else 0 for a in range(2)]  # room for ceil_mode's last window
    x = torch.nn.functional.pad(x, (p[1], p[1] + extra[1], p[0], p[0] + extra[0]))
    channels = x.shape[1]
    weight = torch.full((channels, 1, *k), 1.0 / (k[0] * k[1]), dtype=x.dtype, device=x.device)
    out = torch.nn.functional.conv2d(x, weight, None, s, 0, d, channels)
    return out[..., : size[0], : size[1]]


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
    model = check_module(model)
    size = parse_input_size(input_size)
    if len(size) < 3:
        raise ValueError(f"input_size needs channels, height and width, got {size}")
    if layer is None:
        layer = receptive_field_of(model, size).layer
    device = module_device(model) or torch.device("cpu")
    if device.type == "meta":
        raise ValueError("gradient_receptive_field needs a model with real weights; this one is on the meta "
                         "device (use receptive_field_of for the analytic answer)")
    _, target = find_layer(model, layer)
    captured: list[torch.Tensor] = []
    handle = target.register_forward_hook(lambda module, args, output: captured.append(first_tensor(output)))
    x = torch.ones((1, *size), dtype=torch.float32, device=device, requires_grad=True)
    try:
        with eval_mode(model), torch.enable_grad(), _LinearSurrogate():
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
            or not all(is_int(u) and 0 <= u < n for u, n in zip(unit, (height, width)))):
        raise ValueError(f"unit must be an (i, j) pair inside the {height}x{width} output of {layer!r}, got {unit!r}")
    unit = as_pair(tuple(unit), "unit")
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
    rf = square_or_pair((region[0][1] - region[0][0], region[1][1] - region[1][0]))
    return GradientRF(layer=layer, unit=tuple(unit), region=region, rf=rf, mask=mask, touches_border=bool(touches))
