"""Architecture diagrams drawn from the kit's own numbers: change a layer, and the picture changes.

The lecture's slides explain CNNs with figures: a 32x32x3 volume meeting a 5x5x3 filter, LeNet-5's
row of feature maps, the Inception module, the residual unit, plain vs residual nets, the typical
stage, the SIFT pipeline, a CIFAR-10 sample grid. Each function here draws one of them, and every
number it prints is computed, not typed in: shapes by :mod:`cnnkit.arith` (from layer lists) or by
:func:`cnnkit.summary.summary` (from the kit's models, run on the ``meta`` device, so nothing is
computed and a VGG-16 costs milliseconds).

    conv_volume(input_shape=(3, 32, 32), kernel=5, filters=6)    the slide's 32x32x3 -> 28x28x6
    layer_stack(model_or_layers, input_shape)                     LeNet-5 style rows of feature maps
    inception_module()                                            GoogLeNet's module 3a, 1x1 reductions
    residual_unit(block=None)                                     x -> F(x) -> F(x) + x
    plain_vs_residual(depth=34)                                   He et al. Fig. 3, with shortcut arcs
    typical_stage()                                               conv -> nonlinearity -> pool -> norm
    sift_pipeline()                                               SIFT -> k-means -> SPM -> SVM vs a ConvNet
    data_grid(images, labels, class_names)                        n images of every class

Every function returns a ``matplotlib.figure.Figure`` built without pyplot (see :mod:`cnnkit.viz`),
with the numbers as text objects, so tests read them back. torch and matplotlib are imported
when a function runs, not when this module is imported.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from . import arith
from ._geometry import as_pair, check_bool, check_int, is_int

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "LABEL_STYLES",
    "NONLINEARITIES",
    "POOLINGS",
    "NORMALIZATIONS",
    "conv_volume",
    "layer_stack",
    "inception_module",
    "residual_unit",
    "plain_vs_residual",
    "plain_vs_residual_depths",
    "MAX_DRAWN_DEPTH",
    "typical_stage",
    "sift_pipeline",
    "data_grid",
]

#: How :func:`layer_stack` writes a map shape: LeNet-5's paper ``6@28x28`` or the slides' ``28x28x6``.
LABEL_STYLES = ("lenet", "hwc")
NONLINEARITIES = {"relu": "ReLU", "tanh": "tanh", "sigmoid": "sigmoid", "abs": "|x| (rectification)"}
POOLINGS = {"max": "max", "avg": "average", "l2": "L2"}
NORMALIZATIONS = {"lcn": "local contrast", "batchnorm": "batch norm"}

#: The widest a figure is drawn, in inches: at matplotlib's 100 dpi, the 860 px a page of the course site shows
#: (site/build_site.py, FIGURE_WIDTH_PX), so a diagram is never scaled down there and its text keeps its size.
FIGURE_WIDTH_IN = 8.6
#: Text sizes of the diagrams, in points: labels and notes stay at least 8 px tall at the site's width.
LABEL_PT = 9.0
NOTE_PT = 8.5

_COLORS = {"input": "#dddddd", "conv": "#9ecae1", "pool": "#fdd0a2", "fc": "#c7e9c0", "norm": "#dadaeb",
           "act": "#fcbba1", "filter": "#fd8d3c", "out": "#a1d99b", "reduce": "#fee391", "plus": "#ffffff"}


# --------------------------------------------------------------------------- argument checks
def _shape3(value: Any, name: str) -> tuple[int, int, int]:
    """A (channels, height, width) triple of positive ints."""
    if (not isinstance(value, (tuple, list)) or len(value) != 3 or not all(is_int(v) for v in value)):
        raise TypeError(f"{name} must be a (channels, height, width) tuple of ints, got {value!r}")
    if min(value) < 1:
        raise ValueError(f"{name} must hold positive ints (channels, height, width), got {value!r}")
    return int(value[0]), int(value[1]), int(value[2])


def _choice(value: Any, name: str, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


def _torch_module(value: Any) -> bool:
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.nn.Module)


# --------------------------------------------------------------------------- formatting
def _hw(h: int, w: int) -> str:
    return f"{h}x{w}"


def _maps(channels: int, h: int, w: int, style: str) -> str:
    """``6@28x28`` (LeNet-5's paper) or ``28x28x6`` (the slides' volumes)."""
    return f"{channels}@{_hw(h, w)}" if style == "lenet" else f"{_hw(h, w)}x{channels}"


def _kernel(k: Any) -> str:
    h, w = (k, k) if is_int(k) else (int(k[0]), int(k[1]))
    return _hw(h, w)


def _first(value: Any) -> int:
    """The first of an int-or-pair (strides, paddings of square layers)."""
    return int(value[0]) if isinstance(value, (tuple, list)) else int(value)


def _per(stride: Any, kernel: Any = None) -> str:
    """``"/2"`` for a stride of 2 (``"/(2,1)"`` if not square); ``""`` for 1, or when it equals ``kernel``
    (pooling's default, where the stride goes without saying)."""
    h, w = (stride, stride) if is_int(stride) else (int(stride[0]), int(stride[1]))
    if (h, w) == (1, 1) or (kernel is not None and _kernel(kernel) == _hw(h, w)):
        return ""
    return f"/{h}" if h == w else f"/({h},{w})"


# --------------------------------------------------------------------------- drawing helpers
def _canvas(xlim: tuple[float, float], ylim: tuple[float, float], *, inch_per_unit: float = 0.4,
            max_width: float = 20.0, max_height: float = 24.0) -> tuple["Figure", "Axes"]:
    """A Figure with one axes filling it, in data units, without distortion (a unit is as wide as tall)."""
    from .viz import _new_figure

    width, height = xlim[1] - xlim[0], ylim[1] - ylim[0]
    scale = min(inch_per_unit, max_width / width, max_height / height)
    fig = _new_figure(width * scale, height * scale)
    fig.set_layout_engine("none")  # one hand-placed axes: nothing for a layout engine to do
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_axis_off()
    return fig, ax


def _box(ax: "Axes", center: tuple[float, float], size: tuple[float, float], text: str, color: str, *,
         fontsize: float = 8, **text_kwargs: Any) -> tuple[float, float, float, float]:
    """A rounded box with centred text; returns (left, bottom, right, top)."""
    from matplotlib.patches import FancyBboxPatch

    (x, y), (w, h) = center, size
    ax.add_artist(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.08",
                                facecolor=color, edgecolor="black", linewidth=0.8))
    if text:
        ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, **text_kwargs)
    return x - w / 2, y - h / 2, x + w / 2, y + h / 2


def _arrow(ax: "Axes", start: tuple[float, float], end: tuple[float, float], *, style: str = "-|>",
           linestyle: str = "-", connection: str = "arc3", color: str = "black", width: float = 0.9) -> None:
    from matplotlib.patches import FancyArrowPatch

    ax.add_artist(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=9, linestyle=linestyle,
                                 connectionstyle=connection, color=color, linewidth=width, shrinkA=0, shrinkB=0))


def _oblique(x: float, y: float, z: float) -> tuple[float, float]:
    """Oblique projection: depth ``z`` goes back to the upper right."""
    return x + 0.55 * z, y + 0.4 * z


