"""cnnkit.diagrams: every figure is checked for the numbers it shows, against cnnkit.arith and cnnkit.summary."""
from __future__ import annotations

import re
import subprocess
import sys

import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch

from cnnkit import arith, diagrams, models
from cnnkit.models.googlenet import INCEPTION_TABLE
from cnnkit.summary import summary

LABEL = re.compile(r"^(INPUT|OUTPUT|[CSF]\d+): ")


def texts(fig: Figure) -> list[str]:
    """Every non-empty text the figure shows, in drawing order."""
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text() and t.get_visible()]


def labels(fig: Figure) -> list[str]:
    """The block labels of a layer_stack figure ('C1: 6@28x28' ...), left to right."""
    return [t for t in texts(fig) if LABEL.match(t)]


def meta(name: str, **options) -> torch.nn.Module:
    with torch.device("meta"):
        return models.get(name, **options)


def lenet_style(shape: tuple[int, ...]) -> str:
    """'6@28x28' from a summary output shape (1, 6, 28, 28); '84' from (1, 84)."""
    return f"{shape[1]}@{shape[2]}x{shape[3]}" if len(shape) == 4 else str(shape[1])


# --------------------------------------------------------------------------- module level
def test_import_is_light():
    code = ("import sys, cnnkit.diagrams; "
            "print(sorted(m for m in ('torch', 'matplotlib', 'cnnkit.summary') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_figures_are_built_without_pyplot():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    figures = [diagrams.conv_volume(), diagrams.residual_unit(), diagrams.typical_stage(), diagrams.sift_pipeline(),
               diagrams.inception_module(), diagrams.plain_vs_residual(20),
               diagrams.layer_stack(meta("lenet5"), (1, 32, 32)),
               diagrams.data_grid(np.zeros((4, 1, 8, 8)), np.array([0, 1, 0, 1]), ["a", "b"], 2)]
    assert all(type(fig) is Figure for fig in figures)
    assert plt.get_fignums() == before


# --------------------------------------------------------------------------- conv volume
def test_conv_volume_shows_the_lecture_example():
    shown = texts(diagrams.conv_volume())
    assert {"32x32x3", "5x5x3 filter", "28x28x6", "6 activation maps"} <= set(shown)
    assert arith.conv_output_size(32, 5) == 28
    assert any("(32 - 5 + 2*0) / 1 + 1 = 28" in t for t in shown)


@pytest.mark.parametrize("input_shape, kernel, filters, stride, padding, floors", [
    ((3, 227, 227), 11, 96, 4, 0, False),       # AlexNet's conv1
    ((3, 32, 32), 3, 10, 1, 1, False),          # 'same' padding
    ((1, 28, 20), (5, 3), 4, (2, 1), (0, 1), True),
    ((3, 32, 32), 4, 7, 3, 0, True),            # (32 - 4) / 3 is not exact: PyTorch floors
])
def test_conv_volume_labels_follow_arith(input_shape, kernel, filters, stride, padding, floors):
    c, h, w = input_shape
    oh, ow = arith.conv_output_size((h, w), kernel, stride, padding)
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    shown = texts(diagrams.conv_volume(input_shape, kernel, filters, stride, padding))
    assert f"{h}x{w}x{c}" in shown
    assert f"{kh}x{kw}x{c} filter" in shown
    assert f"{oh}x{ow}x{filters}" in shown
    caption = next(t for t in shown if "stride + 1" in t)
    assert f"= {oh}" in caption
    assert ("floor(" in caption) == floors


def test_conv_volume_changes_with_its_arguments():
    assert "28x28x10" in texts(diagrams.conv_volume(filters=10))
    assert "28x28x6" not in texts(diagrams.conv_volume(filters=10))
    assert "30x30x6" in texts(diagrams.conv_volume(kernel=3))


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(input_shape=(32, 32)), TypeError, r"input_shape must be a \(channels, height, width\)"),
    (dict(input_shape=(3, 0, 32)), ValueError, r"input_shape must hold positive ints"),
    (dict(kernel=2.5), TypeError, r"kernel must be an int or a pair of ints \(height, width\)"),
    (dict(kernel=0), ValueError, r"kernel must be >= 1"),
    (dict(filters=0), ValueError, r"filters must be >= 1, got 0"),
    (dict(filters="6"), TypeError, r"filters must be an int, got '6'"),
    (dict(stride=0), ValueError, r"stride must be >= 1"),
    (dict(padding=-1), ValueError, r"padding must be >= 0"),
    (dict(kernel=40), ValueError, r"kernel=40 does not fit input_shape=\(3, 32, 32\)"),
])
def test_conv_volume_rejects_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        diagrams.conv_volume(**kwargs)


