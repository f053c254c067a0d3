"""``python -m cnnkit summary MODEL`` and ``python -m cnnkit rf MODEL``: a registry model's tables.

The input size defaults to the model's own (:func:`cnnkit.models.input_size`). Bad input is one
line on stderr and exit status 2 (:mod:`cnnkit.cli`).
"""
from __future__ import annotations

from typing import Optional

import torch

from ..cli import ArgumentParser, fail, int_arg, require_positive
from .hooks import parse_input_size, summary
from .results import ModelSummary
from .text import describe_rf, format_rf_rows, format_summary


def _parser(command: str, description: str) -> ArgumentParser:
    from .. import models

    parser = ArgumentParser(prog=f"python -m cnnkit {command}", description=description)
    parser.add_argument("model", nargs="?", help=f"one of: {', '.join(models.names())}")
    parser.add_argument("--input", default=None,
                        help="input size without batch, e.g. 3x224x224 (default: the model's own, "
                             "cnnkit.models.input_size: 1x32x32 LeNet, 3x32x32 CIFAR nets, 3x224x224 ImageNet nets)")
    parser.add_argument("--num-classes", type=int_arg, default=None, help="number of outputs (default: the model's)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "meta"),
                        help="cpu (default) runs a real forward pass; meta only follows shapes (no memory)")
    return parser


def _summarise(parser: ArgumentParser, args) -> ModelSummary:
    """Build the model and summarise it; a bad value raises ValueError/TypeError naming its argument."""
    from .. import models

    if args.model is None:
        parser.error(f"argument model: give a model name, one of: {', '.join(models.names())}")
    try:
        size = models.input_size(args.model)
    except ValueError as err:
        raise ValueError(f"argument model: {err}") from None
    require_positive(args.num_classes, "--num-classes")
    if args.input:
        try:
            size = parse_input_size(args.input)
        except ValueError as err:
            raise ValueError(f"argument --input: {err}") from None
    with torch.device(args.device):
        model = models.get(args.model, num_classes=args.num_classes)
    return summary(model, size, device=args.device)


def main(argv: Optional[list[str]] = None) -> int:
    """``python -m cnnkit summary MODEL [--input 3x224x224]``: the per-layer table of a model."""
    parser = _parser("summary", "Per-layer output shapes, parameters, MACs/FLOPs and receptive fields of a "
                     "cnnkit model.")
    parser.add_argument("--all", action="store_true", help="also list blocks and stages (container modules)")
    args = parser.parse_args(argv)
    try:
        result = _summarise(parser, args)
    except (ValueError, TypeError, RuntimeError) as err:
        return fail(parser.prog, err)
    print(format_summary(result, all_rows=args.all))
    return 0


def rf_main(argv: Optional[list[str]] = None) -> int:
    """``python -m cnnkit rf MODEL [--input ...]``: the receptive field after every layer and block."""
    parser = _parser("rf", "Receptive field, jump and effective padding after every layer and block of a "
                     "cnnkit model.")
    parser.add_argument("--depth", type=int_arg, default=None, help="only modules at most this deep (1 = top level)")
    args = parser.parse_args(argv)
    try:
        require_positive(args.depth, "--depth")
        result = _summarise(parser, args)
    except (ValueError, TypeError, RuntimeError) as err:
        return fail(parser.prog, err)
    print(format_rf_rows(result, args.depth))
    sentence = describe_rf(result, args.model)
    if sentence is not None:
        print(f"\n{sentence}")
    return 0