def _cuboid(ax: "Axes", x: float, y: float, w: float, h: float, d: float, color: str, *,
            alpha: float = 1.0, linewidth: float = 0.8) -> None:
    """A box with its front face at depth 0 (lower left corner ``(x, y)``): front, top and right faces."""
    from matplotlib.patches import Polygon

    p = _oblique
    faces = [
        [p(x, y + h, 0), p(x + w, y + h, 0), p(x + w, y + h, d), p(x, y + h, d)],  # top
        [p(x + w, y, 0), p(x + w, y, d), p(x + w, y + h, d), p(x + w, y + h, 0)],  # right
        [p(x, y, 0), p(x + w, y, 0), p(x + w, y + h, 0), p(x, y + h, 0)],          # front
    ]
    for face, shade in zip(faces, (0.85, 0.7, 1.0)):
        ax.add_artist(Polygon(face, closed=True, facecolor=_shade(color, shade), edgecolor="black",
                             linewidth=linewidth, alpha=alpha))


def _shade(color: str, factor: float) -> tuple[float, float, float]:
    from matplotlib.colors import to_rgb

    return tuple(min(1.0, c * factor) for c in to_rgb(color))  # type: ignore[return-value]


def _meta_summary(model: "torch.nn.Module", input_shape: tuple[int, ...]):
    """:func:`cnnkit.summary.summary` on the meta device: shapes without computing anything."""
    from .summary import summary

    return summary(model, input_shape, device="meta")


# --------------------------------------------------------------------------- conv volume
def _size_formula(n: int, k: int, s: int, p: int, out: int) -> str:
    """The lecture's formula with the numbers filled in; ``out`` (and whether the division is exact, or
    PyTorch floors it) come from :func:`cnnkit.arith.conv_output_size`."""
    inner = f"({n} - {k} + 2*{p}) / {s}"
    try:
        arith.conv_output_size(n, k, s, p, strict=True)
    except ValueError:
        return f"floor({inner}) + 1 = {out}"
    return f"{inner} + 1 = {out}"


def conv_volume(input_shape: Sequence[int] = (3, 32, 32), kernel: Any = 5, filters: int = 6, stride: Any = 1,
                padding: Any = 0) -> "Figure":
    """The input volume, one filter spanning its depth, and the stack of output maps.

    ``input_shape`` is (channels, height, width); ``kernel``, ``stride`` and ``padding`` are ints or
    (height, width) pairs. The output size comes from :func:`cnnkit.arith.conv_output_size`. The
    defaults are the lecture's example: a 32x32x3 image and six 5x5x3 filters give 28x28x6.
    Labels: ``'32x32x3'``, ``'5x5x3 filter'``, ``'28x28x6'``, plus the output-size formula.
    """
    c, h, w = _shape3(input_shape, "input_shape")
    kh, kw = as_pair(kernel, "kernel", 1)
    filters = check_int(filters, "filters", minimum=1)
    sh, sw = as_pair(stride, "stride", 1)
    ph, pw = as_pair(padding, "padding", 0)
    try:
        oh, ow = arith.conv_output_size((h, w), (kh, kw), (sh, sw), (ph, pw))
    except ValueError as err:
        raise ValueError(f"kernel={kernel!r} does not fit input_shape={tuple(input_shape)!r} with "
                         f"padding={padding!r}: {err}") from None

    scale = 8.0 / max(h, w)                       # the input's largest side is 8 units

    def depth(ch: int) -> float:                  # channels drawn on a log scale: 3 and 512 both fit
        return scale * max(h, w) * 0.1 * (1 + math.log2(ch))

    d_in = depth(c)
    d_out = depth(filters)
    x_out = w * scale + 0.55 * d_in + 3.0
    right = x_out + ow * scale + 0.55 * d_out + 0.5
    top = max(h * scale + 0.4 * d_in, oh * scale + 0.4 * d_out) + 1.0
    fig, ax = _canvas((-0.5, right), (-2.6, top), inch_per_unit=0.42)

    # the input volume and, in front of its upper left corner, one filter (the same depth)
    _cuboid(ax, 0.0, 0.0, w * scale, h * scale, d_in, _COLORS["conv"])
    fx, fy = 0.3 * scale * kw, h * scale - kh * scale - 0.3 * scale * kh
    _cuboid(ax, fx, fy, kw * scale, kh * scale, d_in, _COLORS["filter"], linewidth=1.0)

    # the output maps, one sheet per filter (at most 12 drawn), the first one in front
    from matplotlib.patches import Polygon

    shown = min(filters, 12)
    for index in reversed(range(shown)):
        z = d_out * index / max(shown - 1, 1)
        corners = [_oblique(x_out + dx, dy, z) for dx, dy in
                   ((0, 0), (ow * scale, 0), (ow * scale, oh * scale), (0, oh * scale))]
        ax.add_artist(Polygon(corners, closed=True, facecolor=_shade(_COLORS["out"], 1.0 - 0.3 * index / shown),
                             edgecolor="black", linewidth=0.6))
    # the output unit the filter produces, and the filter's lines to it
    unit = max(scale, 0.25)
    ux, uy = x_out + 0.3 * scale * kw * (ow / max(w, 1)), oh * scale - unit - 0.3 * scale * kh * (oh / max(h, 1))
    from matplotlib.patches import Rectangle

    ax.add_artist(Rectangle((ux, uy), unit, unit, facecolor=_COLORS["filter"], edgecolor="black", linewidth=0.8))
    for corner_y in (fy, fy + kh * scale):
        _arrow(ax, (fx + kw * scale, corner_y), (ux, uy + (unit if corner_y > fy else 0)),
               style="-", linestyle="--", color="#555555", width=0.7)

    ax.text(w * scale / 2, -0.5, _maps(c, h, w, "hwc"), ha="center", va="top", fontsize=10)
    ax.text(fx + kw * scale / 2, fy + kh * scale + 0.4 * d_in + 0.25, f"{_hw(kh, kw)}x{c} filter",
            ha="center", va="bottom", fontsize=9, color="#a63603")
    ax.text(x_out + ow * scale / 2, -0.5, _maps(filters, oh, ow, "hwc"), ha="center", va="top", fontsize=10)
    ax.text(x_out + ow * scale / 2 + 0.55 * d_out / 2, oh * scale + 0.4 * d_out + 0.3,
            f"{filters} activation maps", ha="center", va="bottom", fontsize=8)
    formulas = [_size_formula(h, kh, sh, ph, oh)]
    if (w, kw, sw, pw) != (h, kh, sh, ph):
        formulas = [f"height {formulas[0]}", f"width {_size_formula(w, kw, sw, pw, ow)}"]
    ax.text(right / 2, -1.3, f"{filters} filters of {_hw(kh, kw)}x{c}, stride {_stride_text(sh, sw)}, "
            f"padding {_stride_text(ph, pw)};  output (N - F + 2P) / stride + 1:  " + ";  ".join(formulas),
            ha="center", va="top", fontsize=8)
    return fig


def _stride_text(a: int, b: int) -> str:
    return str(a) if a == b else f"({a}, {b})"


# --------------------------------------------------------------------------- layer stack
@dataclass(frozen=True)
class _Block:
    """One drawn block of :func:`layer_stack`: feature maps (channels, h, w) or a vector (features)."""

    kind: str                 # "input", "conv", "pool" or "fc"
    tag: str                  # "INPUT", "C1", "S2", "F6", "OUTPUT"
    channels: int
    size: tuple[int, int] | None
    op: str                   # what made it: "conv 5x5", "max pool 2x2/2", "full connection"

    def label(self, style: str) -> str:
        if self.size is None:
            return f"{self.tag}: {self.channels}"
        return f"{self.tag}: {_maps(self.channels, *self.size, style)}"


_FC_TYPES = ("Linear", "LazyLinear", "Bilinear")


