"""Training throughput of ResNet-20 on CIFAR-shaped batches: cnnkit.train.fit against a plain loop.

    python benchmarks/bench_train.py                    # whatever device is present
    python benchmarks/bench_train.py --amp --compile    # on a CPU: add the bf16 and torch.compile rows
    python benchmarks/bench_train.py --images 50000     # a full CIFAR-10 epoch (the GPU default)

For each setting (channels-last memory, bf16 autocast, torch.compile) both loops train the same
model on the same random 3x32x32 images, batch size and SGD settings; the figure is images per
second of the fastest timed epoch (the first epoch, with its warm-up, is never timed), best of
``--rounds`` alternating runs (plain, fit, plain, fit, ...) so a machine whose load drifts treats
both alike. The ratio column is fit / plain: fit must not be slower than the loop it wraps (~1.0).
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from cnnkit import models
from cnnkit.config import resolve_device
from cnnkit.data.loader import CROP_PADDING, random_crop, random_hflip
from cnnkit.train import fit


def plain_epoch(net, opt, x, y, batch_size: int, device, amp: bool, channels_last: bool,
                augment: str | None = None) -> None:
    """One epoch of the loop everyone writes by hand (tensors already on the device).

    ``augment``: None, ``"crop"`` or ``"crop_flip"``, with the kit's own on-device crop and flip, so a
    comparison with ``fit(augment=...)`` measures the trainer, not the augmentation.
    """
    order = torch.randperm(len(x), device=device)
    for start in range(0, len(x), batch_size):
        idx = order[start:start + batch_size]
        xb, yb = x[idx], y[idx]
        if augment is not None:
            xb = random_crop(xb, CROP_PADDING)
        if augment == "crop_flip":
            xb = random_hflip(xb)
        if channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = F.cross_entropy(net(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def plain_loop(x, y, batch_size: int, epochs: int, device, channels_last: bool, amp: bool, compile: bool) -> float:
    """The loop everyone writes by hand; returns images/s of its fastest epoch after the first."""
    torch.manual_seed(0)
    model = models.get("resnet20", num_classes=10).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    net = torch.compile(model) if compile else model
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    x, y = x.to(device), y.to(device)
    best = 0.0
    for epoch in range(epochs):
        _sync(device)
        start = time.perf_counter()
        plain_epoch(net, opt, x, y, batch_size, device, amp, channels_last)
        _sync(device)
        if epoch > 0:
            best = max(best, len(x) / (time.perf_counter() - start))
    return best


def ours(x, y, batch_size: int, epochs: int, device, channels_last: bool, amp: bool, compile: bool) -> float:
    torch.manual_seed(0)
    model = models.get("resnet20", num_classes=10)
    history = fit(model, ((x, y), (x[:batch_size], y[:batch_size])), epochs=epochs, lr=0.05,
                  batch_size=batch_size, device=device, amp=amp, channels_last=channels_last, compile=compile,
                  progress=False)
    return max(history["images_per_s"][1:])


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--images", type=int, help="images per epoch (default 256 on a CPU, 50000 on a GPU)")
    p.add_argument("--batch-size", type=int, help="default 64 on a CPU, 512 on a GPU")
    p.add_argument("--epochs", type=int, default=2, help="epochs per run; the first is warm-up (default 2)")
    p.add_argument("--rounds", type=int, default=2, help="alternating runs of each loop (default 2)")
    p.add_argument("--amp", action="store_true", help="also time bf16 autocast (always on CUDA)")
    p.add_argument("--compile", action="store_true", help="also time torch.compile (always on CUDA)")
    args = p.parse_args()
    device = resolve_device(args.device)
    gpu = device.type == "cuda"
    images = args.images or (50_000 if gpu else 256)
    batch = args.batch_size or (512 if gpu else 64)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(images, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (images,), generator=g)

    settings = [("fp32 NCHW", False, False, False)]
    if gpu:
        settings += [("fp32 channels_last", True, False, False), ("bf16 autocast", False, True, False),
                     ("bf16 + channels_last", True, True, False)]
    elif args.amp:
        settings += [("bf16 autocast", False, True, False)]
    if gpu or args.compile:
        settings += [("bf16 + ch_last + compile" if gpu else "fp32 + compile", gpu, gpu, True)]
    name = torch.cuda.get_device_name(device) if gpu else f"cpu, {torch.get_num_threads()} threads"
    print(f"resnet20 training, {images} images of 3x32x32 per epoch, batch {batch}, {args.epochs} epochs "
          f"(first untimed), device {name}, torch {torch.__version__}")
    if not gpu:
        print("(on a CPU: channels_last is applied on CUDA only, fit keeps NCHW here; bf16 and compile "
              "rows with --amp / --compile)")
    print(f"{'setting':<26} {'fit img/s':>10} {'plain img/s':>12} {'fit/plain':>10} {'CIFAR-10 epoch':>15}")
    for label, channels_last, amp, compile in settings:
        plain = mine = 0.0
        for _ in range(args.rounds):
            plain = max(plain, plain_loop(x, y, batch, args.epochs, device, channels_last, amp, compile))
            mine = max(mine, ours(x, y, batch, args.epochs, device, channels_last, amp, compile))
        print(f"{label:<26} {mine:>10.0f} {plain:>12.0f} {mine / plain:>10.2f} {50_000 / mine:>13.1f} s",
              flush=True)


if __name__ == "__main__":
    main()