# --------------------------------------------------------------------------- layer stack
@pytest.mark.parametrize("variant", ["classic", "modern"])
def test_lenet_labels_are_the_shapes_summary_computes(variant):
    model = meta("lenet5", variant=variant)
    rows = summary(model, (1, 32, 32), device="meta").rows
    # the paper's names are the module names: c1, s2, c3, s4, c5, f6, output
    expected = ["INPUT: 1@32x32"] + [
        f"{'OUTPUT' if r.name == 'output' else r.name.upper()}: {lenet_style(r.output_shape)}"
        for r in rows if r.name in ("c1", "s2", "c3", "s4", "c5", "f6", "output")]
    fig = diagrams.layer_stack(model, (1, 32, 32))
    assert labels(fig) == expected
    assert expected == ["INPUT: 1@32x32", "C1: 6@28x28", "S2: 6@14x14", "C3: 16@10x10", "S4: 16@5x5", "C5: 120@1x1",
                        "F6: 84", "OUTPUT: 10"]
    ops = texts(fig)
    assert ops.count("conv 5x5") == 3
    assert ops.count("subsampling" if variant == "classic" else "max pool 2x2") == 2


def test_alexnet_first_conv_says_55x55x96():
    model = meta("alexnet", variant="original")
    hwc = labels(diagrams.layer_stack(model, (3, 227, 227), label_style="hwc"))
    assert hwc[:3] == ["INPUT: 227x227x3", "C1: 55x55x96", "S2: 27x27x96"]
    fig = diagrams.layer_stack(model, (3, 227, 227))
    shown = labels(fig)
    assert shown[1] == "C1: 96@55x55" and "conv 11x11/4" in texts(fig) and "max pool 3x3/2" in texts(fig)
    # every block is a conv, a linear layer or a layer that shrinks the map, with summary's shape
    rows = summary(model, (3, 227, 227), device="meta").rows
    drawn = [r for r in rows if r.type in ("Conv2d", "MaxPool2d", "Linear")]
    assert [s.split(": ")[1] for s in shown[1:]] == [lenet_style(r.output_shape) for r in drawn]
    assert shown[-1] == "OUTPUT: 1000"
    torchvision = labels(diagrams.layer_stack(meta("alexnet"), (3, 224, 224)))
    assert torchvision[1] == "C1: 64@55x55"


def test_vgg16_stack():
    shown = labels(diagrams.layer_stack(meta("vgg16"), (3, 224, 224)))
    convs = [s for s in shown if s.startswith("C")]
    pools = [s for s in shown if s.startswith("S")]
    assert len(shown) == 1 + 13 + 5 + 3
    assert len(convs) == 13 and len(pools) == 5
    assert convs[0] == "C1: 64@224x224" and pools[-1] == "S18: 512@7x7"
    assert shown[-3:] == ["F19: 4096", "F20: 4096", "OUTPUT: 1000"]


