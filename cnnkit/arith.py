"""Layer arithmetic: output sizes, 'same' padding, receptive fields, parameters and MACs.

Integers in, integers (and small tables) out. Everything here is exact and follows the
rules PyTorch's layers use, so a student can predict a network's shapes before building
it, and the tests can check each rule against ``torch.nn`` on random inputs.

Sizes are ints for square maps or ``(height, width)`` pairs; a function given any pair
answers with pairs, otherwise with ints.

The lecture writes the output size of a convolution as ``(N - F) / stride + 1``. With
padding ``P`` and dilation ``D`` the kernel covers ``F = D (K - 1) + 1`` input pixels and
the padded input has ``N + 2P``, so::

    out = floor((N + 2P - D (K - 1) - 1) / stride) + 1

PyTorch floors silently; pass ``strict=True`` to be told when the division is not exact
(the last rows or columns of the input are then never looked at).

Layer lists come from dicts, tuples, the one-line-per-layer text of :func:`parse_layers` or
a torch model (:func:`layers_from_model`). No torch import here: torch modules are recognised
only when torch is already loaded (a torch module cannot exist otherwise). The integer checks
and the per-axis formulas are :mod:`cnnkit._geometry`'s, shared with :mod:`cnnkit.ops`.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any, Iterable, Union

from ._geometry import (
    AXES,
    as_pair,
    check_bool,
    check_int,
    conv_out_len,
    conv_padding,
    extent,
    is_int,
    pool_out_len,
    pool_window,
    square_or_pair,
)
from .modules import check_module, find_layer

__all__ = [
    "Size",
    "RFRow",
    "conv_output_size",
    "pool_output_size",
    "conv_transpose_output_size",
    "same_padding",
    "receptive_field_step",
    "receptive_field",
    "receptive_field_region",
    "format_rf_table",
    "layers_from_model",
    "parse_layers",
    "format_layers",
    "conv_params",
    "linear_params",
    "conv_macs",
    "linear_macs",
    "PASS_THROUGH_KINDS",
    "LAYER_KINDS",
]

#: An int for square maps and kernels, or a ``(height, width)`` pair.
Size = Union[int, tuple[int, int]]

#: What one unit of a layer's output sees along one axis: input pixels ``[lo, hi)`` for the
#: first unit, and ``jump``, the input pixels between neighbouring units.
Axis = tuple[int, int, int]


# --------------------------------------------------------------------------- argument forms
def _pair_arg(value: Any, name: str, minimum: int) -> tuple[tuple[int, int], bool]:
    """``value`` as a checked (height, width) pair, and whether it was given as a pair."""
    return as_pair(value, name, minimum), isinstance(value, (tuple, list))


def _given_as_pair(*values: Any) -> bool:
    return any(isinstance(v, (tuple, list)) for v in values)


def _shape_back(pair: tuple[int, int], as_pair: bool) -> Size:
    return pair if as_pair else pair[0]


def _axis(i: int, as_pair: bool) -> str:
    return f" (along the {AXES[i]})" if as_pair else ""


# --------------------------------------------------------------------------- one axis
def _conv_axis(n: int, k: int, s: int, pad_total: int, d: int, strict: bool, where: str) -> int:
    """Output length of a convolution along one axis (``pad_total`` = both sides)."""
    out = conv_out_len(n, k, s, pad_total, d, where)
    span = n + pad_total - extent(k, d)
    if strict and span % s:
        raise ValueError(
            f"(N + 2P - D(K-1) - 1) = {span} is not divisible by stride={s}{where}: the lecture's "
            f"(N - F) / stride + 1 = {span / s + 1:g} is not an integer; PyTorch floors it to "
            f"{out} and never looks at the last {span % s} row(s)/column(s). "
            "Change the padding or the stride, or pass strict=False to floor."
        )
    return out


def _pool_axis(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool, strict: bool, where: str) -> int:
    """Output length of a pooling along one axis, with PyTorch's ceil_mode rule."""
    span = n + 2 * p - extent(k, d)
    if strict and span % s:
        raise ValueError(
            f"(N + 2P - D(K-1) - 1) = {span} is not divisible by stride={s}{where}: the lecture's "
            f"(N - F) / stride + 1 = {span / s + 1:g} is not an integer; PyTorch "
            f"{'rounds it up' if ceil_mode else 'floors it'} (ceil_mode={ceil_mode}). "
            "Change the padding or the stride, or pass strict=False."
        )
    return pool_out_len(n, k, s, p, ceil_mode, d, where)


