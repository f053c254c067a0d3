"""Interactive explorers for the lecture: move a slider, see the convolution / pooling change.

Four explorers, each a function returning an ipywidgets container (display it as the last
expression of a notebook cell)::

    conv_explorer()                  input size, kernel, stride, padding, dilation -> output grid
    receptive_field_explorer()       a stack of conv / pool layers -> what one output unit sees
    pooling_explorer()               max / average / L2 pooling, and what a one-pixel shift changes
    filter_explorer()                the lecture's filters on a real photo, correlation vs convolution

The explorers are thin: sizes and receptive fields come from :mod:`cnnkit.arith`, the
numbers in the grids from :mod:`cnnkit.ops`. They only bind controls and draw. Grids are drawn
as SVG strings into ``widgets.HTML`` (a redraw takes a millisecond or two, so dragging a slider
feels live: see ``benchmarks/bench_widgets.py``). Every explorer exposes its controls as
attributes and what it shows in ``.state`` (a dict), so tests can set ``.value`` on a control
and check the result: ipywidgets runs the observers synchronously.

Importing this module imports ipywidgets (and numpy), but not torch or matplotlib.
"""
from __future__ import annotations

import html
import io
from typing import Any

import ipywidgets as widgets
import numpy as np

from . import arith, ops
from ._geometry import as_pair, check_int
from .arith import format_layers, parse_layers  # noqa: F401  (the layer-text language lives in arith)
from .ops import filters as filter_bank

__all__ = [
    "conv_explorer",
    "receptive_field_explorer",
    "pooling_explorer",
    "filter_explorer",
    "ConvExplorer",
    "ReceptiveFieldExplorer",
    "PoolingExplorer",
    "FilterExplorer",
    "parse_layers",
    "format_layers",
]

# --------------------------------------------------------------------------- SVG drawing
_STYLE = """<style>
.cnnkit-svg text {font: 11px monospace; text-anchor: middle; dominant-baseline: central; pointer-events: none}
.cnnkit-svg .cell {fill: #ffffff; stroke: #888; stroke-width: 1}
.cnnkit-svg .pad {fill: #e4e4e4}
.cnnkit-svg .tap {fill: #ffd54f}
.cnnkit-svg .current {fill: #ff8a65}
.cnnkit-svg .done {fill: #c8e6c9}
.cnnkit-svg .changed {fill: #ef9a9a}
.cnnkit-svg .unit {fill: #ff8a65; stroke: #c62828; stroke-width: 2}
.cnnkit-svg .region {fill: rgba(255, 193, 7, 0.35); stroke: #c62828; stroke-width: 2}
.cnnkit-svg .region-padding {fill: none; stroke: #c62828; stroke-width: 1.5; stroke-dasharray: 5 3}
.cnnkit-svg .lattice {stroke: #bbb; stroke-width: 0.5}
.cnnkit-svg .caption {font: 12px sans-serif; text-anchor: start}
</style>"""


def _number(value: float) -> str:
    """Short text for a grid cell: integers without decimals, others with at most two."""
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _grid(x0: float, y0: float, values: np.ndarray | None, shape: tuple[int, int], cell: int,
          classes: dict[tuple[int, int], str] | None = None, name: str = "grid", show_numbers: bool = True) -> str:
    """One rect (and its number) per cell; ``classes`` marks cells, ``data-r``/``data-c`` name them."""
    classes = classes or {}
    parts = [f'<g class="{name}">']
    rows, cols = shape
    for r in range(rows):
        for c in range(cols):
            mark = classes.get((r, c), "")
            x, y = x0 + c * cell, y0 + r * cell
            parts.append(f'<rect class="cell {mark}" data-grid="{name}" data-r="{r}" data-c="{c}" '
                         f'x="{x}" y="{y}" width="{cell}" height="{cell}"/>')
            if show_numbers and values is not None and not np.isnan(values[r, c]):
                parts.append(f'<text x="{x + cell / 2}" y="{y + cell / 2}">{_number(values[r, c])}</text>')
    parts.append("</g>")
    return "".join(parts)


