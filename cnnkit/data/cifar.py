"""CIFAR-10 from ``cifar-10-python.tar.gz`` as published by Alex Krizhevsky.

The archive holds ``cifar-10-batches-py/data_batch_1..5``, ``test_batch`` and
``batches.meta``: Python pickles of dicts with ``b"data"`` (N x 3072 uint8, each row
the 1024 red, then green, then blue values of a 32x32 image), ``b"labels"`` and, in the
meta file, ``b"label_names"``. The members are read straight from the verified archive,
so nothing half-extracted can ever be picked up.
"""
from __future__ import annotations

import os
import pickle
import tarfile

import numpy as np

from .download import Resource

RESOURCE = Resource(
    "cifar-10-python.tar.gz",
    "c58f30108f718f92721af3b95e74349a",
    ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
)
_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
_TEST = ["test_batch"]


def read_cifar10(archive: str | os.PathLike):
    """(train, test, classes): images float32 (N, 3, 32, 32) in [0, 1], labels int64."""
    members: dict[str, dict] = {}
    with tarfile.open(archive, "r:gz") as tar:
        for info in tar:
            name = os.path.basename(info.name)
            if info.isfile() and name in (*_TRAIN, *_TEST, "batches.meta"):
                # The archive's MD5 was checked against the published one before we got here.
                members[name] = pickle.load(tar.extractfile(info), encoding="bytes")  # noqa: S301
    missing = [n for n in (*_TRAIN, *_TEST, "batches.meta") if n not in members]
    if missing:
        raise ValueError(f"{archive} lacks {missing}; is it cifar-10-python.tar.gz?")

    def stack(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        data = np.concatenate([np.asarray(members[n][b"data"], dtype=np.uint8) for n in names])
        labels = np.concatenate([np.asarray(members[n][b"labels"], dtype=np.int64) for n in names])
        images = data.reshape(-1, 3, 32, 32).astype(np.float32) / 255.0
        return images, labels

    classes = [c.decode() if isinstance(c, bytes) else str(c) for c in members["batches.meta"][b"label_names"]]
    return stack(_TRAIN), stack(_TEST), classes
