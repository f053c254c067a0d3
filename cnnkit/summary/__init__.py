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

One job per file:

    op_geometry.py   per torch op: what its output's units see (through cnnkit.arith's
                     receptive-field step) and its MACs
    tracer.py        the TorchFunctionMode that applies op_geometry to every op of a forward pass
    hooks.py         module hooks around the tracer: one row per module call; summary(),
                     receptive_field_of()
    results.py       what they return: LayerRow, ModelSummary, ReceptiveField
    gradient.py      gradient_receptive_field
    text.py          the text tables
    cli.py           python -m cnnkit summary / rf
"""
from __future__ import annotations

from ..modules import count_parameters
from .cli import main, rf_main
from .gradient import GradientRF, gradient_receptive_field
from .hooks import parse_input_size, receptive_field_of, summary
from .results import FLOP_CONVENTION, LayerRow, ModelSummary, ReceptiveField
from .text import format_summary

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
