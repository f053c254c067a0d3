"""Tests for cnnkit.models: registry, parameter counts, torchvision keys, shapes, numerics, runs.

Big models are built on ``torch.device("meta")`` wherever only shapes matter (parameter counts,
state_dict keys, the paper's input sizes): no memory, no time. Real forward/backward passes use
the smallest inputs each architecture allows, batch 1-2.
"""
from __future__ import annotations

import math
import shutil
import warnings

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cnnkit import models
from cnnkit.models import blocks, lenet
from cnnkit.models.googlenet import INCEPTION_TABLE

HEAVY = pytest.mark.xdist_group("models-heavy")  # the big forward/backward runs share one worker

IMAGENET_NAMES = [
    "alexnet", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn",
    "googlenet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
]  # fmt: skip
CIFAR_NAMES = ["resnet20", "resnet32", "resnet44", "resnet56", "resnet110"]
PLAIN_NAMES = ["plain20", "plain32", "plain44", "plain56", "plain110"]
ALL_NAMES = ["lenet5", *IMAGENET_NAMES, *CIFAR_NAMES, *PLAIN_NAMES]


def build_meta(name: str, **options) -> nn.Module:
    """Build a model on the meta device: shapes only, no storage, no initialisation cost."""
    with torch.device("meta"):
        return models.get(name, **options)


def shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    return {key: tuple(value.shape) for key, value in model.state_dict().items()}


# ----------------------------------------------------------------------------------- registry


def test_names_are_the_issue_list_in_order():
    assert models.names() == ALL_NAMES


def test_every_name_has_its_own_constructor():
    for name in models.names():
        assert callable(getattr(models, name)), name


def test_get_uses_model_default_num_classes_and_overrides_it():
    assert build_meta("resnet20").fc.out_features == 10
    assert build_meta("lenet5").output.out_features == 10
    assert build_meta("resnet18").fc.out_features == 1000
    assert build_meta("resnet18", num_classes=7).fc.out_features == 7
    assert build_meta("vgg11", num_classes=3).classifier[6].out_features == 3


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown model") as info:
        models.get("resnet19")
    message = str(info.value)
    assert "resnet18" in message and "plain110" in message and "lenet5" in message


def test_name_must_be_a_string():
    with pytest.raises(TypeError, match="name must be a str"):
        models.get(20)


def test_unknown_option_lists_allowed_options():
    with pytest.raises(TypeError, match="no option.*depthh.*shortcut"):
        models.get("resnet20", depthh=3)


@pytest.mark.parametrize(
    "name, options, error, pattern",
    [
        ("resnet20", {"shortcut": "C"}, ValueError, "shortcut='C'.*'A'.*'B'"),
        ("resnet56", {"shortcut": None}, ValueError, "shortcut=None"),
        ("lenet5", {"variant": "lenet1"}, ValueError, "variant='lenet1'.*modern.*classic"),
        ("lenet5", {"partial_c3": True}, ValueError, "partial_c3=True needs variant='classic'"),
        ("lenet5", {"partial_c3": 1}, TypeError, "partial_c3 must be True or False"),
        ("alexnet", {"variant": "2014"}, ValueError, "variant='2014'"),
        ("resnet18", {"num_classes": 0}, ValueError, "num_classes must be >= 1, got 0"),
        ("resnet20", {"num_classes": 2.5}, TypeError, "num_classes must be an int, got 2.5"),
        ("vgg16", {"in_channels": True}, TypeError, "in_channels must be an int, got True"),
        ("vgg16", {"dropout": 1.0}, ValueError, "dropout=1.0"),
        ("googlenet", {"aux_logits": "yes"}, TypeError, "aux_logits must be True or False"),
        ("googlenet", {"transform_input": True, "in_channels": 1}, ValueError, "transform_input=True needs"),
    ],
)
def test_bad_option_values_are_named(name, options, error, pattern):
    with pytest.raises(error, match=pattern):
        build_meta(name, **options)


def test_cifar_depth_must_be_6n_plus_2():
    with pytest.raises(ValueError, match="depth=21 is not 6n\\+2"):
        models.CifarResNet(depth=21)


def test_defaults_reports_constructor_options():
    assert models.defaults("resnet20") == {
        "num_classes": 10, "in_channels": 3, "shortcut": "A", "zero_init_residual": False,
    }  # fmt: skip
    assert models.defaults("plain20") == {"num_classes": 10, "in_channels": 3}


# --------------------------------------------------------------------------- parameter counts

# torchvision's published figures: the "num_params" field of <Model>_Weights.IMAGENET1K_V1 on
# https://pytorch.org/vision/stable/models/generated/torchvision.models.<name>.html
# (e.g. .../torchvision.models.resnet18.html: num_params 11689512;
#  .../torchvision.models.googlenet.html: num_params 6624904, a model without aux heads).
TORCHVISION_NUM_PARAMS = {
    "alexnet": 61_100_840,
    "vgg11": 132_863_336,
    "vgg13": 133_047_848,
    "vgg16": 138_357_544,
    "vgg19": 143_667_240,
    "vgg11_bn": 132_868_840,
    "vgg13_bn": 133_053_736,
    "vgg16_bn": 138_365_992,
    "vgg19_bn": 143_678_248,
    "googlenet": 6_624_904,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
}