def _op_of_module(module: Any, kind: str) -> str:
    """A short description of a torch layer read from its own attributes ("conv 11x11/4", "max pool 3x3/2")."""
    if module is None:
        return kind
    kernel = getattr(module, "kernel_size", None)
    stride = getattr(module, "stride", None)
    name = type(module).__name__
    if kind == "conv":
        return (f"conv {_kernel(kernel)}" if kernel is not None else "conv") + (_per(stride) if stride else "")
    if kind == "fc":
        return "full connection"
    if "Max" in name or "Avg" in name:
        what = "max pool" if "Max" in name else "avg pool"
        if "Adaptive" in name:
            return f"adaptive {what}"
        return f"{what} {_kernel(kernel)}" + (_per(stride, kernel) if stride else "")
    return "subsampling"


def _blocks_from_model(model: "torch.nn.Module", input_shape: tuple[int, int, int]) -> list[_Block]:
    """The blocks of a chain-like model from its summary: convs, fully connected layers, and the layers that
    change the map size (pooling, subsampling); per-pixel layers (activations, norms, dropout) are left out."""
    from .models import BasicBlock, Bottleneck, Inception

    branchy = [type(m).__name__ for m in model.modules() if isinstance(m, (Inception, BasicBlock, Bottleneck))]
    if branchy:
        raise ValueError(f"model has branches ({branchy[0]} blocks), which a row of layers cannot show; "
                         "draw it with inception_module or plain_vs_residual")
    result = _meta_summary(model, input_shape)
    modules = dict(model.named_modules())
    c, h, w = input_shape
    blocks = [_Block("input", "INPUT", c, (h, w), "")]
    previous: tuple[int, ...] = (1, *input_shape)
    for row in result.rows:
        shape = row.output_shape
        if shape is None:
            continue
        module = modules.get(row.name)
        if "Conv" in row.type and len(shape) == 4:
            kind = "conv"
        elif row.type in _FC_TYPES:
            kind = "fc"
        elif len(shape) == 4 and len(previous) == 4 and tuple(shape[2:]) != tuple(previous[2:]):
            kind = "pool"
        else:
            previous = shape
            continue
        size = (int(shape[2]), int(shape[3])) if len(shape) == 4 else None
        blocks.append(_Block(kind, "", int(shape[1]), size, _op_of_module(module, kind)))
        previous = shape
    return blocks


_LINEAR_KINDS = ("linear", "fc")


def _blocks_from_layers(layers: Sequence[Any], input_shape: tuple[int, int, int]) -> list[_Block]:
    """The blocks of a layer list: arith specs for the spatial part, then ("linear", n) / {"kind": "linear",
    "out_features": n} for the classifier. Convs need ``out_channels`` (dicts) to know their maps."""
    c, h, w = input_shape
    spatial: list[Any] = []
    tail: list[tuple[int, Any]] = []
    for index, spec in enumerate(layers):
        kind = spec.get("kind") if isinstance(spec, dict) else spec[0] if isinstance(spec, (tuple, list)) and spec \
            else None
        if isinstance(kind, str) and kind.lower() in _LINEAR_KINDS:
            tail.append((index, spec))
        elif tail and not (isinstance(kind, str) and kind.lower() in arith.PASS_THROUGH_KINDS):
            raise ValueError(f"layers[{index}] ({kind!r}) comes after a linear layer; only per-pixel layers "
                             "(relu, dropout, ...) may follow the first linear layer")
        elif not tail:
            spatial.append(spec)
    blocks = [_Block("input", "INPUT", c, (h, w), "")]
    channels = c
    if spatial:
        # arith checks every spec and computes every size; it knows no "out_features", so linear specs stay here.
        stripped = [{k: v for k, v in s.items() if k != "out_channels"} if isinstance(s, dict) else s
                    for s in spatial]
        rows = arith.receptive_field(stripped, (h, w))
        for index, (spec, row) in enumerate(zip(spatial, rows)):
            if row.kind in arith.PASS_THROUGH_KINDS:
                continue
            if row.kind == "conv":
                if not isinstance(spec, dict) or "out_channels" not in spec:
                    raise ValueError(f"layers[{index}] ({row.name}): a conv layer needs its number of filters to be "
                                     "drawn: give it as a dict with 'out_channels', e.g. {'kind': 'conv', "
                                     "'kernel_size': 5, 'out_channels': 6}")
                given_in = spec.get("in_channels")
                if given_in is not None and given_in != channels:
                    raise ValueError(f"layers[{index}] ({row.name}): in_channels={given_in!r} but the layer before "
                                     f"gives {channels} channels")
                channels = check_int(spec["out_channels"], f"layers[{index}]['out_channels']", minimum=1)
                op = f"conv {_kernel(row.kernel_size)}{_per(row.stride)}"
            else:
                what = "avg pool" if row.kind == "avgpool" else "max pool"
                op = f"{what} {_kernel(row.kernel_size)}{_per(row.stride, row.kernel_size)}"
            size = row.output_size if isinstance(row.output_size, tuple) else (row.output_size, row.output_size)
            named = isinstance(spec, dict) and spec.get("name")
            blocks.append(_Block(row.kind if row.kind == "conv" else "pool", str(named) if named else "", channels,
                                 size, op))
    last = blocks[-1]
    inputs = last.channels * last.size[0] * last.size[1] if last.size is not None else last.channels
    for index, spec in tail:
        given_in = spec.get("in_features") if isinstance(spec, dict) else None
        if given_in is not None and given_in != inputs:
            raise ValueError(f"layers[{index}]: in_features={given_in!r} but the layer before gives {inputs} "
                             "numbers (flattened)")
        if isinstance(spec, dict):
            unknown = set(spec) - {"kind", "name", "out_features", "in_features", "bias"}
            if unknown:
                raise ValueError(f"layers[{index}]: unknown key(s) {sorted(unknown)} for a linear layer; allowed: "
                                 "kind, name, out_features, in_features, bias")
            if "out_features" not in spec:
                raise ValueError(f"layers[{index}]: a linear layer needs 'out_features'")
            features, name = spec["out_features"], spec.get("name")
        else:
            if len(spec) != 2:
                raise ValueError(f"layers[{index}]: a linear tuple is ('linear', out_features), got {spec!r}")
            features, name = spec[1], None
        features = check_int(features, f"layers[{index}] out_features", minimum=1)
        blocks.append(_Block("fc", str(name) if name else "", features, None, "full connection"))
        inputs = features
    return blocks


def _tag_blocks(blocks: list[_Block]) -> list[_Block]:
    """LeNet-5's names: C (convolution), S (subsampling), F (full connection) with the layer's number;
    the last fully connected layer is the OUTPUT. Names given in a layer list are kept."""
    tagged = [blocks[0]]
    last = len(blocks) - 1
    for number, block in enumerate(blocks[1:], start=1):
        if block.tag:
            tag = block.tag
        elif block.kind == "fc" and number == last:
            tag = "OUTPUT"
        else:
            tag = {"conv": "C", "pool": "S", "fc": "F"}[block.kind] + str(number)
        tagged.append(_Block(block.kind, tag, block.channels, block.size, block.op))
    return tagged


