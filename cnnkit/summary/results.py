"""What :func:`cnnkit.summary.summary` returns: one row per module call, the totals, a receptive field."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .._geometry import is_int
from ..arith import Size
from .op_geometry import Geometry

FLOP_CONVENTION = (
    "MACs = multiply-accumulates of convolutions, fully connected layers and matrix products "
    "(pooling, activations, normalisation and additions not counted); FLOPs = 2 x MACs. "
    "torchvision's documented 'GFLOPS' are GMACs in this sense (ResNet-50: 4.09)."
)


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
                or not all(is_int(u) and 0 <= u < n for u, n in zip(unit, self.output_size))):
            raise ValueError(f"unit must be an (i, j) pair inside the output {self.output_size}, got {unit!r}")
        out = []
        for a in range(2):
            lo, hi, jump = self.geometry[a]
            top, bottom = lo + int(unit[a]) * jump, hi + int(unit[a]) * jump
            if clip_to is not None:
                top, bottom = max(top, 0), min(bottom, clip_to[a])
            out.append((top, bottom))
        return out[0], out[1]


@dataclass
class ModelSummary:
    """Result of :func:`cnnkit.summary.summary`: rows (leaf layers), all_rows (containers too) and totals.

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
        from .text import format_summary

        return format_summary(self)
