"""``fit`` and ``evaluate``: one training loop from a laptop CPU to several GPUs.

The loop is the textbook one (forward, loss, backward, step) with the things a real run
needs around it, each in a few lines: the device, bf16 autocast, channels-last memory,
``torch.compile``, a learning-rate schedule stepped every batch, metrics kept on the
device (no per-step synchronisation on a GPU), atomic checkpoints with every random
state, and DistributedDataParallel when started by ``torchrun``.
"""
from __future__ import annotations

import contextlib
import math
import os
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import checkpoint as ckpt
from . import distributed
from .history import History

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("onecycle", "cosine", "constant")
AMP_CHOICES = ("auto", True, False)
AUGMENT_CHOICES = (None, "crop", "crop_flip")


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the message says at which epoch and step."""


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and torch's (CPU and CUDA) random generators at once."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ----------------------------------------------------------------------------- arguments
def _split_data(data):
    """(x_train, y_train), (x_test, y_test) from a DataBundle or a (train, test) pair."""
    train = getattr(data, "train", None)
    test = getattr(data, "test", None)
    if train is None or test is None:
        try:
            train, test = data
            (_, _), (_, _) = train, test
        except (TypeError, ValueError):
            raise TypeError("data must be a DataBundle (cnnkit.data.load) or a pair ((x_train, y_train), "
                            f"(x_test, y_test)), got {type(data).__name__}") from None
    (xtr, ytr), (xte, yte) = train, test
    return (torch.as_tensor(xtr), torch.as_tensor(ytr)), (torch.as_tensor(xte), torch.as_tensor(yte))


def _check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def _check_number(name: str, value, *, positive: bool = False, integer: bool = False) -> None:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value) \
            or value < 0 or (positive and value == 0):
        what = "a positive" if positive else "a non-negative"
        raise ValueError(f"{name} must be {what} {'int' if integer else 'number'}, got {value!r}")


def resolve_amp(amp, device: torch.device) -> bool:
    """Whether to autocast to bfloat16: ``"auto"`` means on CUDA devices that support bf16."""
    _check_choice("amp", amp, AMP_CHOICES)
    if amp == "auto":
        return device.type == "cuda" and torch.cuda.is_bf16_supported()
    if amp and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise RuntimeError(f"amp=True asks for bfloat16, which {torch.cuda.get_device_name(device)} lacks")
    return bool(amp)


def _autocast(device: torch.device, enabled: bool):
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def training_device(device, ranks: distributed.Ranks) -> torch.device:
    """The device this process trains on: under torchrun with CUDA, the GPU of its LOCAL_RANK."""
    from cnnkit.config import resolve_device

    dev = resolve_device(device) if isinstance(device, str) else torch.device(device)
    if ranks.enabled and dev.type == "cuda":  # one GPU per rank, chosen by torchrun's LOCAL_RANK
        dev = torch.device("cuda", ranks.local_rank)
        torch.cuda.set_device(dev)
    return dev


def _make_optimizer(name: str, model: nn.Module, lr: float, weight_decay: float, momentum: float):
    """Weight decay applies to weights (matrices, kernels), not to biases or norm scales."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr)
    return torch.optim.AdamW(groups, lr=lr)


def _make_schedule(name: str, optimizer, lr: float, total_steps: int, cycle_momentum: bool):
    """A schedule stepped after every batch (so it is smooth even over a few epochs)."""
    sched = torch.optim.lr_scheduler
    if name == "onecycle":
        return sched.OneCycleLR(optimizer, max_lr=lr, total_steps=max(total_steps, 2),
                                cycle_momentum=cycle_momentum)
    if name == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=max(total_steps, 1))
    return sched.ConstantLR(optimizer, factor=1.0, total_iters=0)


