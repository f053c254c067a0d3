"""How long an explorer takes from a control change to its finished redraw.

ipywidgets runs observers synchronously, so setting ``control.value`` returns once the
explorer has recomputed and rebuilt its HTML/PNG: that is the time measured (the browser's
own rendering comes on top). Goal: under 50 ms per change, so dragging a slider feels live.

    python benchmarks/bench_widgets.py [--repeats 30]
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np

from cnnkit import widgets
from machine import cpu_name  # noqa: E402  (benchmarks/machine.py)


def _median_ms(control, values, repeats: int) -> tuple[float, float]:
    """Median and maximum milliseconds of ``control.value = v`` over ``repeats`` changes."""
    times = []
    for i in range(repeats):
        value = values[i % len(values)]
        if control.value == value:  # an unchanged value fires no observer: take the next one
            value = values[(i + 1) % len(values)]
        start = time.perf_counter()
        control.value = value
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times), 1e3 * max(times)


def cases():
    """(explorer, control, values to cycle through) for every explorer and its main controls."""
    conv = widgets.conv_explorer(input_size=12, kernel_size=3, padding=1)
    rf = widgets.receptive_field_explorer(input_size=32)
    big_rf = widgets.receptive_field_explorer(input_size=224)
    pool = widgets.pooling_explorer(example="map")
    photo = widgets.filter_explorer(size=160)
    return [
        ("conv_explorer", "input size", conv.input_size, [10, 11, 12, 13]),
        ("conv_explorer", "kernel position", conv.step, list(range(0, 100, 7))),
        ("conv_explorer", "stride", conv.stride, [1, 2, 3]),
        ("receptive_field_explorer (32x32)", "unit row", rf.unit_row, list(range(16))),
        ("receptive_field_explorer (224x224)", "input size", big_rf.input_size, [222, 223, 224]),
        ("receptive_field_explorer", "layers text", rf.layers,
         [widgets.DEFAULT_LAYERS, widgets.DEFAULT_LAYERS + "\npool k=2 s=2"]),
        ("pooling_explorer (6x8 map)", "kind", pool.kind, ["max", "average", "L2"]),
        ("pooling_explorer", "shift", pool.shift, [0, 1, 2, 3]),
        ("filter_explorer (160x160 photo)", "filter", photo.filter, ["box", "gaussian", "sobel_y", "sharpen"]),
        ("filter_explorer", "kernel cell", photo.cells[4], [0.5, 1.0, 1.5]),
        ("filter_explorer", "mode", photo.mode, ["correlation", "convolution"]),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="changes per control (default 30)")
    args = parser.parse_args()
    print(f"python {platform.python_version()}, numpy {np.__version__}, {cpu_name()}")
    print(f"{'explorer':38s} {'control':16s} {'median ms':>10s} {'max ms':>8s}  goal < 50 ms")
    worst = 0.0
    for explorer, name, control, values in cases():
        median, peak = _median_ms(control, values, args.repeats)
        worst = max(worst, median)
        print(f"{explorer:38s} {name:16s} {median:10.2f} {peak:8.2f}  {'ok' if median < 50 else 'SLOW'}")
    print(f"slowest median: {worst:.2f} ms ({'meets' if worst < 50 else 'misses'} the 50 ms goal)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
