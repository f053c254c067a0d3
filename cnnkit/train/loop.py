"""``fit`` and ``evaluate``: one training loop from a laptop CPU to several GPUs.

The loop is the textbook one (forward, loss, backward, step) with the things a real run
needs around it, each in a few lines: the device, bf16 autocast, channels-last memory,
``torch.compile``, a learning-rate schedule stepped every batch, metrics kept on the
device (no per-step synchronisation on a GPU), atomic checkpoints with every random
state, and DistributedDataParallel when started by ``torchrun``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._geometry import check_choice, check_int, check_real
from ..modules import check_module, eval_mode, module_device
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
    seed = check_int(seed, "seed")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ----------------------------------------------------------------------------- arguments
@dataclass(frozen=True)
class TrainConfig:
    """What a training run is: the settings that decide its result, as its checkpoint records them.

    :func:`fit` builds it from its keywords (``n_train`` from the data). Every checkpoint stores
    it, and ``resume=True`` continues only a run written with the same settings. Where and how
    the run executes (device, autocast, memory layout, compilation, progress bar) is not part of
    it: those are the run's, not the result's.
    """

    epochs: int
    lr: float
    batch_size: int
    optimizer: str = "sgd"
    schedule: str = "onecycle"
    weight_decay: float = 5e-4
    momentum: float = 0.9
    augment: str | None = None
    seed: int = 0
    n_train: int = 0

    def __post_init__(self) -> None:
        # Checked, and stored as plain ints and floats (a checkpoint holds plain values only).
        for name, check in (("epochs", lambda v: check_int(v, "epochs", minimum=1)),
                            ("lr", lambda v: check_real(v, "lr", positive=True)),
                            ("batch_size", lambda v: check_int(v, "batch_size", minimum=1)),
                            ("weight_decay", lambda v: check_real(v, "weight_decay", minimum=0.0)),
                            ("momentum", lambda v: check_real(v, "momentum", minimum=0.0)),
                            ("seed", lambda v: check_int(v, "seed")),
                            ("n_train", lambda v: check_int(v, "n_train", minimum=0))):
            object.__setattr__(self, name, check(getattr(self, name)))
        check_choice(self.optimizer, "optimizer", OPTIMIZERS)
        check_choice(self.schedule, "schedule", SCHEDULES)
        check_choice(self.augment, "augment", AUGMENT_CHOICES)

    def record(self) -> dict:
        """The settings as plain values, as a checkpoint stores them."""
        return dataclasses.asdict(self)

    def differences(self, recorded: dict) -> dict:
        """``{name: (recorded, now)}`` for the settings a checkpoint recorded otherwise."""
        now = self.record()
        return {k: (recorded[k], now[k]) for k in now if k in recorded and recorded[k] != now[k]}


@dataclass(frozen=True)
class _Run:
    """How this process executes a :class:`TrainConfig`: not recorded (a run may resume elsewhere)."""

    device: torch.device
    use_amp: bool
    channels_last: bool
    compile: bool | str
    checkpoint: Path | None
    resume: bool
    progress: bool
    ranks: distributed.Ranks


def _xy_splits(data, name: str, splits: tuple[str, ...], form: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The ``(x, y)`` tensors of each split: a DataBundle's ``.train`` / ``.test``, or pairs.

    With one split, ``data`` itself is the pair ``(x, y)``; with several, a pair of pairs.
    """
    parts = [getattr(data, split, None) for split in splits]
    if any(part is None for part in parts):
        parts = [data] if len(splits) == 1 else data
    try:
        (x0, y0), *rest = parts
        pairs = [(x0, y0)] + [(x, y) for x, y in rest]
        if len(pairs) != len(splits):
            raise ValueError
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a DataBundle (cnnkit.data.load) or {form}, "
                        f"got {type(data).__name__}") from None
    return [(torch.as_tensor(x), torch.as_tensor(y)) for x, y in pairs]