def _lattice(x0: float, y0: float, shape: tuple[int, int], cell: float, name: str) -> str:
    """A large grid as one background rect plus lines (cheap for 224 x 224 inputs)."""
    rows, cols = shape
    width, height = cols * cell, rows * cell
    parts = [f'<rect class="cell" data-grid="{name}" x="{x0}" y="{y0}" width="{width}" height="{height}"/>']
    if cell >= 4:
        lines = [f"M{x0 + c * cell},{y0}v{height}" for c in range(1, cols)]
        lines += [f"M{x0},{y0 + r * cell}h{width}" for r in range(1, rows)]
        parts.append(f'<path class="lattice" d="{"".join(lines)}"/>')
    return "".join(parts)


def _box(x0: float, y0: float, rows: tuple[int, int], cols: tuple[int, int], cell: float, cls: str) -> str:
    """A rectangle over grid cells rows[0]:rows[1], cols[0]:cols[1] (may reach outside the grid)."""
    (top, bottom), (left, right) = rows, cols
    return (f'<rect class="{cls}" data-top="{top}" data-bottom="{bottom}" data-left="{left}" data-right="{right}" '
            f'x="{x0 + left * cell}" y="{y0 + top * cell}" width="{(right - left) * cell}" '
            f'height="{(bottom - top) * cell}"/>')


def _caption(x: float, y: float, text: str) -> str:
    return f'<text class="caption" x="{x}" y="{y}">{html.escape(text)}</text>'


def _svg(width: float, height: float, body: str) -> str:
    return (f'{_STYLE}<svg class="cnnkit-svg" width="{width:.0f}" height="{height:.0f}" '
            f'xmlns="http://www.w3.org/2000/svg">{body}</svg>')


def _error_html(message: str) -> str:
    return f'<div class="cnnkit-error" style="color:#b71c1c"><b>Not possible:</b> {html.escape(message)}</div>'


def _slider(description: str, value: int, low: int, high: int, **kwargs: Any) -> widgets.IntSlider:
    return widgets.IntSlider(value=value, min=low, max=high, description=description,
                             style={"description_width": "initial"}, **kwargs)


class _Explorer(widgets.VBox):
    """Shared plumbing: one observer for all controls, and a guard so a redraw that moves
    another control (e.g. clamping the step slider) does not redraw twice."""

    def __init__(self, children: list[widgets.Widget]) -> None:
        super().__init__(children)
        self.state: dict[str, Any] = {}
        self._busy = False

    def _watch(self, *controls: widgets.Widget) -> None:
        for control in controls:
            control.observe(self._on_change, names="value")

    def _on_change(self, _change: Any = None) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            self.redraw()
        finally:
            self._busy = False

    def redraw(self) -> None:  # pragma: no cover - every explorer overrides it
        raise NotImplementedError