def _conv_transpose_axis(n: int, k: int, s: int, p: int, op: int, d: int, where: str) -> int:
    if op >= s and op >= d:
        raise ValueError(
            f"output_padding={op} must be smaller than either stride={s} or dilation={d}{where} "
            "(PyTorch's rule: it only picks among the input sizes a strided convolution maps to one size)"
        )
    out = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
    if out < 1:
        raise ValueError(
            f"padding={p} crops more than the transposed convolution produces: "
            f"(N-1)*stride - 2P + D(K-1) + output_padding + 1 = {out}{where}"
        )
    return out


# --------------------------------------------------------------------------- public sizes
def _conv_padding(padding: Any, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]):
    """Turn ``padding`` (int, pair, 'valid' or 'same') into (left pair, total pair)."""
    (top, bottom), (left, right) = conv_padding(padding, kernel, stride, dilation)
    return (top, left), (top + bottom, left + right)


def conv_output_size(
    n: Size,
    kernel_size: Size,
    stride: Size = 1,
    padding: Size | str = 0,
    dilation: Size = 1,
    *,
    strict: bool = False,
) -> Size:
    """Output size of ``nn.Conv2d``: ``floor((N + 2P - D(K-1) - 1) / stride) + 1``.

    ``padding`` may also be ``'valid'`` (0) or ``'same'`` (stride 1 only; the output
    keeps the input size). ``strict=True`` raises when the division is not exact.

    >>> conv_output_size(32, 5)              # the lecture: 32x32x3, 5x5 filters -> 28x28
    28
    >>> conv_output_size(227, 11, stride=4)  # AlexNet's first layer -> 55x55
    55
    """
    size = as_pair(n, "n", 1)
    k = as_pair(kernel_size, "kernel_size", 1)
    s = as_pair(stride, "stride", 1)
    d = as_pair(dilation, "dilation", 1)
    _, total = _conv_padding(padding, k, s, d)
    as_pair_ = _given_as_pair(n, kernel_size, stride, padding, dilation)
    out = tuple(
        _conv_axis(size[i], k[i], s[i], total[i], d[i], strict, _axis(i, as_pair_)) for i in range(2)
    )
    return _shape_back(out, as_pair_)


def pool_output_size(
    n: Size,
    kernel_size: Size,
    stride: Size | None = None,
    padding: Size = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
    *,
    strict: bool = False,
) -> Size:
    """Output size of ``nn.MaxPool2d`` / ``nn.AvgPool2d`` (stride defaults to the kernel size).

    Same formula as a convolution, plus PyTorch's pooling rules: padding at most half the
    kernel, and with ``ceil_mode`` the last window must start inside the (left-padded) input.

    >>> pool_output_size(224, 2)      # 2x2 pooling at stride 2 halves the map
    112
    """
    size = as_pair(n, "n", 1)
    k, s, p = pool_window(kernel_size, stride, padding)
    d = as_pair(dilation, "dilation", 1)
    ceil_mode = check_bool(ceil_mode, "ceil_mode")
    as_pair_ = _given_as_pair(n, kernel_size, stride, padding, dilation)
    out = tuple(
        _pool_axis(size[i], k[i], s[i], p[i], d[i], ceil_mode, strict, _axis(i, as_pair_)) for i in range(2)
    )
    return _shape_back(out, as_pair_)


