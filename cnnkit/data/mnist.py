"""MNIST from its four gzip-compressed IDX files, as published by LeCun, Cortes and Burges.

The IDX format (http://yann.lecun.com/exdb/mnist/): a 4-byte magic number
``0x00 0x00 TYPE NDIM`` (TYPE 0x08 = unsigned byte), then NDIM big-endian 32-bit sizes,
then the values in C order.
"""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from .download import Resource

_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",   # PyTorch's mirror
    "https://storage.googleapis.com/cvdf-datasets/mnist/",  # Google's mirror
    "http://yann.lecun.com/exdb/mnist/",                 # the original (often refuses today)
)
# name -> (file, published MD5)
_FILES = {
    "train_images": ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    "train_labels": ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    "test_images": ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    "test_labels": ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
}
#: The four files, each with every mirror in the order they are tried.
RESOURCES: dict[str, Resource] = {
    key: Resource(name, md5, tuple(base + name for base in _MIRRORS)) for key, (name, md5) in _FILES.items()
}
CLASSES = [str(d) for d in range(10)]

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzip-compressed if its name ends in .gz) into an array."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as stream:
        data = stream.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise ValueError(f"{path} is not an IDX file (magic bytes {data[:4].hex()})")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[data[2]])
    offset = 4 + 4 * ndim
    expected = offset + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(f"{path}: header promises shape {shape} ({expected} bytes), file has {len(data)}")
    return np.frombuffer(data, dtype=dtype, offset=offset).reshape(shape)


def read_mnist(folder: Path, paths: dict[str, Path]):
    """(train, test, classes) from the four IDX files, images float32 (N, 1, 28, 28) in [0, 1]."""
    arrays = {key: read_idx(path) for key, path in paths.items()}
    splits = []
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(f"MNIST {split} files in {folder} disagree: images {images.shape}, labels {labels.shape}")
        splits.append(((images.astype(np.float32) / 255.0)[:, None], labels.astype(np.int64)))
    return splits[0], splits[1], list(CLASSES)
