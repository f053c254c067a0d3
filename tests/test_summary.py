"""cnnkit.summary: published parameter / MAC counts, receptive fields through branches
(analytic against gradient-based), the text table and the command line."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

from cnnkit import arith, models
from cnnkit.summary import (
    FLOP_CONVENTION,
    count_parameters,
    gradient_receptive_field,
    main,
    parse_input_size,
    receptive_field_of,
    rf_main,
    summary,
)


def on_meta(name: str, **options) -> nn.Module:
    """Build a model without allocating or initialising its weights."""
    with torch.device("meta"):
        return models.get(name, **options)


# ----------------------------------------------------------------------------- published figures
# torchvision's model documentation (docs.pytorch.org/vision/stable/models/generated/
# torchvision.models.<name>.html, weights IMAGENET1K_V1): "num_params" and "GFLOPS" at 224x224.
# The GFLOPS were computed for torchvision PR #6936 ("Adding FLOPs and size to model metadata")
# by counting one multiply-add as one operation: they are GMACs. FLOPs = 2 x MACs would be twice that.
TORCHVISION = [
    ("alexnet", 61_100_840, 0.71),
    ("vgg16", 138_357_544, 15.47),
    ("googlenet", 6_624_904, 1.50),
    ("resnet18", 11_689_512, 1.81),
    ("resnet50", 25_557_032, 4.09),
]


@pytest.mark.parametrize("name, params, gflops", TORCHVISION)
def test_torchvision_documented_params_and_gflops(name, params, gflops):
    result = summary(on_meta(name), (3, 224, 224), device="meta")
    assert result.total_params == params == result.trainable_params
    assert round(result.total_macs / 1e9, 2) == gflops  # torchvision's "GFLOPS" are GMACs
    assert result.total_flops == 2 * result.total_macs
    assert result.output_shape == (1, 1000)
    assert sum(r.macs for r in result.rows) == result.total_macs


@pytest.mark.parametrize("name, millions", [
    # He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition", CVPR 2016,
    # Table 6 (CIFAR-10): ResNet-20 0.27M, -32 0.46M, -44 0.66M, -56 0.85M, -110 1.7M params.
    ("resnet20", 0.27), ("resnet32", 0.46), ("resnet44", 0.66), ("resnet56", 0.85), ("resnet110", 1.7),
])
def test_cifar_resnet_params_he_2016_table6(name, millions):
    result = summary(models.get(name), (3, 32, 32))
    digits = 1 if millions >= 1 else 2
    assert round(result.total_params / 1e6, digits) == millions
    assert result.output_shape == (1, 10)
    assert sum(r.params for r in result.rows) == result.total_params


def test_lenet5_layer_by_layer_lecun_1998():
    # LeCun, Bottou, Bengio & Haffner, "Gradient-Based Learning Applied to Document
    # Recognition", Proc. IEEE 1998, Sect. II.B: trainable parameters C1 156, S2 12, C3 1,516,
    # S4 32, C5 48,120, F6 10,164 (C3 with the connection table of Table 1).
    net = models.get("lenet5", variant="classic", partial_c3=True)
    result = summary(net, (1, 32, 32))
    by_name = {r.name: r for r in result.rows}
    paper = {"c1": 156, "s2": 12, "c3": 1516, "s4": 32, "c5": 48120, "f6": 10164}
    assert {name: by_name[name].params for name in paper} == paper
    shapes = {name: by_name[name].output_shape[1:] for name in paper}
    assert shapes == {"c1": (6, 28, 28), "s2": (6, 14, 14), "c3": (16, 10, 10), "s4": (16, 5, 5),
                      "c5": (120, 1, 1), "f6": (84,)}
    assert [by_name[n].rf for n in ("c1", "s2", "c3", "s4", "c5")] == [5, 6, 14, 16, 32]
    assert by_name["f6"].rf is None
    # C1's MACs by hand: 28*28*6 outputs of 5*5*1 products.
    assert by_name["c1"].macs == arith.conv_macs(1, 6, 5, 28) == 28 * 28 * 6 * 25


def test_receptive_fields_of_the_lecture_models():
    # Araujo, Norris & Sim, Distill 2019, table of receptive fields: alexnet_v2 195 (effective
    # stride 32, padding 64), vgg_16 212 (32, 90). torchvision's AlexNet pads conv1 by 2 more
    # pixels (effective padding 66, same size 195).
    alex = receptive_field_of(on_meta("alexnet"), (3, 224, 224))
    assert (alex.rf, alex.jump, alex.effective_padding) == (195, 32, 66)
    vgg = receptive_field_of(on_meta("vgg16"), (3, 224, 224))
    assert (vgg.rf, vgg.jump, vgg.effective_padding) == (212, 32, 90)
    # Araujo's resnet_v1_50 (483) is TF-slim's layout, with the stride on the last unit of each
    # stage; torchvision's (and cnnkit's) stride is on the first: 11 after the stem, +8*3 in
    # layer1, 8+16*3 in layer2, 16+32*5 in layer3, 32+64*2 in layer4 = 427. tests/test_arith.py
    # checks the slim layout gives 483.
    res = receptive_field_of(on_meta("resnet50"), (3, 224, 224))
    assert (res.layer, res.rf, res.jump) == ("layer4", 11 + 24 + 56 + 176 + 160, 32)


# ----------------------------------------------------------------------------- MACs
def test_macs_of_each_kind_of_layer():
    net = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1, groups=2), nn.ReLU(),
                        nn.ConvTranspose2d(8, 2, 2, stride=2), nn.Flatten(), nn.Linear(2 * 16 * 16, 10))
    result = summary(net, (4, 8, 8))
    conv, _, up, _, fc = result.rows
    assert conv.macs == arith.conv_macs(4, 8, 3, 8, groups=2) == 8 * 8 * 8 * 2 * 9
    assert up.macs == 8 * 8 * 8 * 2 * 2 * 2  # every input value is spread over 2 maps x 2x2 taps
    assert up.output_shape == (1, 2, 16, 16)
    assert fc.macs == arith.linear_macs(512, 10)
    assert result.total_macs == conv.macs + up.macs + fc.macs
    assert fc.params == arith.linear_params(512, 10) and conv.params == arith.conv_params(4, 8, 3, groups=2)
    assert all(r.flops == 2 * r.macs for r in result.rows)


class SharedAndFunctional(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.register_buffer("scale", torch.ones(1))
        self.weight = nn.Parameter(torch.ones(6, 4))  # used by a matmul in forward, not in a leaf

    def forward(self, x):
        y = self.conv(self.conv(x))  # the same layer twice
        pooled = y.mean((2, 3))  # (1, 3)
        return torch.cat([pooled, pooled], 1) @ self.weight * self.scale


def test_shared_layers_count_once_and_functional_macs_count():
    net = SharedAndFunctional()
    result = summary(net, (3, 5, 5))
    convs = [r for r in result.rows if r.name == "conv"]
    assert len(convs) == 2 and [c.params for c in convs] == [84, 0]
    assert result.total_params == 84 + 24
    conv_macs = 2 * 5 * 5 * 3 * 27
    assert result.total_macs == conv_macs + 6 * 4  # the matmul of the root module counts too
    root = result.all_rows[0]  # a container comes before its layers
    assert root.name == "SharedAndFunctional" and not root.leaf and root.macs == result.total_macs
    assert convs[1].rf == 5  # two 3x3 convolutions
    assert root.rf is None  # a global mean has no local receptive field


def test_meta_and_cpu_agree_and_the_model_is_left_as_it_was():
    net = models.get("resnet20")
    net.train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    cpu = summary(net, (3, 32, 32))
    meta = summary(net, (3, 32, 32), device="meta")
    assert [(r.name, r.output_shape, r.params, r.macs, r.rf) for r in cpu.all_rows] == \
           [(r.name, r.output_shape, r.params, r.macs, r.rf) for r in meta.all_rows]
    assert all(m.training for m in net.modules())
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())
    assert all(p.device.type == "cpu" for p in net.parameters())
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # eval pass: BN statistics untouched


def test_gradient_measurement_leaves_the_model_alone():
    net = models.get("lenet5", variant="classic")  # trainable subsampling coefficients multiply activations
    with torch.no_grad():
        measured = gradient_receptive_field(net, (1, 32, 32), layer="c3")
    assert measured.rf == 14 and measured.mask.shape == (32, 32) and measured.mask.sum() == 14 * 14
    assert all(p.grad is None for p in net.parameters())
    assert all(not m._forward_hooks for m in net.modules())
    with pytest.raises(ValueError, match="meta device"):
        gradient_receptive_field(on_meta("lenet5"), (1, 32, 32))


@pytest.mark.parametrize("name", ["lenet5", "resnet20", "alexnet", "googlenet", "resnet50"])
def test_macs_agree_with_torch_flop_counter(name):
    """torch's own FlopCounterMode counts 2 FLOPs per multiply-accumulate of convolutions and matrix
    products (fully connected layers) and nothing else, the convention summary follows: FLOPs = 2 x MACs."""
    from torch.utils.flop_counter import FlopCounterMode

    model = on_meta(name).eval()
    size = models.input_size(name)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros((1, *size), device="meta"))
    result = summary(model, size, device="meta")
    assert counter.get_total_flops() == result.total_flops == 2 * result.total_macs


def test_every_registry_model_has_its_input_size():
    for name in models.names():
        size = models.input_size(name)
        assert len(size) == 3 and all(isinstance(v, int) and v > 0 for v in size), name
    assert models.input_size("lenet5") == (1, 32, 32)
    assert models.input_size("resnet56") == (3, 32, 32) and models.input_size("vgg16") == (3, 224, 224)
    with pytest.raises(ValueError, match="unknown model name='resnet21'"):
        models.input_size("resnet21")


def test_count_parameters_counts_shared_once_and_trainable():
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    net[1].weight.requires_grad_(False)
    shared = nn.Sequential(net, net[0])
    assert count_parameters(net) == 16 + 10
    assert count_parameters(shared) == 26
    assert count_parameters(net, trainable_only=True) == 26 - 8


# ----------------------------------------------------------------------------- receptive fields
class Inception(nn.Module):
    """GoogLeNet's four branches (1x1, 3x3, 5x5, 3x3 max pool + 1x1), concatenated."""

    def __init__(self, c: int = 2):
        super().__init__()
        self.b1 = nn.Conv2d(c, c, 1)
        self.b2 = nn.Sequential(nn.Conv2d(c, c, 1), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1))
        self.b3 = nn.Sequential(nn.Conv2d(c, c, 1), nn.ReLU(), nn.Conv2d(c, c, 5, padding=2))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(c, c, 1))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)