def conv_transpose_output_size(
    n: Size,
    kernel_size: Size,
    stride: Size = 1,
    padding: Size = 0,
    output_padding: Size = 0,
    dilation: Size = 1,
) -> Size:
    """Output size of ``nn.ConvTranspose2d``: ``(N-1) stride - 2P + D(K-1) + output_padding + 1``.

    It inverts :func:`conv_output_size`: a strided convolution maps several input sizes to
    one output size, and ``output_padding`` (smaller than the stride) picks among them.

    >>> conv_transpose_output_size(55, 11, stride=4)
    227
    """
    size = as_pair(n, "n", 1)
    k = as_pair(kernel_size, "kernel_size", 1)
    s = as_pair(stride, "stride", 1)
    p = as_pair(padding, "padding", 0)
    op = as_pair(output_padding, "output_padding", 0)
    d = as_pair(dilation, "dilation", 1)
    as_pair_ = _given_as_pair(n, kernel_size, stride, padding, output_padding, dilation)
    out = tuple(
        _conv_transpose_axis(size[i], k[i], s[i], p[i], op[i], d[i], _axis(i, as_pair_)) for i in range(2)
    )
    return _shape_back(out, as_pair_)


def same_padding(kernel_size: Size, dilation: Size = 1) -> Size:
    """The padding that keeps the size at stride 1: ``D (K - 1) / 2`` on each side.

    Only exists when ``D (K - 1)`` is even (an odd kernel, or an even dilation); otherwise
    this raises, because one side would need one pixel more (PyTorch's ``padding='same'``
    then pads the right/bottom by one more than the left/top).

    >>> same_padding(3), same_padding(5), same_padding(3, dilation=2)
    (1, 2, 2)
    """
    k = as_pair(kernel_size, "kernel_size", 1)
    d = as_pair(dilation, "dilation", 1)
    as_pair_ = _given_as_pair(kernel_size, dilation)
    out = []
    for i in range(2):
        total = extent(k[i], d[i]) - 1
        if total % 2:
            raise ValueError(
                f"kernel_size={k[i]} with dilation={d[i]}{_axis(i, as_pair_)} needs {total} pixels of "
                "padding in all, which cannot be split evenly between the two sides; use an odd "
                "kernel, or nn.Conv2d(padding='same') which pads one more pixel on the right/bottom"
            )
        out.append(total // 2)
    return _shape_back((out[0], out[1]), as_pair_)


# --------------------------------------------------------------------------- parameters, MACs
def _check_groups(cin: int, cout: int, groups: Any) -> int:
    g = check_int(groups, "groups", minimum=1)
    if cin % g or cout % g:
        raise ValueError(f"groups={g} must divide in_channels={cin} and out_channels={cout}")
    return g


def conv_params(in_channels: int, out_channels: int, kernel_size: Size, *, bias: bool = True, groups: int = 1) -> int:
    """Learnable numbers of a convolution: ``out * (in / groups) * kH * kW`` weights (+ ``out`` biases).

    >>> conv_params(1, 100, 10, bias=False)   # the lecture: 100 filters of 10x10 -> 10K
    10000
    """
    cin = check_int(in_channels, "in_channels", minimum=1)
    cout = check_int(out_channels, "out_channels", minimum=1)
    g = _check_groups(cin, cout, groups)
    kh, kw = as_pair(kernel_size, "kernel_size", 1)
    return cout * (cin // g) * kh * kw + (cout if bias else 0)


def linear_params(in_features: int, out_features: int, *, bias: bool = True) -> int:
    """Learnable numbers of a fully connected layer: ``in * out`` weights (+ ``out`` biases)."""
    fin = check_int(in_features, "in_features", minimum=1)
    fout = check_int(out_features, "out_features", minimum=1)
    return fin * fout + (fout if bias else 0)


def conv_macs(
    in_channels: int, out_channels: int, kernel_size: Size, output_size: Size, *, groups: int = 1
) -> int:
    """Multiply-accumulates of one convolution (batch 1, bias not counted).

    Each output number costs ``(in / groups) * kH * kW`` MACs. One MAC is two floating
    point operations (a multiply and an add): FLOPs = 2 x MACs.
    """
    cin = check_int(in_channels, "in_channels", minimum=1)
    cout = check_int(out_channels, "out_channels", minimum=1)
    g = _check_groups(cin, cout, groups)
    kh, kw = as_pair(kernel_size, "kernel_size", 1)
    oh, ow = as_pair(output_size, "output_size", 1)
    return cout * oh * ow * (cin // g) * kh * kw


def linear_macs(in_features: int, out_features: int) -> int:
    """Multiply-accumulates of a fully connected layer (batch 1): ``in * out``."""
    return check_int(in_features, "in_features", minimum=1) * check_int(out_features, "out_features", minimum=1)


# --------------------------------------------------------------------------- receptive fields
#: Layers that act on each pixel (or across channels) alone: they leave the receptive field as it is.
PASS_THROUGH_KINDS = frozenset({
    "relu", "relu6", "leakyrelu", "prelu", "elu", "selu", "celu", "gelu", "silu", "mish",
    "sigmoid", "tanh", "hardtanh", "hardswish", "hardsigmoid", "softplus", "identity",
    "batchnorm", "batchnorm2d", "bn", "groupnorm", "instancenorm2d", "localresponsenorm", "lrn",
    "dropout", "dropout2d", "alphadropout", "pass",
})
#: Everything :func:`receptive_field` understands ('pool' means max pooling).
LAYER_KINDS = frozenset({"conv", "pool", "maxpool", "avgpool"}) | PASS_THROUGH_KINDS

_DICT_KEYS = {"kind", "name", "kernel_size", "stride", "padding", "dilation", "ceil_mode",
              "in_channels", "out_channels", "bias", "groups"}


def receptive_field_step(axis: Axis, kernel_size: int, stride: int, padding: int, dilation: int = 1) -> Axis:
    """One layer of the receptive-field recurrence along one axis (Araujo et al., Distill 2019).

    ``axis = (lo, hi, jump)``: the first unit of the layer's input sees input pixels
    ``[lo, hi)``, and neighbouring units are ``jump`` pixels apart (the input itself is
    ``(0, 1, 1)``). A window of ``F = D (K - 1) + 1`` pixels, ``padding`` pixels before the
    first one, then sees ``[lo - P jump, hi + (F - 1 - P) jump)``, and units are ``jump * stride``
    apart: the receptive field ``hi - lo`` grows by ``(F - 1) jump``. The one place the
    kit computes this step (``cnnkit.summary`` uses it for every op of a traced model).

    >>> receptive_field_step((0, 1, 1), 3, 1, 1)      # a 3x3 convolution, padding 1
    (-1, 2, 1)
    >>> receptive_field_step((-1, 2, 1), 2, 2, 0)     # then 2x2 pooling: RF 4, jump 2
    (-1, 3, 2)
    """
    lo, hi, jump = axis
    return lo - padding * jump, hi + (extent(kernel_size, dilation) - 1 - padding) * jump, jump * stride


@dataclass(frozen=True)
class RFRow:
    """One layer of a receptive-field table (ints for square layers, (h, w) pairs otherwise).

    ``rf``: input pixels one output unit sees, per side. ``jump``: input pixels between two
    neighbouring units (the product of the strides so far). ``start``: input coordinate of
    the centre of the first unit, pixel centres at 0, 1, 2, ... (negative: it lies in the
    padding; ``start - (rf - 1) / 2`` is minus the effective padding). ``output_size``:
    None when no input size was given.
    """

    name: str
    kind: str
    kernel_size: Size
    stride: Size
    padding: Size
    dilation: Size
    rf: Size
    jump: Size
    start: float | tuple[float, float]
    output_size: Size | None


@dataclass(frozen=True)
class _Layer:
    name: str
    kind: str
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pad_left: tuple[int, int]
    pad_total: tuple[int, int]
    dilation: tuple[int, int]
    ceil_mode: bool
    square: bool


def _torch_layer(obj: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def _torch_spec(name: str, module: Any) -> dict | None:
    """A torch layer as a layer dict: conv / pool with their numbers, a per-pixel layer by kind; else None."""
    nn = sys.modules["torch"].nn
    if isinstance(module, nn.Conv2d):
        padding = module.padding if isinstance(module.padding, str) else square_or_pair(module.padding)
        return {"kind": "conv", "name": name, "kernel_size": square_or_pair(module.kernel_size),
                "stride": square_or_pair(module.stride), "padding": padding,
                "dilation": square_or_pair(module.dilation)}
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        stride = module.stride if module.stride is not None else module.kernel_size
        return {"kind": "maxpool" if isinstance(module, nn.MaxPool2d) else "avgpool", "name": name,
                "kernel_size": square_or_pair(as_pair(module.kernel_size, "kernel_size")),
                "stride": square_or_pair(as_pair(stride, "stride")),
                "padding": square_or_pair(as_pair(module.padding, "padding")), "ceil_mode": bool(module.ceil_mode),
                "dilation": square_or_pair(as_pair(getattr(module, "dilation", 1), "dilation"))}
    kind = type(module).__name__.lower()
    return {"kind": kind, "name": name} if kind in PASS_THROUGH_KINDS else None


def _flatten_layers(layers: Any) -> list[tuple[str | None, Any]]:
    """(name or None, spec) for each layer; nn.Sequential is unrolled with its module names."""
    if isinstance(layers, (dict, str)) or not isinstance(layers, Iterable):
        raise TypeError(f"layers must be a sequence of layer specs (dicts, tuples or torch modules), got {layers!r}")
    out: list[tuple[str | None, Any]] = []
    if not _torch_layer(layers):
        for spec in layers:  # an nn.Sequential inside a list is unrolled too
            out += _flatten_layers(spec) if _is_sequential(spec) else [(None, spec)]
        return out
    containers = (sys.modules["torch"].nn.Sequential, sys.modules["torch"].nn.ModuleList)
    for name, module in layers.named_modules():  # nn.Sequential or nn.ModuleList, nesting unrolled
        if isinstance(module, containers):
            continue
        if any(True for _ in module.children()):
            raise TypeError(
                f"layer {name!r} ({type(module).__name__}) is a block with branches or sub-layers; "
                "receptive_field takes a plain sequence: use cnnkit.summary.receptive_field_of(model, "
                "input_size) for networks with blocks"
            )
        out.append((name, module))
    return out


def _is_sequential(obj: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Sequential)


_TUPLE_FORMS = "(kind, kernel_size, stride, padding[, dilation]) or (kernel_size, stride, padding[, dilation])"


def _parse_layer(index: int, name: str | None, spec: Any) -> _Layer:
    """Normalise one layer spec; errors name the layer index, its name and the argument."""
    where = f"layer {index}" + (f" ({name})" if name else "")
    if _torch_layer(spec):
        cls = type(spec).__name__
        fields = _torch_spec(name or f"{index}:{cls}", spec)
        if fields is None:
            raise ValueError(
                f"{where}: unsupported module {cls}; receptive_field knows Conv2d, MaxPool2d, AvgPool2d and "
                "per-pixel layers (activations, BatchNorm, Dropout, ...). For Linear/Flatten/adaptive pooling "
                "the receptive field is the whole input: pass only the convolutional part"
            )
        spec = fields
    elif isinstance(spec, (tuple, list)):
        named = bool(spec) and isinstance(spec[0], str)
        if not spec or len(spec) > (5 if named else 4):
            raise ValueError(f"{where}: a tuple spec is {_TUPLE_FORMS}, got {spec!r}")
        keys = ("kind", "kernel_size", "stride", "padding", "dilation")
        spec = dict(zip(keys, spec)) if named else {"kind": "conv", **dict(zip(keys[1:], spec))}
    elif not isinstance(spec, dict):
        raise TypeError(f"{where}: a layer spec must be a dict, a tuple {_TUPLE_FORMS} or a torch module, "
                        f"got {type(spec).__name__}: {spec!r}")

    unknown = set(spec) - _DICT_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_DICT_KEYS)}")
    kind = spec.get("kind")
    if not isinstance(kind, str) or kind.lower() not in LAYER_KINDS:
        raise ValueError(
            f"{where}: unknown kind {kind!r}; allowed: 'conv', 'pool'/'maxpool', 'avgpool' or a per-pixel "
            f"layer ({', '.join(sorted(PASS_THROUGH_KINDS))})"
        )
    kind = kind.lower()
    name = spec.get("name") or name or f"{kind}{index}"
    where = f"layer {index} ({name}, {kind})"
    try:
        if kind in PASS_THROUGH_KINDS:
            return _Layer(str(name), kind, (1, 1), (1, 1), (0, 0), (0, 0), (1, 1), False, True)
        if "kernel_size" not in spec:
            raise ValueError(f"kernel_size is required for a {kind} layer")
        d = as_pair(spec.get("dilation", 1), "dilation", 1)
        ceil_mode = bool(spec.get("ceil_mode", False))
        if kind == "conv":
            if ceil_mode:
                raise ValueError("ceil_mode applies to pooling layers only")
            k = as_pair(spec["kernel_size"], "kernel_size", 1)
            s = as_pair(1 if spec.get("stride") is None else spec["stride"], "stride", 1)
            pad_left, pad_total = _conv_padding(spec.get("padding", 0), k, s, d)
        else:
            k, s, pad_left = pool_window(spec["kernel_size"], spec.get("stride"), spec.get("padding", 0))
            pad_total = (2 * pad_left[0], 2 * pad_left[1])
        square = all(v[0] == v[1] for v in (k, s, d, pad_left, pad_total))
        return _Layer(str(name), kind, k, s, pad_left, pad_total, d, ceil_mode, square)
    except (TypeError, ValueError) as err:
        raise type(err)(f"{where}: {err}") from None


def _layer_output(layer: _Layer, size: tuple[int, int], as_pair_: bool) -> tuple[int, int]:
    out = []
    for i in range(2):
        where = _axis(i, as_pair_)
        if layer.kind == "conv":
            out.append(_conv_axis(size[i], layer.kernel[i], layer.stride[i], layer.pad_total[i],
                                  layer.dilation[i], False, where))
        elif layer.kind in PASS_THROUGH_KINDS:
            out.append(size[i])
        else:
            out.append(_pool_axis(size[i], layer.kernel[i], layer.stride[i], layer.pad_left[i],
                                  layer.dilation[i], layer.ceil_mode, False, where))
    return out[0], out[1]


def _rf_pass(layers: Any, input_size: Size | None):
    """Walk the layers once: per layer, (layer, (height axis, width axis), output size)."""
    parsed = [_parse_layer(i, name, spec) for i, (name, spec) in enumerate(_flatten_layers(layers))]
    if not parsed:
        raise ValueError("layers is empty: give at least one layer spec")
    size, size_pair = (None, False) if input_size is None else _pair_arg(input_size, "input_size", 1)
    as_pair_ = size_pair or not all(layer.square for layer in parsed)
    axes: tuple[Axis, Axis] = ((0, 1, 1), (0, 1, 1))
    steps = []
    for index, layer in enumerate(parsed):
        axes = tuple(receptive_field_step(axes[i], layer.kernel[i], layer.stride[i], layer.pad_left[i],
                                          layer.dilation[i]) for i in range(2))
        if size is not None:
            try:
                size = _layer_output(layer, size, as_pair_)
            except ValueError as err:
                raise ValueError(f"layer {index} ({layer.name}, {layer.kind}): {err}") from None
        steps.append((layer, axes, size))
    return steps, as_pair_


def receptive_field(layers: Any, input_size: Size | None = None) -> list[RFRow]:
    """Receptive field table of a plain sequence of layers, one :class:`RFRow` per layer.

    ``layers``: dicts such as ``{"kind": "conv", "kernel_size": 5, "stride": 1, "padding": 0,
    "dilation": 1, "name": "C1"}`` (kind ``conv``, ``pool``/``maxpool``, ``avgpool`` or a per-pixel
    layer such as ``relu``/``batchnorm``), tuples ``(kind, kernel_size, stride, padding[,
    dilation])`` or plain ``(kernel_size, stride, padding[, dilation])`` windows (read as
    convolutions), torch modules (Conv2d, MaxPool2d, AvgPool2d, activations, BatchNorm2d, ...)
    or an ``nn.Sequential`` of those. With ``input_size`` each row also gives the output size.

    The recurrence (Araujo et al., Distill 2019), per axis, with ``F = D (K - 1) + 1``
    (see :func:`receptive_field_step`)::

        rf_out    = rf_in + (F - 1) * jump_in
        jump_out  = jump_in * stride
        start_out = start_in + ((F - 1) / 2 - padding) * jump_in

    Non-square kernels, strides, paddings or inputs make every row use (h, w) pairs.
    For networks with branches use :func:`cnnkit.summary.receptive_field_of`.

    >>> [row.rf for row in receptive_field([(3, 1, 1), (2, 2, 0)])]
    [3, 4]
    """
    steps, as_pair_ = _rf_pass(layers, input_size)
    rows = []
    for layer, axes, size in steps:
        def back(pair):
            return pair if as_pair_ else pair[0]

        rows.append(RFRow(
            name=layer.name, kind=layer.kind, kernel_size=back(layer.kernel), stride=back(layer.stride),
            padding=back(layer.pad_left), dilation=back(layer.dilation),
            rf=back(tuple(hi - lo for lo, hi, _ in axes)), jump=back(tuple(jump for _, _, jump in axes)),
            start=back(tuple((lo + hi - 1) / 2 for lo, hi, _ in axes)),
            output_size=None if size is None else back(size),
        ))
    return rows


def receptive_field_region(
    layers: Any, unit: tuple[int, int], input_size: Size, *, clip: bool = False
) -> tuple[tuple[int, int], tuple[int, int]]:
    """Input pixels that output unit ``unit = (i, j)`` of the last layer sees.

    Returns ``((top, bottom), (left, right))``, each range inclusive-exclusive like a Python
    slice: ``image[top:bottom, left:right]``. Unclipped, the region may reach into the padding
    (negative, or past the input size); ``clip=True`` cuts it to the image, so the slice is
    what the unit actually looks at.

    >>> receptive_field_region([("conv", 3, 1, 1)], (0, 0), 8)
    ((-1, 2), (-1, 2))
    """
    steps, _ = _rf_pass(layers, input_size)
    limits = as_pair(input_size, "input_size", 1)
    _, axes, out_size = steps[-1]
    if (not isinstance(unit, (tuple, list)) or len(unit) != 2 or not all(is_int(u) for u in unit)):
        raise TypeError(f"unit must be an (i, j) pair of ints, got {unit!r}")
    for axis in range(2):
        if not 0 <= unit[axis] < out_size[axis]:
            raise ValueError(f"unit={tuple(unit)!r} lies outside the last layer's output of size "
                             f"{out_size[0]}x{out_size[1]} (along the {AXES[axis]})")
    region = []
    for (lo, hi, jump), u, limit in zip(axes, unit, limits):
        lo, hi = lo + int(u) * jump, hi + int(u) * jump
        if clip:
            lo, hi = max(lo, 0), min(hi, limit)
        region.append((lo, hi))
    return region[0], region[1]


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, tuple):
        if value[0] == value[1]:
            return _fmt(value[0])
        return "x".join(_fmt(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def format_rf_table(rows: list[RFRow]) -> str:
    """A readable text table of :func:`receptive_field` rows (pairs print as ``HxW``)."""
    if not isinstance(rows, (list, tuple)) or not all(isinstance(r, RFRow) for r in rows):
        raise TypeError("rows must be the list of RFRow that receptive_field returns")
    header = ("#", "layer", "kind", "kernel", "stride", "pad", "dil", "output", "jump", "RF", "start")
    body = [
        (str(i), r.name, r.kind, _fmt(r.kernel_size), _fmt(r.stride), _fmt(r.padding), _fmt(r.dilation),
         _fmt(r.output_size), _fmt(r.jump), _fmt(r.rf), _fmt(r.start))
        for i, r in enumerate(rows)
    ]
    widths = [max(len(line[c]) for line in [header, *body]) for c in range(len(header))]

    def line(cells):
        return "  ".join(c.ljust(w) if j in (1, 2) else c.rjust(w) for j, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = "-" * len(line(header))
    notes = ("RF: input pixels one unit sees; jump: input pixels between neighbouring units; "
             "start: centre of the first unit (input pixel coordinates)")
    return "\n".join([line(header), rule, *map(line, body), rule, notes])


# --------------------------------------------------------------------------- layer lists from models and text
def layers_from_model(model: Any, upto: Any = None, *, strict: bool = True) -> list[dict]:
    """The conv / pool layers of ``model`` (in order of registration) as layer dicts for :func:`receptive_field`.

    Walks the leaf modules in the order they are registered, which is the forward order for
    sequential networks (LeNet, AlexNet, VGG), keeping Conv2d, MaxPool2d and AvgPool2d and skipping
    element-wise modules (activations, batch norm, dropout). Stops after ``upto`` (a submodule, its
    name or a child index) if given. Any other module before that point (Linear, Flatten, adaptive
    pooling, ...) raises ValueError (the receptive field is only defined through conv and pool
    layers), or with ``strict=False`` ends the list there (the convolutional part of a classifier).
    """
    check_module(model)
    last = None
    if upto is not None:
        _, target = find_layer(model, upto)
        leaves_of_target = [m for m in target.modules() if not any(True for _ in m.children())]
        last = leaves_of_target[-1] if leaves_of_target else target
    layers: list[dict] = []
    for name, module in model.named_modules():
        if any(True for _ in module.children()):
            continue
        spec = _torch_spec(name, module)
        if spec is None:
            if not strict:
                break
            raise ValueError(f"layer {name!r} ({type(module).__name__}) changes the spatial layout in a way the "
                             "receptive-field walk does not model; pass the conv/pool layers explicitly")
        if spec["kind"] not in PASS_THROUGH_KINDS:
            layers.append(spec)
        if module is last:
            break
    if not layers:
        raise ValueError("the model has no Conv2d / MaxPool2d / AvgPool2d layer (up to the chosen layer)")
    return layers


_TEXT_KEYS = {"k": "kernel_size", "kernel": "kernel_size", "kernel_size": "kernel_size", "s": "stride",
              "stride": "stride", "p": "padding", "pad": "padding", "padding": "padding", "d": "dilation",
              "dilation": "dilation", "name": "name"}
_TEXT_PAIR = re.compile(r"^(\d+)x(\d+)$")


def _parse_value(key: str, text: str, line_no: int) -> Any:
    if key == "name" or (key == "padding" and text in ("same", "valid")):
        return text
    if text.isdigit():
        return int(text)
    match = _TEXT_PAIR.match(text)
    if match:
        return int(match.group(1)), int(match.group(2))
    raise ValueError(f"line {line_no}: {key}={text!r} is not an int or a HxW pair")


def parse_layers(text: str) -> list[dict]:
    """Layer dicts for :func:`receptive_field` from one layer per line.

    A line is a kind (``conv``, ``pool``/``maxpool``, ``avgpool`` or a per-pixel layer such as
    ``relu``) then ``key=value`` pairs: ``k`` (kernel size), ``s`` (stride), ``p`` (padding:
    an int, ``same`` or ``valid``), ``d`` (dilation), ``name``; sizes are ints or ``HxW``.
    Text after ``#`` is a comment. Example: ``conv k=3 s=1 p=1`` or ``pool k=2 s=2``.

    >>> parse_layers("conv k=3 p=1\\npool k=2 s=2")
    [{'kind': 'conv', 'kernel_size': 3, 'padding': 1}, {'kind': 'pool', 'kernel_size': 2, 'stride': 2}]
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a string with one layer per line, got {type(text).__name__}")
    layers = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        spec: dict[str, Any] = {"kind": words[0].lower()}
        for word in words[1:]:
            key, sep, value = word.partition("=")
            if not sep or key.lower() not in _TEXT_KEYS:
                raise ValueError(f"line {line_no}: {word!r} is not key=value with key in k, s, p, d, name")
            spec[_TEXT_KEYS[key.lower()]] = _parse_value(_TEXT_KEYS[key.lower()], value, line_no)
        layers.append(spec)
    if not layers:
        raise ValueError("no layers: write one per line, e.g. 'conv k=3 s=1 p=1'")
    return layers


def format_layers(layers: list[dict]) -> str:
    """The inverse of :func:`parse_layers`: one ``kind k=.. s=.. p=.. d=..`` line per layer dict."""
    short = {"kernel_size": "k", "stride": "s", "padding": "p", "dilation": "d", "name": "name"}
    lines = []
    for spec in layers:
        words = [str(spec["kind"])]
        for key, abbreviation in short.items():
            value = spec.get(key)
            if value is None:
                continue
            if isinstance(value, (tuple, list)):
                value = f"{value[0]}" if value[0] == value[1] else f"{value[0]}x{value[1]}"
            words.append(f"{abbreviation}={value}")
        lines.append(" ".join(words))
    return "\n".join(lines)
