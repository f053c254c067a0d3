"""GoogLeNet / Inception v1 (Szegedy et al. 2015), torchvision-compatible.

"Going Deeper with Convolutions", CVPR 2015, Table 1 and Fig. 2(b)-3. An Inception module runs
four branches side by side on the same input and concatenates their maps:

    branch1  1x1 convolution                          (#1x1)
    branch2  1x1 reduce -> 3x3 convolution            (#3x3 reduce, #3x3)
    branch3  1x1 reduce -> 5x5 convolution            (#5x5 reduce, #5x5)
    branch4  3x3 max pool, stride 1 -> 1x1 projection  (pool proj)

The 1x1 "reduce" layers shrink the channels before the expensive 3x3/5x5 convolutions: the
point of the design (Sect. 4). ``INCEPTION_TABLE`` below is Table 1, row by row.

The network: conv 7x7/2 (64), max pool 3x3/2, conv 1x1 (64) + conv 3x3 (192), max pool,
inception 3a-3b, max pool, 4a-4e, max pool, 5a-5b, global average pool, dropout 40%,
linear (1000): 22 layers with parameters. Two auxiliary classifiers sit on 4a and 4d during
training (Sect. 5: 5x5/3 average pool -> 1x1 conv 128 -> fc 1024 -> dropout 70% -> linear;
their losses count with weight 0.3) and are dropped at inference.

Differences from the paper, shared with torchvision so its ported weights load (the keys and
shapes are torchvision's; 6,624,904 parameters without the auxiliary heads):
  * each convolution is followed by BatchNorm (eps 1e-3) instead of local response norm;
  * branch3 uses a 3x3 kernel, a known slip of the ported model (torchvision issue 906);
    ``paper_5x5=True`` restores the paper's 5x5 (the weights then no longer load);
  * the auxiliary heads pool adaptively to 4x4 (equal to 5x5/3 on the paper's 14x14 maps),
    and every pooling uses ``ceil_mode`` so the map sizes match the paper's table.
Weights start from a normal with std 0.01 truncated at +-2 (as torchvision; the paper trained
with DistBelief and gives no scheme). ``transform_input=True`` maps ImageNet-normalised inputs
to the [-1, 1] range the ported weights expect.
"""
from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._geometry import check_bool, check_int
from .blocks import ConvBNReLU

INCEPTION_TABLE: dict[str, tuple[int, int, int, int, int, int, int]] = {
    # name: (in_channels, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj) - Table 1
    "inception3a": (192, 64, 96, 128, 16, 32, 32),  # 28x28, out 256
    "inception3b": (256, 128, 128, 192, 32, 96, 64),  # 28x28, out 480
    "inception4a": (480, 192, 96, 208, 16, 48, 64),  # 14x14, out 512
    "inception4b": (512, 160, 112, 224, 24, 64, 64),  # 14x14, out 512
    "inception4c": (512, 128, 128, 256, 24, 64, 64),  # 14x14, out 512
    "inception4d": (512, 112, 144, 288, 32, 64, 64),  # 14x14, out 528
    "inception4e": (528, 256, 160, 320, 32, 128, 128),  # 14x14, out 832
    "inception5a": (832, 256, 160, 320, 32, 128, 128),  # 7x7, out 832
    "inception5b": (832, 384, 192, 384, 48, 128, 128),  # 7x7, out 1024
}
"""Szegedy et al. 2015, Table 1: the channel numbers of every Inception module."""


class GoogLeNetOutputs(NamedTuple):
    """What a training-mode GoogLeNet with auxiliary heads returns (same order as torchvision)."""

    logits: Tensor
    aux_logits2: Optional[Tensor]
    aux_logits1: Optional[Tensor]