class Residual(nn.Module):
    def __init__(self, c: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, stride, padding=dilation, dilation=dilation)
        self.bn = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)
        self.stride = stride

    def forward(self, x):
        shortcut = x[:, :, :: self.stride, :: self.stride]
        return F.relu(self.conv2(F.relu(self.bn(self.conv1(x)))) + shortcut)


def branching_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 2, 3, stride=2, padding=1), nn.ReLU(),
        Inception(), nn.MaxPool2d(2),
        Residual(8, stride=2), Inception(8), Residual(32, dilation=2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 3),
    )


def test_branching_net_analytic_matches_gradient():
    net = branching_net()
    analytic = receptive_field_of(net, (1, 160, 160))
    # By hand: stem 3 (jump 2); inception's 5x5 +8 -> 11; pool 2 +2 -> 13 (jump 4);
    # residual stride 2: 3x3 +8, 3x3 at jump 8 +16 -> 37; inception 5x5 +32 -> 69;
    # dilated residual: 3x3 dilation 2 +32, 3x3 +16 -> 117.
    assert (analytic.layer, analytic.rf, analytic.jump) == ("6", 117, 8)
    measured = gradient_receptive_field(net, (1, 160, 160))
    assert measured.layer == "6" and not measured.touches_border
    assert measured.rf == analytic.rf
    assert measured.region == analytic.region(measured.unit)
    corner = gradient_receptive_field(net, (1, 160, 160), unit=(0, 0))
    assert corner.touches_border and corner.region == analytic.region((0, 0), clip_to=(160, 160))


