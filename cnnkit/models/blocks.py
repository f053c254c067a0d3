"""Building blocks shared by the models: a conv-BN-ReLU unit, residual blocks, shortcuts.

Every architecture in :mod:`cnnkit.models` is put together from these few pieces, so a
student reads each idea once:

* :class:`ConvBNReLU`   convolution -> batch normalisation -> ReLU (GoogLeNet's unit).
* :class:`ZeroPadShortcut`  He et al. 2016 option A: a parameter-free shortcut that subsamples
  and appends zero channels when a residual stage changes the shape.
* :func:`projection_shortcut`  option B: a 1x1 convolution + BN, only where the shape changes.
* :class:`BasicBlock`   two 3x3 convolutions (ResNet-18/34 and the CIFAR ResNets).
* :class:`Bottleneck`   1x1 -> 3x3 -> 1x1 (ResNet-50/101/152).
* :func:`make_stage`    a run of blocks, the first of which may downsample ("conv2_x" ...).

Attribute names follow torchvision (``conv1``, ``bn1``, ``downsample`` ...), so official
weights load into the models built from these blocks.
"""
from __future__ import annotations

from typing import Optional, Union

import torch.nn.functional as F
from torch import Tensor, nn

SHORTCUTS = ("A", "B")
"""Shortcut options of He et al. 2016 (Sect. 3.3) selectable here: A = zero-padding,
B = projection where dimensions increase. (Option C, projections everywhere, is not offered.)"""


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution, padding 1, no bias (a BatchNorm follows and has its own shift)."""
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution without bias: mixes channels, changes their number, may subsample."""
    return nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False)


def check_shortcut(shortcut: object) -> str:
    """Return ``shortcut`` if it names a supported option ("A" or "B"), else raise ValueError."""
    if not isinstance(shortcut, str) or shortcut not in SHORTCUTS:
        raise ValueError(
            f"shortcut={shortcut!r} is not supported; allowed: 'A' (zero-padding, parameter-free) "
            f"or 'B' (1x1 projection where the shape changes)"
        )
    return shortcut


class ConvBNReLU(nn.Module):
    """Convolution (no bias) -> BatchNorm -> ReLU, the unit GoogLeNet is built from.

    Sub-modules are named ``conv`` and ``bn`` like torchvision's ``BasicConv2d``; ``eps``
    defaults to 1e-3 as in the ported Inception weights.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int = 0,
        eps: float = 1e-3,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=eps)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


class ZeroPadShortcut(nn.Module):
    """Option A shortcut (He et al. 2016, Sect. 3.3 and 4.2): no parameters at all.

    When a stage halves the map and doubles the width, the identity ``x`` no longer matches
    the residual branch. Option A keeps every ``stride``-th pixel and appends zero channels
    (here after the existing ones), so the shortcut still adds ``x`` unchanged.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(f"out_channels={out_channels} < in_channels={in_channels}: zero-padding cannot shrink")
        self.extra_channels = out_channels - in_channels
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        # F.pad pads the last dimensions first: (W left, W right, H top, H bottom, C front, C back).
        return F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))


def projection_shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    """Option B shortcut: 1x1 convolution (with the stage's stride) + BatchNorm.

    A ``Sequential`` so the keys are ``downsample.0.weight`` / ``downsample.1.*`` as in torchvision.
    """
    return nn.Sequential(conv1x1(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels))


def make_shortcut(in_channels: int, out_channels: int, stride: int, shortcut: str) -> Optional[nn.Module]:
    """The shortcut module a block needs: None (identity) when the shape is unchanged."""
    if stride == 1 and in_channels == out_channels:
        return None
    if shortcut == "A":
        return ZeroPadShortcut(in_channels, out_channels, stride)
    return projection_shortcut(in_channels, out_channels, stride)