def test_layer_list_matches_the_model():
    """The lecture's LeNet diagram as a layer list (with channels) draws what the model does."""
    diagram = [
        {"name": "C1", "kind": "conv", "kernel_size": 5, "out_channels": 6},
        {"kind": "relu"},
        {"name": "S2", "kind": "pool", "kernel_size": 2, "stride": 2},
        {"name": "C3", "kind": "conv", "kernel_size": 5, "out_channels": 16},
        {"name": "S4", "kind": "pool", "kernel_size": 2, "stride": 2},
        {"name": "C5", "kind": "conv", "kernel_size": 5, "out_channels": 120},
        {"name": "F6", "kind": "linear", "out_features": 84, "in_features": 120},
        ("relu",),
        ("linear", 10),
    ]
    from_list = labels(diagrams.layer_stack(diagram, (1, 32, 32)))
    assert from_list == labels(diagrams.layer_stack(meta("lenet5"), (1, 32, 32)))
    assert [r.output_size for r in arith.receptive_field(diagram[:6], 32) if r.kind != "relu"] == [28, 14, 10, 5, 1]
    # a changed layer changes the picture
    wider = [dict(diagram[0], out_channels=8)] + diagram[1:]
    assert labels(diagrams.layer_stack(wider, (1, 32, 32)))[1:3] == ["C1: 8@28x28", "S2: 8@14x14"]
    smaller = [dict(diagram[0], kernel_size=3)] + diagram[1:5]
    assert labels(diagrams.layer_stack(smaller, (1, 32, 32)))[1:] == [
        "C1: 6@30x30", "S2: 6@15x15", "C3: 16@11x11", "S4: 16@5x5"]
    unnamed = [{"kind": "conv", "kernel_size": 3, "padding": 1, "out_channels": 4}, ("pool", 2, 2, 0), ("linear", 3)]
    assert labels(diagrams.layer_stack(unnamed, (3, 8, 8), label_style="hwc")) == [
        "INPUT: 8x8x3", "C1: 8x8x4", "S2: 4x4x4", "OUTPUT: 3"]


def test_a_list_of_torch_layers_is_a_sequential():
    layers = [torch.nn.Conv2d(3, 8, 3, stride=2), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8 * 15 * 15, 5)]
    fig = diagrams.layer_stack(layers, (3, 32, 32))
    assert labels(fig) == ["INPUT: 3@32x32", "C1: 8@15x15", "OUTPUT: 5"]
    assert "conv 3x3/2" in texts(fig)


