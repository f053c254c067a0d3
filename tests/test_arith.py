"""cnnkit.arith: output sizes against torch.nn on random inputs, receptive fields against
gradients and against published tables, and the lecture's worked numbers."""
from __future__ import annotations

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

from cnnkit import arith
from cnnkit.arith import (
    RFRow,
    conv_macs,
    conv_output_size,
    conv_params,
    conv_transpose_output_size,
    format_rf_table,
    linear_params,
    pool_output_size,
    receptive_field,
    receptive_field_region,
    same_padding,
)

FEW = settings(max_examples=60, deadline=None)


def torch_shape(layer: nn.Module, height: int, width: int):
    """(h, w) torch gives, or the exception it raises."""
    try:
        with torch.no_grad():
            return tuple(layer(torch.zeros(1, 1, height, width)).shape[2:])
    except (RuntimeError, ValueError) as err:
        return err


def ours(func, *args, **kwargs):
    try:
        out = func(*args, **kwargs)
    except ValueError as err:
        return err
    return out if isinstance(out, tuple) else (out, out)


def same_outcome(expected, got):
    if isinstance(expected, Exception):
        assert isinstance(got, Exception), f"torch raised {expected!r} but arith gave {got}"
    else:
        assert not isinstance(got, Exception), f"torch gave {expected} but arith raised {got!r}"
        assert got == expected


# ----------------------------------------------------------------------------- lecture numbers
def test_lecture_32x32x3_with_six_5x5_filters_gives_28x28x6():
    # Lecture 14, "Convolutions: more detail": 6 filters of 5x5x3 on 32x32x3 -> 28x28x6.
    assert conv_output_size(32, 5) == 28
    assert conv_output_size((32, 32), (5, 5)) == (28, 28)
    conv = nn.Conv2d(3, 6, 5)
    assert tuple(conv(torch.zeros(1, 3, 32, 32)).shape[1:]) == (6, 28, 28)
    assert conv_params(3, 6, 5) == 6 * (5 * 5 * 3 + 1)


def test_lecture_alexnet_first_layer_227_gives_55x55x96():
    # Lecture 14, AlexNet diagram: 227x227x3, 11x11 stride 4, 96 filters -> 55x55x96.
    assert conv_output_size(227, 11, stride=4) == 55
    assert conv_output_size(227, 11, stride=4, strict=True) == 55  # (227 - 11) / 4 + 1 is exact
    # The AlexNet paper's 224 does not divide: (224 - 11) / 4 + 1 = 54.25.
    with pytest.raises(ValueError, match="not divisible by stride=4"):
        conv_output_size(224, 11, stride=4, strict=True)
    assert conv_output_size(224, 11, stride=4) == 54


def test_lecture_200x200_image_100_filters_10x10_is_10k_parameters():
    # Lecture 14, "Convolutional layer": 200x200 image, 100 filters of 10x10 -> 10K parameters.
    assert conv_params(1, 100, 10, bias=False) == 10_000
    # The same image fully connected to 40K hidden units (Ranzato's companion slide: ~2B;
    # exactly 1.6e9 without biases): 160,000 times as many.
    assert linear_params(200 * 200, 40_000, bias=False) == 1_600_000_000
    # Fully connected to a map of the conv's own output size, 191x191x100, it is worse still.
    out = conv_output_size(200, 10)
    assert out == 191
    assert linear_params(200 * 200, out * out * 100, bias=False) == 40_000 * 191 * 191 * 100


def test_lecture_pooling_receptive_field_is_p_plus_k_minus_1():
    # Lecture 14, "Pooling layer: receptive field size": KxK conv at stride 1 then PxP pooling
    # at stride 1 -> each pooling unit depends on a (P + K - 1) x (P + K - 1) input patch.
    for k in range(1, 8):
        for p in range(1, 6):
            rows = receptive_field([("conv", k, 1, 0), ("maxpool", p, 1, 0)])
            assert rows[-1].rf == p + k - 1


def test_conv_macs_matches_a_hand_count():
    # AlexNet conv1 in the lecture's diagram: 55*55*96 outputs, each 11*11*3 MACs.
    assert conv_macs(3, 96, 11, 55) == 55 * 55 * 96 * 11 * 11 * 3
    assert conv_macs(4, 8, 3, (5, 6), groups=2) == 8 * 5 * 6 * 2 * 9
    with pytest.raises(ValueError, match="groups=3"):
        conv_macs(4, 8, 3, 5, groups=3)


