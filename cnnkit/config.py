"""Where the kit keeps things and which device it trains on.

Kept free of heavy imports: torch is imported inside :func:`resolve_device` only.
"""
from __future__ import annotations

import os
from pathlib import Path

#: Environment variable that moves the data-set cache (default ``~/.cache/cnnkit``).
DATA_ENV = "CNNKIT_DATA"

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The folder where data sets are downloaded and cached.

    Order: the ``root`` argument, then ``$CNNKIT_DATA``, then ``$XDG_CACHE_HOME/cnnkit``,
    then ``~/.cache/cnnkit``. The folder is not created here.
    """
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "cnnkit"


def resolve_device(device: str = "auto"):
    """Turn ``"auto" | "cuda" | "cuda:N" | "mps" | "cpu"`` into a ``torch.device``.

    ``"auto"`` picks CUDA, then Apple's MPS, then the CPU. Asking for a device that is
    absent raises a RuntimeError that says so, instead of failing later inside torch.
    """
    import torch

    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a string such as {DEVICE_CHOICES}, got {type(device).__name__}")
    name = str(device)
    kind = name.split(":")[0]
    if kind not in DEVICE_CHOICES:
        raise ValueError(f"device must be one of {DEVICE_CHOICES} (optionally 'cuda:N'), got {name!r}")
    mps_ok = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_ok:
            return torch.device("mps")
        return torch.device("cpu")
    if kind == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            "device='cuda' was asked for but no CUDA GPU is visible to torch "
            f"(torch {torch.__version__}, built with CUDA {torch.version.cuda}). "
            "Use device='auto' to fall back to the CPU."
        )
    if kind == "mps" and not mps_ok:
        raise RuntimeError("device='mps' was asked for but Apple's MPS backend is not available here.")
    return torch.device(name)


#: Environment variable that picks the size notebooks and commands run at.
SIZE_ENV = "CNNKIT_SIZE"
SIZE_CHOICES = ("small", "full")


def run_size(default: str = "small") -> str:
    """``"small"`` (CPU-sized: small data, few epochs) or ``"full"`` (full data sets, GPU-sized).

    Notebooks read this once in their first cell, so one switch scales them up:
    ``CNNKIT_SIZE=full jupyter lab``. While nbgrader grades (``NBGRADER_EXECUTION`` is
    set) the answer is always ``"small"``, so grading never re-runs long training.
    """
    if default not in SIZE_CHOICES:
        raise ValueError(f"default must be one of {SIZE_CHOICES}, got {default!r}")
    if os.environ.get("NBGRADER_EXECUTION"):
        return "small"
    value = os.environ.get(SIZE_ENV, default).strip().lower()
    if value not in SIZE_CHOICES:
        raise ValueError(f"${SIZE_ENV} must be one of {SIZE_CHOICES}, got {value!r}")
    return value


def is_grading() -> bool:
    """True while nbgrader executes a notebook (autograde or validate)."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


#: Environment variable that swaps MNIST and CIFAR-10 for seeded synthetic stand-ins (no files, no network).
SYNTHETIC_ENV = "CNNKIT_SYNTHETIC_DATA"
_OFF = ("", "0", "false", "no", "off")
_ON = ("1", "true", "yes", "on", "full")


def synthetic_data() -> int | None:
    """Whether ``cnnkit.data.load`` returns synthetic MNIST / CIFAR-10, and how many training images.

    ``$CNNKIT_SYNTHETIC_DATA`` unset or ``0``: ``None``, the real files are read (or downloaded).
    ``1``: ``0``, meaning as many images as the real set (50,000 + 10,000 for CIFAR-10). An integer
    ``N >= 2``: ``N`` training images and the real set's test share of that (``N / 5`` for CIFAR-10).
    The stand-ins have the real shapes, dtypes and class names, so every code path of a notebook
    runs offline (a GPU check, CI); a short set keeps a ``full``-size notebook's epochs, learning
    rates and assertions as written while bounding its time, which capping epochs would not.
    The digits ship with scikit-learn and are never replaced.
    """
    value = os.environ.get(SYNTHETIC_ENV, "").strip().lower()
    if value in _OFF:
        return None
    if value in _ON:
        return 0
    try:
        count = int(value)
    except ValueError:
        count = -1
    if count < 2:
        raise ValueError(f"${SYNTHETIC_ENV} must be 0/1 (off/on at the real size) or a number of training "
                         f"images >= 2, got {value!r}")
    return count