def resolve_amp(amp, device: torch.device) -> bool:
    """Whether to autocast to bfloat16: ``"auto"`` means on CUDA devices that support bf16."""
    check_choice(amp, "amp", AMP_CHOICES)
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
    with eval_mode(model), torch.no_grad():
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
    return distributed.all_reduce(sums, ranks)


def evaluate(model: nn.Module, data_or_xy, batch_size: int = 512, device=None, amp="auto") -> dict[str, float]:
    """Mean cross-entropy loss and accuracy of ``model`` on a data set.

    ``data_or_xy`` is a DataBundle (its test split is used) or a pair ``(x, y)``.
    ``device=None`` evaluates where the model's parameters are; a device name moves the
    model there first. Every layer's train/eval mode is left as it was.
    """
    check_module(model)
    check_int(batch_size, "batch_size", minimum=1)
    ((x, y),) = _xy_splits(data_or_xy, "data_or_xy", ("test",), "a pair (x, y)")
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x and y must be non-empty and equally long, got {len(x)} and {len(y)}")
    if device is None:
        dev = module_device(model) or torch.device("cpu")
    else:
        dev = training_device(device, distributed.Ranks())
        model.to(dev)
    sums = _eval_sums(model, x, y, batch_size, dev, resolve_amp(amp, dev), False, distributed.Ranks())
    loss, correct, count = sums.tolist()
    return {"loss": loss / count, "acc": correct / count}


# ----------------------------------------------------------------------------- training
#: What ``fit(compile=...)`` takes: off, on (torch.compile's default mode), or a torch.compile mode by name.
COMPILE_MODES = (False, True, "default", "reduce-overhead", "max-autotune")


def compiled(net: nn.Module, mode: bool | str = True) -> nn.Module:
    """``torch.compile(net)`` with one graph per batch shape (``dynamic=False``).

    An epoch ends with a smaller batch; by default dynamo then recompiles the model for a symbolic
    batch size ("automatic dynamic shapes") and runs every later step through those generic
    kernels. Static shapes give the last batch a graph of its own and keep the fast one for the
    rest (measured in benchmarks/gpu_check.py). ``"reduce-overhead"`` also replays CUDA graphs,
    which removes the per-kernel launch cost that dominates a small network's step on a GPU.
    """
    if mode is False or not _is_compile_mode(mode):
        raise ValueError(f"mode must be one of {COMPILE_MODES[1:]}, got {mode!r}")
    return torch.compile(net, dynamic=False, mode=None if mode is True else mode)


def _is_compile_mode(value: object) -> bool:
    """One of :data:`COMPILE_MODES` (``1`` is no ``True`` here, nor ``0`` a ``False``)."""
    return isinstance(value, (bool, str)) and value in COMPILE_MODES