@pytest.mark.parametrize("name", IMAGENET_NAMES)
def test_parameter_count_equals_torchvision(name):
    assert models.count_parameters(build_meta(name)) == TORCHVISION_NUM_PARAMS[name]


# Simonyan & Zisserman 2015, Table 2: "Number of parameters (in millions)": A 133, B 133, D 138, E 144.
@pytest.mark.parametrize("name, millions", [("vgg11", 133), ("vgg13", 133), ("vgg16", 138), ("vgg19", 144)])
def test_vgg_parameter_count_matches_paper_table_2(name, millions):
    assert round(models.count_parameters(build_meta(name)) / 1e6) == millions


def test_alexnet_original_parameter_count():
    # Krizhevsky et al. 2012, Sect. 3.5 / Fig. 2, layer by layer (conv2, conv4, conv5 split into 2 groups).
    conv = [(96, 3, 11), (256, 48, 5), (384, 256, 3), (384, 192, 3), (256, 192, 3)]
    fc = [(4096, 256 * 6 * 6), (4096, 4096), (1000, 4096)]
    expected = sum(o * i * k * k + o for o, i, k in conv) + sum(o * i + o for o, i in fc)
    assert expected == 60_965_224  # "60 million parameters" (abstract)
    assert models.count_parameters(build_meta("alexnet", variant="original")) == expected


def cifar_resnet_parameters(
    n: int, shortcut: str = "A", widths=(16, 32, 64), classes: int = 10, in_channels: int = 3
) -> int:
    """He et al. 2016 Sect. 4.2 counted by hand: 3x3 convs without bias, BN (2 per channel), fc."""
    total = 9 * in_channels * widths[0] + 2 * widths[0]  # first 3x3 conv + BN
    in_width = widths[0]
    for width in widths:
        for block in range(n):
            c_in = in_width if block == 0 else width
            total += 9 * c_in * width + 9 * width * width + 4 * width
            if block == 0 and c_in != width and shortcut == "B":
                total += c_in * width + 2 * width  # 1x1 projection + BN
        in_width = width
    return total + widths[-1] * classes + classes


