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

No torch import here: torch modules are recognised by class name, and only when torch
is already loaded (a torch module cannot exist otherwise).
"""
from __future__ import annotations

import numbers
import sys
from dataclasses import dataclass
from typing import Any, Iterable, Union

__all__ = [
    "Size",
    "RFRow",
    "conv_output_size",
    "pool_output_size",
    "conv_transpose_output_size",
    "same_padding",
    "receptive_field",
    "receptive_field_region",
    "format_rf_table",
    "conv_params",
    "linear_params",
    "conv_macs",
    "linear_macs",
    "PASS_THROUGH_KINDS",
    "LAYER_KINDS",
]

#: An int for square maps and kernels, or a ``(height, width)`` pair.
Size = Union[int, tuple[int, int]]

_AXES = ("height", "width")


# --------------------------------------------------------------------------- argument checks
def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _as_pair(value: Any, name: str, minimum: int) -> tuple[tuple[int, int], bool]:
    """``value`` as a pair of ints >= ``minimum``, and whether it was given as a pair."""
    if _is_int(value):
        pair, was_pair = (int(value), int(value)), False
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_int(v) for v in value):
        pair, was_pair = (int(value[0]), int(value[1])), True
    else:
        raise TypeError(f"{name} must be an int or a (height, width) pair of ints, got {value!r}")
    for v in pair:
        if v < minimum:
            what = "positive" if minimum == 1 else f">= {minimum}"
            raise ValueError(f"{name} must be {what}, got {value!r}")
    return pair, was_pair


def _shape_back(pair: tuple[int, int], as_pair: bool) -> Size:
    return pair if as_pair else pair[0]


def _axis(i: int, as_pair: bool) -> str:
    return f" (along the {_AXES[i]})" if as_pair else ""


# --------------------------------------------------------------------------- one axis
def _conv_axis(n: int, k: int, s: int, pad_total: int, d: int, strict: bool, where: str) -> int:
    """Output length of a convolution along one axis (``pad_total`` = both sides)."""
    extent = d * (k - 1) + 1
    padded = n + pad_total
    if extent > padded:
        raise ValueError(
            f"kernel_size={k} (covering {extent} pixels with dilation={d}) is larger than the "
            f"padded input {padded} (input {n} + padding {pad_total}){where}"
        )
    span = padded - extent
    if strict and span % s:
        raise ValueError(
            f"(N + 2P - D(K-1) - 1) = {span} is not divisible by stride={s}{where}: the lecture's "
            f"(N - F) / stride + 1 = {span / s + 1:g} is not an integer; PyTorch floors it to "
            f"{span // s + 1} and never looks at the last {span % s} row(s)/column(s). "
            "Change the padding or the stride, or pass strict=False to floor."
        )
    return span // s + 1


def _pool_axis(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool, strict: bool, where: str) -> int:
    """Output length of a pooling along one axis, with PyTorch's ceil_mode rule."""
    if p > k // 2:
        raise ValueError(
            f"padding={p} must be at most half of kernel_size={k} (PyTorch's pooling rule: "
            f"padding <= kernel_size // 2 = {k // 2}){where}"
        )
    extent = d * (k - 1) + 1
    span = n + 2 * p - extent
    if strict and span % s:
        raise ValueError(
            f"(N + 2P - D(K-1) - 1) = {span} is not divisible by stride={s}{where}: the lecture's "
            f"(N - F) / stride + 1 = {span / s + 1:g} is not an integer; PyTorch "
            f"{'rounds it up' if ceil_mode else 'floors it'} (ceil_mode={ceil_mode}). "
            "Change the padding or the stride, or pass strict=False."
        )
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1  # the last window must start inside the input or its left padding
    if out < 1:
        raise ValueError(
            f"kernel_size={k} (covering {extent} pixels with dilation={d}) is larger than the "
            f"padded input {n + 2 * p} (input {n} + padding 2*{p}){where}"
        )
    return out


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
    """Turn ``padding`` (int, pair, 'valid' or 'same') into (left pair, total pair, was_pair)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0), False
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"padding='same' needs stride=1 (as in PyTorch), got stride={stride}")
            totals = tuple(d * (k - 1) for k, d in zip(kernel, dilation))
            # PyTorch puts the odd pixel, if any, on the right/bottom.
            return tuple(t // 2 for t in totals), totals, False
        raise ValueError(f"padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    pad, was_pair = _as_pair(padding, "padding", 0)
    return pad, (2 * pad[0], 2 * pad[1]), was_pair


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
    size, p1 = _as_pair(n, "n", 1)
    k, p2 = _as_pair(kernel_size, "kernel_size", 1)
    s, p3 = _as_pair(stride, "stride", 1)
    d, p4 = _as_pair(dilation, "dilation", 1)
    _, total, p5 = _conv_padding(padding, k, s, d)
    as_pair = p1 or p2 or p3 or p4 or p5
    out = tuple(
        _conv_axis(size[i], k[i], s[i], total[i], d[i], strict, _axis(i, as_pair)) for i in range(2)
    )
    return _shape_back(out, as_pair)


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
    size, p1 = _as_pair(n, "n", 1)
    k, p2 = _as_pair(kernel_size, "kernel_size", 1)
    s, p3 = (k, False) if stride is None else _as_pair(stride, "stride", 1)
    p, p4 = _as_pair(padding, "padding", 0)
    d, p5 = _as_pair(dilation, "dilation", 1)
    if not isinstance(ceil_mode, bool):
        raise TypeError(f"ceil_mode must be True or False, got {ceil_mode!r}")
    as_pair = p1 or p2 or p3 or p4 or p5
    out = tuple(
        _pool_axis(size[i], k[i], s[i], p[i], d[i], ceil_mode, strict, _axis(i, as_pair)) for i in range(2)
    )
    return _shape_back(out, as_pair)


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
    size, p1 = _as_pair(n, "n", 1)
    k, p2 = _as_pair(kernel_size, "kernel_size", 1)
    s, p3 = _as_pair(stride, "stride", 1)
    p, p4 = _as_pair(padding, "padding", 0)
    op, p5 = _as_pair(output_padding, "output_padding", 0)
    d, p6 = _as_pair(dilation, "dilation", 1)
    as_pair = p1 or p2 or p3 or p4 or p5 or p6
    out = tuple(
        _conv_transpose_axis(size[i], k[i], s[i], p[i], op[i], d[i], _axis(i, as_pair)) for i in range(2)
    )
    return _shape_back(out, as_pair)


def same_padding(kernel_size: Size, dilation: Size = 1) -> Size:
    """The padding that keeps the size at stride 1: ``D (K - 1) / 2`` on each side.

    Only exists when ``D (K - 1)`` is even (an odd kernel, or an even dilation); otherwise
    this raises, because one side would need one pixel more (PyTorch's ``padding='same'``
    then pads the right/bottom by one more than the left/top).

    >>> same_padding(3), same_padding(5), same_padding(3, dilation=2)
    (1, 2, 2)
    """
    k, p1 = _as_pair(kernel_size, "kernel_size", 1)
    d, p2 = _as_pair(dilation, "dilation", 1)
    as_pair = p1 or p2
    out = []
    for i in range(2):
        total = d[i] * (k[i] - 1)
        if total % 2:
            raise ValueError(
                f"kernel_size={k[i]} with dilation={d[i]}{_axis(i, as_pair)} needs {total} pixels of "
                "padding in all, which cannot be split evenly between the two sides; use an odd "
                "kernel, or nn.Conv2d(padding='same') which pads one more pixel on the right/bottom"
            )
        out.append(total // 2)
    return _shape_back((out[0], out[1]), as_pair)


# --------------------------------------------------------------------------- parameters, MACs
def conv_params(in_channels: int, out_channels: int, kernel_size: Size, *, bias: bool = True, groups: int = 1) -> int:
    """Learnable numbers of a convolution: ``out * (in / groups) * kH * kW`` weights (+ ``out`` biases).

    >>> conv_params(1, 100, 10, bias=False)   # the lecture: 100 filters of 10x10 -> 10K
    10000
    """
    cin = _positive_int(in_channels, "in_channels")
    cout = _positive_int(out_channels, "out_channels")
    g = _positive_int(groups, "groups")
    (kh, kw), _ = _as_pair(kernel_size, "kernel_size", 1)
    if cin % g or cout % g:
        raise ValueError(f"groups={g} must divide in_channels={cin} and out_channels={cout}")
    return cout * (cin // g) * kh * kw + (cout if bias else 0)


def linear_params(in_features: int, out_features: int, *, bias: bool = True) -> int:
    """Learnable numbers of a fully connected layer: ``in * out`` weights (+ ``out`` biases)."""
    fin = _positive_int(in_features, "in_features")
    fout = _positive_int(out_features, "out_features")
    return fin * fout + (fout if bias else 0)


def conv_macs(
    in_channels: int, out_channels: int, kernel_size: Size, output_size: Size, *, groups: int = 1
) -> int:
    """Multiply-accumulates of one convolution (batch 1, bias not counted).

    Each output number costs ``(in / groups) * kH * kW`` MACs. One MAC is two floating
    point operations (a multiply and an add): FLOPs = 2 x MACs.
    """
    cin = _positive_int(in_channels, "in_channels")
    cout = _positive_int(out_channels, "out_channels")
    g = _positive_int(groups, "groups")
    if cin % g or cout % g:
        raise ValueError(f"groups={g} must divide in_channels={cin} and out_channels={cout}")
    (kh, kw), _ = _as_pair(kernel_size, "kernel_size", 1)
    (oh, ow), _ = _as_pair(output_size, "output_size", 1)
    return cout * oh * ow * (cin // g) * kh * kw


def linear_macs(in_features: int, out_features: int) -> int:
    """Multiply-accumulates of a fully connected layer (batch 1): ``in * out``."""
    return _positive_int(in_features, "in_features") * _positive_int(out_features, "out_features")


def _positive_int(value: Any, name: str) -> int:
    if not _is_int(value):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return int(value)


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

_TORCH_KINDS = {"conv2d": "conv", "maxpool2d": "maxpool", "avgpool2d": "avgpool"}
_DICT_KEYS = {"kind", "name", "kernel_size", "stride", "padding", "dilation", "ceil_mode",
              "in_channels", "out_channels", "bias", "groups"}


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


def _parse_layer(index: int, name: str | None, spec: Any) -> _Layer:
    """Normalise one layer spec; errors name the layer index, its name and the argument."""
    where = f"layer {index}" + (f" ({name})" if name else "")
    if _torch_layer(spec):
        cls = type(spec).__name__
        kind = _TORCH_KINDS.get(cls.lower(), cls.lower())
        if kind not in LAYER_KINDS:
            raise ValueError(
                f"{where}: unsupported module {cls}; receptive_field knows Conv2d, MaxPool2d, AvgPool2d and "
                "per-pixel layers (activations, BatchNorm, Dropout, ...). For Linear/Flatten/adaptive pooling "
                "the receptive field is the whole input: pass only the convolutional part"
            )
        fields: dict[str, Any] = {"kind": kind, "name": name or f"{index}:{cls}"}
        if kind == "conv":
            fields.update(kernel_size=tuple(spec.kernel_size), stride=tuple(spec.stride),
                          padding=spec.padding if isinstance(spec.padding, str) else tuple(spec.padding),
                          dilation=tuple(spec.dilation))
        elif kind in ("maxpool", "avgpool"):
            fields.update(kernel_size=spec.kernel_size, stride=spec.stride, padding=spec.padding,
                          ceil_mode=bool(spec.ceil_mode), dilation=getattr(spec, "dilation", 1))
        spec = fields
    elif isinstance(spec, (tuple, list)):
        if not spec or not isinstance(spec[0], str) or len(spec) > 5:
            raise ValueError(
                f"{where}: a tuple spec is (kind, kernel_size, stride, padding[, dilation]) with kind a "
                f"string, got {spec!r}"
            )
        keys = ("kind", "kernel_size", "stride", "padding", "dilation")
        spec = dict(zip(keys, spec))
    elif not isinstance(spec, dict):
        raise TypeError(f"{where}: a layer spec must be a dict, a (kind, kernel_size, stride, padding) "
                        f"tuple or a torch module, got {type(spec).__name__}: {spec!r}")

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
        k, _ = _as_pair(spec["kernel_size"], "kernel_size", 1)
        default_stride = 1 if kind == "conv" else spec["kernel_size"]
        stride = spec.get("stride", default_stride)
        s, _ = _as_pair(default_stride if stride is None else stride, "stride", 1)
        d, _ = _as_pair(spec.get("dilation", 1), "dilation", 1)
        ceil_mode = bool(spec.get("ceil_mode", False))
        if kind == "conv":
            if ceil_mode:
                raise ValueError("ceil_mode applies to pooling layers only")
            pad_left, pad_total, _ = _conv_padding(spec.get("padding", 0), k, s, d)
        else:
            pad_left, _ = _as_pair(spec.get("padding", 0), "padding", 0)
            pad_total = (2 * pad_left[0], 2 * pad_left[1])
            for i in range(2):
                if pad_left[i] > k[i] // 2:
                    raise ValueError(f"padding={spec.get('padding')!r} must be at most half of "
                                     f"kernel_size={spec['kernel_size']!r} (PyTorch's pooling rule)")
        square = all(v[0] == v[1] for v in (k, s, d, pad_left, pad_total))
        return _Layer(str(name), kind, k, s, pad_left, pad_total, d, ceil_mode, square)
    except (TypeError, ValueError) as err:
        raise type(err)(f"{where}: {err}") from None


def _layer_output(layer: _Layer, size: tuple[int, int], as_pair: bool) -> tuple[int, int]:
    out = []
    for i in range(2):
        where = _axis(i, as_pair)
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
    """Walk the layers once: yields (layer, rf, jump, start, output size) pairs per axis."""
    parsed = [_parse_layer(i, name, spec) for i, (name, spec) in enumerate(_flatten_layers(layers))]
    if not parsed:
        raise ValueError("layers is empty: give at least one layer spec")
    size, size_pair = (None, False) if input_size is None else _as_pair(input_size, "input_size", 1)
    as_pair = size_pair or not all(layer.square for layer in parsed)
    rf, jump, start = [1, 1], [1, 1], [0.0, 0.0]
    steps = []
    for index, layer in enumerate(parsed):
        for i in range(2):
            extent = layer.dilation[i] * (layer.kernel[i] - 1) + 1
            rf[i] += (extent - 1) * jump[i]
            start[i] += ((extent - 1) / 2 - layer.pad_left[i]) * jump[i]
            jump[i] *= layer.stride[i]
        if size is not None:
            try:
                size = _layer_output(layer, size, as_pair)
            except ValueError as err:
                raise ValueError(f"layer {index} ({layer.name}, {layer.kind}): {err}") from None
        steps.append((layer, tuple(rf), tuple(jump), tuple(start), size))
    return steps, as_pair


def receptive_field(layers: Any, input_size: Size | None = None) -> list[RFRow]:
    """Receptive field table of a plain sequence of layers, one :class:`RFRow` per layer.

    ``layers``: dicts such as ``{"kind": "conv", "kernel_size": 5, "stride": 1, "padding": 0,
    "dilation": 1, "name": "C1"}`` (kind ``conv``, ``pool``/``maxpool``, ``avgpool`` or a per-pixel
    layer such as ``relu``/``batchnorm``), tuples ``(kind, kernel_size, stride, padding[,
    dilation])``, torch modules (Conv2d, MaxPool2d, AvgPool2d, activations, BatchNorm2d, ...) or an
    ``nn.Sequential`` of those. With ``input_size`` each row also gives the output size.

    The recurrence (Araujo et al., Distill 2019), per axis, with ``F = D (K - 1) + 1``::

        rf_out    = rf_in + (F - 1) * jump_in
        jump_out  = jump_in * stride
        start_out = start_in + ((F - 1) / 2 - padding) * jump_in

    Non-square kernels, strides, paddings or inputs make every row use (h, w) pairs.
    For networks with branches use :func:`cnnkit.summary.receptive_field_of`.
    """
    steps, as_pair = _rf_pass(layers, input_size)
    rows = []
    for layer, rf, jump, start, size in steps:
        def back(pair):
            return pair if as_pair else pair[0]

        rows.append(RFRow(
            name=layer.name, kind=layer.kind, kernel_size=back(layer.kernel), stride=back(layer.stride),
            padding=back(layer.pad_left), dilation=back(layer.dilation), rf=back(rf), jump=back(jump),
            start=back(start), output_size=None if size is None else back(size),
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
    (height, width), _ = _as_pair(input_size, "input_size", 1)
    _, rf, jump, start, out_size = steps[-1]
    if (not isinstance(unit, (tuple, list)) or len(unit) != 2 or not all(_is_int(u) for u in unit)):
        raise TypeError(f"unit must be an (i, j) pair of ints, got {unit!r}")
    for axis in range(2):
        if not 0 <= unit[axis] < out_size[axis]:
            raise ValueError(f"unit={tuple(unit)!r} lies outside the last layer's output of size "
                             f"{out_size[0]}x{out_size[1]} (along the {_AXES[axis]})")
    region = []
    for axis, limit in enumerate((height, width)):
        first = int(round(start[axis] - (rf[axis] - 1) / 2)) + int(unit[axis]) * jump[axis]
        lo, hi = first, first + rf[axis]
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