def fit(model: nn.Module, data, epochs: int, lr: float, batch_size: int, optimizer: str = "sgd",
        schedule: str = "onecycle", weight_decay: float = 5e-4, momentum: float = 0.9,
        augment: str | None = None, device="auto", amp="auto", channels_last: bool = True,
        compile: bool | str = False, checkpoint: str | os.PathLike | None = None, resume: bool = False,
        seed: int = 0, progress: bool = True, *,
        on_epoch_end: Callable[[History], None] | None = None) -> History:
    """Train ``model`` on ``data`` and return its :class:`History`, one row per epoch.

    ``data``: a DataBundle or ``((x_train, y_train), (x_test, y_test))``, images in NCHW.
    ``optimizer`` in ``("sgd", "adam", "adamw")``; ``schedule`` in ``("onecycle", "cosine",
    "constant")``, stepped every batch, ``lr`` being its peak. ``augment="crop_flip"``
    crops (padding 4) and flips on the device, ``"crop"`` only crops. ``amp="auto"`` autocasts to bfloat16 on
    CUDA (``True`` forces it, on the CPU too). ``channels_last`` stores activations NHWC
    on CUDA, where tensor cores want that layout (the CPU keeps NCHW). ``compile``: ``True``
    (or a ``torch.compile`` mode, one of :data:`COMPILE_MODES`) compiles the model. ``checkpoint``
    is a file written atomically after every epoch; ``resume=True`` continues from it
    and, on the CPU, ends with exactly the weights of an uninterrupted run.
    Under ``torchrun`` the model is wrapped in DistributedDataParallel: each rank trains
    on its shard, metrics are summed over ranks, rank 0 alone prints and writes.
    ``on_epoch_end(history)`` is called on every rank after each epoch's checkpoint.
    The model is returned in eval mode, ready for inference.
    """
    check_module(model)
    if not _is_compile_mode(compile):
        raise ValueError(f"compile must be one of {COMPILE_MODES}, got {compile!r}")
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint=PATH to resume from")
    if on_epoch_end is not None and not callable(on_epoch_end):
        raise TypeError(f"on_epoch_end must be callable, got {type(on_epoch_end).__name__}")
    train, test = _xy_splits(data, "data", ("train", "test"), "a pair ((x_train, y_train), (x_test, y_test))")
    config = TrainConfig(epochs=epochs, lr=lr, batch_size=batch_size, optimizer=optimizer, schedule=schedule,
                         weight_decay=weight_decay, momentum=momentum, augment=augment, seed=seed,
                         n_train=len(train[0]))
    for split, (x, y) in (("train", train), ("test", test)):
        if x.ndim != 4 or y.ndim != 1 or len(x) != len(y) or len(x) == 0:
            raise ValueError(f"{split} split must be images (N, C, H, W) and N labels, "
                             f"got {tuple(x.shape)} and {tuple(y.shape)}")

    ranks = distributed.ranks_from_env()
    dev = training_device(device, ranks)
    run = _Run(device=dev, use_amp=resolve_amp(amp, dev), channels_last=channels_last and dev.type == "cuda",
               compile=compile, checkpoint=None if checkpoint is None else Path(checkpoint), resume=resume,
               progress=progress, ranks=ranks)
    created = distributed.start(ranks, dev)
    try:
        return _train(model, train, test, config, run, on_epoch_end)
    finally:
        distributed.stop(created)


def _train(model, train, test, config: TrainConfig, run: _Run, on_epoch_end) -> History:
    from cnnkit.data.loader import DeviceLoader

    dev, ranks = run.device, run.ranks
    set_seed(config.seed)
    model.to(dev)
    if run.channels_last:
        model.to(memory_format=torch.channels_last)
    # A last batch of one image would break BatchNorm ("expected more than 1 value per channel").
    per_rank = math.ceil(len(train[0]) / ranks.world_size)
    loader = DeviceLoader(*train, config.batch_size, shuffle=True, augment=config.augment, device=dev,
                          seed=config.seed, rank=ranks.rank, world_size=ranks.world_size,
                          drop_last=per_rank > config.batch_size and per_rank % config.batch_size == 1)
    test = (test[0].to(dev, torch.float32), test[1].to(dev, torch.int64))  # evaluated every epoch
    steps = len(loader)
    opt = _make_optimizer(config.optimizer, model, config.lr, config.weight_decay, config.momentum)
    sched = _make_schedule(config.schedule, opt, config.lr, config.epochs * steps,
                           cycle_momentum=config.optimizer != "sgd" or config.momentum > 0)

    history, first_epoch = History(), 0
    if run.resume and run.checkpoint.exists():
        history, first_epoch = _resume(run.checkpoint, dev, config, model, opt, sched)

    net = model
    if ranks.enabled:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    if run.compile:
        net = compiled(net, run.compile)
    bar = None
    if run.progress and ranks.is_main and first_epoch < config.epochs:
        from tqdm.auto import tqdm

        bar = tqdm(total=(config.epochs - first_epoch) * steps, unit="batch", dynamic_ncols=True, leave=True)
    try:
        for epoch in range(first_epoch, config.epochs):
            t_epoch = time.perf_counter()
            loader.set_epoch(epoch)
            sums, last_lr = _train_epoch(net, loader, opt, sched, config, run, bar, epoch)
            train_s = time.perf_counter() - t_epoch
            distributed.all_reduce(sums, ranks)
            distributed.average_buffers(model, ranks)
            loss_sum, correct, count = sums.tolist()
            test_loss, test_correct, test_count = _eval_sums(model, *test, 512, dev, run.use_amp, run.channels_last,
                                                             ranks).tolist()
            history.append(epoch=epoch + 1, train_loss=loss_sum / count, train_acc=correct / count,
                           test_loss=test_loss / test_count, test_acc=test_correct / test_count, lr=last_lr,
                           images_per_s=count / train_s, seconds=time.perf_counter() - t_epoch)
            if bar is not None:
                row = history.row(-1)
                bar.write(f"epoch {epoch + 1}/{config.epochs}  train loss {row['train_loss']:.4f} acc "
                          f"{100 * row['train_acc']:.2f}%  test loss {row['test_loss']:.4f} acc "
                          f"{100 * row['test_acc']:.2f}%  lr {row['lr']:.2e}  {row['images_per_s']:.0f} img/s")
            if run.checkpoint is not None and ranks.is_main:
                ckpt.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                           "scheduler": sched.state_dict(), "rng": ckpt.rng_state(), "epochs_done": epoch + 1,
                           "history": dict(history), "config": config.record()}, run.checkpoint)
            if on_epoch_end is not None:
                on_epoch_end(history)
    finally:
        if bar is not None:
            bar.close()
    distributed.barrier(ranks)
    model.eval()
    return history


