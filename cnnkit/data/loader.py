"""A data loader that keeps the whole data set on the training device.

Small image sets (CIFAR-10 is 600 MB as float32) fit in a GPU's memory. Keeping them
there and cutting batches, shuffling, cropping, flipping and normalising with tensor
operations on the GPU avoids the usual bottleneck of a CPU pipeline feeding the GPU one
batch at a time through worker processes.

Randomness comes from the loader's own generator, reseeded at the start of every epoch
from ``(seed, epoch)``: the batches of epoch 7 are the same whether or not a run was
interrupted after epoch 6, which is what makes resumed training bit-identical.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch

from .._geometry import check_choice, check_int

AUGMENT_CHOICES = (None, "crop", "crop_flip")
#: Pixels of padding around each image before the random crop (as in the ResNet paper).
CROP_PADDING = 4


def random_crop(x: torch.Tensor, padding: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Pad each image with zeros by ``padding`` pixels and cut a random window of the old size.

    One window offset per image, drawn uniformly from ``0..2*padding`` in each direction,
    all in a single gather on the tensor's device.
    """
    n, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (padding, padding, padding, padding))
    dev = x.device
    top = torch.randint(0, 2 * padding + 1, (n,), device=dev, generator=generator)
    left = torch.randint(0, 2 * padding + 1, (n,), device=dev, generator=generator)
    rows = (top[:, None] + torch.arange(h, device=dev))[:, None, :, None]    # (n, 1, h, 1)
    cols = (left[:, None] + torch.arange(w, device=dev))[:, None, None, :]   # (n, 1, 1, w)
    batch = torch.arange(n, device=dev)[:, None, None, None]
    chan = torch.arange(c, device=dev)[None, :, None, None]
    return padded[batch, chan, rows, cols]


def random_hflip(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = torch.rand(x.shape[0], device=x.device, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def _make_generator(device: torch.device) -> torch.Generator:
    try:
        return torch.Generator(device=device)
    except RuntimeError:  # a backend without device generators: draw on the CPU
        return torch.Generator()


class DeviceLoader:
    """Batches of ``(x, y)`` cut from tensors that live on ``device``.

    ``augment="crop_flip"`` applies a random crop (padding 4) and a horizontal flip to each
    training batch, ``augment="crop"`` the crop alone (for digits, which flipping changes);
    ``normalize=(mean, std)`` (per channel) is applied after augmentation, as torchvision's
    ``RandomCrop -> RandomHorizontalFlip -> Normalize`` would.
    Under DistributedDataParallel give ``rank`` and ``world_size``: every rank draws the
    same permutation and takes every ``world_size``-th index of it (its shard). As with
    torch's DistributedSampler, the permutation is padded with its own first indices to
    a multiple of ``world_size``, so every rank takes the same number of steps.
    """

    def __init__(self, x, y, batch_size: int, shuffle: bool = True, augment: str | None = None,
                 normalize: tuple[Sequence[float], Sequence[float]] | None = None, device="auto",
                 seed: int = 0, drop_last: bool = False, *, rank: int = 0, world_size: int = 1) -> None:
        from cnnkit.config import resolve_device

        x, y = torch.as_tensor(x), torch.as_tensor(y)
        if x.ndim != 4:
            raise ValueError(f"x must be a batch of images (N, C, H, W), got shape {tuple(x.shape)}")
        if y.ndim != 1 or len(y) != len(x):
            raise ValueError(f"y must hold one label per image ({len(x)}), got shape {tuple(y.shape)}")
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        check_choice(augment, "augment", AUGMENT_CHOICES)
        seed = check_int(seed, "seed")
        if not (isinstance(world_size, int) and world_size >= 1 and isinstance(rank, int) and 0 <= rank < world_size):
            raise ValueError(f"need 0 <= rank < world_size, got rank={rank!r}, world_size={world_size!r}")
        self.device = resolve_device(device) if isinstance(device, str) else torch.device(device)
        self.x = x.to(self.device, torch.float32)
        self.y = y.to(self.device, torch.int64)
        self.batch_size, self.shuffle, self.augment = batch_size, shuffle, augment
        self.seed, self.drop_last, self.rank, self.world_size = seed, drop_last, rank, world_size
        self.epoch = 0
        self.mean = self.std = None
        if normalize is not None:
            mean, std = (torch.as_tensor(v, dtype=torch.float32).flatten() for v in normalize)
            channels = x.shape[1]
            if mean.numel() not in (1, channels) or std.numel() not in (1, channels):
                raise ValueError(f"normalize must be (mean, std) with 1 or {channels} values each, "
                                 f"got {mean.numel()} and {std.numel()}")
            if bool((std <= 0).any()):
                raise ValueError(f"normalize std must be positive, got {std.tolist()}")
            self.mean = mean.to(self.device).view(1, -1, 1, 1)
            self.std = std.to(self.device).view(1, -1, 1, 1)
        self._generator = _make_generator(self.device)

    @property
    def num_samples(self) -> int:
        """Images this rank sees per epoch."""
        return math.ceil(len(self.x) / self.world_size)

    def __len__(self) -> int:
        n = self.num_samples
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose shuffle and augmentation the next iteration draws."""
        self.epoch = int(epoch)

    def _indices(self) -> torch.Tensor:
        n = len(self.x)
        if self.shuffle:
            order = torch.randperm(n, device=self._generator.device, generator=self._generator).to(self.device)
        else:
            order = torch.arange(n, device=self.device)
        if self.world_size > 1:
            total = self.num_samples * self.world_size
            order = order.repeat(math.ceil(total / n))[:total]
        return order[self.rank::self.world_size]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        self._generator.manual_seed(self.seed * 1_000_003 + self.epoch)
        order = self._indices()
        gen = self._generator if self._generator.device.type == self.device.type else None
        for b in range(len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            xb, yb = self.x[idx], self.y[idx]
            if self.augment is not None:
                xb = random_crop(xb, CROP_PADDING, gen)
            if self.augment == "crop_flip":
                xb = random_hflip(xb, gen)
            if self.mean is not None:
                xb = (xb - self.mean) / self.std
            yield xb, yb