# He et al. 2016, Table 6, "# params": 0.27M, 0.46M, 0.66M, 0.85M, 1.7M.
@pytest.mark.parametrize("depth, millions", [(20, 0.27), (32, 0.46), (44, 0.66), (56, 0.85), (110, 1.7)])
def test_cifar_resnet_parameter_counts_match_table_6(depth, millions):
    count = models.count_parameters(build_meta(f"resnet{depth}"))
    assert count == cifar_resnet_parameters((depth - 2) // 6)
    digits = 1 if depth == 110 else 2
    assert round(count / 1e6, digits) == millions
    # the plain twin has exactly the same layers (option A shortcuts have no parameters)
    assert models.count_parameters(build_meta(f"plain{depth}")) == count


def test_option_b_adds_two_projections():
    count = models.count_parameters(build_meta("resnet20", shortcut="B"))
    assert count == cifar_resnet_parameters(3, "B") == 269_722 + (16 * 32 + 64) + (32 * 64 + 128)


# LeCun et al. 1998, Sect. II.B: trainable parameters per layer.
LENET_PAPER_COUNTS = {"c1": 156, "s2": 12, "c3": 1516, "s4": 32, "c5": 48120, "f6": 10164}


def test_lenet5_classic_partial_c3_has_the_papers_layer_counts():
    net = models.lenet5(variant="classic", partial_c3=True)
    counts = {name: models.count_parameters(getattr(net, name)) for name in LENET_PAPER_COUNTS}
    assert counts == LENET_PAPER_COUNTS
    assert models.count_parameters(net.output) == 84 * 10 + 10  # linear logits instead of fixed RBF units


def test_lenet5_modern_has_full_c3_and_no_pool_parameters():
    net = models.lenet5()
    assert models.count_parameters(net.c3) == 16 * (6 * 25 + 1) == 2416
    assert models.count_parameters(net.s2) == models.count_parameters(net.s4) == 0
    assert models.count_parameters(net) == 61_706


# LeCun et al. 1998, Table 1, transcribed row by row (rows: S2 maps 0-5, columns: C3 maps 0-15).
LECUN_TABLE_1_ROWS = [
    "X...XXX..XXXX.XX",
    "XX...XXX..XXXX.X",
    "XXX...XXX..X.XXX",
    ".XXX..XXXX..X.XX",
    "..XXX..XXXX.XX.X",
    "...XXX..XXXX.XXX",
]


def test_c3_connection_table_is_lecun_table_1():
    for s2_map, row in enumerate(LECUN_TABLE_1_ROWS):
        for c3_map, mark in enumerate(row):
            assert (s2_map in lenet.C3_TABLE[c3_map]) == (mark == "X"), (s2_map, c3_map)


# ------------------------------------------------------------- torchvision state_dict keys

def _conv(sd: dict, prefix: str, c_out: int, c_in: int, k: int, bias: bool) -> None:
    sd[f"{prefix}.weight"] = (c_out, c_in, k, k)
    if bias:
        sd[f"{prefix}.bias"] = (c_out,)


def _bn(sd: dict, prefix: str, c: int) -> None:
    for field in ("weight", "bias", "running_mean", "running_var"):
        sd[f"{prefix}.{field}"] = (c,)
    sd[f"{prefix}.num_batches_tracked"] = ()


def torchvision_resnet_keys(depth: int, classes: int = 1000) -> dict:
    """Keys/shapes of torchvision.models.resnet (read in pytorch/vision torchvision/models/resnet.py)."""
    bottleneck, layers = {
        18: (False, (2, 2, 2, 2)), 34: (False, (3, 4, 6, 3)), 50: (True, (3, 4, 6, 3)),
        101: (True, (3, 4, 23, 3)), 152: (True, (3, 8, 36, 3)),
    }[depth]  # fmt: skip
    expansion = 4 if bottleneck else 1
    sd: dict = {}
    _conv(sd, "conv1", 64, 3, 7, False)
    _bn(sd, "bn1", 64)
    inplanes = 64
    for stage, (planes, blocks_) in enumerate(zip((64, 128, 256, 512), layers)):
        for b in range(blocks_):
            p = f"layer{stage + 1}.{b}"
            stride = 2 if stage > 0 and b == 0 else 1
            if bottleneck:
                _conv(sd, f"{p}.conv1", planes, inplanes, 1, False)
                _bn(sd, f"{p}.bn1", planes)
                _conv(sd, f"{p}.conv2", planes, planes, 3, False)
                _bn(sd, f"{p}.bn2", planes)
                _conv(sd, f"{p}.conv3", planes * 4, planes, 1, False)
                _bn(sd, f"{p}.bn3", planes * 4)
            else:
                _conv(sd, f"{p}.conv1", planes, inplanes, 3, False)
                _bn(sd, f"{p}.bn1", planes)
                _conv(sd, f"{p}.conv2", planes, planes, 3, False)
                _bn(sd, f"{p}.bn2", planes)
            if stride != 1 or inplanes != planes * expansion:
                _conv(sd, f"{p}.downsample.0", planes * expansion, inplanes, 1, False)
                _bn(sd, f"{p}.downsample.1", planes * expansion)
            inplanes = planes * expansion
    sd["fc.weight"] = (classes, 512 * expansion)
    sd["fc.bias"] = (classes,)
    return sd


def torchvision_vgg_keys(depth: int, batch_norm: bool, classes: int = 1000) -> dict:
    """Keys/shapes of torchvision.models.vgg: cfgs "A", "B", "D", "E" and make_layers()."""
    cfg = {
        11: "64 M 128 M 256 256 M 512 512 M 512 512 M",
        13: "64 64 M 128 128 M 256 256 M 512 512 M 512 512 M",
        16: "64 64 M 128 128 M 256 256 256 M 512 512 512 M 512 512 512 M",
        19: "64 64 M 128 128 M 256 256 256 256 M 512 512 512 512 M 512 512 512 512 M",
    }[depth].split()
    sd: dict = {}
    index, c_in = 0, 3
    for item in cfg:
        if item == "M":
            index += 1
            continue
        _conv(sd, f"features.{index}", int(item), c_in, 3, True)
        if batch_norm:
            _bn(sd, f"features.{index + 1}", int(item))
        index += 3 if batch_norm else 2
        c_in = int(item)
    for index, (c_out, c_in) in zip((0, 3, 6), ((4096, 512 * 7 * 7), (4096, 4096), (classes, 4096))):
        sd[f"classifier.{index}.weight"] = (c_out, c_in)
        sd[f"classifier.{index}.bias"] = (c_out,)
    return sd


def torchvision_alexnet_keys(classes: int = 1000) -> dict:
    """Keys/shapes of torchvision.models.alexnet (features 0/3/6/8/10, classifier 1/4/6)."""
    sd: dict = {}
    convs = ((64, 3, 11), (192, 64, 5), (384, 192, 3), (256, 384, 3), (256, 256, 3))
    for index, (c_out, c_in, k) in zip((0, 3, 6, 8, 10), convs):
        _conv(sd, f"features.{index}", c_out, c_in, k, True)
    for index, (c_out, c_in) in zip((1, 4, 6), ((4096, 9216), (4096, 4096), (classes, 4096))):
        sd[f"classifier.{index}.weight"] = (c_out, c_in)
        sd[f"classifier.{index}.bias"] = (c_out,)
    return sd


def torchvision_googlenet_keys(aux_logits: bool, classes: int = 1000) -> dict:
    """Keys/shapes of torchvision.models.googlenet: BasicConv2d = conv (no bias) + bn (eps 1e-3)."""
    sd: dict = {}

    def basic(prefix: str, c_out: int, c_in: int, k: int) -> None:
        _conv(sd, f"{prefix}.conv", c_out, c_in, k, False)
        _bn(sd, f"{prefix}.bn", c_out)

    basic("conv1", 64, 3, 7)
    basic("conv2", 64, 64, 1)
    basic("conv3", 192, 64, 3)
    rows = [  # GoogLeNet.__init__: inception_block(in, 1x1, 3x3red, 3x3, 5x5red, 5x5 (3x3 kernel!), pool_proj)
        ("3a", 192, 64, 96, 128, 16, 32, 32), ("3b", 256, 128, 128, 192, 32, 96, 64),
        ("4a", 480, 192, 96, 208, 16, 48, 64), ("4b", 512, 160, 112, 224, 24, 64, 64),
        ("4c", 512, 128, 128, 256, 24, 64, 64), ("4d", 512, 112, 144, 288, 32, 64, 64),
        ("4e", 528, 256, 160, 320, 32, 128, 128), ("5a", 832, 256, 160, 320, 32, 128, 128),
        ("5b", 832, 384, 192, 384, 48, 128, 128),
    ]  # fmt: skip
    for name, c_in, c1, c3r, c3, c5r, c5, pool in rows:
        p = f"inception{name}"
        basic(f"{p}.branch1", c1, c_in, 1)
        basic(f"{p}.branch2.0", c3r, c_in, 1)
        basic(f"{p}.branch2.1", c3, c3r, 3)
        basic(f"{p}.branch3.0", c5r, c_in, 1)
        basic(f"{p}.branch3.1", c5, c5r, 3)
        basic(f"{p}.branch4.1", pool, c_in, 1)
    if aux_logits:
        for aux, c_in in (("aux1", 512), ("aux2", 528)):
            basic(f"{aux}.conv", 128, c_in, 1)
            sd[f"{aux}.fc1.weight"], sd[f"{aux}.fc1.bias"] = (1024, 2048), (1024,)
            sd[f"{aux}.fc2.weight"], sd[f"{aux}.fc2.bias"] = (classes, 1024), (classes,)
    sd["fc.weight"], sd["fc.bias"] = (classes, 1024), (classes,)
    return sd


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152])
def test_resnet_state_dict_matches_torchvision(depth):
    assert shapes(build_meta(f"resnet{depth}")) == torchvision_resnet_keys(depth)
    assert shapes(build_meta(f"resnet{depth}", num_classes=10)) == torchvision_resnet_keys(depth, 10)