@pytest.mark.parametrize("args, kwargs, exc, match", [
    (("not a model", (1, 32, 32)), {}, TypeError, r"model_or_layers must be a torch.nn.Module or a non-empty list"),
    (([], (1, 32, 32)), {}, TypeError, r"model_or_layers must be"),
    (([("pool", 2)], (1, 32)), {}, TypeError, r"input_shape must be a \(channels, height, width\)"),
    (([("pool", 2)], (1, 32, 32)), dict(label_style="paper"), ValueError, r"label_style must be one of 'lenet', 'hwc'"),
    (([("conv", 5)], (1, 32, 32)), {}, ValueError, r"a conv layer needs its number of filters.*out_channels"),
    (([{"kind": "conv", "kernel_size": 5, "out_channels": 6, "in_channels": 3}], (1, 32, 32)), {}, ValueError,
     r"in_channels=3 but the layer before gives 1 channels"),
    (([("linear", 10), ("pool", 2)], (1, 4, 4)), {}, ValueError, r"comes after a linear layer"),
    (([{"kind": "linear"}], (1, 4, 4)), {}, ValueError, r"a linear layer needs 'out_features'"),
    (([{"kind": "linear", "out_features": 3, "in_features": 5}], (1, 4, 4)), {}, ValueError,
     r"in_features=5 but the layer before gives 16"),
    (([{"kind": "conv", "kernel_size": 9, "out_channels": 2}], (1, 8, 8)), {}, ValueError, r"larger than the padded"),
    (([("relu",)], (1, 8, 8)), {}, ValueError, r"no convolution, pooling or linear layer"),
])
def test_layer_stack_rejects_bad_arguments(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        diagrams.layer_stack(*args, **kwargs)


def test_layer_stack_refuses_networks_with_branches_and_wrong_inputs():
    with pytest.raises(ValueError, match="has branches.*plain_vs_residual"):
        diagrams.layer_stack(meta("resnet20"), (3, 32, 32))
    with pytest.raises(ValueError, match="has branches.*inception_module"):
        diagrams.layer_stack(meta("googlenet"), (3, 224, 224))
    with pytest.raises(ValueError, match="32x32"):
        diagrams.layer_stack(meta("lenet5"), (1, 28, 28))


# --------------------------------------------------------------------------- inception
def googlenet_rows():
    rows = summary(meta("googlenet"), (3, 224, 224), device="meta").all_rows
    return [r for r in rows if r.depth == 1]


def test_inception_3a_concat_says_256():
    fig = diagrams.inception_module()
    shown = texts(fig)
    assert "filter concatenation: 64 + 128 + 32 + 32 = 256" in shown
    assert "depth concat: 256@28x28" in shown
    assert "previous layer: 192@28x28" in shown
    for box in ("1x1 conv, 64", "1x1 conv, 96\n(3x3 reduce)", "3x3 conv, 128", "1x1 conv, 16\n(5x5 reduce)",
                "5x5 conv, 32", "3x3 max pool\nstride 1", "1x1 conv, 32\n(pool proj)"):
        assert box in shown
    # the same numbers in the kit's GoogLeNet: module 3a reads maxpool2's 192@28x28 and gives 256@28x28
    rows = googlenet_rows()
    names = [r.name for r in rows]
    before, row = rows[names.index("inception3a") - 1], rows[names.index("inception3a")]
    assert lenet_style(before.output_shape) == "192@28x28" and lenet_style(row.output_shape) == "256@28x28"


@pytest.mark.parametrize("name", list(INCEPTION_TABLE))
def test_every_inception_module_matches_googlenet(name):
    rows = googlenet_rows()
    names = [r.name for r in rows]
    before, row = rows[names.index(name) - 1], rows[names.index(name)]
    shown = texts(diagrams.inception_module(name=name))
    concat = next(t for t in shown if t.startswith("filter concatenation"))
    assert concat.endswith(f"= {row.output_shape[1]}")
    assert f"previous layer: {lenet_style(before.output_shape)}" in shown
    assert f"depth concat: {lenet_style(row.output_shape)}" in shown


def test_inception_numbers_follow_the_arguments():
    shown = texts(diagrams.inception_module(ch1x1=100, pool_proj=8, size=14))
    assert "filter concatenation: 100 + 128 + 32 + 8 = 268" in shown
    assert "depth concat: 268@14x14" in shown and "1x1 conv, 100" in shown
    assert "3x3 conv, 32" in texts(diagrams.inception_module(paper_5x5=False))   # torchvision's slip


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(name="inception9z"), ValueError, r"name must be one of 'inception3a'"),
    (dict(ch1x1=0), ValueError, r"ch1x1 must be >= 1"),
    (dict(ch3x3=1.5), TypeError, r"ch3x3 must be an int, got 1.5"),
    (dict(size=0), ValueError, r"size must be >= 1"),
    (dict(paper_5x5="yes"), TypeError, r"paper_5x5 must be True or False"),
])
def test_inception_rejects_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        diagrams.inception_module(**kwargs)


# --------------------------------------------------------------------------- residual unit
def test_residual_unit_shows_f_of_x_plus_x():
    shown = texts(diagrams.residual_unit())
    assert shown.count("weight layer") == 2
    assert {"x", "F(x)", "F(x) + x", "+", "relu", "x\nidentity"} <= set(shown)
    plain = texts(diagrams.residual_unit(residual=False))
    assert "H(x)" in plain and "F(x) + x" not in plain and "+" not in plain


def test_residual_unit_of_a_real_block_uses_its_layers_and_shapes():
    block = meta("resnet34").layer2[0]           # the first block of conv3_x: /2 and a projection
    shown = texts(diagrams.residual_unit(block, (64, 56, 56)))
    assert "3x3 conv, 128, /2" in shown and "3x3 conv, 128" in shown
    assert "1x1 conv, 128, /2\nprojection (option B)" in shown
    rows = {r.name: r for r in summary(block, (64, 56, 56), device="meta").rows}
    assert lenet_style(rows["conv1"].output_shape) == "128@28x28"
    assert ["64@56x56", "128@28x28", "128@28x28"] == [t for t in shown if "@" in t]
    option_a = texts(diagrams.residual_unit(meta("resnet20").layer2[0]))
    assert any("zero channels" in t for t in option_a) and "F(x) + x" in option_a
    bottleneck = texts(diagrams.residual_unit(meta("resnet50").layer1[0]))
    assert [t for t in bottleneck if "conv" in t and "projection" not in t] == [
        "1x1 conv, 64", "3x3 conv, 64", "1x1 conv, 256"]
    plain_block = texts(diagrams.residual_unit(meta("plain20").layer1[0]))
    assert "H(x)" in plain_block and "F(x) + x" not in plain_block