def _resume(checkpoint: Path, dev, config: TrainConfig, model, opt, sched) -> tuple[History, int]:
    """Load weights, optimizer, schedule and random states; return the history and epochs done."""
    state = ckpt.load(checkpoint, map_location=dev)
    changed = config.differences(state["config"])
    if changed:
        raise ValueError(f"checkpoint {checkpoint} was written with other settings (saved, now): {changed}; "
                         "resume with the same settings or start afresh with resume=False")
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    ckpt.set_rng_state(state["rng"])
    return History(state["history"]), int(state["epochs_done"])


def _train_epoch(net, loader, opt, sched, config: TrainConfig, run: _Run, bar, epoch: int):
    """One pass over the loader; returns the [loss sum, correct, count] of this rank and the last lr.

    The sums stay on the device: reading them (``.item()``) would make the CPU wait for
    the GPU after every step. On the CPU, where waiting costs nothing, the loss is checked
    for NaN after every step; on a GPU every 25 steps (the error still names the first bad one).
    """
    dev = run.device
    check_every = 1 if dev.type == "cpu" else 25
    steps = len(loader)
    sums = torch.zeros(3, dtype=torch.float64 if dev.type != "mps" else torch.float32, device=dev)
    first_bad = torch.full((), -1, dtype=torch.int64, device=dev)
    last_lr = sched.get_last_lr()[0]
    net.train()
    for step, (xb, yb) in enumerate(loader):
        if run.channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with _autocast(dev, run.use_amp):
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
            _raise_if_bad(first_bad, epoch, steps, config.lr, run.ranks)
            if bar is not None:
                bar.set_description(f"epoch {epoch + 1}/{config.epochs}", refresh=False)
                bar.set_postfix(loss=f"{sums[0].item() / max(sums[2].item(), 1):.4f}", refresh=False)
        if bar is not None:
            bar.update(1)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    return sums, last_lr


def _raise_if_bad(first_bad: torch.Tensor, epoch: int, steps: int, lr: float, ranks) -> None:
    flag = first_bad.clone()
    if ranks.enabled:  # every rank must learn of it, or the others would wait for ever
        never = torch.iinfo(flag.dtype).max
        flag = torch.where(flag < 0, torch.full_like(flag, never), flag)
        distributed.all_reduce(flag, ranks, op="min")  # the earliest bad step of any rank
        flag = torch.where(flag == never, torch.full_like(flag, -1), flag)
    bad = int(flag.item())
    if bad >= 0:
        raise NonFiniteLossError(
            f"the loss became NaN or infinite at epoch {epoch + 1}, step {bad + 1} of {steps}; "
            f"try a smaller learning rate (lr={lr}), check the inputs for NaN, or use amp=False")