def layer_stack(model_or_layers: Any, input_shape: Sequence[int], *, label_style: str = "lenet") -> "Figure":
    """A network as a row of blocks, in the style of LeNet-5's Fig. 2: stacked feature maps, bars for vectors.

    ``model_or_layers`` is a chain-like ``torch.nn.Module`` (LeNet-5, AlexNet, VGG, an ``nn.Sequential``;
    shapes from :func:`cnnkit.summary.summary` on the meta device), a list of torch layers (wrapped in an
    ``nn.Sequential``), or a layer list as :func:`cnnkit.arith.receptive_field` takes it, with
    ``out_channels`` in each conv dict and ``("linear", n)`` or ``{"kind": "linear", "out_features": n}``
    for the classifier. ``input_shape`` is (channels, height, width).

    Each block is labelled ``C1: 6@28x28`` (``label_style="lenet"``) or ``C1: 28x28x6`` (``"hwc"``):
    C convolutions, S subsampling/pooling, F fully connected, numbered by position as in the paper
    (a layer list's own ``name`` is kept). Below each block: the operation that made it.
    """
    style = _choice(label_style, "label_style", LABEL_STYLES)
    shape = _shape3(input_shape, "input_shape")
    if _torch_module(model_or_layers):
        blocks = _blocks_from_model(model_or_layers, shape)
    elif isinstance(model_or_layers, (list, tuple)) and model_or_layers:
        if all(_torch_module(layer) for layer in model_or_layers):
            import torch

            blocks = _blocks_from_model(torch.nn.Sequential(*model_or_layers), shape)
        else:
            blocks = _blocks_from_layers(model_or_layers, shape)
    else:
        raise TypeError("model_or_layers must be a torch.nn.Module or a non-empty list of layer specs "
                        f"(dicts/tuples as cnnkit.arith takes, or torch layers), got {model_or_layers!r}")
    if len(blocks) == 1:
        raise ValueError("model_or_layers has no convolution, pooling or linear layer to draw")
    blocks = _tag_blocks(blocks)
    return _draw_stack(blocks, style)


def _draw_stack(blocks: list[_Block], style: str) -> "Figure":
    """Blocks left to right, wrapped into rows that fit :data:`FIGURE_WIDTH_IN`; one scale for all map sizes.

    A row takes blocks while they fit the width (each block's slot is as wide as its drawing or its label,
    whichever is wider), so a long network (VGG-16: 22 blocks) becomes several rows whose text keeps
    :data:`LABEL_PT` / :data:`NOTE_PT` at the width a page shows it, instead of one strip scaled down.
    """
    from matplotlib.patches import Rectangle

    max_side = max(max(b.size) for b in blocks if b.size is not None)
    max_features = max((b.channels for b in blocks if b.size is None), default=2)
    step = 0.16                                    # offset between the stacked sheets of one block
    inch = 0.3                                     # inches per data unit
    char = 0.6 * LABEL_PT / 72 / inch              # an average character of a label, in data units

    def sheets(channels: int) -> int:              # 1 sheet for 1 channel ... 8 for 128 and more
        return min(8, 1 + int(math.log2(channels)))

    def side(n: int) -> float:                     # map sides on a log scale: 1x1 and 224x224 both show
        return 0.5 + 2.5 * math.log1p(n) / math.log1p(max_side)

    def extent(block: _Block) -> tuple[float, float]:
        if block.size is None:
            return 0.3, 0.6 + 2.4 * math.log1p(block.channels) / math.log1p(max(max_features, 2))
        n = sheets(block.channels)
        return side(block.size[1]) + (n - 1) * step, side(block.size[0]) + (n - 1) * step

    def op_text(block: _Block) -> str:
        return block.op.replace("full connection", "full\nconnection") if block.op else ""

    def slot(block: _Block) -> float:              # the width a block needs: its drawing, its label, its op
        text = max([len(block.label(style))] + [len(line) for line in op_text(block).split("\n")])
        return max(extent(block)[0], text * char) + 0.9

    row_units = FIGURE_WIDTH_IN / inch - 1.6       # what a row may take, the margins and arrows left out
    rows: list[list[_Block]] = [[]]
    for block in blocks:
        if rows[-1] and sum(slot(b) for b in rows[-1]) + slot(block) > row_units:
            rows.append([])
        rows[-1].append(block)
    tallest = max(extent(b)[1] for b in blocks)
    row_height = tallest + 2.4                     # the label above, the operation below
    layout = []                                    # (block, left, width, height, row)
    right = 0.0
    for r, row in enumerate(rows):
        x = 0.0
        for block in row:
            width, height = extent(block)
            room = slot(block)
            layout.append((block, x + (room - 0.9 - width) / 2, width, height, r))
            x += room
        right = max(right, x)
    fig, ax = _canvas((-0.8, right), (-len(rows) * row_height + 0.4, 0.9), inch_per_unit=inch,
                      max_width=FIGURE_WIDTH_IN)
    for block, left, width, height, r in layout:
        y = -r * row_height - tallest / 2           # the centre line of row r
        color = _COLORS["input" if block.kind == "input" else block.kind]
        if block.size is None:
            ax.add_artist(Rectangle((left, y - height / 2), width, height, facecolor=color, edgecolor="black",
                                    linewidth=0.8))
        else:
            w, h = side(block.size[1]), side(block.size[0])
            for k in reversed(range(sheets(block.channels))):   # back sheets first, offset up and right
                ax.add_artist(Rectangle((left + k * step, y - height / 2 + k * step), w, h,
                                        facecolor=_shade(color, 1.0 - 0.08 * k), edgecolor="black", linewidth=0.6))
        ax.text(left + width / 2, y + tallest / 2 + 0.2, block.label(style), ha="center", va="bottom",
                fontsize=LABEL_PT)
        if block.op:
            ax.text(left + width / 2, y - tallest / 2 - 0.2, op_text(block), ha="center", va="top",
                    fontsize=NOTE_PT, color="#444444")
    for (_, left, width, _, r), (_, next_left, _, _, next_r) in zip(layout, layout[1:]):
        y = -r * row_height - tallest / 2
        if r == next_r:
            _arrow(ax, (left + width + 0.08, y), (next_left - 0.08, y))
        else:                                      # continued on the next row
            _arrow(ax, (left + width + 0.08, y), (left + width + 0.6, y))
            y_next = -next_r * row_height - tallest / 2
            _arrow(ax, (-0.75, y_next), (next_left - 0.08, y_next))
    return fig


# --------------------------------------------------------------------------- inception
_INCEPTION_ARGS = ("in_channels", "ch1x1", "ch3x3red", "ch3x3", "ch5x5red", "ch5x5", "pool_proj")


@functools.lru_cache(maxsize=1)
def _googlenet_inputs() -> dict[str, tuple[int, int, int]]:
    """The (channels, height, width) each Inception module of the kit's GoogLeNet reads at 224x224."""
    import torch

    from .models import googlenet

    with torch.device("meta"):
        net = googlenet()
    result = _meta_summary(net, (3, 224, 224))
    inputs: dict[str, tuple[int, int, int]] = {}
    previous = (3, 224, 224)
    for row in result.all_rows:
        if row.depth != 1 or row.output_shape is None:
            continue
        if row.type == "Inception":
            inputs[row.name] = previous
        if len(row.output_shape) == 4:
            previous = tuple(int(v) for v in row.output_shape[1:])  # type: ignore[assignment]
    return inputs


