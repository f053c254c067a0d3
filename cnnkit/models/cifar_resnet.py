"""The CIFAR-10 ResNets of He et al. 2016 (Sect. 4.2) and their plain twins.

"Deep Residual Learning for Image Recognition", CVPR 2016, Sect. 4.2, read with this table:

    output map size |  32x32  |  16x16  |  8x8
    # layers        | 1 + 2n  |   2n    |  2n
    # filters       |   16    |   32    |  64

The first layer is a 3x3 convolution with 16 filters; then three stages of ``n`` basic blocks
(two 3x3 convolutions each) on maps of 32, 16 and 8 pixels; the stage changes halve the map
with stride 2 and double the filters. Global average pooling, a 10-way fully connected layer
and softmax (in the loss) end the network: 6n + 2 weighted layers in all.

    depth     20     32     44     56     110       (n = 3, 5, 7, 9, 18)
    params  0.27M  0.46M  0.66M  0.85M  1.7M       (Table 6, option A shortcuts)

Shortcuts are identities, and where the shape changes option A pads zeros (no parameters),
which is what makes the counts above; option B (1x1 projections there) is selectable. The
``plain*`` nets are the same stacks without any shortcut: the paper's Fig. 6 shows their
training error *rising* with depth (the degradation problem), while the ResNets' falls.
Weights follow He et al. 2015 (see :func:`cnnkit.models.blocks.init_he`).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .._geometry import check_bool, check_int
from .blocks import BasicBlock, check_shortcut, conv3x3, init_he, make_stage

CIFAR_DEPTHS = (20, 32, 44, 56, 110)
"""The depths of He et al. 2016, Table 6 (any 6n + 2 works)."""


class CifarResNet(nn.Module):
    """A 6n+2-layer ResNet (or plain net) for 32x32 images, He et al. 2016 Sect. 4.2.

    Args:
        depth: total weighted layers, 6n + 2 (20, 32, 44, 56, 110 in the paper).
        num_classes: outputs of the final fully connected layer (10 for CIFAR-10).
        in_channels: image channels (3 for CIFAR; 1 works for grey digits).
        shortcut: "A" (zero-padding, the paper's CIFAR choice) or "B" (projections).
        residual: False builds the plain twin, without shortcuts.
        widths: filters per stage, (16, 32, 64) in the paper.
        zero_init_residual: start each block as the identity (off in the paper).

    Any input of at least 4x4 works thanks to the global average pooling; the paper used
    32x32 crops of 40x40 zero-padded images.
    """

    def __init__(
        self,
        depth: int = 20,
        num_classes: int = 10,
        in_channels: int = 3,
        shortcut: str = "A",
        residual: bool = True,
        widths: tuple[int, int, int] = (16, 32, 64),
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__()
        check_int(depth, "depth", minimum=1)
        if (depth - 2) % 6 != 0:
            raise ValueError(f"depth={depth} is not 6n+2; the paper uses {', '.join(map(str, CIFAR_DEPTHS))}")
        check_int(num_classes, "num_classes", minimum=1)
        check_int(in_channels, "in_channels", minimum=1)
        check_shortcut(shortcut)
        check_bool(residual, "residual")
        check_bool(zero_init_residual, "zero_init_residual")
        if len(widths) != 3:
            raise ValueError(f"widths={widths!r} must give the filters of the 3 stages, e.g. (16, 32, 64)")
        for w in widths:
            check_int(w, "widths[i]", minimum=1)

        n = (depth - 2) // 6
        self.depth = depth
        self.residual = residual
        self.shortcut = shortcut
        # "The first layer is 3x3 convolutions" with 16 filters, BN, ReLU.
        self.conv1 = conv3x3(in_channels, widths[0])
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        # Three stages of n blocks (2n layers each) on 32x32, 16x16, 8x8 maps.
        self.layer1 = make_stage(BasicBlock, widths[0], widths[0], n, 1, shortcut, residual)
        self.layer2 = make_stage(BasicBlock, widths[0], widths[1], n, 2, shortcut, residual)
        self.layer3 = make_stage(BasicBlock, widths[1], widths[2], n, 2, shortcut, residual)
        # "global average pooling, a 10-way fully-connected layer, and softmax".
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[2], num_classes)
        init_he(self, zero_init_residual)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))  # N x 16 x 32 x 32
        x = self.layer1(x)  # N x 16 x 32 x 32
        x = self.layer2(x)  # N x 32 x 16 x 16
        x = self.layer3(x)  # N x 64 x 8 x 8
        x = torch.flatten(self.avgpool(x), 1)  # N x 64
        return self.fc(x)  # N x num_classes


def resnet20(
    num_classes: int = 10, in_channels: int = 3, shortcut: str = "A", zero_init_residual: bool = False
) -> CifarResNet:
    """ResNet-20 for CIFAR (n=3, 0.27M parameters, 8.75% CIFAR-10 error in He et al. 2016 Table 6)."""
    return CifarResNet(20, num_classes, in_channels, shortcut, True, zero_init_residual=zero_init_residual)


def resnet32(
    num_classes: int = 10, in_channels: int = 3, shortcut: str = "A", zero_init_residual: bool = False
) -> CifarResNet:
    """ResNet-32 for CIFAR (n=5, 0.46M parameters, 7.51% error, Table 6)."""
    return CifarResNet(32, num_classes, in_channels, shortcut, True, zero_init_residual=zero_init_residual)


def resnet44(
    num_classes: int = 10, in_channels: int = 3, shortcut: str = "A", zero_init_residual: bool = False
) -> CifarResNet:
    """ResNet-44 for CIFAR (n=7, 0.66M parameters, 7.17% error, Table 6)."""
    return CifarResNet(44, num_classes, in_channels, shortcut, True, zero_init_residual=zero_init_residual)


def resnet56(
    num_classes: int = 10, in_channels: int = 3, shortcut: str = "A", zero_init_residual: bool = False
) -> CifarResNet:
    """ResNet-56 for CIFAR (n=9, 0.85M parameters, 6.97% error, Table 6)."""
    return CifarResNet(56, num_classes, in_channels, shortcut, True, zero_init_residual=zero_init_residual)


def resnet110(
    num_classes: int = 10, in_channels: int = 3, shortcut: str = "A", zero_init_residual: bool = False
) -> CifarResNet:
    """ResNet-110 for CIFAR (n=18, 1.7M parameters, 6.43% error (best of 5 runs), Table 6)."""
    return CifarResNet(110, num_classes, in_channels, shortcut, True, zero_init_residual=zero_init_residual)


def plain20(num_classes: int = 10, in_channels: int = 3) -> CifarResNet:
    """Plain-20: ResNet-20's layers without shortcuts, same parameter count (Fig. 6 left)."""
    return CifarResNet(20, num_classes, in_channels, residual=False)


def plain32(num_classes: int = 10, in_channels: int = 3) -> CifarResNet:
    """Plain-32: ResNet-32's layers without shortcuts, same parameter count (Fig. 6 left)."""
    return CifarResNet(32, num_classes, in_channels, residual=False)


def plain44(num_classes: int = 10, in_channels: int = 3) -> CifarResNet:
    """Plain-44: ResNet-44's layers without shortcuts, same parameter count (Fig. 6 left)."""
    return CifarResNet(44, num_classes, in_channels, residual=False)


def plain56(num_classes: int = 10, in_channels: int = 3) -> CifarResNet:
    """Plain-56: ResNet-56's layers without shortcuts, same parameter count.

    Fig. 6 left: its training error is *higher* than plain-20's - the degradation problem.
    """
    return CifarResNet(56, num_classes, in_channels, residual=False)


def plain110(num_classes: int = 10, in_channels: int = 3) -> CifarResNet:
    """Plain-110: ResNet-110's layers without shortcuts, same parameter count.

    Fig. 6 shows plain nets up to 56 layers; this one extends the degradation experiment.
    """
    return CifarResNet(110, num_classes, in_channels, residual=False)


__all__ = [
    "CIFAR_DEPTHS",
    "CifarResNet",
    "plain20",
    "plain32",
    "plain44",
    "plain56",
    "plain110",
    "resnet20",
    "resnet32",
    "resnet44",
    "resnet56",
    "resnet110",
]