# ----------------------------------------------------------------------------- evaluation
def _eval_sums(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int, device: torch.device,
               use_amp: bool, channels_last: bool, ranks: distributed.Ranks) -> torch.Tensor:
    """[loss sum, correct, count] over this rank's share of (x, y), summed over ranks."""
    sums = torch.zeros(3, dtype=torch.float64 if device.type != "mps" else torch.float32, device=device)
    idx = torch.arange(ranks.rank, len(x), ranks.world_size, device=x.device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(idx), batch_size):
                part = idx[start:start + batch_size]
                xb = x[part].to(device, torch.float32, non_blocking=True)
                yb = y[part].to(device, torch.int64, non_blocking=True)
                if channels_last:
                    xb = xb.contiguous(memory_format=torch.channels_last)
                with _autocast(device, use_amp):
                    out = model(xb)
                sums[0] += F.cross_entropy(out.float(), yb, reduction="sum")
                sums[1] += (out.argmax(1) == yb).sum()
                sums[2] += len(yb)
    finally:
        model.train(was_training)
    return distributed.all_reduce(sums, ranks)


def evaluate(model: nn.Module, data_or_xy, batch_size: int = 512, device=None, amp="auto") -> dict[str, float]:
    """Mean cross-entropy loss and accuracy of ``model`` on a data set.

    ``data_or_xy`` is a DataBundle (its test split is used) or a pair ``(x, y)``.
    ``device=None`` evaluates where the model's parameters are; a device name moves the
    model there first. The model's train/eval mode is left as it was.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _check_number("batch_size", batch_size, positive=True, integer=True)
    if hasattr(data_or_xy, "test"):
        x, y = data_or_xy.test
    else:
        try:
            x, y = data_or_xy
        except (TypeError, ValueError):
            raise TypeError("data_or_xy must be a DataBundle or a pair (x, y), "
                            f"got {type(data_or_xy).__name__}") from None
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x and y must be non-empty and equally long, got {len(x)} and {len(y)}")
    if device is None:
        param = next(model.parameters(), None)
        dev = param.device if param is not None else torch.device("cpu")
    else:
        dev = training_device(device, distributed.Ranks())
        model.to(dev)
    sums = _eval_sums(model, x, y, batch_size, dev, resolve_amp(amp, dev), False, distributed.Ranks())
    loss, correct, count = sums.tolist()
    return {"loss": loss / count, "acc": correct / count}


# ----------------------------------------------------------------------------- training
def fit(model: nn.Module, data, epochs: int, lr: float, batch_size: int, optimizer: str = "sgd",
        schedule: str = "onecycle", weight_decay: float = 5e-4, momentum: float = 0.9,
        augment: str | None = None, device="auto", amp="auto", channels_last: bool = True,
        compile: bool = False, checkpoint: str | os.PathLike | None = None, resume: bool = False,
        seed: int = 0, progress: bool = True, *,
        on_epoch_end: Callable[[History], None] | None = None) -> History:
    """Train ``model`` on ``data`` and return its :class:`History`, one row per epoch.

    ``data``: a DataBundle or ``((x_train, y_train), (x_test, y_test))``, images in NCHW.
    ``optimizer`` in ``("sgd", "adam", "adamw")``; ``schedule`` in ``("onecycle", "cosine",
    "constant")``, stepped every batch, ``lr`` being its peak. ``augment="crop_flip"``
    crops (padding 4) and flips on the device, ``"crop"`` only crops. ``amp="auto"`` autocasts to bfloat16 on
    CUDA (``True`` forces it, on the CPU too). ``channels_last`` stores activations NHWC
    on CUDA, where tensor cores want that layout (the CPU keeps NCHW). ``checkpoint``
    is a file written atomically after every epoch; ``resume=True`` continues from it
    and, on the CPU, ends with exactly the weights of an uninterrupted run.
    Under ``torchrun`` the model is wrapped in DistributedDataParallel: each rank trains
    on its shard, metrics are summed over ranks, rank 0 alone prints and writes.
    ``on_epoch_end(history)`` is called on every rank after each epoch's checkpoint.
    The model is returned in eval mode, ready for inference.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _check_number("epochs", epochs, positive=True, integer=True)
    _check_number("lr", lr, positive=True)
    _check_number("batch_size", batch_size, positive=True, integer=True)
    _check_number("weight_decay", weight_decay)
    _check_number("momentum", momentum)
    _check_choice("optimizer", optimizer, OPTIMIZERS)
    _check_choice("schedule", schedule, SCHEDULES)
    _check_choice("augment", augment, AUGMENT_CHOICES)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint=PATH to resume from")
    if on_epoch_end is not None and not callable(on_epoch_end):
        raise TypeError(f"on_epoch_end must be callable, got {type(on_epoch_end).__name__}")
    train, test = _split_data(data)
    for split, (x, y) in (("train", train), ("test", test)):
        if x.ndim != 4 or y.ndim != 1 or len(x) != len(y) or len(x) == 0:
            raise ValueError(f"{split} split must be images (N, C, H, W) and N labels, "
                             f"got {tuple(x.shape)} and {tuple(y.shape)}")

    ranks = distributed.ranks_from_env()
    dev = training_device(device, ranks)
    use_amp = resolve_amp(amp, dev)
    created = distributed.start(ranks, dev)
    try:
        return _train(model, train, test, ranks, dev, use_amp, epochs=epochs, lr=lr, batch_size=batch_size,
                      optimizer=optimizer, schedule=schedule, weight_decay=weight_decay, momentum=momentum,
                      augment=augment, channels_last=channels_last and dev.type == "cuda", compile=compile,
                      checkpoint=checkpoint, resume=resume, seed=seed, progress=progress,
                      on_epoch_end=on_epoch_end)
    finally:
        distributed.stop(created)