@pytest.mark.parametrize("args, kwargs, exc, match", [
    ((torch.nn.Conv2d(3, 3, 3),), {}, TypeError, r"block must be a cnnkit.models BasicBlock or Bottleneck"),
    ((None, (64, 56, 56)), {}, ValueError, r"input_shape needs a block"),
    ((models.BasicBlock(64, 64), (32, 56, 56)), {}, ValueError, r"has 32 channels but the block's first"),
    ((models.BasicBlock(64, 64), (64, 56)), {}, TypeError, r"input_shape must be a \(channels, height, width\)"),
    ((), dict(residual="no"), TypeError, r"residual must be True or False"),
])
def test_residual_unit_rejects_bad_arguments(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        diagrams.residual_unit(*args, **kwargs)


# --------------------------------------------------------------------------- plain vs residual
def arcs(fig: Figure) -> list[FancyArrowPatch]:
    """The curved arrows: the shortcuts (every straight arrow has rad 0)."""
    return [p for p in fig.axes[0].get_children()
            if isinstance(p, FancyArrowPatch) and getattr(p.get_connectionstyle(), "rad", 0) != 0]


@pytest.mark.parametrize("depth", [20, 34])
def test_plain_vs_residual_layers_match_the_model(depth):
    model = meta(f"resnet{depth}")
    size = (3, 32, 32) if depth == 20 else (3, 224, 224)
    rows = summary(model, size, device="meta").rows
    convs = [r for r in rows if r.type == "Conv2d" and "downsample" not in r.name]
    fig = diagrams.plain_vs_residual(depth)
    shown = texts(fig)
    boxes = [t for t in shown if " conv, " in t]
    assert len(boxes) == 2 * len(convs) == 2 * (depth - 1)          # both columns, every weighted conv layer
    modules = dict(model.named_modules())
    expected = []
    for r in convs:
        m = modules[r.name]
        text = f"{m.kernel_size[0]}x{m.kernel_size[1]} conv, {r.output_shape[1]}"
        expected.append(text + (", /2" if m.stride[0] == 2 else ""))
    assert boxes == expected + expected
    assert shown.count(f"fc {model.fc.out_features}") == 2
    assert {f"{depth}-layer plain", f"{depth}-layer residual"} <= set(shown)
    # channel widths and downsampling: one mark per stage, with the map size summary computes
    sizes = {f"{r.output_shape[2]}x{r.output_shape[3]}, {r.output_shape[1]} ch" for r in convs}
    assert sizes <= set(shown)
    # one shortcut arc per block on the residual column; dashed where the block changes the shape
    blocks = [m for m in model.modules() if isinstance(m, models.BasicBlock)]
    drawn = arcs(fig)
    assert len(drawn) == len(blocks)
    assert sum(a.get_linestyle() != "-" for a in drawn) == sum(b.downsample is not None for b in blocks) > 0


def test_the_plain_column_is_the_plain_model():
    plain = summary(meta("plain20"), (3, 32, 32), device="meta").rows
    residual = summary(meta("resnet20"), (3, 32, 32), device="meta").rows
    assert ([(r.name, r.output_shape) for r in plain if r.type == "Conv2d"]
            == [(r.name, r.output_shape) for r in residual if r.type == "Conv2d" and "downsample" not in r.name])


def test_plain_vs_residual_rejects_bad_depths():
    with pytest.raises(ValueError, match=r"depth must be one of 18, 20, 32, 34"):
        diagrams.plain_vs_residual(21)
    with pytest.raises(ValueError, match=r"got 152 \(deeper nets are too long to draw"):
        diagrams.plain_vs_residual(152)
    with pytest.raises(TypeError, match=r"depth must be an int"):
        diagrams.plain_vs_residual("34")
    assert diagrams.plain_vs_residual_depths() == (18, 20, 32, 34, 44, 50, 56)


# --------------------------------------------------------------------------- typical stage
def test_typical_stage_order_and_shapes():
    fig = diagrams.typical_stage()
    shown = texts(fig)
    conv = arith.conv_output_size(32, 5)
    pooled = arith.pool_output_size(conv, 2)
    assert {"1@32x32", f"6@{conv}x{conv}", f"6@{pooled}x{pooled}"} <= set(shown)
    steps = [t for t in fig.findobj(matplotlib.text.Text) if t.get_text().split("\n")[0] in
             ("convolution", "nonlinearity", "pooling", "normalization")]
    assert [t.get_text().split("\n")[0] for t in sorted(steps, key=lambda t: t.get_position()[0])] == [
        "convolution", "nonlinearity", "pooling", "normalization"]
    assert "nonlinearity\nReLU" in shown and "pooling\nmax 2x2" in shown and "normalization\nlocal contrast" in shown


def test_typical_stage_frame_encloses_every_step():
    """The dashed "one stage" frame goes round all four boxes (it once cut through the normalization box)."""
    from matplotlib.patches import FancyBboxPatch

    fig = diagrams.typical_stage()
    patches = [p for p in fig.axes[0].get_children() if isinstance(p, FancyBboxPatch)]
    frame = next(p for p in patches if p.get_linestyle() == "--")
    boxes = [p for p in patches if p is not frame]
    assert len(boxes) == 4
    frame_box = frame.get_window_extent()
    assert all(frame_box.x0 <= b.get_window_extent().x0 and b.get_window_extent().x1 <= frame_box.x1 for b in boxes)


def test_typical_stage_follows_its_arguments():
    shown = texts(diagrams.typical_stage((3, 32, 32), filters=16, kernel_size=3, pool_size=3, nonlinearity="tanh",
                                         pooling="l2", normalization="batchnorm"))
    assert {"3@32x32", "16@30x30", "16@10x10", "convolution\n16 filters 3x3", "pooling\nL2 3x3", "nonlinearity\ntanh",
            "normalization\nbatch norm"} <= set(shown)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(nonlinearity="swish"), ValueError, r"nonlinearity must be one of 'relu', 'tanh'"),
    (dict(pooling="median"), ValueError, r"pooling must be one of 'max', 'avg', 'l2'"),
    (dict(normalization="layer"), ValueError, r"normalization must be one of 'lcn', 'batchnorm'"),
    (dict(filters=0), ValueError, r"filters must be >= 1"),
    (dict(pool_size=40), ValueError, r"pool_size=40 do not fit input_shape"),
    (dict(input_shape=[1, 32]), TypeError, r"input_shape must be"),
])
def test_typical_stage_rejects_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        diagrams.typical_stage(**kwargs)