def test_every_layer_of_a_branching_net_gets_its_own_receptive_field():
    result = summary(branching_net(), (1, 64, 64))
    by_name = {r.name: r for r in result.all_rows}
    assert by_name["2.b1"].rf == 3 and by_name["2.b3.2"].rf == 11 and by_name["2"].rf == 11
    assert by_name["4"].rf == 37 and by_name["4"].jump == 8
    assert by_name["7"].rf is None and by_name["9"].rf is None  # global pool, fully connected
    assert result.receptive_field.layer == "6"
    assert "Receptive field (6): 117 input pixels" in str(result)


def test_cifar_resnet20_analytic_matches_gradient():
    net = models.get("resnet20")  # option A shortcuts: strided slicing + zero channels
    analytic = receptive_field_of(net, (3, 100, 100))
    # 3x3 stem 3, stage 1: 6 convs +12 -> 15, stage 2: +2 (stride 2) +5*4 -> 37, stage 3: +4 +5*8 -> 81.
    assert (analytic.rf, analytic.jump, analytic.layer) == (81, 4, "layer3")
    measured = gradient_receptive_field(net, (3, 100, 100))
    assert measured.rf == 81 and measured.region == analytic.region(measured.unit)


@pytest.mark.slow
def test_googlenet_analytic_matches_gradient():
    net = models.get("googlenet")
    analytic = receptive_field_of(net, (3, 224, 224))
    measured = gradient_receptive_field(net, (3, 448, 448), layer=analytic.layer)
    assert not measured.touches_border and measured.rf == analytic.rf


