"""How fast do the kit's small models train on a CPU, and what do its hand-written parts cost?

    python benchmarks/bench_models.py              # 1 thread, CPU-time clock
    python benchmarks/bench_models.py --threads 2  # 2 threads, wall clock
    python benchmarks/bench_models.py --batch 64 --repeat 3

For the models the lecture trains on a laptop (LeNet-5, the CIFAR ResNet-20/56 and plain-20)
it times one training step (forward + backward, batch ``--batch``, float32) and prints images
per second. Then the ratios that matter, each pair measured alternately in the same run (best
of ``--repeat``), so a busy machine slows both alike:

* LeNet's C3 connection table (``PartialConv2d``, scatter into a dense kernel) / PyTorch's
  dense ``nn.Conv2d`` of the same shape;
* classic LeNet (scaled tanh, trainable subsampling) / modern LeNet (ReLU, max pool);
* option A shortcuts (zero padding) / option B (1x1 projections), ResNet-20;
* ResNet-20 / its plain twin (what the shortcuts cost);
* channels_last / NCHW, and bf16 autocast / float32, ResNet-20.
"""
from __future__ import annotations

import argparse
import time
from typing import Callable

import torch
from torch import nn

from cnnkit import models
from cnnkit.models.lenet import C3_TABLE, PartialConv2d


def train_step(model: nn.Module, x: torch.Tensor, autocast: bool = False) -> Callable[[], None]:
    """A closure running forward + backward once (gradients reset each time)."""
    target = torch.randint(0, 10, (x.shape[0],))

    def step() -> None:
        model.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = nn.functional.cross_entropy(model(x), target)
        loss.backward()

    return step


def best_times(fns: list[Callable[[], None]], repeat: int, clock: Callable[[], float]) -> list[float]:
    """Best time of each function, run in turn ``repeat`` times after one warm-up each."""
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            start = clock()
            fn()
            best[i] = min(best[i], clock() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    clock = time.process_time if args.threads == 1 else time.perf_counter
    torch.manual_seed(0)
    n = args.batch
    digits = torch.randn(n, 1, 32, 32)
    images = torch.randn(n, 3, 32, 32)
    print(f"torch {torch.__version__}, {args.threads} thread(s), batch {n}, best of {args.repeat}")

    print("\none training step (forward + backward), float32")
    nets = {
        "lenet5 (modern)": (models.lenet5(), digits),
        "lenet5 (classic, C3 table)": (models.lenet5(variant="classic", partial_c3=True), digits),
        "resnet20 (option A)": (models.resnet20(), images),
        "resnet20 (option B)": (models.resnet20(shortcut="B"), images),
        "plain20": (models.plain20(), images),
        "resnet56": (models.resnet56(), images),
    }
    steps = {name: train_step(net, x) for name, (net, x) in nets.items()}
    times = dict(zip(steps, best_times(list(steps.values()), args.repeat, clock)))
    for name, seconds in times.items():
        print(f"  {name:28s} {seconds * 1e3:8.1f} ms   {n / seconds:8.0f} images/s")

    print("\nratios (same run)")
    partial = PartialConv2d(6, C3_TABLE, 5)
    dense = nn.Conv2d(6, 16, 5)
    s2 = torch.randn(n, 6, 14, 14, requires_grad=True)
    ours, theirs = best_times(
        [lambda: partial(s2).sum().backward(), lambda: dense(s2).sum().backward()], args.repeat, clock
    )
    print(f"  {'C3 table PartialConv2d / torch dense Conv2d, fwd+bwd':52s} : {ours / theirs:5.2f}")
    pairs = [
        ("classic / modern LeNet-5", "lenet5 (classic, C3 table)", "lenet5 (modern)"),
        ("option A / option B shortcuts, ResNet-20", "resnet20 (option A)", "resnet20 (option B)"),
        ("ResNet-20 / plain-20", "resnet20 (option A)", "plain20"),
    ]
    for label, top, bottom in pairs:
        print(f"  {label:52s} : {times[top] / times[bottom]:5.2f}")

    net = models.resnet20()
    cl_net = models.resnet20().to(memory_format=torch.channels_last)
    cl_images = images.contiguous(memory_format=torch.channels_last)
    t_nchw, t_cl, t_bf16 = best_times(
        [train_step(net, images), train_step(cl_net, cl_images), train_step(net, images, autocast=True)],
        args.repeat,
        clock,
    )
    print(f"  {'channels_last / NCHW, ResNet-20':52s} : {t_cl / t_nchw:5.2f}")
    print(f"  {'bf16 autocast / float32, ResNet-20':52s} : {t_bf16 / t_nchw:5.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
