"""How fast is the numpy convolution, next to PyTorch, and how much memory does it take?

    python benchmarks/bench_ops.py              # 1 thread, CPU-time clock
    python benchmarks/bench_ops.py --threads 2  # both libraries on 2 threads, wall clock

For each lecture-sized layer (float32) it times ``cnnkit.ops.conv2d`` + ``conv2d_backward``
against ``torch.nn.functional.conv2d`` forward + backward in the same run, with numpy's BLAS
and torch limited to the same number of threads, and prints the ratio ours / torch. The
two are timed alternately, repeat after repeat, and the best time of each is kept, so a
busy machine slows both alike. With one thread the clock is the process's CPU time, which
other programs on a shared machine do not inflate; with more threads it is the wall clock.

Then: the readable ``conv2d_naive``'s slowdown on a small layer, max pooling against
PyTorch, and the peak extra memory (tracemalloc, which sees numpy's buffers) of a forward
plus backward as the batch grows -- bounded by the blocked im2col, where a single im2col
matrix would grow with the batch.
"""
from __future__ import annotations

import argparse
import time
import tracemalloc
from typing import Callable

import numpy as np

# (name, N, C_in, C_out, H=W, kernel, stride, padding, dilation, groups)
CASES = [
    ("N=64 3->16 32x32 k5", 64, 3, 16, 32, 5, 1, 0, 1, 1),
    ("N=64 16->32 16x16 k3 p1", 64, 16, 32, 16, 3, 1, 1, 1, 1),
    ("N=64 16->32 32x32 k3 s2 p1", 64, 16, 32, 32, 3, 2, 1, 1, 1),
    ("N=64 16->32 32x32 k3 p2 d2", 64, 16, 32, 32, 3, 1, 2, 2, 1),
    ("N=64 32->32 16x16 k3 p1 g4", 64, 32, 32, 16, 3, 1, 1, 1, 4),
]


def best_times(fns: list[Callable[[], object]], repeat: int, clock: Callable[[], float]) -> list[float]:
    """Best time of each function, running them in turn ``repeat`` times (after one warm-up)."""
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t = clock()
            fn()
            best[i] = min(best[i], clock() - t)
    return best