def inception_module(in_channels: int | None = None, ch1x1: int | None = None, ch3x3red: int | None = None,
                     ch3x3: int | None = None, ch5x5red: int | None = None, ch5x5: int | None = None,
                     pool_proj: int | None = None, *, name: str = "inception3a", size: int | None = None,
                     paper_5x5: bool = True) -> "Figure":
    """The Inception module (Szegedy et al. 2015, Fig. 2b): four branches, 1x1 reductions, depth concat.

    The channel numbers default to row ``name`` of :data:`cnnkit.models.googlenet.INCEPTION_TABLE`
    (``inception3a``: 192 in, 64 / 96->128 / 16->32 / pool->32); any of them can be overridden.
    ``size`` is the side of the input maps (default: what the kit's GoogLeNet feeds module ``name``
    at 224x224, 28 for 3a). The kit's :class:`~cnnkit.models.Inception` is built with these numbers and
    summarised on the meta device: every box's channels and the concatenated total (256 for 3a) are
    its output shapes. ``paper_5x5=False`` draws torchvision's 3x3 slip in the third branch.
    """
    import torch

    from .models import Inception
    from .models.googlenet import INCEPTION_TABLE

    if not isinstance(name, str) or name not in INCEPTION_TABLE:
        raise ValueError(f"name must be one of {', '.join(map(repr, INCEPTION_TABLE))}, got {name!r}")
    paper_5x5 = check_bool(paper_5x5, "paper_5x5")
    given = dict(zip(_INCEPTION_ARGS, (in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)))
    config = {arg: check_int(value, arg, minimum=1) if value is not None else default
              for (arg, value), default in zip(given.items(), INCEPTION_TABLE[name])}
    side = _googlenet_inputs()[name][1] if size is None else check_int(size, "size", minimum=1)

    with torch.device("meta"):
        module = Inception(*config.values(), paper_5x5=paper_5x5)
    result = _meta_summary(module, (config["in_channels"], side, side))
    rows = {row.name: row for row in result.rows}
    convs = dict(module.named_modules())

    def conv(path: str) -> tuple[str, int]:
        layer = convs[path]
        return f"{_kernel(layer.kernel_size)} conv", int(rows[path].output_shape[1])

    pool = convs["branch4.0"]
    # (boxes bottom to top, each (text, kind)) per branch; every number from the summary's shapes
    branches = []
    for first, second, reduce_name in (("branch1.conv", None, None),
                                       ("branch2.0.conv", "branch2.1.conv", "3x3 reduce"),
                                       ("branch3.0.conv", "branch3.1.conv", "5x5 reduce")):
        what, channels = conv(first)
        if second is None:
            branches.append([(f"{what}, {channels}", "conv")])
        else:
            what2, channels2 = conv(second)
            branches.append([(f"{what}, {channels}\n({reduce_name})", "reduce"), (f"{what2}, {channels2}", "conv")])
    what, channels = conv("branch4.1.conv")
    branches.append([(f"{_kernel(pool.kernel_size)} max pool\nstride {_first(pool.stride)}", "pool"),
                     (f"{what}, {channels}\n(pool proj)", "reduce")])
    outs = [int(rows[path].output_shape[1]) for path in ("branch1.conv", "branch2.1.conv", "branch3.1.conv",
                                                         "branch4.1.conv")]
    total = int(result.output_shape[1])
    out_h, out_w = int(result.output_shape[2]), int(result.output_shape[3])

    fig, ax = _canvas((-0.3, 12.3), (-0.4, 8.2), inch_per_unit=0.6)
    xs = [1.5, 4.5, 7.5, 10.5]
    box = (2.6, 0.9)
    bottom = _box(ax, (6.0, 0.4), (6.0, 0.8), f"previous layer: {_maps(config['in_channels'], side, side, 'lenet')}",
                  _COLORS["input"], fontsize=9)
    top = _box(ax, (6.0, 6.6), (9.5, 0.9), f"filter concatenation: {' + '.join(map(str, outs))} = {total}",
               _COLORS["out"], fontsize=10)
    ax.text(6.0, 7.35, f"depth concat: {_maps(total, out_h, out_w, 'lenet')}", ha="center", va="bottom", fontsize=9)
    for x, branch in zip(xs, branches):
        levels = [2.3, 4.3] if len(branch) == 2 else [3.3]
        previous_top = bottom[3]
        for (text, kind), y in zip(branch, levels):
            _arrow(ax, (x if previous_top != bottom[3] else 6.0 + (x - 6.0) * 0.4, previous_top),
                   (x, y - box[1] / 2), connection="arc3")
            previous_top = _box(ax, (x, y), box, text, _COLORS[kind], fontsize=8)[3]
        _arrow(ax, (x, previous_top), (6.0 + (x - 6.0) * 0.8, top[1]))
    ax.text(0.0, 7.9, f"{name} (Szegedy et al. 2015, Table 1)", ha="left", va="center", fontsize=9,
            fontweight="bold")
    ax.text(12.0, 7.9, "yellow: 1x1 convolutions that reduce the channels", ha="right", va="center", fontsize=7,
            color="#8c6d00")
    return fig


# --------------------------------------------------------------------------- residual unit
def _block_convs(block: Any) -> list[tuple[str, Any]]:
    """The main-path convolutions of a residual block, in order (not the shortcut's)."""
    import torch

    return [(n, m) for n, m in block.named_modules() if isinstance(m, torch.nn.Conv2d) and "downsample" not in n]


def _shortcut_text(block: Any) -> str:
    from .models import ZeroPadShortcut

    if block.downsample is None:
        return "x\nidentity"
    if isinstance(block.downsample, ZeroPadShortcut):
        return "x, subsampled\n+ zero channels\n(option A)"
    projection = next(m for m in block.downsample.modules() if type(m).__name__ == "Conv2d")
    return f"{_conv_text(projection)}\nprojection (option B)"


def _conv_text(conv: Any) -> str:
    """He et al.'s box label, from the layer itself: "3x3 conv, 128, /2"."""
    per = _per(conv.stride)
    return f"{_kernel(conv.kernel_size)} conv, {conv.out_channels}" + (f", {per}" if per else "")