def _config(**kw) -> dict:
    return {k: kw[k] for k in ("epochs", "lr", "batch_size", "optimizer", "schedule", "augment", "seed", "n_train")}


def _train(model, train, test, ranks, dev, use_amp, *, epochs, lr, batch_size, optimizer, schedule, weight_decay,
           momentum, augment, channels_last, compile, checkpoint, resume, seed, progress, on_epoch_end) -> History:
    from cnnkit.data.loader import DeviceLoader

    set_seed(seed)
    model.to(dev)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    # A last batch of one image would break BatchNorm ("expected more than 1 value per channel").
    per_rank = math.ceil(len(train[0]) / ranks.world_size)
    loader = DeviceLoader(*train, batch_size, shuffle=True, augment=augment, device=dev, seed=seed,
                          rank=ranks.rank, world_size=ranks.world_size,
                          drop_last=per_rank > batch_size and per_rank % batch_size == 1)
    test = (test[0].to(dev, torch.float32), test[1].to(dev, torch.int64))  # evaluated every epoch
    steps = len(loader)
    opt = _make_optimizer(optimizer, model, lr, weight_decay, momentum)
    sched = _make_schedule(schedule, opt, lr, epochs * steps, cycle_momentum=optimizer != "sgd" or momentum > 0)
    config = _config(epochs=epochs, lr=lr, batch_size=batch_size, optimizer=optimizer, schedule=schedule,
                     augment=augment, seed=seed, n_train=len(train[0]))

    history, first_epoch = History(), 0
    if resume and Path(checkpoint).exists():
        history, first_epoch = _resume(checkpoint, dev, config, model, opt, sched)

    net = model
    if ranks.enabled:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    if compile:
        net = torch.compile(net)
    show = progress and ranks.is_main
    bar = None
    if show and first_epoch < epochs:
        from tqdm.auto import tqdm

        bar = tqdm(total=(epochs - first_epoch) * steps, unit="batch", dynamic_ncols=True, leave=True)
    try:
        for epoch in range(first_epoch, epochs):
            t_epoch = time.perf_counter()
            loader.set_epoch(epoch)
            sums, last_lr = _train_epoch(net, loader, opt, sched, dev, use_amp, channels_last, ranks, bar,
                                         epoch=epoch, epochs=epochs, lr=lr)
            train_s = time.perf_counter() - t_epoch
            distributed.all_reduce(sums, ranks)
            distributed.average_buffers(model, ranks)
            loss_sum, correct, count = sums.tolist()
            test_loss, test_correct, test_count = _eval_sums(model, *test, 512, dev, use_amp, channels_last,
                                                             ranks).tolist()
            history.append(epoch=epoch + 1, train_loss=loss_sum / count, train_acc=correct / count,
                           test_loss=test_loss / test_count, test_acc=test_correct / test_count, lr=last_lr,
                           images_per_s=count / train_s, seconds=time.perf_counter() - t_epoch)
            if bar is not None:
                row = history.row(-1)
                bar.write(f"epoch {epoch + 1}/{epochs}  train loss {row['train_loss']:.4f} acc "
                          f"{100 * row['train_acc']:.2f}%  test loss {row['test_loss']:.4f} acc "
                          f"{100 * row['test_acc']:.2f}%  lr {row['lr']:.2e}  {row['images_per_s']:.0f} img/s")
            if checkpoint is not None and ranks.is_main:
                ckpt.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                           "scheduler": sched.state_dict(), "rng": ckpt.rng_state(), "epochs_done": epoch + 1,
                           "history": dict(history), "config": config}, checkpoint)
            if on_epoch_end is not None:
                on_epoch_end(history)
    finally:
        if bar is not None:
            bar.close()
    distributed.barrier(ranks)
    model.eval()
    return history


