"""The ImageNet ResNets of He et al. 2016 (ResNet-18 ... ResNet-152), torchvision-compatible.

"Deep Residual Learning for Image Recognition", CVPR 2016, Table 1, read with ``STAGES``:

    layer    output   18-layer    34-layer    50-layer      101-layer     152-layer
    conv1    112x112  7x7, 64, stride 2 (then 3x3 max pool, stride 2)
    conv2_x  56x56    [3x3,64]x2  [3x3,64]x3  [1,3,1]x3     [1,3,1]x3     [1,3,1]x3
    conv3_x  28x28    x2          x4          x4            x4            x8
    conv4_x  14x14    x2          x6          x6            x23           x36
    conv5_x  7x7      x2          x3          x3            x3            x3
             1x1      average pool, 1000-d fc, softmax

conv2_x ... conv5_x are ``layer1`` ... ``layer4`` here (64, 128, 256, 512 "planes"; the
bottleneck blocks output 4x that). The first block of conv3_x..conv5_x downsamples with
stride 2; its shortcut is a 1x1 projection (option B, as in torchvision and the paper's
Table 3 "B" row). Weights: He et al. 2015 init (Sect. 3.4; :func:`~cnnkit.models.blocks.init_he`).

state_dict keys equal torchvision's (``conv1.weight``, ``layer1.0.bn1.running_mean``,
``layer2.0.downsample.0.weight``, ``fc.bias`` ...), so ``model.load_state_dict(official)`` works.
The adaptive average pool lets the same network run on small inputs (32x32 gives 1x1 at the
end), which keeps the CPU tests fast; parameter counts do not depend on the input size.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from .._geometry import check_bool, check_int
from .blocks import BasicBlock, Block, Bottleneck, init_he, make_stage

STAGES: dict[int, tuple[type[BasicBlock] | type[Bottleneck], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}
"""Depth -> (block, blocks per stage conv2_x..conv5_x), He et al. 2016 Table 1."""


class ResNet(nn.Module):
    """A ResNet for ImageNet-sized images, built from ``block`` and blocks-per-stage ``layers``.

    Args:
        block: :class:`BasicBlock` (18, 34 layers) or :class:`Bottleneck` (50, 101, 152).
        layers: number of blocks in conv2_x, conv3_x, conv4_x, conv5_x.
        num_classes: outputs of ``fc`` (1000 for ImageNet).
        in_channels: image channels (3).
        zero_init_residual: start each residual branch at zero (Goyal et al. 2017).
    """

    def __init__(
        self,
        block: Block,
        layers: tuple[int, int, int, int],
        num_classes: int = 1000,
        in_channels: int = 3,
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__()
        if block not in (BasicBlock, Bottleneck):
            raise TypeError(f"block={block!r} must be BasicBlock or Bottleneck")
        if len(layers) != 4:
            raise ValueError(f"layers={layers!r} must give the blocks of the 4 stages conv2_x..conv5_x")
        for count in layers:
            check_int(count, "layers[i]", minimum=1)
        check_int(num_classes, "num_classes", minimum=1)
        check_int(in_channels, "in_channels", minimum=1)
        check_bool(zero_init_residual, "zero_init_residual")

        # conv1: 7x7, 64, stride 2; then 3x3 max pool, stride 2 (Table 1).
        self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        # conv2_x .. conv5_x: 64, 128, 256, 512 planes; stages 2-4 halve the map.
        e = block.expansion
        self.layer1 = make_stage(block, 64, 64, layers[0], stride=1)
        self.layer2 = make_stage(block, 64 * e, 128, layers[1], stride=2)
        self.layer3 = make_stage(block, 128 * e, 256, layers[2], stride=2)
        self.layer4 = make_stage(block, 256 * e, 512, layers[3], stride=2)
        # average pool, 1000-d fc (softmax is in the loss).
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * e, num_classes)
        init_he(self, zero_init_residual)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # N x 64 x 56 x 56 (224 input)
        x = self.layer1(x)  # conv2_x: 56 x 56
        x = self.layer2(x)  # conv3_x: 28 x 28
        x = self.layer3(x)  # conv4_x: 14 x 14
        x = self.layer4(x)  # conv5_x: 7 x 7
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def _resnet(depth: int, num_classes: int, in_channels: int, zero_init_residual: bool) -> ResNet:
    block, layers = STAGES[depth]
    return ResNet(block, layers, num_classes, in_channels, zero_init_residual)


def resnet18(num_classes: int = 1000, in_channels: int = 3, zero_init_residual: bool = False,
             weights: Optional[str] = None) -> ResNet:
    """ResNet-18: basic blocks [2, 2, 2, 2] (Table 1; 11.7M parameters, 1.8 GFLOPs).

    ``weights="imagenet"`` loads torchvision's published ImageNet weights (45 MB, downloaded once).
    """
    from .pretrained import check_weights_option, load_into

    check_weights_option(weights, "resnet18", num_classes, in_channels)
    model = _resnet(18, num_classes, in_channels, zero_init_residual)
    return model if weights is None else load_into(model, "resnet18")


def resnet34(num_classes: int = 1000, in_channels: int = 3, zero_init_residual: bool = False) -> ResNet:
    """ResNet-34: basic blocks [3, 4, 6, 3] (Table 1; 21.8M parameters, 3.6 GFLOPs)."""
    return _resnet(34, num_classes, in_channels, zero_init_residual)


def resnet50(num_classes: int = 1000, in_channels: int = 3, zero_init_residual: bool = False) -> ResNet:
    """ResNet-50: bottlenecks [3, 4, 6, 3] (Table 1; 25.6M parameters, 3.8 GFLOPs)."""
    return _resnet(50, num_classes, in_channels, zero_init_residual)


def resnet101(num_classes: int = 1000, in_channels: int = 3, zero_init_residual: bool = False) -> ResNet:
    """ResNet-101: bottlenecks [3, 4, 23, 3] (Table 1; 44.5M parameters, 7.6 GFLOPs)."""
    return _resnet(101, num_classes, in_channels, zero_init_residual)


def resnet152(num_classes: int = 1000, in_channels: int = 3, zero_init_residual: bool = False) -> ResNet:
    """ResNet-152: bottlenecks [3, 8, 36, 3] (Table 1; 60.2M parameters, 11.3 GFLOPs)."""
    return _resnet(152, num_classes, in_channels, zero_init_residual)


__all__ = ["STAGES", "ResNet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]
