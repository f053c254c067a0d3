"""Do fit's compile modes learn the same as eager? ResNet-20 on synthetic CIFAR-10, each mode from one seed.

    CNNKIT_SYNTHETIC_DATA=10000 python benchmarks/gpu_compile_modes.py --epochs 4

Speed alone is no reason to use a mode (CUDA graphs replay recorded kernels; a wrong capture would
train a different model): this prints each mode's final test accuracy and loss next to eager's.
The synthetic set (cnnkit.data.synthetic) is learnable, so a broken mode shows as a gap.
"""
from __future__ import annotations

import argparse
import time

import torch

from cnnkit import data, models
from cnnkit.config import resolve_device
from cnnkit.train import fit


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--modes", default="eager,default,reduce-overhead", help="comma-separated: eager or a compile mode")
    p.add_argument("--device", default="auto")
    args = p.parse_args(argv)
    device = resolve_device(args.device)
    bundle = data.load("cifar10")
    print(f"{torch.cuda.get_device_name(0) if device.type == 'cuda' else 'cpu'}, torch {torch.__version__}, "
          f"{len(bundle.train[0])} training images, {args.epochs} epochs")
    print("| mode | test accuracy | test loss | train loss | s (all epochs, compile included) |")
    print("|---|---|---|---|---|")
    for mode in args.modes.split(","):
        torch.manual_seed(0)
        model = models.resnet20(num_classes=10)
        compile_arg = False if mode == "eager" else (True if mode == "default" else mode)
        start = time.perf_counter()
        history = fit(model, bundle, epochs=args.epochs, lr=0.2, batch_size=args.batch_size, augment="crop_flip",
                      device=device, compile=compile_arg, progress=False, seed=0)
        last = {key: values[-1] for key, values in history.items()}
        print(f"| {mode} | {last['test_acc']:.4f} | {last['test_loss']:.4f} | {last['train_loss']:.4f} "
              f"| {time.perf_counter() - start:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