@pytest.mark.parametrize("depth", [11, 13, 16, 19])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_vgg_state_dict_matches_torchvision(depth, batch_norm):
    name = f"vgg{depth}" + ("_bn" if batch_norm else "")
    assert shapes(build_meta(name)) == torchvision_vgg_keys(depth, batch_norm)


def test_alexnet_state_dict_matches_torchvision():
    assert shapes(build_meta("alexnet")) == torchvision_alexnet_keys()


@pytest.mark.parametrize("aux_logits", [False, True])
def test_googlenet_state_dict_matches_torchvision(aux_logits):
    assert shapes(build_meta("googlenet", aux_logits=aux_logits)) == torchvision_googlenet_keys(aux_logits)


def test_expected_key_generators_agree_with_published_counts():
    # The hand-written torchvision key lists are themselves checked against the published counts.
    def params(sd: dict) -> int:
        return sum(math.prod(s) for k, s in sd.items() if not k.endswith(("running_mean", "running_var", "tracked")))

    assert params(torchvision_resnet_keys(50)) == TORCHVISION_NUM_PARAMS["resnet50"]
    assert params(torchvision_vgg_keys(16, True)) == TORCHVISION_NUM_PARAMS["vgg16_bn"]
    assert params(torchvision_alexnet_keys()) == TORCHVISION_NUM_PARAMS["alexnet"]
    assert params(torchvision_googlenet_keys(False)) == TORCHVISION_NUM_PARAMS["googlenet"]


def test_official_style_state_dict_loads_strictly():
    # A state_dict with torchvision's keys (random values) loads with strict=True.
    net = models.resnet18(num_classes=10)
    official = {k: torch.randn(s) if s else torch.tensor(0) for k, s in torchvision_resnet_keys(18, 10).items()}
    net.load_state_dict(official, strict=True)
    assert torch.equal(net.layer2[0].downsample[0].weight, official["layer2.0.downsample.0.weight"])


# --------------------------------------------------------------- shapes at the papers' inputs


def _output_shapes(model: nn.Module, x: torch.Tensor, names: list[str]) -> dict[str, tuple[int, ...]]:
    seen: dict[str, tuple[int, ...]] = {}
    hooks = [
        getattr(model, n).register_forward_hook(lambda m, i, o, n=n: seen.__setitem__(n, tuple(o.shape)))
        for n in names
    ]
    model(x)
    for h in hooks:
        h.remove()
    return seen