class Inception(nn.Module):
    """One Inception module: four parallel branches concatenated along the channels.

    Output channels = ``ch1x1 + ch3x3 + ch5x5 + pool_proj`` (e.g. 64+128+32+32 = 256 for 3a).
    """

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3red: int,
        ch3x3: int,
        ch5x5red: int,
        ch5x5: int,
        pool_proj: int,
        paper_5x5: bool = False,
    ) -> None:
        super().__init__()
        k5 = 5 if paper_5x5 else 3  # see the module docstring: torchvision's weights use 3x3
        self.branch1 = ConvBNReLU(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            ConvBNReLU(in_channels, ch3x3red, kernel_size=1),
            ConvBNReLU(ch3x3red, ch3x3, kernel_size=3, padding=1),
        )
        self.branch3 = nn.Sequential(
            ConvBNReLU(in_channels, ch5x5red, kernel_size=1),
            ConvBNReLU(ch5x5red, ch5x5, kernel_size=k5, padding=k5 // 2),
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            ConvBNReLU(in_channels, pool_proj, kernel_size=1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


class InceptionAux(nn.Module):
    """Auxiliary classifier (Sect. 5): pool to 4x4, 1x1 conv 128, fc 1024, dropout 0.7, linear."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7) -> None:
        super().__init__()
        self.conv = ConvBNReLU(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(128 * 4 * 4, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = F.adaptive_avg_pool2d(x, (4, 4))  # 14x14 -> 4x4, as a 5x5/3 average pool does
        x = torch.flatten(self.conv(x), 1)  # N x 2048
        x = self.dropout(F.relu(self.fc1(x), inplace=True))  # N x 1024
        return self.fc2(x)


class GoogLeNet(nn.Module):
    """GoogLeNet (Inception v1). Module names and order follow torchvision.

    Args:
        num_classes: outputs of the final linear layer (and of the auxiliary heads).
        in_channels: image channels (3).
        aux_logits: build the two auxiliary classifiers. In training mode the model then
            returns :class:`GoogLeNetOutputs` (logits, aux_logits2, aux_logits1); in eval mode,
            or without them, just the logits. Default False (a plain classifier); official
            weights contain the heads, so load them with ``aux_logits=True``.
        transform_input: re-normalise ImageNet-normalised inputs to [-1, 1] (ported weights).
        dropout: before the final linear layer (40% in the paper, 0.2 in torchvision).
        paper_5x5: 5x5 kernels in branch3 as in the paper (weights no longer load).
    """

    def __init__(
        self,
        num_classes: int = 1000,
        in_channels: int = 3,
        aux_logits: bool = False,
        transform_input: bool = False,
        dropout: float = 0.4,
        paper_5x5: bool = False,
    ) -> None:
        super().__init__()
        check_int(num_classes, "num_classes", minimum=1)
        check_int(in_channels, "in_channels", minimum=1)
        check_bool(aux_logits, "aux_logits")
        check_bool(transform_input, "transform_input")
        check_bool(paper_5x5, "paper_5x5")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout={dropout!r} must be in [0, 1)")
        if transform_input and in_channels != 3:
            raise ValueError(f"transform_input=True needs in_channels=3 (RGB), got in_channels={in_channels}")
        self.aux_logits = aux_logits
        self.transform_input = transform_input

        def inception(name: str) -> Inception:
            return Inception(*INCEPTION_TABLE[name], paper_5x5=paper_5x5)

        self.conv1 = ConvBNReLU(in_channels, 64, kernel_size=7, stride=2, padding=3)  # 112x112x64
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # 56x56x64
        self.conv2 = ConvBNReLU(64, 64, kernel_size=1)  # 3x3 reduce
        self.conv3 = ConvBNReLU(64, 192, kernel_size=3, padding=1)  # 56x56x192
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # 28x28x192
        self.inception3a = inception("inception3a")
        self.inception3b = inception("inception3b")
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # 14x14x480
        self.inception4a = inception("inception4a")
        self.inception4b = inception("inception4b")
        self.inception4c = inception("inception4c")
        self.inception4d = inception("inception4d")
        self.inception4e = inception("inception4e")
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)  # 7x7x832
        self.inception5a = inception("inception5a")
        self.inception5b = inception("inception5b")  # 7x7x1024
        self.aux1: Optional[InceptionAux] = InceptionAux(512, num_classes) if aux_logits else None  # on 4a
        self.aux2: Optional[InceptionAux] = InceptionAux(528, num_classes) if aux_logits else None  # on 4d
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))  # the paper's 7x7/1 average pool
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)

        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2.0, b=2.0)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _transform(self, x: Tensor) -> Tensor:
        # (x * std + mean - 0.5) / 0.5 per channel: undo ImageNet normalisation, map to [-1, 1].
        std = torch.tensor([0.229, 0.224, 0.225], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        mean = torch.tensor([0.485, 0.456, 0.406], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return (x * std + mean - 0.5) / 0.5

    def features(self, x: Tensor) -> tuple[Tensor, Optional[Tensor], Optional[Tensor]]:
        """The trunk up to the 1024 pooled features, plus the auxiliary logits (training only)."""
        if self.transform_input:
            x = self._transform(x)
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1: Optional[Tensor] = None
        if self.aux1 is not None and self.training:
            aux1 = self.aux1(x)
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2: Optional[Tensor] = None
        if self.aux2 is not None and self.training:
            aux2 = self.aux2(x)
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = torch.flatten(self.avgpool(x), 1)  # N x 1024
        return x, aux2, aux1

    def forward(self, x: Tensor) -> Tensor:
        """Logits; in training mode with ``aux_logits``, a :class:`GoogLeNetOutputs` instead."""
        features, aux2, aux1 = self.features(x)
        logits = self.fc(self.dropout(features))
        if aux1 is not None and aux2 is not None:
            return self._with_aux(logits, aux2, aux1)
        return logits

    @torch.jit.unused
    def _with_aux(self, logits: Tensor, aux2: Tensor, aux1: Tensor) -> Tensor:
        # Eager mode only (TorchScript wants one return type): script a model built with
        # aux_logits=False, or use it in eval mode.
        return GoogLeNetOutputs(logits, aux2, aux1)  # type: ignore[return-value]


def googlenet(
    num_classes: int = 1000,
    in_channels: int = 3,
    aux_logits: bool = False,
    transform_input: bool = False,
    dropout: float = 0.4,
    paper_5x5: bool = False,
) -> GoogLeNet:
    """GoogLeNet / Inception v1 (Szegedy et al. 2015); see :class:`GoogLeNet` for the options."""
    return GoogLeNet(num_classes, in_channels, aux_logits, transform_input, dropout, paper_5x5)


__all__ = ["INCEPTION_TABLE", "GoogLeNet", "GoogLeNetOutputs", "Inception", "InceptionAux", "googlenet"]
