"""How long each of :mod:`cnnkit.diagrams` takes to build its figure and to render it as a PNG.

The lectures draw these figures inline, so each should add well under a second to a lecture's run.
Measured here, not asserted in a test: a wall-clock time depends on the machine and on what else runs.

    python benchmarks/bench_diagrams.py [--repeats 3] [--dpi 72]

Models are built on the ``meta`` device once, beforehand (as the lectures do); every call is made once to
warm up, then timed ``--repeats`` times, and the best time is printed.
"""
from __future__ import annotations

import argparse
import io
import platform
import time

import matplotlib
import numpy as np
import torch

from cnnkit import diagrams, models
from machine import cpu_name  # noqa: E402  (benchmarks/machine.py)


def _meta(name: str, **options) -> torch.nn.Module:
    with torch.device("meta"):
        return models.get(name, **options)


def cases() -> dict:
    """name -> a call that returns a Figure."""
    lenet, alexnet, vgg16 = _meta("lenet5", variant="classic"), _meta("alexnet", variant="original"), _meta("vgg16")
    images, classes = np.random.default_rng(0).random((200, 3, 32, 32)), np.arange(200) % 10
    return {
        "conv_volume": lambda: diagrams.conv_volume(),
        "layer_stack lenet5": lambda: diagrams.layer_stack(lenet, (1, 32, 32)),
        "layer_stack alexnet": lambda: diagrams.layer_stack(alexnet, (3, 227, 227)),
        "layer_stack vgg16": lambda: diagrams.layer_stack(vgg16, (3, 224, 224)),
        "inception_module": lambda: diagrams.inception_module(),
        "residual_unit": lambda: diagrams.residual_unit(),
        "plain_vs_residual 34": lambda: diagrams.plain_vs_residual(34),
        "typical_stage": lambda: diagrams.typical_stage(),
        "sift_pipeline": lambda: diagrams.sift_pipeline(),
        "data_grid 10x10": lambda: diagrams.data_grid(images, classes, [str(i) for i in range(10)]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per figure, best kept (default 3)")
    parser.add_argument("--dpi", type=int, default=72, help="PNG resolution for the render time (default 72)")
    args = parser.parse_args()
    print(f"python {platform.python_version()}, matplotlib {matplotlib.__version__}, torch {torch.__version__}, "
          f"{cpu_name()}")
    print(f"{'figure':24s} {'build ms':>9s} {'render ms':>10s}")
    for name, call in cases().items():
        call()                                              # warm up: imports, caches
        build, render = [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            fig = call()
            build.append(time.perf_counter() - start)
            start = time.perf_counter()
            fig.savefig(io.BytesIO(), format="png", dpi=args.dpi)
            render.append(time.perf_counter() - start)
        print(f"{name:24s} {1e3 * min(build):9.1f} {1e3 * min(render):10.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