def conv_speed(repeat: int, clock, torch, F) -> None:
    from cnnkit import ops

    print(f"\n{'conv2d fwd+bwd, float32':32s} {'ours fwd':>9s} {'ours f+b':>9s} {'torch fwd':>9s} "
          f"{'torch f+b':>9s} {'ratio f+b':>9s}  max rel. diff")
    rng = np.random.default_rng(0)
    for name, n, c_in, c_out, hw, k, s, p, d, g in CASES:
        x = rng.standard_normal((n, c_in, hw, hw)).astype(np.float32)
        w = (rng.standard_normal((c_out, c_in // g, k, k)) / np.sqrt(c_in // g * k * k)).astype(np.float32)
        b = rng.standard_normal(c_out).astype(np.float32)
        out = ops.conv2d(x, w, b, s, p, d, g)
        dout = rng.standard_normal(out.shape).astype(np.float32)
        xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        dt = torch.tensor(dout)

        def ours_fb():
            ops.conv2d(x, w, b, s, p, d, g)
            ops.conv2d_backward(dout, x, w, s, p, d, g)

        def torch_f():
            with torch.no_grad():
                F.conv2d(xt, wt, bt, s, p, d, g)

        def torch_fb():
            xt.grad = wt.grad = bt.grad = None
            F.conv2d(xt, wt, bt, s, p, d, g).backward(dt)

        tf, tfb, rf, rfb = best_times([lambda: ops.conv2d(x, w, b, s, p, d, g), ours_fb, torch_f, torch_fb],
                                      repeat, clock)
        torch_fb()
        dx, dw, _ = ops.conv2d_backward(dout, x, w, s, p, d, g)
        ref = F.conv2d(xt, wt, bt, s, p, d, g).detach().numpy()
        diff = max(float(np.abs(a - r).max() / np.abs(r).max())
                   for a, r in ((out, ref), (dx, xt.grad.numpy()), (dw, wt.grad.numpy())))
        print(f"{name:32s} {tf * 1e3:8.2f}ms {tfb * 1e3:8.2f}ms {rf * 1e3:8.2f}ms {rfb * 1e3:8.2f}ms "
              f"{tfb / rfb:8.2f}x  {diff:.1e}")


def naive_slowdown(clock) -> None:
    from cnnkit import ops

    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 16, 16)).astype(np.float32)
    w = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
    fast, naive = best_times([lambda: ops.conv2d(x, w, padding=1), lambda: ops.conv2d_naive(x, w, padding=1)],
                             3, clock)
    print(f"\nconv2d_naive on N=2 3->8 16x16 k3 p1: {naive * 1e3:.1f} ms vs conv2d {fast * 1e3:.2f} ms "
          f"-> the loops are {naive / fast:.0f}x slower")


def pool_speed(repeat: int, clock, torch, F) -> None:
    from cnnkit import ops

    x = np.random.default_rng(2).standard_normal((64, 32, 32, 32)).astype(np.float32)
    out, cache = ops.max_pool2d(x, 2, return_cache=True)
    dout = np.ones_like(out)
    xt, dt = torch.tensor(x, requires_grad=True), torch.tensor(dout)

    def ours():
        o, c = ops.max_pool2d(x, 2, return_cache=True)
        ops.max_pool2d_backward(dout, c)

    def theirs():
        xt.grad = None
        F.max_pool2d(xt, 2).backward(dt)

    a, r = best_times([ours, theirs], repeat, clock)
    print(f"max_pool2d 2x2 fwd+bwd, x=(64,32,32,32): ours {a * 1e3:.2f} ms, torch {r * 1e3:.2f} ms, "
          f"ratio {a / r:.2f}x")


def peak_memory() -> None:
    from cnnkit import ops
    from cnnkit.ops import conv as conv_module

    print(f"\npeak extra memory of conv2d + conv2d_backward, float32, 16->32 16x16 k3 p1 "
          f"(block budget CHUNK_BYTES = {conv_module.CHUNK_BYTES / 2**20:.0f} MiB):")
    rng = np.random.default_rng(3)
    w = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
    for n in (64, 256, 1024):
        x = rng.standard_normal((n, 16, 16, 16)).astype(np.float32)
        dout = rng.standard_normal((n, 32, 16, 16)).astype(np.float32)
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        out = ops.conv2d(x, w, padding=1)
        fwd_extra = tracemalloc.get_traced_memory()[1] - base - out.nbytes     # peak minus the result
        del out
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        grads = ops.conv2d_backward(dout, x, w, padding=1)
        bwd_extra = tracemalloc.get_traced_memory()[1] - base - sum(g.nbytes for g in grads)
        tracemalloc.stop()
        del grads
        single_im2col = n * 16 * 9 * 16 * 16 * 4
        print(f"  N={n:5d}: forward {fwd_extra / 2**20:6.1f} MiB, backward {bwd_extra / 2**20:6.1f} MiB beyond "
              f"the results (one unblocked im2col matrix alone: {single_im2col / 2**20:6.1f} MiB)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="threads for numpy's BLAS and for torch (default 1)")
    parser.add_argument("--repeat", type=int, default=10, help="timed repeats per function (default 10)")
    args = parser.parse_args(argv)
    if args.threads < 1 or args.repeat < 1:
        parser.error("--threads and --repeat must be >= 1")

    import torch
    import torch.nn.functional as F
    from threadpoolctl import threadpool_info, threadpool_limits

    torch.set_num_threads(args.threads)
    clock = time.process_time if args.threads == 1 else time.perf_counter
    with threadpool_limits(limits=args.threads):
        blas = ", ".join(f"{i['internal_api']} {i.get('version') or ''} ({i['num_threads']} threads)".replace("  ", " ")
                         for i in threadpool_info() if i["user_api"] == "blas")
        print(f"numpy {np.__version__} BLAS: {blas}; torch {torch.__version__}: {torch.get_num_threads()} threads; "
              f"clock: {'CPU time' if clock is time.process_time else 'wall'}; best of {args.repeat}")
        conv_speed(args.repeat, clock, torch, F)
        naive_slowdown(clock)
        pool_speed(args.repeat, clock, torch, F)
        peak_memory()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
