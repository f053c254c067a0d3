"""``python -m cnnkit train``: train a model from the registry on a data set.

Bad input is one line on stderr and exit status 2 (:mod:`cnnkit.cli`): numbers are checked as
they are read, the model name and the device when they are used, each error naming its option.
"""
from __future__ import annotations

import argparse
import sys

from cnnkit.cli import (
    ArgumentParser,
    fail,
    int_arg,
    non_negative_float_arg,
    positive_float_arg,
    positive_int_arg,
)

# Settings that work out of the box for each data set (any can be overridden).
DEFAULTS = {
    # digits: 8x8 images upscaled to 32x32; random shifts ("crop", no flips) keep LeNet from
    # memorising the 1,437 training images (about 98 % test accuracy in 20 epochs).
    "digits": {"epochs": 20, "lr": 0.05, "batch_size": 64, "size": 32, "augment": "crop"},
    "mnist": {"epochs": 5, "lr": 0.05, "batch_size": 128, "size": 32, "augment": None},
    "cifar10": {"epochs": 30, "lr": 0.2, "batch_size": 512, "size": None, "augment": "crop_flip"},
}

_AMP = {"auto": "auto", "on": True, "true": True, "1": True, "off": False, "false": False, "0": False}


def _amp(text: str):
    value = _AMP.get(text.lower())
    if value is None:
        raise argparse.ArgumentTypeError(f"must be auto, on or off, got {text!r}")
    return value


def build_parser() -> ArgumentParser:
    from .loop import OPTIMIZERS, SCHEDULES

    p = ArgumentParser(
        prog="python -m cnnkit train",
        description="Train a model of cnnkit.models on a data set and print the test accuracy. "
                    "Under torchrun it trains on every rank with DistributedDataParallel.")
    p.add_argument("--model", default="lenet5", help="a name known to cnnkit.models.get (default lenet5)")
    p.add_argument("--data", default="digits", choices=sorted(DEFAULTS), help="data set (default digits, offline)")
    p.add_argument("--epochs", type=positive_int_arg,
                   help="epochs (default per data set: digits 20, mnist 5, cifar10 30)")
    p.add_argument("--lr", type=positive_float_arg, help="peak learning rate")
    p.add_argument("--batch-size", type=positive_int_arg, help="images per step (per rank under torchrun)")
    p.add_argument("--optimizer", default="sgd", choices=OPTIMIZERS)
    p.add_argument("--schedule", default="onecycle", choices=SCHEDULES)
    p.add_argument("--weight-decay", type=non_negative_float_arg, default=5e-4)
    p.add_argument("--augment", choices=["none", "crop", "crop_flip"],
                   help="default: crop for digits, crop_flip for cifar10, none for mnist")
    p.add_argument("--size", type=positive_int_arg,
                   help="resize images to SIZE x SIZE (default 32 for digits and mnist)")
    p.add_argument("--limit", type=positive_int_arg, help="use only the first LIMIT images of each split")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    p.add_argument("--amp", type=_amp, default="auto", help="bfloat16 autocast: auto (CUDA only), on, off")
    p.add_argument("--no-channels-last", dest="channels_last", action="store_false")
    p.add_argument("--compile", nargs="?", const="default", default=False,
                   choices=["default", "reduce-overhead", "max-autotune"],
                   help="torch.compile the model; reduce-overhead adds CUDA graphs (fastest on a GPU)")
    p.add_argument("--checkpoint", help="file to write after every epoch")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint if it exists")
    p.add_argument("--seed", type=int_arg, default=0)
    p.add_argument("--data-root", help="data cache folder (default $CNNKIT_DATA or ~/.cache/cnnkit)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    return p


class _BadOption(ValueError):
    """A value the command line was given that the kit refused, with the option that gave it."""


def _option(flag: str, call, *args, **kwargs):
    """``call(*args, **kwargs)``, its ValueError / TypeError (RuntimeError too for a device) naming ``flag``."""
    try:
        return call(*args, **kwargs)
    except (ValueError, TypeError, RuntimeError) as err:
        raise _BadOption(f"argument {flag}: {err}") from err


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, train, print the history and the final test accuracy; 0 on success.

    Bad input (an option the kit refuses) is one line on stderr and exit status 2; a run that
    fails for another reason (a download, a NaN loss, a model too deep for the images) one line
    and exit status 1.
    """
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.resume and not args.checkpoint:
        parser.error("argument --resume: needs --checkpoint PATH")
    try:
        return _run(args)
    except _BadOption as err:
        return fail(parser.prog, err)
    except (ValueError, TypeError, RuntimeError, OSError, ArithmeticError) as err:
        return fail(parser.prog, err, status=1)


def _run(args) -> int:
    import time

    from cnnkit import models
    from cnnkit.data import load

    from . import distributed
    from .loop import fit, set_seed, training_device

    defaults = DEFAULTS[args.data]
    pick = lambda name: getattr(args, name) if getattr(args, name) is not None else defaults[name]  # noqa: E731
    augment = defaults["augment"] if args.augment is None else (None if args.augment == "none" else args.augment)
    t0 = time.perf_counter()
    ranks = distributed.ranks_from_env()
    # Under torchrun, join the process group here so that rank 0 alone downloads the data.
    created = distributed.start(ranks, _option("--device", training_device, args.device, ranks))
    try:
        if ranks.is_main:
            data = load(args.data, root=args.data_root, size=pick("size"), limit=args.limit)
        distributed.barrier(ranks)
        if not ranks.is_main:
            data = load(args.data, root=args.data_root, download=False, size=pick("size"), limit=args.limit)
        set_seed(args.seed)  # the model's initial weights too
        model = _option("--model", models.get, args.model, num_classes=data.num_classes,
                        in_channels=data.in_channels)
        if ranks.is_main:
            print(f"{args.model} on {data!r}")
        history = fit(model, data, epochs=pick("epochs"), lr=pick("lr"), batch_size=pick("batch_size"),
                      optimizer=args.optimizer, schedule=args.schedule, weight_decay=args.weight_decay,
                      augment=augment, device=args.device, amp=args.amp, channels_last=args.channels_last,
                      compile=True if args.compile == "default" else args.compile, checkpoint=args.checkpoint, resume=args.resume, seed=args.seed,
                      progress=args.progress)
    finally:
        distributed.stop(created)
    if ranks.is_main:
        print(history)
        print(f"final test accuracy: {100 * history['test_acc'][-1]:.2f}% "
              f"({time.perf_counter() - t0:.1f} s in all)")
    return 0
