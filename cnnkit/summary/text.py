"""The text tables: the per-layer summary (torchinfo-like) and the receptive-field table."""
from __future__ import annotations

from typing import Any, Optional, Sequence

from .results import FLOP_CONVENTION, LayerRow, ModelSummary


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


def format_rf_rows(result: ModelSummary, depth: Optional[int] = None) -> str:
    """Receptive field, jump and effective padding after every module (blocks too) at most ``depth`` deep."""
    rows: list[LayerRow] = [r for r in result.all_rows if r.rf is not None and r.depth > 0
                            and (depth is None or r.depth <= depth)]
    body = [(("  " * (r.depth - 1)) + r.name, r.type, _size(tuple(r.output_shape[-2:])), _size(r.rf), _size(r.jump),
             _size(r.effective_padding)) for r in rows]
    return "\n".join(_table(("Layer", "Type", "Output", "RF", "Jump", "Eff. padding"), body, {2, 3, 4, 5}))


def describe_rf(result: ModelSummary, model_name: str) -> Optional[str]:
    """One sentence: the model's receptive field and where it is reached."""
    rf = result.receptive_field
    if rf is None:
        return None
    return (f"{model_name}: receptive field {_size(rf.rf)} input pixels at {rf.layer} "
            f"(input {'x'.join(map(str, result.input_size))}); layers after it have no spatial grid.")