# --------------------------------------------------------------------------- SIFT pipeline
def test_sift_pipeline_pairs_each_step_with_a_convnet_stage():
    fig = diagrams.sift_pipeline()
    shown = texts(fig)
    assert any("= 128-D descriptors" in t for t in shown)
    assert any("200 visual words" in t for t in shown)
    assert any("1 + 4 + 16 = 21 regions\n-> 21 x 200 = 4200-D" in t for t in shown)
    tops = [t for t in shown if t.split("\n")[0] in ("SIFT", "k-means", "spatial pyramid pooling", "SVM")]
    assert len(tops) == 4
    assert any(t.startswith("fully connected") for t in shown)
    # Lazebnik et al. classify with a kernel SVM (the pyramid match kernel), not a linear one
    assert any(t.startswith("SVM\npyramid match kernel") for t in shown) and not any("linear" in t for t in tops)
    assert sum(isinstance(p, FancyArrowPatch) and p.get_linestyle() != "-" for p in fig.axes[0].get_children()) == 4
    other = texts(diagrams.sift_pipeline(vocabulary=1000, pyramid_levels=2, cells=2, orientations=4))
    assert any("2x2 cells x 4 orientations\n= 16-D" in t for t in other)
    assert any("1 + 4 = 5 regions\n-> 5 x 1000 = 5000-D" in t for t in other)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(vocabulary=0), ValueError, r"vocabulary must be >= 1"),
    (dict(pyramid_levels=1.0), TypeError, r"pyramid_levels must be an int"),
    (dict(cells=True), TypeError, r"cells must be an int"),
])
def test_sift_pipeline_rejects_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        diagrams.sift_pipeline(**kwargs)