# ----------------------------------------------------------------------------- against torch
sizes = st.integers(1, 24)
kernels = st.integers(1, 7)
strides = st.integers(1, 4)
dilations = st.integers(1, 3)


@FEW
@given(h=sizes, w=sizes, kh=kernels, kw=kernels, sh=strides, sw=strides,
       ph=st.integers(0, 3), pw=st.integers(0, 3), dh=dilations, dw=dilations)
def test_conv_output_size_matches_torch(h, w, kh, kw, sh, sw, ph, pw, dh, dw):
    layer = nn.Conv2d(1, 1, (kh, kw), stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw))
    same_outcome(torch_shape(layer, h, w), ours(conv_output_size, (h, w), (kh, kw), (sh, sw), (ph, pw), (dh, dw)))


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@FEW
@given(n=sizes, k=kernels, d=dilations, padding=st.sampled_from(["same", "valid"]))
def test_conv_string_padding_matches_torch(n, k, d, padding):
    layer = nn.Conv2d(1, 1, k, padding=padding, dilation=d)
    same_outcome(torch_shape(layer, n, n), ours(conv_output_size, n, k, 1, padding, d))


@FEW
@given(h=sizes, w=sizes, k=kernels, s=st.one_of(st.none(), strides), p=st.integers(0, 3),
       d=dilations, ceil=st.booleans(), kind=st.sampled_from(["max", "avg"]))
def test_pool_output_size_matches_torch(h, w, k, s, p, d, ceil, kind):
    if kind == "max":
        layer = nn.MaxPool2d(k, stride=s, padding=p, dilation=d, ceil_mode=ceil)
    else:
        d = 1  # AvgPool2d has no dilation
        layer = nn.AvgPool2d(k, stride=s, padding=p, ceil_mode=ceil)
    same_outcome(torch_shape(layer, h, w), ours(pool_output_size, (h, w), k, s, p, d, ceil))


@FEW
@given(h=st.integers(1, 12), w=st.integers(1, 12), k=kernels, s=strides, p=st.integers(0, 4),
       op=st.integers(0, 3), d=dilations)
def test_conv_transpose_output_size_matches_torch(h, w, k, s, p, op, d):
    layer = nn.ConvTranspose2d(1, 1, k, stride=s, padding=p, output_padding=op, dilation=d)
    expected = torch_shape(layer, h, w)
    got = ours(conv_transpose_output_size, (h, w), k, s, p, op, d)
    if not isinstance(expected, Exception) and 0 in expected:
        # When the formula gives exactly 0, torch 2.x sometimes raises and sometimes returns an
        # empty tensor, depending on the kernel it picks: arith always raises.
        assert isinstance(got, ValueError) and "crops more than" in str(got)
        return
    same_outcome(expected, got)


@FEW
@given(n=st.integers(1, 30), k=kernels, s=strides, p=st.integers(0, 3), d=dilations)
def test_transpose_undoes_conv(n, k, s, p, d):
    """A transposed conv with output_padding = the dropped remainder restores the input size."""
    try:
        out = conv_output_size(n, k, s, p, d)
    except ValueError:
        assume(False)
    remainder = (n + 2 * p - d * (k - 1) - 1) % s
    assume(remainder < s or remainder < d)
    assert conv_transpose_output_size(out, k, s, p, remainder, d) == n


@FEW
@given(n=sizes, k=kernels, d=dilations)
def test_same_padding_keeps_size(n, k, d):
    try:
        p = same_padding(k, d)
    except ValueError as err:
        assert (d * (k - 1)) % 2 == 1 and "cannot be split evenly" in str(err)
        return
    assert conv_output_size(n, k, 1, p, d) == n


def test_int_or_pair_in_same_form_out():
    assert conv_output_size(10, 3) == 8
    assert conv_output_size((10, 12), 3) == (8, 10)
    assert conv_output_size(10, (3, 5)) == (8, 6)
    assert pool_output_size(10, 2) == 5
    assert pool_output_size((10, 9), 2, ceil_mode=True) == (5, 5)
    assert same_padding((3, 5)) == (1, 2)
    assert conv_transpose_output_size((4, 5), 2, stride=2) == (8, 10)