class Functional(nn.Module):
    """Only functional calls: padding, convolution, stride-1 transposed convolution, adaptive pooling."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1, 1, 3, 3))

    def forward(self, x):
        x = F.pad(x, (2, 0, 1, 0))  # 2 columns on the left, 1 row on top: 10x12
        x = F.conv2d(x, self.weight)  # 8x10, RF 3
        x = F.conv_transpose2d(x, self.weight, padding=1)  # same size: a 3x3 convolution padded by 1, RF 5
        return F.adaptive_avg_pool2d(x, (4, 5))  # 2x2 windows at stride 2: RF 6, jump 2


def test_functional_ops_have_receptive_fields_too():
    net = Functional()
    analytic = receptive_field_of(net, (1, 9, 10))
    assert (analytic.layer, analytic.rf, analytic.jump, analytic.output_size) == ("Functional", 6, 2, (4, 5))
    assert analytic.effective_padding == (2, 3)  # 1 + 1 rows, 2 + 1 columns before the first pixel
    measured = gradient_receptive_field(net, (1, 9, 10), unit=(1, 2))
    assert measured.region == analytic.region((1, 2)) == ((0, 6), (1, 7))
    upsampled = summary(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Upsample(scale_factor=2)), (1, 8, 8))
    assert [r.rf for r in upsampled.rows] == [3, None]  # interpolation has no fixed window


def test_non_square_kernels_and_inputs_give_pairs():
    net = nn.Sequential(nn.Conv2d(1, 1, (1, 5), padding=(0, 2)), nn.Conv2d(1, 1, (3, 1), stride=(2, 1)))
    rf = receptive_field_of(net, (1, 20, 30))
    assert (rf.rf, rf.jump, rf.output_size) == ((3, 5), (2, 1), (9, 30))
    measured = gradient_receptive_field(net, (1, 20, 30), unit=(4, 10))
    assert measured.rf == (3, 5) and measured.region == rf.region((4, 10)) == ((8, 11), (8, 13))


layer_specs = st.tuples(
    st.sampled_from(["conv", "max", "avg"]), st.integers(1, 4), st.integers(1, 3), st.integers(0, 2),
    st.integers(1, 2), st.booleans(),
)


def torch_layers(specs) -> nn.Sequential:
    modules = []
    for kind, k, s, p, d, ceil in specs:
        if kind == "conv":
            modules += [nn.Conv2d(2, 2, k, stride=s, padding=p, dilation=d), nn.ReLU()]
        elif kind == "max":
            modules.append(nn.MaxPool2d(k, stride=s, padding=min(p, k // 2), dilation=d, ceil_mode=ceil))
        else:
            modules.append(nn.AvgPool2d(k, stride=s, padding=min(p, k // 2), ceil_mode=ceil))
    return nn.Sequential(*modules)


@settings(max_examples=40, deadline=None)
@given(specs=st.lists(layer_specs, min_size=1, max_size=4))
def test_summary_agrees_with_arith_and_gradients_on_random_stacks(specs):
    net = torch_layers(specs)
    n = 48
    try:
        table = arith.receptive_field(net, n)
    except ValueError:
        assume(False)
    rows = summary(net, (2, n, n)).rows
    assert [(r.rf, r.jump, r.output_shape[-1]) for r in rows] == [(t.rf, t.jump, t.output_size) for t in table]
    last = table[-1]
    assert rows[-1].effective_padding == -(last.start - (last.rf - 1) / 2)
    unit = (last.output_size // 2, last.output_size // 3)
    expected = arith.receptive_field_region(net, unit, n, clip=True)
    full = arith.receptive_field_region(net, unit, n)
    try:
        measured = gradient_receptive_field(net, (2, n, n), unit=unit, layer=rows[-1].name)
    except ValueError as err:  # a unit that sees only zero padding
        assert "no input pixel gets gradient" in str(err) and full != expected
        return
    # Inside the image the box is exact; at the border it is the clipped region or inside it
    # (the region's first pixels may be padding that no tap of a dilated or strided path hits).
    assert expected[0][0] <= measured.region[0][0] and measured.region[0][1] <= expected[0][1]
    assert expected[1][0] <= measured.region[1][0] and measured.region[1][1] <= expected[1][1]
    if full == expected:
        assert measured.region == expected


# ----------------------------------------------------------------------------- text and errors
def test_table_text_has_rows_totals_and_the_flop_convention():
    text = str(summary(models.get("resnet20"), "3x32x32"))
    lines = text.splitlines()
    assert lines[0].split()[:4] == ["Layer", "(type)", "Output", "shape"]
    assert any(line.startswith("conv1 (Conv2d)") and "[1, 16, 32, 32]" in line and "432" in line for line in lines)
    assert "Total params: 269,722" in text
    assert "FLOPs = 2 x MACs" in text and FLOP_CONVENTION in text
    assert "Receptive field (layer3): 81 input pixels, jump 4" in text


@pytest.mark.parametrize("value, expected", [("3x224x224", (3, 224, 224)), ((1, 28, 28), (1, 28, 28)),
                                             ([3, 32, 32], (3, 32, 32)), ("1X8x8", (1, 8, 8))])
def test_parse_input_size(value, expected):
    assert parse_input_size(value) == expected


@pytest.mark.parametrize("call, error, match", [
    (lambda: summary("resnet20", (3, 32, 32)), TypeError, r"model must be a torch.nn.Module, got str"),
    (lambda: summary(nn.Conv2d(1, 1, 3), "3xfoo"), ValueError, r"input_size must look like '3x224x224'"),
    (lambda: summary(nn.Conv2d(1, 1, 3), (1, 0, 8)), ValueError, r"input_size must be positive ints"),
    (lambda: summary(nn.Conv2d(1, 1, 3), (1, 8, 8), dtype="float"), TypeError, r"dtype must be a torch.dtype"),
    (lambda: summary(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 7)), (1, 8, 8)), ValueError,
     r"layer '1' \(Conv2d\) fails on input size \(1, 8, 8\): .*Kernel size can't be greater"),
    (lambda: summary(nn.Sequential(nn.Conv2d(1, 1, 3), nn.MaxPool2d(2), nn.MaxPool2d(2)), (1, 4, 4)), ValueError,
     r"layer '2' \(MaxPool2d\) fails on input size \(1, 4, 4\)"),
    (lambda: receptive_field_of(models.get("lenet5"), (1, 32, 32), layer="fc9"), ValueError,
     r"layer='fc9' is not a module"),
    (lambda: receptive_field_of(models.get("lenet5"), (1, 32, 32), layer="f6"), ValueError,
     r"layer='f6' has no receptive field"),
    (lambda: gradient_receptive_field(nn.Conv2d(1, 1, 3), (1, 8, 8), unit=(6, 0)), ValueError,
     r"unit must be an \(i, j\) pair inside the 6x6 output"),
    (lambda: gradient_receptive_field(nn.Conv2d(1, 1, 3), (1, 8, 8), layer="nope"), ValueError,
     r"layer='nope' is not a module"),
])
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_cli_summary_and_rf(capsys):
    assert main(["resnet20"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 269,722" in out and "layer3.2.conv2 (Conv2d)" in out
    assert main(["lenet5", "--input", "1x32x32", "--all"]) == 0
    out = capsys.readouterr().out
    assert "LeNet5" in out and "c5 (Conv2d)" in out
    assert rf_main(["alexnet", "--depth", "1", "--device", "meta"]) == 0
    out = capsys.readouterr().out
    assert "features" in out and "195" in out and "alexnet: receptive field 195" in out
    assert "features.0" not in out


def test_cli_errors(capsys):
    assert main(["resnet21"]) == 2
    assert "unknown model name='resnet21'" in capsys.readouterr().err
    assert rf_main(["resnet20", "--input", "3by32"]) == 2
    assert "input_size must look like" in capsys.readouterr().err
    assert rf_main(["resnet20", "--depth", "0"]) == 2
    with pytest.raises(SystemExit):
        main([])