# --------------------------------------------------------------------------- data grid
def cell(mosaic: np.ndarray, row: int, col: int, h: int, w: int, pad: int) -> np.ndarray:
    return mosaic[row * (h + pad):row * (h + pad) + h, col * (w + pad):col * (w + pad) + w]


def test_data_grid_of_the_digits():
    from cnnkit.data.digits import read_digits

    (x, y), _, classes = read_digits()
    fig = diagrams.data_grid(x, y, classes, n_per_class=6)
    shown = texts(fig)
    assert [t for t in shown if t in classes] == classes
    assert any("10 classes, first 6 images of each" in t for t in shown)
    mosaic = fig.axes[0].images[0].get_array()
    for digit in range(10):
        first = np.flatnonzero(y == digit)[:6]
        for col, index in enumerate(first):
            np.testing.assert_array_equal(cell(mosaic, digit, col, 8, 8, 1), x[index, 0])


def test_data_grid_random_sample_keeps_classes_and_colour():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(60, 3, 16, 16), dtype=np.uint8)
    y = rng.integers(0, 3, size=60)
    fig = diagrams.data_grid(x, y, ["cat", "dog", "ship"], n_per_class=4, seed=1)
    mosaic = fig.axes[0].images[0].get_array()
    assert mosaic.shape == (3 * 17 - 1, 4 * 17 - 1, 3)
    pictures = np.moveaxis(x, 1, -1) / 255.0
    for row in range(3):
        for col in range(4):
            found = [i for i in range(60) if np.array_equal(cell(mosaic, row, col, 16, 16, 1), pictures[i])]
            assert found and all(y[i] == row for i in found)
    assert any("random 4 images" in t for t in texts(fig))


def test_data_grid_of_cifar10_where_present():
    from cnnkit.data import load

    try:
        bundle = load("cifar10", download=False, limit=500)
    except (FileNotFoundError, OSError):
        pytest.skip("CIFAR-10 is not in the cache (no download in the tests)")
    x, y = bundle.train
    fig = diagrams.data_grid(x, y, bundle.classes)
    assert [t for t in texts(fig) if t in bundle.classes] == bundle.classes


def test_data_grid_leaves_missing_images_blank():
    x = np.full((3, 1, 4, 4), 0.25)
    fig = diagrams.data_grid(x, np.array([0, 0, 0]), ["full", "empty"], n_per_class=4)
    mosaic = fig.axes[0].images[0].get_array()
    assert np.all(cell(mosaic, 0, 2, 4, 4, 1) == 0.25) and np.all(cell(mosaic, 0, 3, 4, 4, 1) == 1.0)
    assert np.all(cell(mosaic, 1, 0, 4, 4, 1) == 1.0)


@pytest.mark.parametrize("args, kwargs, exc, match", [
    ((np.zeros((4, 8)), [0, 1, 0, 1], ["a", "b"]), {}, ValueError, r"images must be \(N, C, H, W\)"),
    ((np.array([["a"]]), [0], ["a"]), {}, TypeError, r"images must hold numbers"),
    ((np.zeros((4, 8, 8)), [0, 1, 0], ["a", "b"]), {}, ValueError, r"labels has 3 entries but images has 4"),
    ((np.zeros((4, 8, 8)), [0.0, 1, 0, 1], ["a", "b"]), {}, TypeError, r"labels must be a 1-D array of ints"),
    ((np.zeros((4, 8, 8)), [0, 1, 0, 2], ["a", "b"]), {}, ValueError, r"labels must lie in 0..1"),
    ((np.zeros((4, 8, 8)), [0, 1, 0, 1], "ab"), {}, TypeError, r"class_names must be a non-empty sequence of str"),
    ((np.zeros((4, 8, 8)), [0, 1, 0, 1], ["a", "b"]), dict(n_per_class=0), ValueError, r"n_per_class must be >= 1"),
    ((np.zeros((4, 8, 8)), [0, 1, 0, 1], ["a", "b"]), dict(seed=0.5), TypeError, r"seed must be an int or None"),
])
def test_data_grid_rejects_bad_arguments(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        diagrams.data_grid(*args, **kwargs)
