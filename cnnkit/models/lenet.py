"""LeNet-5 (LeCun, Bottou, Bengio, Haffner 1998), classic and modern.

"Gradient-Based Learning Applied to Document Recognition", Proc. IEEE 86(11), Sect. II.B and
Fig. 2. Input: a 32x32 image (MNIST digits are 28x28 and were centred in a 32x32 field; padding
or resizing them is the data loader's job). The layers, with the paper's trainable-parameter
counts:

    layer  what                                   output      params (paper)
    C1     6 convolutions 5x5                     6 x 28x28      156
    S2     2x2 subsampling, coefficient + bias    6 x 14x14       12
    C3     16 convolutions 5x5, Table 1 inputs   16 x 10x10    1,516
    S4     2x2 subsampling, coefficient + bias   16 x 5x5         32
    C5     120 convolutions 5x5 (a full layer)  120 x 1x1     48,120
    F6     84 units, fully connected             84           10,164
    output 10 Euclidean RBF units (paper)        10            (fixed)

Classic variant (``variant="classic"``): the squashing function is the scaled tanh
``f(a) = 1.7159 tanh(2a/3)`` (Appendix A); S2/S4 add the four inputs of each 2x2 block,
multiply by a trainable coefficient, add a trainable bias and squash (Sect. II.B); C3 is fully
connected to S2 unless ``partial_c3=True`` selects the paper's connection table (Table 1).
Weights start uniform in [-2.4/F, 2.4/F], F the fan-in of the unit (Appendix A).

The output layer: the paper used Euclidean radial basis function units whose parameters were
fixed bitmaps (7x12 stylised characters), trained with a special MAP loss. Here both variants
end in an ordinary ``Linear(84, num_classes)`` giving logits for the cross-entropy loss (850
parameters for 10 classes), as every modern re-implementation does.

Modern variant (``variant="modern"``, the default): the same shape with ReLU, 2x2 max pooling
and a fully connected C3 - what "LeNet" means in today's tutorials.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._geometry import check_bool, check_int

LENET_VARIANTS = ("modern", "classic")

C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)  # fmt: skip
"""LeCun et al. 1998, Table 1: for each C3 map (column), the S2 maps (rows marked X) it reads.

Maps 0-5 read 3 contiguous S2 maps, 6-11 read 4 contiguous, 12-14 read 4 non-contiguous
and map 15 reads all 6: 6*(3*25+1) + 9*(4*25+1) + (6*25+1) = 1,516 parameters. Breaking the
symmetry forces the maps to extract different features and keeps the connection count down."""


class ScaledTanh(nn.Module):
    """``f(a) = A tanh(S a)`` with A = 1.7159 and S = 2/3 (LeCun et al. 1998, Appendix A).

    The constants make f(1) = 1 and f(-1) = -1, with the largest second derivative at +-1,
    so targets of +-1 sit in the well-behaved part of the curve.
    """

    def __init__(self) -> None:
        super().__init__()
        self.amplitude = 1.7159
        self.slope = 2.0 / 3.0

    def forward(self, x: Tensor) -> Tensor:
        return self.amplitude * torch.tanh(self.slope * x)


class TrainableSubsampling(nn.Module):
    """S2/S4 of LeNet-5: sum each 2x2 block, times a trainable coefficient, plus a trainable bias.

    One coefficient and one bias per feature map, so 2 parameters per map (S2: 12, S4: 32).
    The squashing function is applied by the caller, as for the convolutions.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        block_sum = 4.0 * F.avg_pool2d(x, kernel_size=2, stride=2)
        return block_sum * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class PartialConv2d(nn.Module):
    """A convolution in which output map ``j`` reads only the input maps listed in ``table[j]``.

    Only the connected kernels are parameters (``weight`` has one kH x kW kernel per
    connection), so the parameter count is the paper's. The forward pass scatters them into a
    full, mostly zero kernel and runs one ordinary convolution: simple and fast.
    """

    def __init__(self, in_channels: int, table: tuple[tuple[int, ...], ...], kernel_size: int) -> None:
        super().__init__()
        check_int(in_channels, "in_channels", minimum=1)
        check_int(kernel_size, "kernel_size", minimum=1)
        if len(table) == 0 or any(len(inputs) == 0 or len(set(inputs)) != len(inputs) for inputs in table):
            raise ValueError(f"table={table!r} needs, for every output map, a non-empty list of distinct input maps")
        pairs = [(out, inp) for out, inputs in enumerate(table) for inp in inputs]
        if any(not 0 <= inp < in_channels for _, inp in pairs):
            raise ValueError(f"table={table!r} reads an input map outside 0..{in_channels - 1}")
        self.in_channels = in_channels
        self.out_channels = len(table)
        self.kernel_size = kernel_size
        self.table = table
        # Index buffers move with .to(device) but stay out of the state_dict (they are the table).
        self.register_buffer("out_index", torch.tensor([o for o, _ in pairs], dtype=torch.long), persistent=False)
        self.register_buffer("in_index", torch.tensor([i for _, i in pairs], dtype=torch.long), persistent=False)
        self.weight = nn.Parameter(torch.empty(len(pairs), kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(self.out_channels))

    def full_weight(self) -> Tensor:
        """The equivalent dense (out, in, k, k) kernel, zero where the table has no connection."""
        k = self.kernel_size
        full = self.weight.new_zeros(self.out_channels, self.in_channels, k, k)
        return full.index_put((self.out_index, self.in_index), self.weight)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.full_weight(), self.bias)


