"""VGG (Simonyan & Zisserman 2015), configurations A, B, D, E = VGG-11, 13, 16, 19.

"Very Deep Convolutional Networks for Large-Scale Image Recognition", ICLR 2015, Table 1.
Every convolution is 3x3 with stride 1 and padding 1 (the map size is kept); five 2x2 max
pools with stride 2 halve it (224 -> 7). Two stacked 3x3 layers see a 5x5 window and three
see 7x7, with fewer parameters and more non-linearities than one big kernel (Sect. 2.3).
``CONFIGS`` below is Table 1 column by column: a number is a conv layer's width, "M" a max pool.

    A (11): 64 M 128 M 256 256 M 512 512 M 512 512 M
    B (13): 64 64 M 128 128 M 256 256 M 512 512 M 512 512 M
    D (16): 64 64 M 128 128 M 256 256 256 M 512 512 512 M 512 512 512 M
    E (19): 64 64 M 128 128 M 256 256 256 256 M 512 512 512 512 M 512 512 512 512 M
    then FC-4096, FC-4096, FC-1000 (dropout 0.5 before the second and third, Sect. 3.1)

Table 2 of the paper gives 133, 133, 138 and 144 million parameters for A, B, D, E. The
``*_bn`` variants add a BatchNorm after each convolution (not in the paper; Ioffe & Szegedy
came later) - torchvision ships them and they train from scratch far more easily.

Initialisation (Sect. 3.1): the paper drew weights from a normal distribution with zero mean
and variance 1e-2, which trains configuration A; the deeper B-E were started from A's trained
layers, and a footnote adds that Glorot & Bengio's initialisation removes the need. Here the
convolutions get He et al. 2015 init (``kaiming_normal_``, fan_out) and the classifier
N(0, 0.01), as in torchvision, so every depth trains from scratch.
state_dict keys equal torchvision's (``features.0.weight`` ... ``classifier.6.bias``).
"""
from __future__ import annotations

from typing import Optional, Union

import torch
from torch import Tensor, nn

from .._geometry import check_bool, check_int

CONFIGS: dict[str, list[Union[int, str]]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
"""Simonyan & Zisserman 2015, Table 1: conv widths and max pools ("M") of configurations A, B, D, E."""

DEPTH_TO_CONFIG = {11: "A", 13: "B", 16: "D", 19: "E"}


def make_features(config: list[Union[int, str]], batch_norm: bool, in_channels: int = 3) -> nn.Sequential:
    """The convolutional part of a VGG: conv3x3 (+BN) + ReLU per number, 2x2 max pool per "M".

    A flat ``Sequential`` so the keys are ``features.<index>.*`` exactly as in torchvision.
    """
    layers: list[nn.Module] = []
    channels = in_channels
    for item in config:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        width = int(item)
        layers.append(nn.Conv2d(channels, width, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(width))
        layers.append(nn.ReLU(inplace=True))
        channels = width
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """VGG: ``features`` (Table 1), a 7x7 adaptive average pool, then the 3-layer classifier.

    The adaptive pool makes a 224x224 input a no-op (the maps are already 7x7) and lets
    smaller inputs (32x32 -> 1x1 maps, replicated to 7x7) run through the same weights.
    """

    def __init__(
        self,
        features: nn.Sequential,
        num_classes: int = 1000,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        check_int(num_classes, "num_classes", minimum=1)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout={dropout!r} must be in [0, 1)")
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),  # FC-4096
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),  # FC-4096
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),  # FC-1000
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)  # N x 512 x 7 x 7 for a 224 x 224 input
        x = torch.flatten(self.avgpool(x), 1)  # N x 25088
        return self.classifier(x)


def vgg(
    depth: int, num_classes: int = 1000, in_channels: int = 3, batch_norm: bool = False, dropout: float = 0.5
) -> VGG:
    """A VGG of ``depth`` 11, 13, 16 or 19 weight layers (configurations A, B, D, E)."""
    if depth not in DEPTH_TO_CONFIG:
        raise ValueError(f"depth={depth!r} is not a VGG depth; allowed: {sorted(DEPTH_TO_CONFIG)}")
    check_int(in_channels, "in_channels", minimum=1)
    check_bool(batch_norm, "batch_norm")
    features = make_features(CONFIGS[DEPTH_TO_CONFIG[depth]], batch_norm, in_channels)
    return VGG(features, num_classes, dropout)


def vgg11(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG-11, configuration A (Table 1; 133M parameters, Table 2)."""
    return vgg(11, num_classes, in_channels, False, dropout)


def vgg13(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG-13, configuration B (Table 1; 133M parameters, Table 2)."""
    return vgg(13, num_classes, in_channels, False, dropout)


def vgg16(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5, weights: Optional[str] = None) -> VGG:
    """VGG-16, configuration D (Table 1; 138M parameters, Table 2).

    ``weights="imagenet"`` loads torchvision's published ImageNet weights (528 MB, downloaded once).
    """
    from .pretrained import check_weights_option, load_into

    check_weights_option(weights, "vgg16", num_classes, in_channels)
    model = vgg(16, num_classes, in_channels, False, dropout)
    return model if weights is None else load_into(model, "vgg16")


def vgg19(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG-19, configuration E (Table 1; 144M parameters, Table 2)."""
    return vgg(19, num_classes, in_channels, False, dropout)


def vgg11_bn(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG-11 with BatchNorm after every convolution (torchvision's variant)."""
    return vgg(11, num_classes, in_channels, True, dropout)


def vgg13_bn(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG-13 with BatchNorm after every convolution (torchvision's variant)."""
    return vgg(13, num_classes, in_channels, True, dropout)


def vgg16_bn(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG-16 with BatchNorm after every convolution (torchvision's variant)."""
    return vgg(16, num_classes, in_channels, True, dropout)


def vgg19_bn(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG-19 with BatchNorm after every convolution (torchvision's variant)."""
    return vgg(19, num_classes, in_channels, True, dropout)


__all__ = [
    "CONFIGS",
    "VGG",
    "make_features",
    "vgg",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
]