def test_strict_says_why_and_what_torch_does():
    with pytest.raises(ValueError, match=r"not divisible by stride=2.*floors it to 4"):
        conv_output_size(10, 3, stride=2, strict=True)
    with pytest.raises(ValueError, match=r"along the width"):
        conv_output_size((9, 10), 3, stride=2, strict=True)
    with pytest.raises(ValueError, match="rounds it up"):
        pool_output_size(5, 2, ceil_mode=True, strict=True)
    assert pool_output_size(6, 2, strict=True) == 3


@pytest.mark.parametrize("call, match", [
    (lambda: conv_output_size(4, 7), r"kernel_size=7 .* larger than the padded input 4"),
    (lambda: conv_output_size(4, 3, dilation=2), r"covering 5 pixels with dilation=2"),
    (lambda: conv_output_size(8, 3, stride=0), r"stride must be >= 1, got 0"),
    (lambda: conv_output_size(8, 3, padding=-1), r"padding must be >= 0, got -1"),
    (lambda: conv_output_size(8, 3, padding="full"), r"padding must be .*'same'"),
    (lambda: conv_output_size(8, 3, stride=2, padding="same"), r"padding='same' needs stride 1"),
    (lambda: conv_output_size(0, 3), r"n must be >= 1"),
    (lambda: conv_output_size(8, (3, 3, 3)), r"kernel_size must be an int or a pair of ints \(height, width\)"),
    (lambda: pool_output_size(8, 3, padding=2), r"padding=2 must be at most half of kernel_size=3"),
    (lambda: conv_transpose_output_size(4, 3, stride=2, output_padding=2), r"output_padding=2 must be smaller"),
    (lambda: same_padding(4), r"cannot be split evenly"),
])
def test_bad_arguments_raise_value_errors_naming_them(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("call, match", [
    (lambda: conv_output_size(8.0, 3), r"n must be an int"),
    (lambda: conv_output_size(True, 3), r"n must be an int"),
    (lambda: pool_output_size(8, 2, ceil_mode=1), r"ceil_mode must be True or False"),
    (lambda: conv_params(3, "6", 5), r"out_channels must be an int"),
])
def test_wrong_types_raise_type_errors(call, match):
    with pytest.raises(TypeError, match=match):
        call()


# ----------------------------------------------------------------------------- receptive fields
def alexnet_v2_features():
    """TF-slim's alexnet_v2 (the network of Araujo et al.'s table): conv1 VALID, others SAME."""
    return [
        {"kind": "conv", "kernel_size": 11, "stride": 4, "padding": 0, "name": "conv1"},
        {"kind": "relu"},
        {"kind": "maxpool", "kernel_size": 3, "stride": 2, "name": "pool1"},
        {"kind": "conv", "kernel_size": 5, "padding": 2, "name": "conv2"},
        {"kind": "maxpool", "kernel_size": 3, "stride": 2, "name": "pool2"},
        ("conv", 3, 1, 1), ("conv", 3, 1, 1), ("conv", 3, 1, 1),
        {"kind": "maxpool", "kernel_size": 3, "stride": 2, "name": "pool5"},
    ]


def vgg16_features():
    layers = []
    for n_convs in (2, 2, 3, 3, 3):
        layers += [("conv", 3, 1, 1), ("relu",)] * n_convs + [("maxpool", 2, 2, 0)]
    return layers


def slim_resnet_v1_50_longest_path():
    """TF-slim resnet_v1_50's main path (stride on the 3x3 conv of the *last* unit of blocks 1-3).

    The shortcut paths are shorter, so the largest receptive field is this path's. Slim's
    max pool uses TensorFlow's 'SAME' padding, which on an even input (112) pads only the
    bottom/right: no padding before the first unit, hence padding 0 here.
    """
    layers = [("conv", 7, 2, 3), ("maxpool", 3, 2, 0)]
    for units, stride in ((3, 2), (4, 2), (6, 2), (3, 1)):
        for unit in range(units):
            s = stride if unit == units - 1 else 1
            layers += [("conv", 1, 1, 0), ("conv", 3, s, 1), ("conv", 1, 1, 0)]
    return layers


@pytest.mark.parametrize("layers, rf, jump, effective_padding", [
    # Araujo, Norris & Sim, "Computing Receptive Fields of Convolutional Neural Networks",
    # Distill 2019, table "receptive field / effective stride / effective padding":
    # alexnet_v2 195 / 32 / 64, vgg_16 212 / 32 / 90, resnet_v1_50 483 / 32 / 239.
    (alexnet_v2_features, 195, 32, 64),
    (vgg16_features, 212, 32, 90),
    (slim_resnet_v1_50_longest_path, 483, 32, 239),
])
def test_published_receptive_fields_araujo_2019(layers, rf, jump, effective_padding):
    last = receptive_field(layers())[-1]
    assert (last.rf, last.jump) == (rf, jump)
    # start = centre of the first unit = -effective padding + (rf - 1) / 2
    assert last.start == -effective_padding + (rf - 1) / 2


def test_torchvision_alexnet_layout_from_modules():
    """The same geometry read off torch modules; torchvision pads conv1 by 2 (effective padding 64 + 2 = 66)."""
    features = nn.Sequential(
        nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
    )
    rows = receptive_field(features, input_size=224)
    assert [r.name for r in rows[:3]] == ["0", "1", "2"]
    assert rows[0].kind == "conv" and rows[2].kind == "maxpool" and rows[1].kind == "relu"
    assert rows[-1].rf == 195 and rows[-1].output_size == 6
    assert receptive_field_region(features, (0, 0), 224) == ((-66, 129), (-66, 129))
    out = features(torch.zeros(1, 3, 224, 224))
    assert [r.output_size for r in rows][-1] == out.shape[-1]


def test_rows_are_frozen_with_the_documented_fields():
    row = receptive_field([{"kind": "conv", "kernel_size": 5, "stride": 1, "padding": 0, "dilation": 1,
                            "name": "C1"}], input_size=32)[0]
    assert isinstance(row, RFRow)
    assert (row.name, row.kind, row.kernel_size, row.stride, row.padding, row.dilation) == ("C1", "conv", 5, 1, 0, 1)
    assert (row.rf, row.jump, row.start, row.output_size) == (5, 1, 2.0, 28)
    with pytest.raises(AttributeError):
        row.rf = 3  # type: ignore[misc]
    assert receptive_field([("conv", 3)])[0].output_size is None


def test_non_square_layers_give_pairs_on_every_row():
    rows = receptive_field([("conv", (1, 7), 1, (0, 3)), ("relu",), ("maxpool", 2)], input_size=(10, 20))
    assert rows[0].rf == (1, 7) and rows[0].output_size == (10, 20)
    assert rows[2].rf == (2, 8) and rows[2].jump == (2, 2) and rows[2].output_size == (5, 10)
    assert rows[1].kernel_size == (1, 1)
    table = format_rf_table(rows)
    assert "1x7" in table and "5x10" in table


def test_lenet5_sizes_and_receptive_fields():
    # LeCun et al. 1998, Fig. 2: 32x32 -> C1 28x28 -> S2 14x14 -> C3 10x10 -> S4 5x5 -> C5 1x1.
    layers = [{"kind": "conv", "kernel_size": 5, "name": "C1"}, {"kind": "avgpool", "kernel_size": 2, "name": "S2"},
              {"kind": "conv", "kernel_size": 5, "name": "C3"}, {"kind": "avgpool", "kernel_size": 2, "name": "S4"},
              {"kind": "conv", "kernel_size": 5, "name": "C5"}]
    rows = receptive_field(layers, 32)
    assert [r.output_size for r in rows] == [28, 14, 10, 5, 1]
    assert [r.rf for r in rows] == [5, 6, 14, 16, 32]  # C5 sees the whole 32x32 input
    table = format_rf_table(rows)
    assert table.splitlines()[0].split()[:4] == ["#", "layer", "kind", "kernel"]
    assert "C5" in table and "32" in table.splitlines()[-3]


layer_specs = st.tuples(
    st.sampled_from(["conv", "pool"]), st.integers(1, 4), st.integers(1, 3), st.integers(0, 2), st.integers(1, 2),
)


def build_torch(specs) -> nn.Sequential:
    """Positive weights and average pooling: every pixel a unit depends on gets gradient."""
    modules: list[nn.Module] = []
    for kind, k, s, p, d in specs:
        if kind == "conv":
            conv = nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d, bias=False).double()
            nn.init.constant_(conv.weight, 1.0)
            modules.append(conv)
        else:
            modules.append(nn.AvgPool2d(k, stride=s, padding=min(p, k // 2)))
    return nn.Sequential(*modules)


@settings(max_examples=40, deadline=None)
@given(specs=st.lists(layer_specs, min_size=1, max_size=4), data=st.data())
def test_region_is_where_the_gradient_is(specs, data):
    """Back-propagate from one output unit: the input pixels that get gradient lie in the region,
    and the region's edges are hit exactly when it lies inside the image."""
    net = build_torch(specs)
    n = 40
    try:
        rows = receptive_field(net, n)
    except ValueError:
        assume(False)
    out_size = rows[-1].output_size
    unit = (data.draw(st.integers(0, out_size - 1)), data.draw(st.integers(0, out_size - 1)))
    x = torch.ones(1, 1, n, n, dtype=torch.float64, requires_grad=True)
    out = net(x)
    assert out.shape[-1] == out_size
    out[0, 0, unit[0], unit[1]].backward()
    hit = (x.grad[0, 0] != 0).nonzero()
    (top, bottom), (left, right) = receptive_field_region(net, unit, n)
    assert bottom - top == rows[-1].rf == right - left
    (ctop, cbottom), (cleft, cright) = receptive_field_region(net, unit, n, clip=True)
    assert (ctop, cleft) == (max(top, 0), max(left, 0)) and (cbottom, cright) == (min(bottom, n), min(right, n))
    if len(hit):
        assert ctop <= hit[:, 0].min() and hit[:, 0].max() < cbottom
        assert cleft <= hit[:, 1].min() and hit[:, 1].max() < cright
    if top >= 0 and left >= 0 and bottom <= n and right <= n:
        assert (hit[:, 0].min(), hit[:, 0].max() + 1) == (top, bottom)
        assert (hit[:, 1].min(), hit[:, 1].max() + 1) == (left, right)


def test_region_of_a_3x3_conv_then_2x2_pool():
    layers = [("conv", 3, 1, 1), ("maxpool", 2)]
    assert receptive_field_region(layers, (0, 0), 8) == ((-1, 3), (-1, 3))
    assert receptive_field_region(layers, (3, 1), 8) == ((5, 9), (1, 5))
    assert receptive_field_region(layers, (3, 1), 8, clip=True) == ((5, 8), (1, 5))
    with pytest.raises(ValueError, match=r"unit=\(4, 0\) lies outside .* 4x4"):
        receptive_field_region(layers, (4, 0), 8)
    with pytest.raises(TypeError, match="unit must be an"):
        receptive_field_region(layers, 3, 8)


def test_plain_kernel_stride_padding_tuples_are_windows():
    plain = receptive_field([(3, 1, 1), (2, 2, 0)], input_size=8)
    named = receptive_field([("conv", 3, 1, 1), ("conv", 2, 2, 0)], input_size=8)
    assert plain == named
    assert [(r.rf, r.jump, r.output_size) for r in plain] == [(3, 1, 8), (4, 2, 4)]
    assert receptive_field([(3, 1, 0, 2)])[-1].rf == 5  # with a dilation
    assert receptive_field_region([(3, 1, 1), (2, 2, 0)], (0, 0), 8) == ((-1, 3), (-1, 3))


def test_receptive_field_step_is_the_recurrence():
    axis = (0, 1, 1)
    for k, s, p, d in [(11, 4, 0, 1), (3, 2, 0, 1), (5, 1, 2, 1), (3, 1, 2, 2)]:
        lo, hi, jump = arith.receptive_field_step(axis, k, s, p, d)
        assert hi - lo == (axis[1] - axis[0]) + d * (k - 1) * axis[2]       # rf grows by (F - 1) jump
        assert (lo, jump) == (axis[0] - p * axis[2], axis[2] * s)
        axis = (lo, hi, jump)
    rows = receptive_field([("conv", 11, 4, 0), ("pool", 3, 2, 0), ("conv", 5, 1, 2), ("conv", 3, 1, 2, 2)])
    assert (rows[-1].rf, rows[-1].jump) == (axis[1] - axis[0], axis[2])


def test_layer_text_round_trip():
    text = "conv k=5 s=1 p=2 name=C1\npool k=2 s=2  # subsampling\nrelu\nconv k=3x1 p=same d=2"
    layers = arith.parse_layers(text)
    assert layers == [
        {"kind": "conv", "kernel_size": 5, "stride": 1, "padding": 2, "name": "C1"},
        {"kind": "pool", "kernel_size": 2, "stride": 2},
        {"kind": "relu"},
        {"kind": "conv", "kernel_size": (3, 1), "padding": "same", "dilation": 2},
    ]
    assert arith.parse_layers(arith.format_layers(layers)) == layers
    assert receptive_field(layers)[-1].rf == (14, 6)
    with pytest.raises(ValueError, match=r"line 1: 'k3' is not key=value"):
        arith.parse_layers("conv k3")
    with pytest.raises(ValueError, match=r"line 2: stride='two' is not an int or a HxW pair"):
        arith.parse_layers("conv k=3\nconv s=two")


def test_layers_from_model_lives_in_arith():
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(4, 8, (3, 5), stride=(1, 2)), nn.Flatten(), nn.Linear(8, 2))
    layers = arith.layers_from_model(net, strict=False)
    assert [d["kind"] for d in layers] == ["conv", "maxpool", "conv"]
    assert layers[1] == {"kind": "maxpool", "name": "3", "kernel_size": 2, "stride": 2, "padding": 0,
                         "ceil_mode": False, "dilation": 1}
    assert layers[2]["kernel_size"] == (3, 5) and layers[2]["stride"] == (1, 2)
    assert arith.layers_from_model(net, upto="3") == layers[:2] == arith.layers_from_model(net, upto=3)
    with pytest.raises(ValueError, match=r"layer '5' \(Flatten\) changes the spatial layout"):
        arith.layers_from_model(net)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        arith.layers_from_model([("conv", 3)])


@pytest.mark.parametrize("layers, error, match", [
    ([("conv", 3), ("conv", 7)], ValueError, r"layer 1 \(conv1, conv\): kernel_size=7 .* larger than the padded input 6"),
    ([{"kind": "conv", "kernel_size": 3, "stride": 0, "name": "C1"}], ValueError, r"layer 0 \(C1, conv\): stride must be >= 1, got 0"),
    ([("conv", 3), ("fully_connected", 3)], ValueError, r"layer 1: unknown kind 'fully_connected'"),
    ([("conv", 3), {"kind": "conv"}], ValueError, r"layer 1 \(conv1, conv\): kernel_size is required"),
    ([{"kind": "conv", "kernal_size": 3}], ValueError, r"layer 0: unknown key\(s\) \['kernal_size'\]"),
    ([("maxpool", 2, 2, 2)], ValueError, r"layer 0 \(maxpool0, maxpool\): padding=2 must be at most half"),
    ([("conv", 3), 5], TypeError, r"layer 1: a layer spec must be a dict"),
    ([(3, "conv")], TypeError, r"layer 0 \(conv0, conv\): stride must be an int"),  # a plain (k, s, p) window
    ([("conv", 3, 1, 1, 1, 1)], ValueError, r"layer 0: a tuple spec is \(kind, kernel_size"),
    ([], ValueError, r"layers is empty"),
    ({"kind": "conv"}, TypeError, r"layers must be a sequence"),
])
def test_bad_layer_specs_name_the_layer_and_argument(layers, error, match):
    with pytest.raises(error, match=match):
        receptive_field(layers, input_size=8)


def test_unsupported_torch_modules_are_refused_with_a_hint():
    with pytest.raises(ValueError, match=r"layer 1 \(1\): unsupported module Flatten"):
        receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Flatten(0), nn.Linear(4, 2)))
    with pytest.raises(ValueError, match=r"layer 1: unsupported module Linear"):
        receptive_field([nn.Conv2d(1, 1, 3), nn.Linear(4, 2)])
    block = nn.Sequential(nn.Conv2d(1, 1, 3), nn.ModuleDict({"a": nn.ReLU()}))
    with pytest.raises(TypeError, match="receptive_field_of"):
        receptive_field(block)


def test_arith_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, cnnkit.arith as a; a.receptive_field([('conv', 3)]); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_public_names_exist():
    for name in arith.__all__:
        assert hasattr(arith, name), name


def test_docstring_examples_hold():
    import doctest

    result = doctest.testmod(arith)
    assert result.failed == 0 and result.attempted >= 6