def _resume(checkpoint, dev, config: dict, model, opt, sched) -> tuple[History, int]:
    """Load weights, optimizer, schedule and random states; return the history and epochs done."""
    state = ckpt.load(checkpoint, map_location=dev)
    if state["config"] != config:
        changed = {k: (state["config"].get(k), v) for k, v in config.items() if state["config"].get(k) != v}
        raise ValueError(f"checkpoint {checkpoint} was written with other settings (saved, now): {changed}; "
                         "resume with the same settings or start afresh with resume=False")
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    ckpt.set_rng_state(state["rng"])
    return History(state["history"]), int(state["epochs_done"])


def _train_epoch(net, loader, opt, sched, dev, use_amp, channels_last, ranks, bar, *, epoch, epochs, lr):
    """One pass over the loader; returns the [loss sum, correct, count] of this rank and the last lr.

    The sums stay on the device: reading them (``.item()``) would make the CPU wait for
    the GPU after every step. On the CPU, where waiting costs nothing, the loss is checked
    for NaN after every step; on a GPU every 25 steps (the error still names the first bad one).
    """
    check_every = 1 if dev.type == "cpu" else 25
    steps = len(loader)
    sums = torch.zeros(3, dtype=torch.float64 if dev.type != "mps" else torch.float32, device=dev)
    first_bad = torch.full((), -1, dtype=torch.int64, device=dev)
    last_lr = sched.get_last_lr()[0]
    net.train()
    for step, (xb, yb) in enumerate(loader):
        if channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with _autocast(dev, use_amp):
            out = net(xb)
            loss = F.cross_entropy(out, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        last_lr = sched.get_last_lr()[0]
        sched.step()
        with torch.no_grad():
            value = loss.detach().float()
            sums[0] += value * len(yb)
            sums[1] += (out.argmax(1) == yb).sum()
            sums[2] += len(yb)
            first_bad = torch.where((first_bad < 0) & ~torch.isfinite(value), step, first_bad)
        if (step + 1) % check_every == 0 or step + 1 == steps:
            _raise_if_bad(first_bad, epoch, steps, lr, ranks)
            if bar is not None:
                bar.set_description(f"epoch {epoch + 1}/{epochs}", refresh=False)
                bar.set_postfix(loss=f"{sums[0].item() / max(sums[2].item(), 1):.4f}", refresh=False)
        if bar is not None:
            bar.update(1)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    return sums, last_lr


def _raise_if_bad(first_bad: torch.Tensor, epoch: int, steps: int, lr: float, ranks) -> None:
    flag = first_bad.clone()
    if ranks.enabled:  # every rank must learn of it, or the others would wait for ever
        flag = torch.where(flag < 0, torch.full_like(flag, 2**62), flag)
        distributed.all_reduce(flag.neg_(), ranks, op="max").neg_()
        flag = torch.where(flag == 2**62, torch.full_like(flag, -1), flag)
    bad = int(flag.item())
    if bad >= 0:
        raise NonFiniteLossError(
            f"the loss became NaN or infinite at epoch {epoch + 1}, step {bad + 1} of {steps}; "
            f"try a smaller learning rate (lr={lr}), check the inputs for NaN, or use amp=False")
