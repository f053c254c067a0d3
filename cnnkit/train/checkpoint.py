"""Checkpoints written atomically, and the random-number state that makes resuming exact."""
from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import numpy as np
import torch


def rng_state() -> dict:
    """Every random generator training touches: Python's, NumPy's, torch's CPU and CUDA ones.

    NumPy's state is stored as plain lists so the checkpoint loads with ``weights_only=True``.
    """
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` captured.

    The states are read from the CPU whatever device the checkpoint was loaded onto: a run
    resumed on a GPU loads it with ``map_location="cuda"``, and neither numpy nor torch's
    generators take a CUDA tensor (found on an H200; tests/test_train.py checks it on the CPU).
    """
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.cpu().numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"][: torch.cuda.device_count()]])


def save(state: dict, path: str | os.PathLike) -> Path:
    """Write ``state`` to ``path`` so that ``path`` is always either the old or the new file.

    The bytes go to a temporary file in the same folder, are flushed to disk, and the
    file is renamed over ``path`` (``os.replace`` is atomic): a run killed while saving
    leaves the previous checkpoint intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            torch.save(state, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load(path: str | os.PathLike, map_location=None) -> dict:
    """Read a checkpoint written by :func:`save` (tensors and plain Python values only)."""
    return torch.load(path, map_location=map_location, weights_only=True)