def residual_unit(block: Any = None, input_shape: Sequence[int] | None = None, *, residual: bool = True) -> "Figure":
    """The residual unit of He et al. 2016, Fig. 2: ``x -> weight layer -> relu -> weight layer -> (+) <- x``.

    Labels ``F(x)`` on the residual branch and ``F(x) + x`` after the addition; ``residual=False``
    draws the "regular net" of the slide instead (the layers must fit ``H(x)`` directly); a given
    ``block`` decides this itself (its ``residual`` flag, False in the kit's plain nets).
    ``block``: a :class:`~cnnkit.models.BasicBlock` or :class:`~cnnkit.models.Bottleneck` of the kit,
    whose own convolutions then name the weight layers ("3x3 conv, 64") and whose shortcut (identity,
    zero-padding or projection) is drawn; with ``input_shape`` (channels, height, width) each
    layer's output shape is added from :func:`cnnkit.summary.summary`.
    """
    residual = check_bool(residual, "residual")
    layers: list[str]
    shapes: list[str] = []
    shortcut = "x\nidentity"
    if block is None:
        if input_shape is not None:
            raise ValueError("input_shape needs a block: pass block=BasicBlock(...) to compute shapes")
        layers = ["weight layer", "weight layer"]
    else:
        from .models import BasicBlock, Bottleneck

        if not isinstance(block, (BasicBlock, Bottleneck)):
            raise TypeError(f"block must be a cnnkit.models BasicBlock or Bottleneck (or None), got "
                            f"{type(block).__name__}")
        residual = bool(block.residual)
        convs = _block_convs(block)
        layers = [_conv_text(m) for _, m in convs]
        shortcut = _shortcut_text(block)
        if input_shape is not None:
            shape = _shape3(input_shape, "input_shape")
            if shape[0] != convs[0][1].in_channels:
                raise ValueError(f"input_shape={tuple(input_shape)!r} has {shape[0]} channels but the block's first "
                                 f"convolution reads {convs[0][1].in_channels}")
            rows = {row.name: row for row in _meta_summary(block, shape).rows}
            shapes = [_maps(int(rows[n].output_shape[1]), int(rows[n].output_shape[2]),
                            int(rows[n].output_shape[3]), "lenet") for n, _ in convs]
            shapes.insert(0, _maps(*shape, "lenet"))

    from matplotlib.lines import Line2D
    from matplotlib.patches import Circle

    step = 1.4                                    # from one weight layer to the next
    y_x = 0.0                                     # the input x at the top, everything below it
    ys = [y_x - 1.0 - i * step for i in range(len(layers))]
    y_plus = ys[-1] - 1.2
    lowest = (y_plus if residual else ys[-1]) - 1.3
    fig, ax = _canvas((-4.4, 5.4), (lowest, 0.9), inch_per_unit=0.55)
    ax.text(-4.2, 0.6, "residual unit" if residual else "regular net", ha="left", va="center", fontsize=10,
            fontweight="bold")
    ax.text(0.0, y_x, "x", ha="center", va="center", fontsize=12, fontstyle="italic")
    if shapes:
        ax.text(-0.3, y_x, shapes[0], ha="right", va="center", fontsize=8, color="#444444")
    entry = y_x - 0.25
    for index, (text, y) in enumerate(zip(layers, ys)):
        _arrow(ax, (0.0, entry), (0.0, y + 0.3))
        left, low, _, _ = _box(ax, (0.0, y), (2.6, 0.6), text, _COLORS["conv"], fontsize=9)
        if shapes:
            ax.text(left - 0.15, y, shapes[index + 1], ha="right", va="center", fontsize=8, color="#444444")
        entry = low
        if index < len(layers) - 1:
            ax.text(0.15, low - (step - 0.6) / 2, "relu", ha="left", va="center", fontsize=8)
    if residual:
        ax.text(-0.2, (entry + y_plus + 0.3) / 2, "F(x)", ha="right", va="center", fontsize=11, fontstyle="italic")
        _arrow(ax, (0.0, entry), (0.0, y_plus + 0.3))
        ax.add_artist(Circle((0.0, y_plus), 0.3, facecolor="white", edgecolor="black", linewidth=1.0))
        ax.text(0.0, y_plus, "+", ha="center", va="center", fontsize=13)
        # the shortcut: out of x to the right, down past the layers, into the (+)
        side = 2.0
        ax.add_line(Line2D([0.0, side, side], [y_x - 0.35, y_x - 0.35, y_plus], color="black", linewidth=1.2))
        _arrow(ax, (side, y_plus), (0.3, y_plus), width=1.2)
        ax.text(side + 0.2, (y_x + y_plus) / 2, shortcut, ha="left", va="center", fontsize=9)
        _arrow(ax, (0.0, y_plus - 0.3), (0.0, y_plus - 1.1))
        ax.text(0.15, y_plus - 0.7, "relu", ha="left", va="center", fontsize=8)
        ax.text(-0.2, y_plus - 0.7, "F(x) + x", ha="right", va="center", fontsize=11, fontstyle="italic")
    else:
        _arrow(ax, (0.0, entry), (0.0, entry - 0.9))
        ax.text(0.15, entry - 0.45, "relu", ha="left", va="center", fontsize=8)
        ax.text(-0.2, entry - 0.45, "H(x)", ha="right", va="center", fontsize=11, fontstyle="italic")
    return fig


# --------------------------------------------------------------------------- plain vs residual
@dataclass(frozen=True)
class _Layer:
    text: str
    block: str | None           # "layer2.0": the residual block it belongs to
    channels: int
    size: tuple[int, int] | None
    downsample: bool            # halves the map


#: Deeper nets than this make a column too long to read (and to draw in under half a second).
MAX_DRAWN_DEPTH = 56


def plain_vs_residual_depths() -> tuple[int, ...]:
    """Depths :func:`plain_vs_residual` draws: the kit's CIFAR nets (6n + 2) and ImageNet ResNets (Table 1)
    up to :data:`MAX_DRAWN_DEPTH` layers."""
    from .models.cifar_resnet import CIFAR_DEPTHS
    from .models.resnet import STAGES

    return tuple(sorted(d for d in set(CIFAR_DEPTHS) | set(STAGES) if d <= MAX_DRAWN_DEPTH))


@functools.lru_cache(maxsize=None)
def _resnet_layers(depth: int) -> tuple[tuple[_Layer, ...], dict[str, str], tuple[int, int, int]]:
    """The kit's ResNet of ``depth`` as layers (from its summary), each block's shortcut kind, the input shape.

    Cached: the figure depends on the depth only (callers must not modify the dict)."""
    import torch

    from .models import BasicBlock, Bottleneck, ZeroPadShortcut, get
    from .models.cifar_resnet import CIFAR_DEPTHS

    cifar = depth in CIFAR_DEPTHS
    input_shape = (3, 32, 32) if cifar else (3, 224, 224)
    with torch.device("meta"):
        model = get(f"resnet{depth}")
    result = _meta_summary(model, input_shape)
    modules = dict(model.named_modules())
    blocks = {name: m for name, m in modules.items() if isinstance(m, (BasicBlock, Bottleneck))}
    shortcuts = {name: "identity" if m.downsample is None else
                 "zero-pad" if isinstance(m.downsample, ZeroPadShortcut) else "projection"
                 for name, m in blocks.items()}
    layers: list[_Layer] = []
    size: tuple[int, int] = input_shape[1:]
    for row in result.rows:
        module = modules.get(row.name)
        if module is None or "downsample" in row.name or row.output_shape is None:
            continue
        shape = row.output_shape
        new_size = (int(shape[2]), int(shape[3])) if len(shape) == 4 else None
        halves = new_size is not None and new_size[0] < size[0]
        owner = next((name for name in blocks if row.name.startswith(name + ".")), None)
        if isinstance(module, torch.nn.Conv2d):
            text = _conv_text(module)
        elif isinstance(module, torch.nn.MaxPool2d):
            text = "pool" + (f", {_per(module.stride)}" if _per(module.stride) else "")
        elif isinstance(module, torch.nn.AdaptiveAvgPool2d):
            text = "avg pool"
        elif isinstance(module, torch.nn.Linear):
            text = f"fc {module.out_features}"
        else:
            continue
        layers.append(_Layer(text, owner, int(shape[1]), new_size, halves))
        if new_size is not None:
            size = new_size
    return tuple(layers), shortcuts, input_shape


