"""Data sets as tensors: the offline 8x8 digits, MNIST and CIFAR-10, plus a device loader.

    >>> from cnnkit.data import load
    >>> digits = load("digits", size=32)        # no network needed
    >>> x, y = digits.train                     # float32 (1437, 1, 32, 32) in [0, 1], int64
    >>> digits.classes, digits.mean, digits.std

MNIST and CIFAR-10 are downloaded once into the cache folder, ``$CNNKIT_DATA`` or else
``~/.cache/cnnkit`` (see :func:`cnnkit.config.data_root`), and checked against their
published MD5 every time they are read. Set ``CNNKIT_OFFLINE=1`` to forbid downloads, or
``CNNKIT_SYNTHETIC_DATA=1`` (or a number of training images) to get seeded synthetic stand-ins of
the real shapes and classes instead (:mod:`cnnkit.data.synthetic`; no files, no network).

Torch is imported on first use: :func:`sample_image`, the file readers and the download
helpers work without it (the graded assignments run where torch cannot be imported).
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _lazy
from .._geometry import check_int
from . import cifar, mnist
from .download import ChecksumError, DownloadError, Resource, ensure, md5sum

if TYPE_CHECKING:  # pragma: no cover - for editors and type checkers only
    import torch

    from .loader import DeviceLoader, random_crop, random_hflip

# Names that need torch, imported from .loader on first use (PEP 562).
_LAZY = {"DeviceLoader": "loader", "random_crop": "loader", "random_hflip": "loader"}

__all__ = ["DATASETS", "DataBundle", "load", "sample_image", "sample_photos", "DeviceLoader", "random_crop", "random_hflip",
           "ChecksumError", "DownloadError", "Resource", "ensure", "md5sum"]

DATASETS = ("digits", "mnist", "cifar10")
OFFLINE_ENV = "CNNKIT_OFFLINE"


@dataclass(repr=False)
class DataBundle:
    """A data set ready for training: both splits as tensors plus what describes them.

    ``train`` and ``test`` are ``(images, labels)``: images float32 NCHW in [0, 1], labels
    int64. ``mean`` and ``std`` are per channel, measured on the train split (the values a
    ``Normalize`` step would use).
    """

    train: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    classes: list[str]
    name: str
    mean: tuple[float, ...] = field(default=())
    std: tuple[float, ...] = field(default=())

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def in_channels(self) -> int:
        return int(self.train[0].shape[1])

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.train[0].shape[2]), int(self.train[0].shape[3])

    def __repr__(self) -> str:
        (xtr, _), (xte, _) = self.train, self.test
        return (f"DataBundle({self.name!r}: train {tuple(xtr.shape)}, test {tuple(xte.shape)}, "
                f"{self.num_classes} classes, mean {_fmt(self.mean)}, std {_fmt(self.std)})")


def _fmt(values) -> str:
    return "(" + ", ".join(f"{v:.4f}" for v in values) + ")"


def channel_stats(x: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of an NCHW batch (in float64 for accuracy)."""
    import torch

    flat = x.detach().to(torch.float64).transpose(0, 1).reshape(x.shape[1], -1)
    return tuple(flat.mean(1).tolist()), tuple(flat.std(1, unbiased=False).tolist())


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize of an NCHW batch to ``size`` x ``size`` (LeNet expects 32x32 inputs)."""
    import torch

    if tuple(x.shape[-2:]) == (size, size):
        return x
    out = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                                          antialias=size < min(x.shape[-2:]))
    return out.clamp_(0.0, 1.0)


def _check_size(value, name: str) -> None:
    """None, or a positive int."""
    if value is not None:
        check_int(value, name, minimum=1)


def load(name: str, root: str | os.PathLike | None = None, download: bool = True, *,
         size: int | None = None, limit: int | None = None) -> DataBundle:
    """Load a data set by name: ``"digits"`` (bundled, offline), ``"mnist"`` or ``"cifar10"``.

    ``root`` overrides the cache folder; ``download=False`` only reads what is cached.
    ``size`` resizes images to ``size`` x ``size`` (bilinear); ``limit`` keeps the first
    ``limit`` images of each split, for quick runs. Mean and std describe the train
    split as returned (after ``size`` and ``limit``). With ``$CNNKIT_SYNTHETIC_DATA`` set
    (:func:`cnnkit.config.synthetic_data`), MNIST and CIFAR-10 are seeded synthetic stand-ins.
    """
    import torch

    from cnnkit.config import SYNTHETIC_ENV, data_root, synthetic_data

    if not isinstance(name, str) or name.lower() not in DATASETS:
        raise ValueError(f"name must be one of {DATASETS}, got {name!r}")
    _check_size(size, "size")
    _check_size(limit, "limit")
    name = name.lower()
    offline = os.environ.get(OFFLINE_ENV, "").strip() not in ("", "0")
    folder = data_root(root) / name
    synthetic = None if name == "digits" else synthetic_data()
    try:
        if name == "digits":
            from .digits import read_digits

            train, test, classes = read_digits()
        elif synthetic is not None:
            from . import synthetic as fake

            warnings.warn(f"${SYNTHETIC_ENV} is set: {name} is a synthetic stand-in "
                          f"({fake.split_sizes(name, synthetic)[0]} training images), not the real data set",
                          stacklevel=2)
            train, test, classes = fake.make(name, synthetic)
        elif name == "mnist":
            paths = {key: ensure(res, folder, download=download and not offline)
                     for key, res in mnist.RESOURCES.items()}
            train, test, classes = mnist.read_mnist(folder, paths)
        else:
            archive = ensure(cifar.RESOURCE, folder, download=download and not offline)
            train, test, classes = cifar.read_cifar10(archive)
    except (FileNotFoundError, ChecksumError) as err:
        if download and offline:
            raise type(err)(f"{err}\n(downloads are off because ${OFFLINE_ENV} is set; unset it to download)") \
                from None
        raise

    def prepare(split):
        images, labels = split
        if limit is not None:
            images, labels = images[:limit], labels[:limit]
        x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
        if size is not None:
            x = resize(x, size)
        return x.contiguous(), torch.from_numpy(np.ascontiguousarray(labels, dtype=np.int64))

    train_t, test_t = prepare(train), prepare(test)
    mean, std = channel_stats(train_t[0])
    return DataBundle(train=train_t, test=test_t, classes=list(classes), name=name, mean=mean, std=std)


def sample_image(gray: bool = True, size: int | None = None) -> np.ndarray:
    """A real photograph (Grace Hopper, shipped with matplotlib) as floats in [0, 1].

    Returns (H, W) if ``gray`` (ITU-R 601 luma: 0.299 R + 0.587 G + 0.114 B) else
    (H, W, 3). ``size`` crops the centre square and resizes it to ``size`` x ``size``.
    Meant for filtering demos: edges, blurs and the response of learned filters.
    """
    if not isinstance(gray, bool):
        raise TypeError(f"gray must be a bool, got {type(gray).__name__}")
    _check_size(size, "size")
    import matplotlib.cbook as cbook
    from PIL import Image

    with cbook.get_sample_data("grace_hopper.jpg") as stream:
        img = Image.open(stream)
        img.load()
    img = img.convert("RGB")
    if size is not None:
        w, h = img.size
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        img = img.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BILINEAR)
    rgb = np.asarray(img, dtype=np.float32) / 255.0
    if gray:
        return (rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).clip(0.0, 1.0)
    return rgb


def sample_photos() -> dict[str, np.ndarray]:
    """The colour photographs that ship with the kit's dependencies, as (H, W, 3) floats in [0, 1].

    ``"grace_hopper"`` (matplotlib), ``"china"`` (a temple) and ``"flower"`` (scikit-learn's
    ``load_sample_images``): real photos for a pretrained ImageNet network, with no download.
    """
    from sklearn.datasets import load_sample_images

    photos = {"grace_hopper": sample_image(gray=False)}
    bundle = load_sample_images()
    for filename, image in zip(bundle.filenames, bundle.images):
        photos[os.path.splitext(os.path.basename(filename))[0]] = np.asarray(image, dtype=np.float32) / 255.0
    return photos


def __getattr__(name: str) -> Any:
    """Import the torch-based loader the first time one of its names is used (PEP 562)."""
    return _lazy.load(__name__, _LAZY, globals(), name)


def __dir__() -> list[str]:
    return _lazy.names(globals(), _LAZY)
