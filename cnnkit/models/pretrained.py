"""Published ImageNet weights for the kit's models: fetched once, verified, cached, loaded.

    >>> from cnnkit import models
    >>> net = models.load_pretrained("alexnet")            # doctest: +SKIP  (233 MB, once)
    >>> net = models.alexnet(weights="imagenet")           # the same        # doctest: +SKIP

The checkpoints are torchvision's, which the kit's models match key for key. A checkpoint's file
name carries the first hex digits of its SHA-256 (``alexnet-owt-7be5be79.pth``); the download is
checked against them before it is renamed into the cache (``cnnkit.config.data_root()/weights``),
so a cut connection or a wrong file never leaves anything half cached. The fetching, the atomic
rename and the checks are :mod:`cnnkit.data.download`'s, shared with the data sets.

Anything that prevents loading (no network, ``CNNKIT_OFFLINE=1``, a checksum mismatch, a
truncated file) raises :class:`WeightsUnavailable` with a one-line reason, so a lecture can fall
back to a network trained on the digits and say why in one line.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..data.download import ChecksumError, DownloadError, Resource, ensure

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

#: Environment variable that forbids downloads (shared with the data sets).
OFFLINE_ENV = "CNNKIT_OFFLINE"

#: The only weights on offer: the ImageNet (ILSVRC 2012) classifiers torchvision publishes.
WEIGHT_CHOICES = ("imagenet",)

#: Per-channel mean and std of ImageNet's training images, which the published weights expect.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_BASE = "https://download.pytorch.org/models/"


class WeightsUnavailable(RuntimeError):
    """Published weights could not be loaded here; ``str(err)`` is one line saying why."""


@dataclass(frozen=True)
class PublishedWeights:
    """One checkpoint: the file torchvision publishes and the SHA-256 prefix in its name."""

    model: str
    filename: str

    @property
    def sha256(self) -> str:
        return self.filename.rsplit("-", 1)[1].split(".")[0]

    @property
    def resource(self) -> Resource:
        return Resource(self.filename, "", (_BASE + self.filename,), sha256=self.sha256)


#: model name -> its published ImageNet checkpoint.
PUBLISHED: dict[str, PublishedWeights] = {
    w.model: w
    for w in (
        PublishedWeights("alexnet", "alexnet-owt-7be5be79.pth"),
        PublishedWeights("vgg16", "vgg16-397923af.pth"),
        PublishedWeights("resnet18", "resnet18-f37072fd.pth"),
    )
}


def pretrained_names() -> list[str]:
    """The models with published weights: ``["alexnet", "vgg16", "resnet18"]``."""
    return list(PUBLISHED)


def weights_folder(root: str | os.PathLike | None = None) -> Path:
    """Where checkpoints are cached: ``cnnkit.config.data_root(root) / "weights"``."""
    from ..config import data_root

    return data_root(root) / "weights"


def _published(name: object) -> PublishedWeights:
    if not isinstance(name, str) or name not in PUBLISHED:
        raise ValueError(f"name must be one of {pretrained_names()} (models with published ImageNet weights), "
                         f"got {name!r}")
    return PUBLISHED[name]


def _offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip() not in ("", "0")


def weights_path(name: str, *, root: str | os.PathLike | None = None, download: bool = True,
                 retries: int = 2, progress: bool = True) -> Path:
    """The verified local checkpoint of model ``name``, downloading it once if needed.

    Raises :class:`WeightsUnavailable` (one line) when it cannot be had: downloads are off
    (``download=False`` or ``$CNNKIT_OFFLINE``) and it is not cached, the network is unreachable,
    or the file's SHA-256 does not start with the published prefix.
    """
    published = _published(name)
    folder = weights_folder(root)
    allowed = download and not _offline()
    try:
        return ensure(published.resource, folder, download=allowed, retries=retries, backoff_s=0.5,
                      progress=progress)
    except FileNotFoundError:
        why = f"${OFFLINE_ENV} is set" if download and _offline() else "download=False"
        raise WeightsUnavailable(f"{name}: ImageNet weights are not cached in {folder} and {why}") from None
    except ChecksumError as err:
        raise WeightsUnavailable(f"{name}: checksum mismatch, {_first_reason(err)}") from None
    except DownloadError as err:
        raise WeightsUnavailable(f"{name}: could not download {published.filename} (offline? {_first_reason(err)})") \
            from None


def _first_reason(err: Exception) -> str:
    """The most telling line of a download error, shortened to one line."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    detail = lines[1] if len(lines) > 1 else (lines[0] if lines else type(err).__name__)
    return detail.split(": ", 1)[-1] if detail.startswith("try ") else detail