def plain_vs_residual(depth: int = 34) -> "Figure":
    """He et al. 2016, Fig. 3: the plain network and its residual twin, side by side, layer by layer.

    ``depth`` picks the kit's model: 20, 32, 44, 56 (the CIFAR-10 nets, 3x32x32 input) or 18, 34, 50
    (ImageNet, 3x224x224); see :func:`plain_vs_residual_depths` (deeper columns are too long to read:
    count those with :func:`cnnkit.summary.summary`). The layers and their
    shapes come from its summary. The plain net is the same stack without shortcuts (``plainN`` in
    :mod:`cnnkit.models`); on the residual one, an arc spans every block: solid for the identity,
    dashed where the shape changes (zero-padding or projection). Each layer's box says its kernel and
    width, "/2" marks a downsampling layer, and the map size and width of every stage stand beside it.
    """
    if not is_int(depth):
        raise TypeError(f"depth must be an int, got {depth!r}")
    allowed = plain_vs_residual_depths()
    if depth not in allowed:
        raise ValueError(f"depth must be one of {', '.join(map(str, allowed))}, got {depth!r}"
                         + (" (deeper nets are too long to draw; cnnkit.summary counts them)"
                            if depth > MAX_DRAWN_DEPTH else ""))
    layers, shortcuts, input_shape = _resnet_layers(int(depth))
    from matplotlib.patches import Rectangle

    from matplotlib.lines import Line2D

    step, box_h, box_w = 0.55, 0.42, 3.0
    n = len(layers) + 1
    height = n * step + 1.4
    columns = {"plain": 2.0, "residual": 8.6}
    fig, ax = _canvas((-0.4, 11.2), (-1.2, height), inch_per_unit=0.42, max_height=30.0)
    palette = ["#c6dbef", "#c7e9c0", "#fdd0a2", "#dadaeb", "#fcbba1", "#e5e5e5"]
    widths = sorted({layer.channels for layer in layers if layer.size is not None})
    colour_of = {w: palette[i % len(palette)] for i, w in enumerate(widths)}

    def y_of(index: int) -> float:               # index 0: the image; then one row per layer
        return height - 1.2 - index * step

    for title, x in columns.items():
        ax.text(x, height - 0.35, f"{depth}-layer {title}", ha="center", va="center", fontsize=10, fontweight="bold")
        ax.text(x, y_of(0), f"image {_maps(*input_shape, 'lenet')}", ha="center", va="center", fontsize=7)
        # one line through the column, behind the boxes, is the data flowing from layer to layer
        ax.add_artist(Line2D([x, x], [y_of(0) - 0.12, y_of(len(layers))], color="black", linewidth=0.6, zorder=0.5))
        for index, layer in enumerate(layers, start=1):
            y = y_of(index)
            colour = colour_of.get(layer.channels, "#ffffff") if layer.size is not None else "#eeeeee"
            ax.add_artist(Rectangle((x - box_w / 2, y - box_h / 2), box_w, box_h, facecolor=colour,
                                   edgecolor="black", linewidth=1.2 if layer.downsample else 0.6))
            ax.text(x, y, layer.text, ha="center", va="center", fontsize=7,
                    fontweight="bold" if layer.downsample else "normal")
    # stage marks between the columns: where the map size or the width changes
    previous = None
    for index, layer in enumerate(layers, start=1):
        key = (layer.size, layer.channels)
        if layer.size is not None and key != previous:
            ax.text((columns["plain"] + columns["residual"]) / 2, y_of(index),
                    f"{_hw(*layer.size)}, {layer.channels} ch", ha="center", va="center", fontsize=7,
                    color="#08519c")
            previous = key
    # shortcut arcs on the residual column, one per block
    x_res = columns["residual"]
    spans: dict[str, list[int]] = {}
    for index, layer in enumerate(layers, start=1):
        if layer.block is not None:
            spans.setdefault(layer.block, []).append(index)
    for block, indices in spans.items():
        start, end = y_of(indices[0] - 1) - 0.05, y_of(indices[-1]) - box_h / 2 - 0.04
        changes = shortcuts[block] != "identity"
        _arrow(ax, (x_res + box_w / 2, start), (x_res + box_w / 2, end), connection="arc3,rad=-0.45",
               linestyle="--" if changes else "-", color="#cb181d" if changes else "#08519c", width=0.9)
    changing = "/".join(sorted({s for s in shortcuts.values() if s != "identity"}))
    ax.text(5.3, y_of(len(layers)) - 0.4, "bold boxes: the map shrinks\nshortcuts: solid = identity, dashed = "
            f"the shape changes ({changing})", ha="center", va="top", fontsize=7)
    return fig


# --------------------------------------------------------------------------- typical stage
def typical_stage(input_shape: Sequence[int] = (1, 32, 32), filters: int = 6, kernel_size: Any = 5,
                  pool_size: Any = 2, *, nonlinearity: str = "relu", pooling: str = "max",
                  normalization: str = "lcn") -> "Figure":
    """The lecture's typical stage (Kavukcuoglu / Ranzato): convolution -> nonlinearity -> pooling -> normalization.

    Each arrow carries the shape of the maps that flow along it, from :mod:`cnnkit.arith`: a
    (C, H, W) ``input_shape``, ``filters`` convolutions of ``kernel_size``, ``pool_size`` pooling
    at its own stride. ``nonlinearity`` in :data:`NONLINEARITIES`, ``pooling`` in :data:`POOLINGS`,
    ``normalization`` in :data:`NORMALIZATIONS`. Below: the whole system, stages then a classifier.
    """
    c, h, w = _shape3(input_shape, "input_shape")
    filters = check_int(filters, "filters", minimum=1)
    kernel = as_pair(kernel_size, "kernel_size", 1)
    pool = as_pair(pool_size, "pool_size", 1)
    act = NONLINEARITIES[_choice(nonlinearity, "nonlinearity", tuple(NONLINEARITIES))]
    pool_name = POOLINGS[_choice(pooling, "pooling", tuple(POOLINGS))]
    norm = NORMALIZATIONS[_choice(normalization, "normalization", tuple(NORMALIZATIONS))]
    try:
        conv_out = arith.conv_output_size((h, w), kernel)
        pool_out = arith.pool_output_size(conv_out, pool)
    except ValueError as err:
        raise ValueError(f"kernel_size={kernel_size!r} and pool_size={pool_size!r} do not fit input_shape="
                         f"{tuple(input_shape)!r}: {err}") from None
    shapes = [_maps(c, h, w, "lenet"), _maps(filters, *conv_out, "lenet"), _maps(filters, *conv_out, "lenet"),
              _maps(filters, *pool_out, "lenet"), _maps(filters, *pool_out, "lenet")]
    steps = [(f"convolution\n{filters} filters {_kernel(kernel)}", "conv"), (f"nonlinearity\n{act}", "act"),
             (f"pooling\n{pool_name} {_kernel(pool)}", "pool"), (f"normalization\n{norm}", "norm")]
    fig, ax = _canvas((-0.3, 16.9), (-2.2, 1.7), inch_per_unit=0.55)
    xs = [2.4 + 3.5 * i for i in range(4)]
    ax.text(0.0, 0.0, shapes[0], ha="left", va="center", fontsize=8)
    previous_right = 1.25
    for x, (text, kind), shape_in, shape_out in zip(xs, steps, shapes, shapes[1:]):
        left, _, right, _ = _box(ax, (x + 0.4, 0.0), (2.3, 1.1), text, _COLORS[kind], fontsize=8)
        _arrow(ax, (previous_right + 0.05, 0.0), (left - 0.05, 0.0))
        previous_right = right
    _arrow(ax, (previous_right + 0.05, 0.0), (previous_right + 0.6, 0.0))
    ax.text(previous_right + 0.7, 0.0, shapes[-1], ha="left", va="center", fontsize=8)
    for x, shape in zip(xs[1:], shapes[1:4]):  # the shape between two boxes, above the arrow
        ax.text(x - 1.35, 0.25, shape, ha="center", va="bottom", fontsize=7, color="#08519c")
    from matplotlib.patches import FancyBboxPatch

    # the frame encloses all four boxes (the last one ends at previous_right)
    ax.add_artist(FancyBboxPatch((1.1, -0.95), previous_right + 0.15 - 1.1, 1.9, boxstyle="round,pad=0.05",
                                fill=False, linestyle="--", edgecolor="#555555"))
    ax.text(1.2, 1.15, "one stage", ha="left", va="bottom", fontsize=10, fontweight="bold")
    ax.text(7.5, -1.7, "whole system: input -> stage -> stage -> ... -> classifier (fully connected) -> classes",
            ha="center", va="center", fontsize=8)
    return fig