def test_resnet_shapes_at_224_follow_table_1():
    net = build_meta("resnet50")
    names = ["maxpool", "layer1", "layer2", "layer3", "layer4", "fc"]
    seen = _output_shapes(net, torch.empty(1, 3, 224, 224, device="meta"), names)
    assert seen == {
        "maxpool": (1, 64, 56, 56), "layer1": (1, 256, 56, 56), "layer2": (1, 512, 28, 28),
        "layer3": (1, 1024, 14, 14), "layer4": (1, 2048, 7, 7), "fc": (1, 1000),
    }  # fmt: skip


def test_cifar_resnet_shapes_at_32_follow_section_4_2():
    net = build_meta("resnet56")
    seen = _output_shapes(net, torch.empty(1, 3, 32, 32, device="meta"), ["conv1", "layer1", "layer2", "layer3", "fc"])
    assert seen == {
        "conv1": (1, 16, 32, 32), "layer1": (1, 16, 32, 32), "layer2": (1, 32, 16, 16),
        "layer3": (1, 64, 8, 8), "fc": (1, 10),
    }  # fmt: skip


def test_googlenet_shapes_at_224_follow_table_1():
    net = build_meta("googlenet")
    names = ["maxpool1", "conv3", "maxpool2", "inception3a", "inception3b", "inception4a", "inception4e",
             "maxpool4", "inception5b"]  # fmt: skip
    seen = _output_shapes(net, torch.empty(1, 3, 224, 224, device="meta"), names)
    assert seen == {
        "maxpool1": (1, 64, 56, 56), "conv3": (1, 192, 56, 56), "maxpool2": (1, 192, 28, 28),
        "inception3a": (1, 256, 28, 28), "inception3b": (1, 480, 28, 28), "inception4a": (1, 512, 14, 14),
        "inception4e": (1, 832, 14, 14), "maxpool4": (1, 832, 7, 7), "inception5b": (1, 1024, 7, 7),
    }  # fmt: skip


@pytest.mark.parametrize("name", [n for n in IMAGENET_NAMES if n.startswith("vgg")])
def test_vgg_at_224_gives_7x7x512_features_and_logits(name):
    net = build_meta(name)
    x = torch.empty(1, 3, 224, 224, device="meta")
    assert tuple(net.features(x).shape) == (1, 512, 7, 7)
    assert tuple(net(x).shape) == (1, 1000)


@pytest.mark.parametrize("variant, size, maps", [("torchvision", 224, 256), ("original", 227, 256)])
def test_alexnet_features_at_paper_input_are_6x6(variant, size, maps):
    net = build_meta("alexnet", variant=variant)
    assert tuple(net.features(torch.empty(1, 3, size, size, device="meta")).shape) == (1, maps, 6, 6)
    if variant == "original":
        convs = [m for m in net.features if isinstance(m, nn.Conv2d)]
        assert [m.groups for m in convs] == [1, 2, 1, 2, 2]  # the two-GPU split of Fig. 2


def test_lenet5_shapes_at_32_follow_figure_2():
    net = models.lenet5(variant="classic", partial_c3=True)
    seen = _output_shapes(net, torch.zeros(1, 1, 32, 32), ["c1", "s2", "c3", "s4", "c5", "f6", "output"])
    assert seen == {
        "c1": (1, 6, 28, 28), "s2": (1, 6, 14, 14), "c3": (1, 16, 10, 10), "s4": (1, 16, 5, 5),
        "c5": (1, 120, 1, 1), "f6": (1, 84), "output": (1, 10),
    }  # fmt: skip


def test_lenet5_rejects_unpadded_28x28_digits():
    with pytest.raises(ValueError, match="32x32.*got 28x28"):
        models.lenet5()(torch.zeros(1, 1, 28, 28))


# ------------------------------------------------- the hand-written pieces against PyTorch


@settings(max_examples=15, deadline=None)
@given(
    data=st.data(),
    in_channels=st.integers(1, 4),
    out_channels=st.integers(1, 5),
    kernel=st.integers(1, 3),
    size=st.integers(3, 7),
)
def test_partial_conv_equals_dense_conv_with_masked_kernel(data, in_channels, out_channels, kernel, size):
    subsets = st.lists(st.integers(0, in_channels - 1), min_size=1, max_size=in_channels, unique=True)
    table = tuple(tuple(sorted(data.draw(subsets))) for _ in range(out_channels))
    layer = lenet.PartialConv2d(in_channels, table, kernel).double()
    with torch.no_grad():
        layer.weight.normal_()
        layer.bias.normal_()
    x = torch.randn(2, in_channels, size, size, dtype=torch.float64, requires_grad=True)

    dense = torch.zeros(out_channels, in_channels, kernel, kernel, dtype=torch.float64)
    position = 0
    for out, inputs in enumerate(table):
        for inp in inputs:
            dense[out, inp] = layer.weight.detach()[position]
            position += 1
    dense.requires_grad_(True)
    bias = layer.bias.detach().clone().requires_grad_(True)
    x_ref = x.detach().clone().requires_grad_(True)

    out = layer(x)
    ref = F.conv2d(x_ref, dense, bias)
    torch.testing.assert_close(out, ref)
    upstream = torch.randn_like(ref)
    out.backward(upstream)
    ref.backward(upstream)
    torch.testing.assert_close(x.grad, x_ref.grad)
    torch.testing.assert_close(layer.bias.grad, bias.grad)
    expected_weight_grad = torch.stack([dense.grad[o, i] for o, inputs in enumerate(table) for i in inputs])
    torch.testing.assert_close(layer.weight.grad, expected_weight_grad)