# --------------------------------------------------------------------------- convolution
class ConvExplorer(_Explorer):
    """Input grid (with its padding), the kernel's current position, the output grid, the size formula.

    Controls: ``input_size``, ``kernel_size``, ``stride``, ``padding``, ``dilation`` (IntSliders),
    ``step`` (which output position the kernel is at, 0 .. outputs-1) driven by ``play``.
    Shown: ``formula`` (HTML with the output size), ``canvas`` (HTML with the SVG grids).
    ``state``: output_size (None when invalid), error, step, position, taps (padded-input cells the
    kernel covers now), output (the full output array), input, kernel.
    """

    def __init__(self, input_size: int = 7, kernel_size: int = 3, stride: int = 1, padding: int = 0,
                 dilation: int = 1, seed: int = 0) -> None:
        self.input_size = _slider("input size N", check_int(input_size, "input_size", 1, 16), 1, 16)
        self.kernel_size = _slider("kernel size K", check_int(kernel_size, "kernel_size", 1, 7), 1, 7)
        self.stride = _slider("stride S", check_int(stride, "stride", 1, 4), 1, 4)
        self.padding = _slider("padding P", check_int(padding, "padding", 0, 4), 0, 4)
        self.dilation = _slider("dilation D", check_int(dilation, "dilation", 1, 3), 1, 3)
        self.step = _slider("kernel position", 0, 0, 0)
        self.play = widgets.Play(value=0, min=0, max=0, interval=600, description="play")
        widgets.jslink((self.play, "value"), (self.step, "value"))
        self.formula = widgets.HTML()
        self.formula.add_class("cnnkit-conv-formula")
        self.canvas = widgets.HTML()
        self._rng_seed = seed
        controls = widgets.VBox([self.input_size, self.kernel_size, self.stride, self.padding, self.dilation])
        stepper = widgets.HBox([self.play, self.step])
        super().__init__([widgets.HBox([controls, self.formula]), stepper, self.canvas])
        self.add_class("cnnkit-conv-explorer")
        self._watch(self.input_size, self.kernel_size, self.stride, self.padding, self.dilation, self.step)
        self._on_change()

    def _example(self, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Small integer input and kernel, fixed by the seed so the numbers stay put while you explore."""
        image = np.random.default_rng(self._rng_seed).integers(0, 10, size=(16, 16))[:n, :n].astype(float)
        kernel = np.random.default_rng(self._rng_seed + 1).integers(-1, 2, size=(7, 7))[:k, :k].astype(float)
        return image, kernel

    def redraw(self) -> None:
        n, k, s = self.input_size.value, self.kernel_size.value, self.stride.value
        p, d = self.padding.value, self.dilation.value
        image, kernel = self._example(n, k)
        state: dict[str, Any] = {"input": image, "kernel": kernel, "output_size": None, "error": None,
                                 "step": None, "position": None, "taps": [], "output": None, "note": None}
        try:
            out = arith.conv_output_size(n, k, s, p, d)
        except ValueError as err:
            state["error"] = str(err)
            out = None
        numbers = (f"&lfloor;(N + 2P &minus; D(K&minus;1) &minus; 1) / S&rfloor; + 1 = "
                   f"&lfloor;({n} + 2&middot;{p} &minus; {d}&middot;({k}&minus;1) &minus; 1) / {s}&rfloor; + 1")
        if out is None:
            self.formula.value = (f"<div>output size = {numbers}</div>"
                                  + _error_html(state["error"]))
            self.step.max = self.play.max = 0
            self.step.disabled = self.play.disabled = True
        else:
            try:  # strict mode tells when the stride leaves the last rows/columns unvisited
                arith.conv_output_size(n, k, s, p, d, strict=True)
            except ValueError as err:
                state["note"] = str(err)
            self.step.disabled = self.play.disabled = False
            self.step.max = self.play.max = out * out - 1
            step = self.step.value
            state.update(output_size=out, step=step, position=divmod(step, out),
                         output=ops.conv2d(image[None, None], kernel[None, None], stride=s, padding=p,
                                           dilation=d)[0, 0])
            note = f'<div style="color:#8d6e00">Note: {html.escape(state["note"])}</div>' if state["note"] else ""
            self.formula.value = (f'<div>output size = {numbers} = '
                                  f'<b class="cnnkit-output-size">{out} x {out}</b></div>{note}'
                                  f"<div>{out * out} kernel positions; now at output ({state['position'][0]}, "
                                  f"{state['position'][1]}) = {_number(state['output'][state['position']])}</div>")
            # the cells under the kernel: the unit's receptive field (from arith), every D-th pixel
            (top, _), (left, _) = arith.receptive_field_region([("conv", k, s, p, d)], state["position"], n)
            state["taps"] = [(top + p + d * a, left + p + d * b) for a in range(k) for b in range(k)]
        self.state = state
        self.canvas.value = self._draw(state, n, p)

    @staticmethod
    def _draw(state: dict[str, Any], n: int, p: int) -> str:
        size = n + 2 * p
        cell = 24 if size <= 14 else 18
        padded = np.pad(state["input"], p)
        marks = {(r, c): "pad" for r in range(size) for c in range(size) if not (p <= r < p + n and p <= c < p + n)}
        weights = dict(zip(state["taps"], state["kernel"].ravel()))
        for tap in state["taps"]:
            marks[tap] = "tap"
        caption = f"input {n}x{n}, padding {p} (grey), kernel in yellow"
        body = [_caption(0, 10, caption),
                _grid(0, 20, padded, (size, size), cell, marks, "input")]
        for (r, c), weight in weights.items():  # the kernel weight in the corner of each tap
            body.append(f'<text x="{c * cell + cell - 5}" y="{20 + r * cell + 5}" '
                        f'style="font-size:7px;fill:#6d4c41">{_number(weight)}</text>')
        width, height = size * cell, 20 + size * cell
        x_out = max(width + 40, 20 + 6.5 * len(caption))  # leave room for the caption
        if state["output_size"] is not None:
            out = state["output_size"]
            shown = np.full((out, out), np.nan)
            flat = shown.reshape(-1)
            flat[: state["step"] + 1] = state["output"].reshape(-1)[: state["step"] + 1]
            marks_out = {divmod(i, out): "done" for i in range(state["step"])}
            marks_out[state["position"]] = "current"
            body += [_caption(x_out, 10, f"output {out}x{out}"),
                     _grid(x_out, 20, shown, (out, out), cell, marks_out, "output")]
            width, height = x_out + out * cell, max(height, 20 + out * cell)
        return _svg(width + 2, height + 2, "".join(body))


def conv_explorer(input_size: int = 7, kernel_size: int = 3, stride: int = 1, padding: int = 0,
                  dilation: int = 1, seed: int = 0) -> ConvExplorer:
    """An explorer of one convolution: set N, K, S, P, D and watch the kernel slide (press play).

    Shows the padded input with the cells under the kernel, the output filled in step by step
    and the output-size formula with the current numbers (:func:`cnnkit.arith.conv_output_size`;
    the values come from :func:`cnnkit.ops.conv2d`). Impossible settings show arith's reason.
    """
    return ConvExplorer(input_size, kernel_size, stride, padding, dilation, seed)


# --------------------------------------------------------------------------- receptive fields
DEFAULT_LAYERS = "conv k=3 s=1 p=1\nconv k=3 s=1 p=1\npool k=2 s=2\nconv k=3 s=1 p=1"


class ReceptiveFieldExplorer(_Explorer):
    """Pick an output unit of a layer stack and see the input pixels it depends on.

    Controls: ``layers`` (Textarea, one layer per line, see :func:`parse_layers`), ``input_size``,
    ``unit_row``, ``unit_col`` (IntSliders over the last layer's output). Shown: ``summary`` (HTML
    with the receptive field size and region), ``canvas`` (SVG of input and output grids),
    ``table`` (HTML ``<pre>`` with :func:`cnnkit.arith.format_rf_table`). ``state``: error, rows,
    output_size (h, w), unit, region (unclipped) and clipped ((top, bottom), (left, right)).
    """

    def __init__(self, layers: str = DEFAULT_LAYERS, input_size: int = 16) -> None:
        self.layers = widgets.Textarea(value=layers, description="layers", rows=6, continuous_update=False,
                                       layout=widgets.Layout(width="320px"))
        self.input_size = _slider("input size", check_int(input_size, "input_size", 1, 512), 1, max(64, input_size))
        self.unit_row = _slider("unit row", 0, 0, 0)
        self.unit_col = _slider("unit col", 0, 0, 0)
        self.summary = widgets.HTML()
        self.summary.add_class("cnnkit-rf-summary")
        self.canvas = widgets.HTML()
        self.table = widgets.HTML()
        controls = widgets.VBox([self.input_size, self.unit_row, self.unit_col, self.summary])
        super().__init__([widgets.HBox([self.layers, controls]), self.canvas, self.table])
        self.add_class("cnnkit-rf-explorer")
        self._watch(self.layers, self.input_size, self.unit_row, self.unit_col)
        self._on_change()

    def redraw(self) -> None:
        n = self.input_size.value
        state: dict[str, Any] = {"error": None, "rows": None, "output_size": None, "unit": None,
                                 "region": None, "clipped": None}
        try:
            specs = parse_layers(self.layers.value)
            rows = arith.receptive_field(specs, n)
            out_h, out_w = as_pair(rows[-1].output_size, "output_size")
            self.unit_row.max, self.unit_col.max = out_h - 1, out_w - 1
            unit = (self.unit_row.value, self.unit_col.value)
            region = arith.receptive_field_region(specs, unit, n)
            clipped = arith.receptive_field_region(specs, unit, n, clip=True)
            # the first and last units reach furthest into the padding: draw that much margin
            (first_top, _), (first_left, _) = arith.receptive_field_region(specs, (0, 0), n)
            (_, last_bottom), (_, last_right) = arith.receptive_field_region(specs, (out_h - 1, out_w - 1), n)
            margin = max(0, -first_top, -first_left, last_bottom - n, last_right - n)
        except (ValueError, TypeError) as err:
            state["error"] = str(err)
            self.state = state
            self.summary.value = _error_html(str(err))
            self.canvas.value = ""
            self.table.value = ""
            return
        rf_h, rf_w = as_pair(rows[-1].rf, "rf")
        state.update(rows=rows, output_size=(out_h, out_w), unit=unit, region=region, clipped=clipped)
        self.state = state
        (top, bottom), (left, right) = region
        (ct, cb), (cl, cr) = clipped
        outside = (bottom - top) * (right - left) - (cb - ct) * (cr - cl)
        self.summary.value = (f'<div>receptive field <b class="cnnkit-rf-size">{rf_h} x {rf_w}</b>; '
                              f"output {out_h} x {out_w}</div>"
                              f"<div>unit {unit} sees input rows {top}..{bottom - 1}, cols {left}..{right - 1}"
                              + (f" ({outside} of its pixels lie in the padding)" if outside else "") + "</div>")
        self.table.value = f"<pre>{html.escape(arith.format_rf_table(rows))}</pre>"
        self.canvas.value = self._draw(n, (out_h, out_w), unit, region, clipped, margin)

    @staticmethod
    def _draw(n: int, out: tuple[int, int], unit: tuple[int, int], region, clipped, margin: int) -> str:
        cell = max(1.0, min(20.0, 320.0 / (n + 2 * margin)))
        x0 = y0 = 20 + margin * cell
        body = [_caption(0, 10, f"input {n}x{n}"), _lattice(x0, y0, (n, n), cell, "input"),
                _box(x0, y0, region[0], region[1], cell, "region-padding"),
                _box(x0, y0, clipped[0], clipped[1], cell, "region")]
        x_out = x0 + (n + margin) * cell + 40
        out_cell = max(2.0, min(20.0, 240.0 / max(out)))
        body += [_caption(x_out, 10, f"output {out[0]}x{out[1]}"),
                 _lattice(x_out, 20, out, out_cell, "output"),
                 _box(x_out, 20, (unit[0], unit[0] + 1), (unit[1], unit[1] + 1), out_cell, "unit")]
        width = x_out + out[1] * out_cell + 2
        height = max(y0 + (n + margin) * cell, 20 + out[0] * out_cell) + 2
        return _svg(width, height, "".join(body))


def receptive_field_explorer(layers: Any = None, input_size: int = 16) -> ReceptiveFieldExplorer:
    """An explorer of receptive fields: edit a layer stack, pick an output unit, see its input patch.

    ``layers``: None (a small conv-conv-pool-conv stack), the text :func:`parse_layers` reads, a
    list of layer dicts, or a torch model whose conv / pool layers are read in order (up to the
    first layer that is neither conv, pool nor per-pixel, such as Flatten or Linear). Numbers and
    the table come from :func:`cnnkit.arith.receptive_field`.
    """
    if layers is None:
        text = DEFAULT_LAYERS
    elif isinstance(layers, str):
        text = layers
    elif hasattr(layers, "named_modules"):
        text = format_layers(arith.layers_from_model(layers, strict=False))
    elif isinstance(layers, (list, tuple)) and all(isinstance(spec, dict) for spec in layers):
        text = format_layers(list(layers))
    else:
        raise TypeError(f"layers must be None, a string, a list of layer dicts or a torch model, got {layers!r}")
    return ReceptiveFieldExplorer(text, input_size)


# --------------------------------------------------------------------------- pooling
POOL_KINDS = ("max", "average", "L2")


class PoolingExplorer(_Explorer):
    """Pool a detector map, then shift the map right and see which pooled values change.

    The lecture's point (Goodfellow et al., Fig. 9.8): after a one-pixel shift nearly every detector
    value changes, but far fewer max-pooled values do. Controls: ``kind`` (max / average / L2),
    ``kernel_size``, ``stride``, ``shift`` (pixels to the right), ``example`` ("row": one row as in the
    book's figure, "map": a 2-D map), ``seed``. Shown: ``summary`` (HTML: counts of changed values) and
    ``canvas`` (SVG, changed cells in red). ``state``: error, input, shifted, pooled, pooled_shifted,
    changed_input and changed_pooled (boolean masks).
    """

    def __init__(self, kind: str = "max", kernel_size: int = 3, stride: int = 1, shift: int = 1,
                 example: str = "row", seed: int = 21) -> None:
        if kind not in POOL_KINDS:
            raise ValueError(f"kind must be one of {POOL_KINDS}, got {kind!r}")
        if example not in ("row", "map"):
            raise ValueError(f"example must be 'row' or 'map', got {example!r}")
        self.kind = widgets.ToggleButtons(options=POOL_KINDS, value=kind, description="pooling")
        self.kernel_size = _slider("pool width", check_int(kernel_size, "kernel_size", 1, 5), 1, 5)
        self.stride = _slider("stride", check_int(stride, "stride", 1, 5), 1, 5)
        self.shift = _slider("shift right by", check_int(shift, "shift", 0, 3), 0, 3)
        self.example = widgets.ToggleButtons(options=("row", "map"), value=example, description="input")
        self.seed = widgets.BoundedIntText(value=seed, min=0, max=10_000, description="seed",
                                           layout=widgets.Layout(width="160px"))
        self.summary = widgets.HTML()
        self.summary.add_class("cnnkit-pool-summary")
        self.canvas = widgets.HTML()
        controls = widgets.VBox([self.kind, self.kernel_size, self.stride, self.shift,
                                 widgets.HBox([self.example, self.seed])])
        super().__init__([controls, self.summary, self.canvas])
        self.add_class("cnnkit-pool-explorer")
        self._watch(self.kind, self.kernel_size, self.stride, self.shift, self.example, self.seed)
        self._on_change()

    def _maps(self) -> tuple[np.ndarray, np.ndarray]:
        """The detector map and the same map shifted right by ``shift`` (new values enter on the left)."""
        rows, cols, extra = (1, 12, 3) if self.example.value == "row" else (6, 8, 3)
        rng = np.random.default_rng(self.seed.value)
        wide = np.round(rng.random((rows, cols + extra)) ** 3, 1)  # mostly small, a few strong responses
        s = self.shift.value
        return wide[:, extra:], wide[:, extra - s: extra - s + cols]

    def _pool(self, x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
        batch = x[None, None]
        if self.kind.value == "max":
            return ops.max_pool2d(batch, kernel, stride)[0, 0]
        if self.kind.value == "average":
            return ops.avg_pool2d(batch, kernel, stride)[0, 0]
        return ops.lp_pool2d(batch, 2, kernel, stride)[0, 0]

    def redraw(self) -> None:
        x, shifted = self._maps()
        k, s = self.kernel_size.value, self.stride.value
        kernel = (1, k) if self.example.value == "row" else (k, k)
        stride = (1, s) if self.example.value == "row" else (s, s)
        state: dict[str, Any] = {"error": None, "input": x, "shifted": shifted, "kernel_size": kernel,
                                 "stride": stride}
        try:
            size = arith.pool_output_size(x.shape, kernel, stride)
        except ValueError as err:
            state["error"] = str(err)
            self.state = state
            self.summary.value = _error_html(str(err))
            self.canvas.value = ""
            return
        pooled, pooled_shifted = self._pool(x, kernel, stride), self._pool(shifted, kernel, stride)
        changed_input = ~np.isclose(x, shifted)
        changed_pooled = ~np.isclose(pooled, pooled_shifted)
        state.update(output_size=size, pooled=pooled, pooled_shifted=pooled_shifted,
                     changed_input=changed_input, changed_pooled=changed_pooled)
        self.state = state
        self.summary.value = (
            f"<div>{self.kind.value} pooling, width {k}, stride {s}; input shifted right by {self.shift.value}: "
            f'<b class="cnnkit-changed-input">{int(changed_input.sum())} of {x.size}</b> detector values changed, '
            f'<b class="cnnkit-changed-pooled">{int(changed_pooled.sum())} of {pooled.size}</b> pooled values '
            "changed.</div>")
        self.canvas.value = self._draw(state)

    @staticmethod
    def _draw(state: dict[str, Any]) -> str:
        cell = 34
        rows = [("detector layer", state["input"], None, "input"),
                ("pooled", state["pooled"], None, "pooled"),
                ("detector layer, shifted", state["shifted"], state["changed_input"], "shifted"),
                ("pooled, shifted", state["pooled_shifted"], state["changed_pooled"], "pooled_shifted")]
        body, y, width = [], 0.0, 0.0
        for title, values, changed, name in rows:
            marks = {} if changed is None else {tuple(ix): "changed" for ix in np.argwhere(changed)}
            body += [_caption(0, y + 10, title), _grid(0, y + 18, values, values.shape, cell, marks, name)]
            y += 18 + values.shape[0] * cell + 12
            width = max(width, values.shape[1] * cell)
        return _svg(max(width, 200) + 2, y, "".join(body))


def pooling_explorer(kind: str = "max", kernel_size: int = 3, stride: int = 1, shift: int = 1,
                     example: str = "row", seed: int = 21) -> PoolingExplorer:
    """An explorer of max / average / L2 pooling and of the small-shift invariance max pooling buys.

    The defaults mirror Goodfellow et al.'s Fig. 9.8 (pool width 3, stride 1, shift by one pixel).
    Pooled values come from :func:`cnnkit.ops.max_pool2d`, ``avg_pool2d`` and ``lp_pool2d``.
    """
    return PoolingExplorer(kind, kernel_size, stride, shift, example, seed)


# --------------------------------------------------------------------------- filters on a photo
class FilterExplorer(_Explorer):
    """Apply a filter of the lecture's bank (or your own 3x3 kernel) to a photo.

    Controls: ``filter`` (Dropdown: the names of :data:`cnnkit.ops.filters.FILTERS` and "custom"),
    ``mode`` ("correlation" / "convolution"), ``cells`` (3x3 FloatTexts: the kernel; editing one
    switches to "custom"). Shown: ``original`` and ``filtered`` (PNG Images), ``kernel_view`` (HTML
    table of the kernel in use), ``summary`` (HTML). ``state``: kernel, output, display_range, symmetric.
    """

    def __init__(self, image: np.ndarray, filter_name: str = "sobel_x", mode: str = "correlation") -> None:
        names = [*filter_bank.FILTERS, "custom"]
        if filter_name not in names:
            raise ValueError(f"filter_name must be one of {names}, got {filter_name!r}")
        if mode not in ("correlation", "convolution"):
            raise ValueError(f"mode must be 'correlation' or 'convolution', got {mode!r}")
        self.image = image
        self.filter = widgets.Dropdown(options=names, value=filter_name, description="filter")
        self.mode = widgets.ToggleButtons(options=("correlation", "convolution"), value=mode, description="mode")
        self.cells = [widgets.FloatText(value=0.0, step=0.1, layout=widgets.Layout(width="70px")) for _ in range(9)]
        self.original = widgets.Image(format="png", value=_png(np.clip(image, 0.0, 1.0)))
        self.filtered = widgets.Image(format="png")
        self.kernel_view = widgets.HTML()
        self.summary = widgets.HTML()
        self.summary.add_class("cnnkit-filter-summary")
        grid = widgets.GridBox(self.cells, layout=widgets.Layout(grid_template_columns="repeat(3, 74px)"))
        pictures = widgets.HBox([widgets.VBox([widgets.HTML("<b>input</b>"), self.original]),
                                 widgets.VBox([widgets.HTML("<b>output</b>"), self.filtered])])
        controls = widgets.VBox([self.filter, self.mode, widgets.HTML("3x3 kernel (edit to make your own):"), grid])
        super().__init__([widgets.HBox([controls, widgets.VBox([self.kernel_view, self.summary])]), pictures])
        self.add_class("cnnkit-filter-explorer")
        self._watch(self.filter, self.mode, *self.cells)
        self._on_change()

    def _kernel(self) -> np.ndarray:
        """The kernel in use; a named 3x3 filter is copied into the editable cells."""
        if self.filter.value == "custom":
            return np.array([cell.value for cell in self.cells], dtype=float).reshape(3, 3)
        kernel = filter_bank.get(self.filter.value)
        editable = kernel.shape == (3, 3)
        if editable:
            for cell, value in zip(self.cells, kernel.ravel()):
                cell.value = float(value)
        return kernel

    def _on_change(self, change: Any = None) -> None:
        # editing a cell of a named filter turns it into your own kernel
        if not self._busy and change is not None and change["owner"] in self.cells and self.filter.value != "custom":
            self._busy = True
            try:
                self.filter.value = "custom"
            finally:
                self._busy = False
        super()._on_change(change)

    def redraw(self) -> None:
        kernel = self._kernel()
        apply = ops.correlate2d if self.mode.value == "correlation" else ops.convolve2d
        output = apply(self.image, kernel, mode="same")
        low, high = float(output.min()), float(output.max())
        if low >= -1e-9 and high <= 1 + 1e-9:
            display, shown_range = np.clip(output, 0.0, 1.0), (0.0, 1.0)
        else:
            display = (output - low) / (high - low) if high > low else np.zeros_like(output)
            shown_range = (low, high)
        symmetric = bool(np.allclose(kernel, kernel[::-1, ::-1]))
        self.state = {"kernel": kernel, "output": output, "display_range": shown_range, "symmetric": symmetric,
                      "mode": self.mode.value}
        self.filtered.value = _png(display)
        rows = "".join("<tr>" + "".join(f'<td style="padding:0 6px;text-align:right">{value:.3g}</td>'
                                        for value in row) + "</tr>" for row in kernel)
        self.kernel_view.value = f"<b>kernel ({kernel.shape[0]}x{kernel.shape[1]})</b><table>{rows}</table>"
        flip = ("the kernel equals itself turned by 180&deg;, so correlation and convolution agree" if symmetric
                else "the kernel changes when turned by 180&deg;: convolution (flipped) differs from correlation")
        self.summary.value = (f"<div>{self.mode.value}, output {output.shape[0]}x{output.shape[1]} "
                              f"('same' size), values {low:.3g} .. {high:.3g} shown as black .. white "
                              f"over [{shown_range[0]:.3g}, {shown_range[1]:.3g}]</div><div>{flip}</div>")


def _png(image: np.ndarray) -> bytes:
    """PNG bytes of a float image in [0, 1] (gray or RGB), via Pillow (a matplotlib dependency)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)).save(buffer, format="png",
                                                                                    compress_level=1)
    return buffer.getvalue()


def filter_explorer(image: Any = None, *, size: int = 160, filter_name: str = "sobel_x",
                    mode: str = "correlation") -> FilterExplorer:
    """An explorer of image filtering: the lecture's filters, or your own, on a photograph.

    ``image``: a 2-D gray image with values in [0, 1] (numpy or torch); default the photo
    matplotlib ships (:func:`cnnkit.data.sample_image`, centre square resized to ``size``).
    Filtering uses :func:`cnnkit.ops.correlate2d` / :func:`cnnkit.ops.convolve2d` ('same' size).
    """
    if image is None:
        from . import data

        image = data.sample_image(gray=True, size=size)
    if hasattr(image, "detach"):
        image = image.detach().cpu().numpy()
    array = np.asarray(image, dtype=np.float64)
    if array.ndim != 2 or min(array.shape) < 3:
        raise ValueError(f"image must be a 2-D gray image of at least 3x3, got shape {array.shape}")
    return FilterExplorer(array, filter_name, mode)
