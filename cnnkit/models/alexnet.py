"""AlexNet (Krizhevsky, Sutskever & Hinton 2012), as torchvision ships it and as the paper drew it.

"ImageNet Classification with Deep Convolutional Neural Networks", NIPS 2012, Sect. 3.5 and
Fig. 2: five convolutional and three fully connected layers, ReLU everywhere (Sect. 3.1),
overlapping 3x3 max pools with stride 2 (Sect. 3.4), dropout 0.5 in the first two fully
connected layers (Sect. 4.2), about 60 million parameters.

``variant="torchvision"`` (default) is the single-tower network of Krizhevsky's "One weird
trick" paper (2014) that torchvision implements and publishes weights for: convolutions of
64, 192, 384, 256, 256 filters, no response normalisation; 61,100,840 parameters. Its keys
equal torchvision's (``features.0/3/6/8/10``, ``classifier.1/4/6``).

``variant="original"`` is the 2012 network of Fig. 2 on one device:

    conv1  96 kernels 11x11x3, stride 4      -> LRN -> max pool 3/2
    conv2  256 kernels 5x5x48  (2 groups)    -> LRN -> max pool 3/2
    conv3  384 kernels 3x3x256 (all maps: the layer where the two GPUs talk)
    conv4  384 kernels 3x3x192 (2 groups)
    conv5  256 kernels 3x3x192 (2 groups)    -> max pool 3/2
    fc6 4096, fc7 4096, fc8 1000              60,965,224 parameters

The "2 groups" (``groups=2``) keep the two-GPU split: each half of a layer sees only the
half of the previous layer on its own GPU. Local response normalisation uses the paper's
k=2, n=5, alpha=1e-4, beta=0.75 (Sect. 3.3); PyTorch divides alpha by n, so it is given
5e-4 here. Initialisation follows Sect. 5: weights N(0, 0.01); biases 1 in conv2, conv4,
conv5 and the fully connected hidden layers fc6, fc7 ("accelerates the early stages of learning by providing
the ReLUs with positive inputs"), 0 elsewhere. The torchvision variant keeps PyTorch's default
initialisation, as torchvision does. Both variants end in a 6x6 adaptive average pool, so
inputs from 63x63 (torchvision) / 67x67 (original) upward work; the paper used 224x224 crops
(227x227 makes the arithmetic of conv1 exact).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from .._geometry import check_int

ALEXNET_VARIANTS = ("torchvision", "original")


def _torchvision_features(in_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, 64, kernel_size=11, stride=4, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(64, 192, kernel_size=5, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(192, 384, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
    )


def _original_features(in_channels: int) -> nn.Sequential:
    def lrn() -> nn.LocalResponseNorm:
        return nn.LocalResponseNorm(size=5, alpha=5 * 1e-4, beta=0.75, k=2.0)

    return nn.Sequential(
        nn.Conv2d(in_channels, 96, kernel_size=11, stride=4),  # conv1
        nn.ReLU(inplace=True),
        lrn(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=2),  # conv2
        nn.ReLU(inplace=True),
        lrn(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1),  # conv3
        nn.ReLU(inplace=True),
        nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=2),  # conv4
        nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=2),  # conv5
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
    )


class AlexNet(nn.Module):
    """AlexNet: ``features`` (5 conv layers), a 6x6 adaptive pool, ``classifier`` (3 fc layers).

    Args:
        num_classes: outputs of fc8 (1000 for ImageNet).
        in_channels: image channels (3).
        variant: "torchvision" (loadable official weights) or "original" (the 2012 paper).
        dropout: probability in front of fc6 and fc7 (0.5 in the paper).
    """

    def __init__(
        self,
        num_classes: int = 1000,
        in_channels: int = 3,
        variant: str = "torchvision",
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        check_int(num_classes, "num_classes", minimum=1)
        check_int(in_channels, "in_channels", minimum=1)
        if variant not in ALEXNET_VARIANTS:
            raise ValueError(f"variant={variant!r} is not one of {ALEXNET_VARIANTS}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout={dropout!r} must be in [0, 1)")
        self.variant = variant
        original = variant == "original"
        self.features = _original_features(in_channels) if original else _torchvision_features(in_channels)
        last_conv_channels = 256
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(last_conv_channels * 6 * 6, 4096),  # fc6
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),  # fc7
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),  # fc8
        )
        if original:
            self._init_as_in_paper()

    def _init_as_in_paper(self) -> None:
        """Krizhevsky et al. 2012, Sect. 5: N(0, 0.01) weights; bias 1 in conv2/4/5, fc6, fc7, else 0."""
        convs = [m for m in self.features if isinstance(m, nn.Conv2d)]
        linears = [m for m in self.classifier if isinstance(m, nn.Linear)]
        bias_one = [convs[1], convs[3], convs[4], linears[0], linears[1]]  # conv2, 4, 5, fc6, fc7
        for layer in convs + linears:
            nn.init.normal_(layer.weight, 0.0, 0.01)
            nn.init.constant_(layer.bias, 1.0 if any(layer is m for m in bias_one) else 0.0)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)  # N x 256 x 6 x 6 for a 224 (torchvision) / 227 (original) input
        x = torch.flatten(self.avgpool(x), 1)  # N x 9216
        return self.classifier(x)


def alexnet(
    num_classes: int = 1000, in_channels: int = 3, variant: str = "torchvision", dropout: float = 0.5,
    weights: Optional[str] = None,
) -> AlexNet:
    """AlexNet; ``variant`` "torchvision" (61.1M parameters, official weights load) or "original" (2012).

    ``weights="imagenet"`` loads torchvision's published ImageNet weights (downloaded once and
    verified, see :mod:`cnnkit.models.pretrained`) into the torchvision variant, in eval mode.
    """
    from .pretrained import check_weights_option, load_into

    check_weights_option(weights, "alexnet", num_classes, in_channels)
    if weights is not None and variant != "torchvision":
        raise ValueError(f"weights={weights!r} exist for variant='torchvision' only, got variant={variant!r}")
    model = AlexNet(num_classes=num_classes, in_channels=in_channels, variant=variant, dropout=dropout)
    return model if weights is None else load_into(model, "alexnet")


__all__ = ["ALEXNET_VARIANTS", "AlexNet", "alexnet"]