class LeNet5(nn.Module):
    """LeNet-5 for 32x32 images; layer names follow the paper (c1, s2, c3, s4, c5, f6, output).

    Args:
        num_classes: outputs of the last layer (10 digits).
        variant: "modern" (ReLU, max pooling) or "classic" (scaled tanh, trainable subsampling).
        in_channels: 1 for digits; 3 for CIFAR-style colour images.
        partial_c3: classic only - use the C3 connection table of Table 1.
    """

    def __init__(
        self,
        num_classes: int = 10,
        variant: str = "modern",
        in_channels: int = 1,
        partial_c3: bool = False,
    ) -> None:
        super().__init__()
        check_int(num_classes, "num_classes", minimum=1)
        check_int(in_channels, "in_channels", minimum=1)
        check_bool(partial_c3, "partial_c3")
        if variant not in LENET_VARIANTS:
            raise ValueError(f"variant={variant!r} is not one of {LENET_VARIANTS}")
        if partial_c3 and variant != "classic":
            raise ValueError("partial_c3=True needs variant='classic' (the modern LeNet has a full C3)")
        self.variant = variant
        classic = variant == "classic"

        self.c1 = nn.Conv2d(in_channels, 6, kernel_size=5)  # 6 x 28 x 28, (25+1)*6 = 156
        self.s2 = TrainableSubsampling(6) if classic else nn.MaxPool2d(2)  # 6 x 14 x 14
        self.c3: nn.Module = PartialConv2d(6, C3_TABLE, 5) if partial_c3 else nn.Conv2d(6, 16, 5)  # 16 x 10 x 10
        self.s4 = TrainableSubsampling(16) if classic else nn.MaxPool2d(2)  # 16 x 5 x 5
        self.c5 = nn.Conv2d(16, 120, kernel_size=5)  # 120 x 1 x 1, (400+1)*120 = 48,120
        self.f6 = nn.Linear(120, 84)  # (120+1)*84 = 10,164
        self.output = nn.Linear(84, num_classes)  # logits (the paper: fixed RBF units)
        self.act: nn.Module = ScaledTanh() if classic else nn.ReLU()
        if classic:
            self._init_lecun()

    def _init_lecun(self) -> None:
        """Uniform in [-2.4/F, 2.4/F], F = inputs of the unit (LeCun et al. 1998, Appendix A)."""
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()
                bound = 2.4 / fan_in
                nn.init.uniform_(module.weight, -bound, bound)
                nn.init.uniform_(module.bias, -bound, bound)
            elif isinstance(module, TrainableSubsampling):
                nn.init.uniform_(module.weight, -2.4 / 4, 2.4 / 4)
                nn.init.uniform_(module.bias, -2.4 / 4, 2.4 / 4)
            elif isinstance(module, PartialConv2d):
                k2 = module.kernel_size**2
                # Each C3 map has its own fan-in: (number of S2 maps it reads) x 5 x 5.
                map_bound = [2.4 / (len(inputs) * k2) for inputs in module.table]
                kernel_bound = [map_bound[out] for out, inputs in enumerate(module.table) for _ in inputs]
                with torch.no_grad():
                    module.weight.uniform_(-1.0, 1.0).mul_(module.weight.new_tensor(kernel_bound).view(-1, 1, 1))
                    module.bias.uniform_(-1.0, 1.0).mul_(module.bias.new_tensor(map_bound))

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != 32 or x.shape[-2] != 32:
            raise ValueError(
                f"LeNet-5 expects 32x32 inputs (pad 28x28 digits by 2), got {x.shape[-2]}x{x.shape[-1]}"
            )
        x = self.s2(self.act(self.c1(x)))
        if self.variant == "classic":
            x = self.act(x)  # the subsampling units squash their output too
        x = self.s4(self.act(self.c3(x)))
        if self.variant == "classic":
            x = self.act(x)
        x = self.act(self.c5(x))
        x = self.act(self.f6(torch.flatten(x, 1)))
        return self.output(x)


def lenet5(
    num_classes: int = 10,
    variant: str = "modern",
    in_channels: int = 1,
    partial_c3: bool = False,
) -> LeNet5:
    """LeNet-5 (LeCun et al. 1998) for 32x32 inputs; see :class:`LeNet5` and the module docstring."""
    return LeNet5(num_classes=num_classes, variant=variant, in_channels=in_channels, partial_c3=partial_c3)


__all__ = ["C3_TABLE", "LENET_VARIANTS", "LeNet5", "PartialConv2d", "ScaledTanh", "TrainableSubsampling", "lenet5"]