# --------------------------------------------------------------------------- SIFT pipeline
def sift_pipeline(vocabulary: int = 200, pyramid_levels: int = 3, *, cells: int = 4, orientations: int = 8) -> "Figure":
    """SIFT -> k-means -> spatial pyramid pooling -> SVM (Lazebnik et al. 2006) above a ConvNet's stages.

    The slide's kinship: each step of the hand-designed pipeline has a ConvNet counterpart, linked by
    dashed lines. The numbers follow the arguments: SIFT descriptors of ``cells`` x ``cells`` cells of
    ``orientations``-bin histograms (4x4x8 = 128-D), a ``vocabulary`` of k-means words, a pyramid of
    ``pyramid_levels`` levels (1 + 4 + 16 = 21 cells for 3) and so a 21 x 200 = 4200-D histogram for the SVM.
    """
    vocabulary = check_int(vocabulary, "vocabulary", minimum=1)
    pyramid_levels = check_int(pyramid_levels, "pyramid_levels", minimum=1)
    cells = check_int(cells, "cells", minimum=1)
    orientations = check_int(orientations, "orientations", minimum=1)
    descriptor = cells * cells * orientations
    level_cells = [4 ** level for level in range(pyramid_levels)]   # 1, 2x2, 4x4, ... regions per level
    regions = sum(level_cells)
    top = [
        (f"SIFT\n{cells}x{cells} cells x {orientations} orientations\n= {descriptor}-D descriptors", "conv"),
        (f"k-means\n{vocabulary} visual words\n(nearest word: one-hot)", "act"),
        (f"spatial pyramid pooling\n{' + '.join(map(str, level_cells))} = {regions} regions\n"
         f"-> {regions} x {vocabulary} = {regions * vocabulary}-D", "pool"),
        ("SVM\npyramid match kernel\n(histogram intersection)", "fc"),   # a kernel SVM, not a linear one
    ]
    bottom = [
        ("conv (oriented filters)\n-> nonlinearity -> pool\n-> normalization", "conv"),
        ("conv (a filter per word)\n-> winner-take-all", "act"),
        ("pooling over\nlarge regions", "pool"),
        ("fully connected\nclassifier", "fc"),
    ]
    fig, ax = _canvas((-3.0, 15.0), (-2.0, 3.0), inch_per_unit=0.55)
    xs = [1.4 + 3.7 * i for i in range(4)]
    for row_y, row, title in ((2.0, top, "Lazebnik et al.\n2006"), (-0.6, bottom, "ConvNet")):
        ax.text(-0.25, row_y, title, ha="right", va="center", fontsize=9, fontweight="bold")
        previous = None
        for x, (text, kind) in zip(xs, row):
            left, low, right, high = _box(ax, (x, row_y), (3.0, 1.35), text, _COLORS[kind], fontsize=7.5)
            if previous is not None:
                _arrow(ax, (previous + 0.05, row_y), (left - 0.05, row_y))
            previous = right
    for x in xs:
        _arrow(ax, (x, 2.0 - 0.7), (x, -0.6 + 0.7), style="<|-|>", linestyle="--", color="#777777", width=0.7)
    ax.text(6.2, -1.65, "the pipeline's steps are made by hand or trained one by one; a ConvNet learns all its "
            "stages together, from the labels", ha="center", va="center", fontsize=8)
    return fig


# --------------------------------------------------------------------------- data grid
def _images_nhwc(images: Any) -> np.ndarray:
    """Images as float (N, H, W) or (N, H, W, 3) in [0, 1], from NCHW, NHWC or NHW numpy arrays / tensors."""
    if hasattr(images, "detach"):
        images = images.detach().cpu().numpy()
    try:
        array = np.asarray(images)
    except Exception as exc:  # ragged lists
        raise TypeError(f"images must be an array (N, C, H, W), (N, H, W, C) or (N, H, W): {exc}") from exc
    if array.dtype.kind not in "biuf":
        raise TypeError(f"images must hold numbers, got dtype {array.dtype}")
    integer = array.dtype.kind in "biu"
    array = array.astype(np.float64)
    if array.ndim == 4 and array.shape[1] in (1, 3) and array.shape[-1] not in (1, 3):
        array = np.moveaxis(array, 1, -1)
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if not (array.ndim == 3 or (array.ndim == 4 and array.shape[-1] == 3)) or array.shape[0] == 0:
        raise ValueError(f"images must be (N, C, H, W) or (N, H, W, C) with C in (1, 3), or (N, H, W), "
                         f"with N >= 1; got shape {np.shape(images)}")
    if integer:
        return array / 255.0 if array.max() > 1 else array
    lo, hi = float(array.min()), float(array.max())
    if lo < 0.0 or hi > 1.0:              # e.g. normalised images: back into [0, 1] for display
        array = (array - lo) / (hi - lo) if hi > lo else np.zeros_like(array)
    return array


def data_grid(images: Any, labels: Any, class_names: Sequence[str], n_per_class: int = 10, *,
              seed: int | None = None) -> "Figure":
    """A sample of a data set: one row per class, ``n_per_class`` images in each (the CIFAR-10 slide).

    ``images``: (N, C, H, W) (C = 1 or 3), (N, H, W, C) or (N, H, W), numpy or torch, floats (rescaled
    to [0, 1] only if outside it) or integers 0-255; ``labels``: N ints in ``0 .. len(class_names) - 1``.
    Nothing is downloaded: pass arrays in (``cnnkit.data.load("cifar10")`` where present, the digits
    otherwise). ``seed=None`` takes the first images of each class, an int a random sample. A class
    with fewer images leaves its row short. The grid is one image, so even 10 x 10 draws fast.
    """
    x = _images_nhwc(images)
    if hasattr(labels, "detach"):
        labels = labels.detach().cpu().numpy()
    y = np.asarray(labels)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        got = f"dtype {y.dtype}" if y.ndim == 1 else f"shape {y.shape}"
        raise TypeError(f"labels must be a 1-D array of ints, got {got}")
    if len(y) != len(x):
        raise ValueError(f"labels has {len(y)} entries but images has {len(x)}")
    if (isinstance(class_names, str) or not isinstance(class_names, Sequence) or not class_names
            or not all(isinstance(c, str) for c in class_names)):
        raise TypeError(f"class_names must be a non-empty sequence of str, got {class_names!r}")
    k = len(class_names)
    if y.min() < 0 or y.max() >= k:
        raise ValueError(f"labels must lie in 0..{k - 1} (one per class name), got values "
                         f"{int(y.min())}..{int(y.max())}")
    n_per_class = check_int(n_per_class, "n_per_class", minimum=1)
    if seed is not None and not is_int(seed):
        raise TypeError(f"seed must be an int or None, got {seed!r}")
    rng = None if seed is None else np.random.default_rng(int(seed))

    h, w = x.shape[1:3]
    pad = max(1, h // 16)
    colour = x.ndim == 4
    mosaic = np.ones((k * (h + pad) - pad, n_per_class * (w + pad) - pad) + ((3,) if colour else ()))
    for row in range(k):
        members = np.flatnonzero(y == row)
        if rng is not None and len(members) > n_per_class:
            members = np.sort(rng.choice(members, size=n_per_class, replace=False))
        members = members[:n_per_class]
        for col, index in enumerate(members):
            top, left = row * (h + pad), col * (w + pad)
            mosaic[top:top + h, left:left + w] = x[index]

    name_room = max(len(c) for c in class_names) * 0.075 + 0.2
    cell = 0.55 if h >= 16 else 0.4
    margin, title_room = 0.1, 0.45
    width, height = n_per_class * cell + name_room + margin, k * cell + title_room + margin
    from .viz import _new_figure

    fig = _new_figure(width, height)
    fig.set_layout_engine("none")       # one hand-placed axes
    ax = fig.add_axes((name_room / width, margin / height, n_per_class * cell / width, k * cell / height))
    ax.imshow(mosaic, cmap=None if colour else "gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    for row, name in enumerate(class_names):     # the class names, left of their rows
        ax.text(-pad - 1, (h + pad) * row + h / 2, name, ha="right", va="center", fontsize=8)
    how = "first" if rng is None else "random"
    fig.text(0.5, 1.0 - 0.05 / height, f"{k} classes, {how} {n_per_class} images of each "
             f"({len(y)} images of {_hw(h, w)})", ha="center", va="top", fontsize=9)
    return fig