@settings(max_examples=10, deadline=None)
@given(channels=st.integers(1, 4), half_h=st.integers(1, 4), half_w=st.integers(1, 4))
def test_trainable_subsampling_sums_2x2_blocks(channels, half_h, half_w):
    layer = lenet.TrainableSubsampling(channels).double()
    with torch.no_grad():
        layer.weight.normal_()
        layer.bias.normal_()
    x = torch.randn(2, channels, 2 * half_h, 2 * half_w, dtype=torch.float64, requires_grad=True)
    block_sum = x[..., 0::2, 0::2] + x[..., 0::2, 1::2] + x[..., 1::2, 0::2] + x[..., 1::2, 1::2]
    expected = block_sum * layer.weight.view(1, -1, 1, 1) + layer.bias.view(1, -1, 1, 1)
    torch.testing.assert_close(layer(x), expected)
    assert torch.autograd.gradcheck(layer, (x,))


@settings(max_examples=10, deadline=None)
@given(
    c_in=st.integers(1, 4), extra=st.integers(0, 4), stride=st.integers(1, 3),
    h=st.integers(1, 7), w=st.integers(1, 7),
)  # fmt: skip
def test_zero_pad_shortcut_is_subsampled_identity_plus_zero_channels(c_in, extra, stride, h, w):
    shortcut = blocks.ZeroPadShortcut(c_in, c_in + extra, stride)
    x = torch.randn(2, c_in, h, w, dtype=torch.float64, requires_grad=True)
    expected = torch.zeros(2, c_in + extra, math.ceil(h / stride), math.ceil(w / stride), dtype=torch.float64)
    expected[:, :c_in] = x.detach()[:, :, ::stride, ::stride]
    torch.testing.assert_close(shortcut(x), expected)
    assert torch.autograd.gradcheck(shortcut, (x,))
    assert models.count_parameters(shortcut) == 0


@pytest.mark.parametrize("table", [(), ((0, 1), ()), ((0, 0),), ((0, 6),)])
def test_partial_conv_rejects_bad_tables(table):
    with pytest.raises(ValueError, match="table="):
        lenet.PartialConv2d(6, table, 5)


