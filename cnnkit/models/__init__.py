"""The lecture's architectures, LeNet (1998) to ResNet (2015), as readable PyTorch modules.

    >>> from cnnkit import models
    >>> models.names()[:3]
    ['lenet5', 'alexnet', 'vgg11']
    >>> net = models.get("resnet20", num_classes=10)            # He et al. 2016, CIFAR-10
    >>> plain = models.get("plain20")                            # the same without shortcuts
    >>> big = models.get("resnet50", num_classes=1000)           # torchvision-compatible keys

One file per family (``lenet``, ``alexnet``, ``vgg``, ``googlenet``, ``resnet`` for ImageNet,
``cifar_resnet`` for He et al.'s CIFAR nets), all built from the shared pieces in ``blocks``.
Each model also has its own constructor (``models.resnet20(...)``), and the module docstrings
tie every number to the paper's table. Models only: no data or training code here.
``load_pretrained("alexnet" | "vgg16" | "resnet18")`` (or ``alexnet(weights="imagenet")``) loads
torchvision's published ImageNet weights, downloaded once and verified (``pretrained``); without a
network it raises ``WeightsUnavailable`` with a one-line reason.
"""
from __future__ import annotations

import difflib
import inspect
from typing import Any, Callable, Optional

from torch import nn

from .alexnet import AlexNet, alexnet
from ..modules import count_parameters
from .blocks import BasicBlock, Bottleneck, ConvBNReLU, ZeroPadShortcut, projection_shortcut
from .cifar_resnet import (
    CifarResNet,
    plain20,
    plain32,
    plain44,
    plain56,
    plain110,
    resnet20,
    resnet32,
    resnet44,
    resnet56,
    resnet110,
)
from .googlenet import GoogLeNet, GoogLeNetOutputs, Inception, InceptionAux, googlenet
from .lenet import LeNet5, lenet5
from .pretrained import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    PUBLISHED,
    WeightsUnavailable,
    imagenet_batch,
    load_pretrained,
    pretrained_names,
    unnormalize,
    weights_path,
)
from .resnet import ResNet, resnet18, resnet34, resnet50, resnet101, resnet152
from .vgg import VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn

_LENET = (1, 32, 32)     # a 32x32 field, the digits centred in it (LeCun et al. 1998)
_CIFAR = (3, 32, 32)     # CIFAR-10 (He et al. 2016, Sect. 4.2)
_IMAGENET = (3, 224, 224)

#: name -> (constructor, the input one example of the model expects by default: (C, H, W)).
_REGISTRY: dict[str, tuple[Callable[..., nn.Module], tuple[int, int, int]]] = {
    fn.__name__: (fn, size)
    for fn, size in (
        (lenet5, _LENET),
        (alexnet, _IMAGENET),
        (vgg11, _IMAGENET),
        (vgg13, _IMAGENET),
        (vgg16, _IMAGENET),
        (vgg19, _IMAGENET),
        (vgg11_bn, _IMAGENET),
        (vgg13_bn, _IMAGENET),
        (vgg16_bn, _IMAGENET),
        (vgg19_bn, _IMAGENET),
        (googlenet, _IMAGENET),
        (resnet18, _IMAGENET),
        (resnet34, _IMAGENET),
        (resnet50, _IMAGENET),
        (resnet101, _IMAGENET),
        (resnet152, _IMAGENET),
        (resnet20, _CIFAR),
        (resnet32, _CIFAR),
        (resnet44, _CIFAR),
        (resnet56, _CIFAR),
        (resnet110, _CIFAR),
        (plain20, _CIFAR),
        (plain32, _CIFAR),
        (plain44, _CIFAR),
        (plain56, _CIFAR),
        (plain110, _CIFAR),
    )
}


def names() -> list[str]:
    """All model names ``get`` accepts, in the lecture's historical order."""
    return list(_REGISTRY)


def defaults(name: str) -> dict[str, Any]:
    """The keyword options of model ``name`` with their defaults, e.g. ``{"num_classes": 10, ...}``."""
    constructor = _lookup(name)
    return {p.name: p.default for p in inspect.signature(constructor).parameters.values()}


def input_size(name: str) -> tuple[int, int, int]:
    """The input one example of model ``name`` takes by default, ``(C, H, W)`` without the batch.

    >>> input_size("resnet20"), input_size("lenet5")
    ((3, 32, 32), (1, 32, 32))
    """
    return _REGISTRY[_check_name(name)][1]


def _lookup(name: object) -> Callable[..., nn.Module]:
    return _REGISTRY[_check_name(name)][0]


def _check_name(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {name!r} ({type(name).__name__}); known: {', '.join(names())}")
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name.lower(), names(), n=3)
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise ValueError(f"unknown model name={name!r}.{hint} Known: {', '.join(names())}")
    return name


def get(name: str, num_classes: Optional[int] = None, **options: Any) -> nn.Module:
    """Build model ``name`` (see :func:`names`) with ``num_classes`` outputs and its own options.

    ``num_classes=None`` keeps the model's default (10 for LeNet and the CIFAR nets, 1000 for
    the ImageNet ones). Unknown names raise ValueError listing the known ones; options the model
    does not take raise TypeError listing the ones it does; bad values (``shortcut="C"``) raise
    the constructor's ValueError, which lists what is allowed.
    """
    constructor = _lookup(name)
    allowed = inspect.signature(constructor).parameters
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(
            f"model {name!r} takes no option(s) {', '.join(unknown)}; its options: {', '.join(allowed)}"
        )
    if num_classes is not None:
        options["num_classes"] = num_classes
    return constructor(**options)


__all__ = [
    "AlexNet",
    "BasicBlock",
    "Bottleneck",
    "CifarResNet",
    "ConvBNReLU",
    "GoogLeNet",
    "GoogLeNetOutputs",
    "Inception",
    "InceptionAux",
    "LeNet5",
    "ResNet",
    "VGG",
    "ZeroPadShortcut",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "PUBLISHED",
    "WeightsUnavailable",
    "count_parameters",
    "imagenet_batch",
    "load_pretrained",
    "pretrained_names",
    "unnormalize",
    "weights_path",
    "defaults",
    "get",
    "input_size",
    "names",
    "projection_shortcut",
    *_REGISTRY,  # every model's own constructor: lenet5, alexnet, vgg11, ...
]
