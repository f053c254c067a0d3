"""Training: ``fit`` a model on a data set, ``evaluate`` it, look at its gradients.

    >>> from cnnkit.data import load
    >>> from cnnkit.train import fit
    >>> history = fit(model, load("digits", size=32), epochs=5, lr=0.05, batch_size=64)
    >>> print(history)                 # one row per epoch
    >>> history.best()                 # the epoch with the best test accuracy

The same call trains a ResNet on a GPU (bf16 autocast, channels-last, on-device
augmentation) and, started by ``torchrun``, on several GPUs with DistributedDataParallel.
"""
from __future__ import annotations

from .cli import main
from .diagnostics import layer_gradient_norms
from .history import KEYS, History
from .loop import (AMP_CHOICES, OPTIMIZERS, SCHEDULES, NonFiniteLossError, TrainConfig, evaluate, fit,
                   resolve_amp, set_seed)

__all__ = ["fit", "evaluate", "TrainConfig", "History", "KEYS", "layer_gradient_norms", "set_seed", "main",
           "NonFiniteLossError", "resolve_amp", "OPTIMIZERS", "SCHEDULES", "AMP_CHOICES"]