def test_scaled_tanh_maps_plus_minus_one_to_itself():
    # LeCun et al. 1998, Appendix A: A = 1.7159, S = 2/3 chosen so that f(1) = 1 and f(-1) = -1.
    f = lenet.ScaledTanh()
    values = f(torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(values, torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64), atol=1e-4, rtol=0)
    x = torch.randn(5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(f, (x,))


def test_lenet_classic_init_is_uniform_within_2_4_over_fan_in():
    torch.manual_seed(0)
    net = models.lenet5(variant="classic", partial_c3=True)
    assert net.c1.weight.abs().max() <= 2.4 / 25
    assert net.c5.weight.abs().max() <= 2.4 / (16 * 25)
    assert net.f6.weight.abs().max() <= 2.4 / 120
    # C3 map 0 reads 3 S2 maps (fan-in 75), map 15 reads all 6 (fan-in 150)
    assert net.c3.weight[:3].abs().max() <= 2.4 / 75
    assert net.c3.weight[-6:].abs().max() <= 2.4 / 150
    assert net.c3.weight[:3].abs().max() > 2.4 / 150  # the narrower maps do use their wider range


# --------------------------------------------------------- residual wiring, plain twins, init


@pytest.mark.parametrize("block_type", [blocks.BasicBlock, blocks.Bottleneck])
@pytest.mark.parametrize("stride, shortcut", [(1, "B"), (2, "A"), (2, "B")])
def test_zeroed_residual_branch_leaves_the_shortcut(block_type, stride, shortcut):
    torch.manual_seed(0)
    planes = 4
    in_channels = planes * block_type.expansion if stride == 1 else 3
    block = block_type(in_channels, planes, stride, shortcut).eval()
    blocks.init_he(block, zero_init_residual=True)
    x = torch.randn(2, in_channels, 6, 6)
    identity = x if block.downsample is None else block.downsample(x)
    torch.testing.assert_close(block(x), F.relu(identity))
    plain = block_type(in_channels, planes, stride, shortcut, residual=False).eval()
    blocks.init_he(plain, zero_init_residual=True)
    assert plain.downsample is None
    assert torch.count_nonzero(plain(x)) == 0  # no shortcut: a zeroed branch gives zeros


@settings(max_examples=6, deadline=None)
@given(
    n=st.integers(1, 2), in_channels=st.integers(1, 3), size=st.integers(4, 12), classes=st.integers(1, 5),
    shortcut=st.sampled_from(["A", "B"]), residual=st.booleans(),
)  # fmt: skip
def test_cifar_resnet_any_depth_and_small_input_gives_logits(n, in_channels, size, classes, shortcut, residual):
    net = models.CifarResNet(6 * n + 2, classes, in_channels, shortcut, residual, widths=(4, 8, 16))
    x = torch.randn(2, in_channels, size, size)
    out = net(x)
    assert out.shape == (2, classes)
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    expected = cifar_resnet_parameters(n, shortcut if residual else "A", (4, 8, 16), classes, in_channels)
    assert models.count_parameters(net) == expected


def test_blocks_reject_unknown_shortcut():
    with pytest.raises(ValueError, match="shortcut='C'"):
        blocks.BasicBlock(4, 8, 2, shortcut="C")


def test_plain_net_has_no_shortcuts_and_resnet_has_them():
    plain, res = models.plain20(), models.resnet20()
    assert all(not b.residual and b.downsample is None for b in plain.modules() if isinstance(b, blocks.BasicBlock))
    shortcuts = [b.downsample for b in res.modules() if isinstance(b, blocks.BasicBlock) and b.downsample is not None]
    assert len(shortcuts) == 2 and all(isinstance(s, blocks.ZeroPadShortcut) for s in shortcuts)
    torch.manual_seed(0)
    x = torch.randn(2, 3, 32, 32)
    plain.load_state_dict(res.state_dict())  # same parameters: only the wiring differs
    assert not torch.allclose(plain.eval()(x), res.eval()(x))


def test_resnet_init_is_he_normal():
    torch.manual_seed(0)
    net = models.resnet56()
    w = net.layer3[4].conv1.weight  # 64 x 64 x 3 x 3: fan_out = 64 * 9
    assert abs(w.std().item() - math.sqrt(2 / (64 * 9))) < 0.05 * math.sqrt(2 / (64 * 9))
    assert torch.all(net.layer3[4].bn1.weight == 1) and torch.all(net.layer3[4].bn1.bias == 0)


def test_googlenet_inception_concatenates_the_four_branches():
    module = models.Inception(*INCEPTION_TABLE["inception3a"]).eval()
    y = module(torch.randn(1, 192, 8, 8))
    assert y.shape == (1, 64 + 128 + 32 + 32, 8, 8)
    five = models.Inception(*INCEPTION_TABLE["inception3a"], paper_5x5=True)
    assert five.branch3[1].conv.kernel_size == (5, 5)
    assert module.branch3[1].conv.kernel_size == (3, 3)


def test_googlenet_aux_heads_only_in_training():
    torch.manual_seed(0)
    net = models.googlenet(num_classes=5, aux_logits=True)
    x = torch.randn(2, 3, 32, 32)
    out = net.train()(x)
    assert isinstance(out, models.GoogLeNetOutputs)
    assert [tuple(t.shape) for t in out] == [(2, 5)] * 3
    assert net.eval()(x).shape == (2, 5)
    assert models.googlenet(num_classes=5).train()(x).shape == (2, 5)


# ------------------------------------------------- every model: forward + backward on the CPU

# name -> (input size, options): the smallest sensible input (32x32 or 64x64 where possible).
DEEP_VGGS = ["vgg13", "vgg16", "vgg19", "vgg13_bn", "vgg16_bn", "vgg19_bn"]
RUN_CASES = [
    ("lenet5", 32, {}),
    ("lenet5", 32, {"variant": "classic", "partial_c3": True}),
    ("alexnet", 64, {}),  # torchvision's minimum is 63x63
    ("alexnet", 67, {"variant": "original"}),  # conv1 without padding needs 67x67
    ("vgg11", 32, {}),
    ("vgg11_bn", 32, {}),
    *[(name, 32, {}) for name in IMAGENET_NAMES if name.startswith(("googlenet", "resnet"))],
    ("googlenet", 32, {"aux_logits": True}),
    *[(name, 32, {}) for name in CIFAR_NAMES + PLAIN_NAMES],
    ("resnet20", 32, {"shortcut": "B"}),
]
SLOW_RUNS = {"alexnet", "vgg11", "vgg11_bn", "resnet101", "resnet152"}  # over ~5 s of CPU each
RUN_PARAMS = [
    pytest.param(name, size, options, marks=[pytest.mark.slow] if name in SLOW_RUNS else [],
                 id=f"{name}-{size}-{'-'.join(map(str, options.values()))}".rstrip("-"))
    for name, size, options in RUN_CASES
]  # fmt: skip


def _loss(out) -> tuple[torch.Tensor, torch.Tensor]:
    """A scalar loss and the main logits; GoogLeNet's aux heads count with weight 0.3 (Sect. 5)."""
    if isinstance(out, models.GoogLeNetOutputs):
        assert out.aux_logits1 is not None and out.aux_logits2 is not None
        aux = out.aux_logits1.float().logsumexp(1).sum() + out.aux_logits2.float().logsumexp(1).sum()
        return out.logits.float().logsumexp(1).sum() + 0.3 * aux, out.logits
    return out.float().logsumexp(1).sum(), out


def _check_grads(net: nn.Module) -> None:
    for key, p in net.named_parameters():
        if p.requires_grad:
            assert p.grad is not None, f"{key} got no gradient"
            assert p.grad.dtype == torch.float32 and torch.isfinite(p.grad).all(), key
    net.zero_grad(set_to_none=True)


@HEAVY
@pytest.mark.parametrize("name, size, options", RUN_PARAMS)
def test_forward_backward_channels_last_and_autocast(name, size, options):
    torch.manual_seed(0)
    classes = 7
    in_channels = 1 if name == "lenet5" else 3
    big_classifier = name.startswith(("vgg", "alexnet"))  # 25088x4096 / 9216x4096 fully connected layers
    batch = 1 if big_classifier else 2  # BatchNorm on 1x1 maps needs 2 samples in training mode
    net = models.get(name, num_classes=classes, **options).train().to(memory_format=torch.channels_last)
    x = torch.randn(batch, in_channels, size, size).contiguous(memory_format=torch.channels_last)

    loss, out = _loss(net(x))
    loss.backward()
    assert out.shape == (batch, classes) and out.dtype == torch.float32 and torch.isfinite(out).all()
    _check_grads(net)

    if big_classifier:
        # bf16 matrix-vector products with these huge weights take seconds on a CPU without
        # bf16 units; the classifier is plain Linear layers, so its backward is checked in fp32.
        net.classifier.requires_grad_(False)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, out = _loss(net(x))
    loss.backward()
    assert out.shape == (batch, classes) and out.dtype == torch.bfloat16 and torch.isfinite(out.float()).all()
    _check_grads(net)


@HEAVY
@pytest.mark.parametrize("name", DEEP_VGGS)
def test_deep_vgg_features_forward_backward(name):
    # The deeper VGGs differ from VGG-11 only in `features` (the classifier is identical, checked
    # here); running the 100M-parameter classifier again for each depth would only cost time.
    reference, net = build_meta("vgg11_bn" if name.endswith("_bn") else "vgg11"), build_meta(name)
    assert shapes(net.classifier) == shapes(reference.classifier)
    features = net.features.to_empty(device="cpu")
    for m in features.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            m.reset_parameters()
            m.reset_running_stats()
    features = features.train().to(memory_format=torch.channels_last)
    x = torch.randn(2, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    for autocast in (False, True):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            y = features(x)
        assert y.shape == (2, 512, 1, 1) and y.dtype == (torch.bfloat16 if autocast else torch.float32)
        y.float().square().sum().backward()
        _check_grads(features)


@pytest.mark.parametrize("name, options", [("resnet18", {}), ("vgg11_bn", {}), ("resnet20", {})])
def test_in_channels_is_honoured(name, options):
    net = build_meta(name, in_channels=1, **options)
    first = next(m for m in net.modules() if isinstance(m, nn.Conv2d))
    assert first.in_channels == 1


# ----------------------------------------------------------------- TorchScript, torch.compile


def _script(model: nn.Module):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.script is deprecated in 2.x
        return torch.jit.script(model)


@pytest.mark.parametrize(
    "name, options",
    [("lenet5", {}), ("lenet5", {"variant": "classic", "partial_c3": True}), ("resnet20", {}),
     ("resnet20", {"shortcut": "B"}), ("plain20", {})],
)  # fmt: skip
def test_small_models_script_and_agree_with_eager(name, options):
    torch.manual_seed(0)
    net = models.get(name, **options).eval()
    scripted = _script(net)
    x = torch.randn(2, 1 if name == "lenet5" else 3, 32, 32)
    torch.testing.assert_close(scripted(x), net(x))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["alexnet", "vgg11_bn", "googlenet", "resnet50"])
def test_imagenet_models_are_scriptable(name):
    _script(build_meta(name))  # compiles the graph; meta weights are enough for that


@pytest.mark.slow
def test_torch_compile_lenet5():
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("torch.compile (inductor) needs a C compiler; none on PATH")
    torch.manual_seed(0)
    net = models.lenet5().eval()
    x = torch.randn(4, 1, 32, 32)
    try:
        compiled = torch.compile(net)
        out = compiled(x)
    except Exception as error:  # a broken/missing toolchain surfaces as a backend failure
        message = str(error).lower()
        if "compiler" in message or "not supported" in message or "BackendCompilerFailed" in type(error).__name__:
            pytest.skip(f"torch.compile unavailable here: {type(error).__name__}")
        raise
    torch.testing.assert_close(out, net(x), rtol=1e-4, atol=1e-5)