def _constructors() -> dict[str, Callable[..., "nn.Module"]]:
    from .alexnet import AlexNet
    from .resnet import _resnet
    from .vgg import vgg

    return {"alexnet": lambda: AlexNet(variant="torchvision"), "vgg16": lambda: vgg(16),
            "resnet18": lambda: _resnet(18, 1000, 3, False)}


def load_into(model: "nn.Module", name: str, **fetch_options) -> "nn.Module":
    """Load model ``name``'s published ImageNet weights into ``model``; return it in eval mode."""
    import torch

    path = weights_path(name, **fetch_options)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - a verified file that torch cannot read is still unusable
        raise WeightsUnavailable(f"{name}: {path} is not a readable checkpoint ({type(err).__name__}: "
                                 f"{str(err).splitlines()[0] if str(err) else ''})") from None
    model.load_state_dict(state)
    return model.eval()


def load_pretrained(name: str, **fetch_options) -> "nn.Module":
    """Model ``name`` (``"alexnet"``, ``"vgg16"`` or ``"resnet18"``) with its published ImageNet weights.

    The checkpoint is downloaded once (``fetch_options``: ``root``, ``download``, ``retries``,
    ``progress``, as for :func:`weights_path`) and the model comes back in eval mode, 1,000
    ImageNet classes out. Feed it images prepared by :func:`imagenet_batch`. Raises
    :class:`WeightsUnavailable` with a one-line reason when the weights cannot be had.
    """
    build = _constructors()[_published(name).model]
    return load_into(build(), name, **fetch_options)


def check_weights_option(weights: object, name: str, num_classes: int, in_channels: int) -> None:
    """Validate a constructor's ``weights=`` argument against its other options."""
    if weights is None:
        return
    if weights not in WEIGHT_CHOICES:
        raise ValueError(f"weights must be None or one of {WEIGHT_CHOICES}, got {weights!r}")
    _published(name)
    if (num_classes, in_channels) != (1000, 3):
        raise ValueError(f"weights={weights!r} are for 3-channel images and 1000 classes; got "
                         f"in_channels={in_channels}, num_classes={num_classes}")


def imagenet_batch(images, size: int = 224):
    """Photos as the published weights expect them: ``(N, 3, size, size)`` float, normalised.

    ``images``: one (H, W, 3) array in [0, 1] or a sequence of them (any sizes). Each is resized
    so its shorter side is ``size * 256 / 224``, centre-cropped to ``size`` x ``size`` and
    normalised with :data:`IMAGENET_MEAN` and :data:`IMAGENET_STD` (torchvision's evaluation
    transform).
    """
    import numpy as np
    import torch
    import torch.nn.functional as F

    batch = [images] if getattr(images, "ndim", 0) == 3 else list(images)
    if not batch:
        raise ValueError("images must hold at least one (H, W, 3) image")
    out = []
    for k, image in enumerate(batch):
        array = np.asarray(image, dtype=np.float32)
        if array.ndim != 3 or array.shape[2] != 3:
            raise ValueError(f"images[{k}] must be (H, W, 3) RGB in [0, 1], got shape {array.shape}")
        x = torch.from_numpy(array.transpose(2, 0, 1).copy())[None]
        short = round(size * 256 / 224)
        h, w = array.shape[:2]
        scale = short / min(h, w)
        x = F.interpolate(x, size=(max(size, round(h * scale)), max(size, round(w * scale))),
                          mode="bilinear", align_corners=False, antialias=True)
        top, left = (x.shape[2] - size) // 2, (x.shape[3] - size) // 2
        out.append(x[:, :, top:top + size, left:left + size])
    x = torch.cat(out)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def unnormalize(x):
    """Undo :func:`imagenet_batch`'s normalisation: (N, 3, H, W) tensor -> (N, H, W, 3) array in [0, 1]."""
    import torch

    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x.detach().cpu() * std + mean).clamp(0, 1).permute(0, 2, 3, 1).numpy()