class _Residual(nn.Module):
    """What every residual block shares: its arguments, the shortcut around its layers and the join.

    ``out = relu(layers(x) + shortcut(x))``, or ``relu(layers(x))`` for a plain block
    (``residual=False``). A block defines its own layers in ``_layers`` and calls ``_join`` at the
    end of ``forward``; the shortcut is registered after the layers, so the state_dict keeps
    torchvision's order.
    """

    expansion: int = 1

    def __init__(
        self,
        in_channels: int,
        planes: int,
        stride: int = 1,
        shortcut: str = "B",
        residual: bool = True,
    ) -> None:
        super().__init__()
        check_shortcut(shortcut)
        self._layers(in_channels, planes, stride)
        self.residual = residual
        out_channels = planes * self.expansion
        self.downsample = make_shortcut(in_channels, out_channels, stride, shortcut) if residual else None

    def _layers(self, in_channels: int, planes: int, stride: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _join(self, x: Tensor, out: Tensor) -> Tensor:
        if self.residual:
            identity = x if self.downsample is None else self.downsample(x)
            out = out + identity
        return F.relu(out, inplace=True)


class BasicBlock(_Residual):
    """Two 3x3 convolutions with a shortcut around them (He et al. 2016, Fig. 2 / Fig. 5 left).

    ``out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``. With ``residual=False``
    the shortcut is dropped and the block is a "plain" two-layer stack (the degradation
    experiment of Sect. 4.1, Fig. 1 and Fig. 6). ``expansion`` is the ratio of output to
    ``planes`` channels: 1 here, 4 in the bottleneck. Arguments:
    ``BasicBlock(in_channels, planes, stride=1, shortcut="B", residual=True)``.
    """

    expansion: int = 1

    def _layers(self, in_channels: int, planes: int, stride: int) -> None:
        self.conv1 = conv3x3(in_channels, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        return self._join(x, self.bn2(self.conv2(out)))


class Bottleneck(_Residual):
    """1x1 (reduce) -> 3x3 -> 1x1 (expand x4), with a shortcut (He et al. 2016, Fig. 5 right).

    The stride sits on the 3x3 convolution, as in torchvision's "ResNet v1.5" (the paper puts
    it on the first 1x1); the parameter count is the same either way. Arguments as
    :class:`BasicBlock`.
    """

    expansion: int = 4

    def _layers(self, in_channels: int, planes: int, stride: int) -> None:
        self.conv1 = conv1x1(in_channels, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = F.relu(self.bn2(self.conv2(out)), inplace=True)
        return self._join(x, self.bn3(self.conv3(out)))


Block = Union[type[BasicBlock], type[Bottleneck]]


def make_stage(
    block: Block,
    in_channels: int,
    planes: int,
    num_blocks: int,
    stride: int,
    shortcut: str = "B",
    residual: bool = True,
) -> nn.Sequential:
    """``num_blocks`` blocks in a row; only the first changes stride/width (one "conv*_x" row)."""
    blocks = [block(in_channels, planes, stride, shortcut, residual)]
    for _ in range(1, num_blocks):
        blocks.append(block(planes * block.expansion, planes, 1, shortcut, residual))
    return nn.Sequential(*blocks)


def init_he(model: nn.Module, zero_init_residual: bool = False) -> None:
    """He et al. 2015 initialisation, as the ResNet paper prescribes (Sect. 3.4).

    Convolutions: normal with std sqrt(2 / fan_out) (``kaiming_normal_``, mode "fan_out",
    like torchvision; the paper's derivation allows fan_in or fan_out). BatchNorm: scale 1,
    shift 0. With ``zero_init_residual`` the last BN of each block starts at 0, so every block
    begins as the identity (Goyal et al. 2017) - an option, off by default as in the paper.
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    if zero_init_residual:
        for m in model.modules():
            if isinstance(m, Bottleneck):
                nn.init.zeros_(m.bn3.weight)
            elif isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)


__all__ = [
    "SHORTCUTS",
    "BasicBlock",
    "Bottleneck",
    "ConvBNReLU",
    "ZeroPadShortcut",
    "check_shortcut",
    "conv1x1",
    "conv3x3",
    "init_he",
    "make_shortcut",
    "make_stage",
    "projection_shortcut",
]
