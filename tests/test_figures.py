"""Every figure the lectures draw with the kit is readable on the course site.

The site shows a figure at most ``FIGURE_WIDTH_PX`` wide (site/build_site.py): a wider PNG is scaled
down, and its text with it. Each case below draws one of the kit's figure functions as a lecture calls
it, renders it the way Jupyter's inline backend does (PNG, ``bbox_inches="tight"``, the figure's dpi)
and checks, at the width the page shows it:

- every piece of text is at least ``MIN_TEXT_PX`` tall (its size in points x dpi / 72 x the scale);
- no two pieces of text overlap (their rendered boxes, in pixels);
- every image panel carries information (no constant ``imshow``).
"""
from __future__ import annotations

import io
import itertools
import sys

import numpy as np
import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "site"))
import build_site  # noqa: E402

matplotlib = pytest.importorskip("matplotlib")
torch = pytest.importorskip("torch")

from cnnkit import data, diagrams, models, viz  # noqa: E402

MIN_TEXT_PX = 8.0
#: Two texts whose boxes share less than this many pixels (in each direction) do not overlap.
OVERLAP_SLACK_PX = 1.0


def displayed_scale(fig) -> tuple[float, int]:
    """(screen pixels per figure pixel on the site, the PNG's width): what the page does to this figure."""
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", dpi=fig.dpi)
    width = Image.open(io.BytesIO(buffer.getvalue())).size[0]
    return min(1.0, build_site.FIGURE_WIDTH_PX / width), width


def _texts(fig):
    """The texts a reader sees: tick labels only of the ticks drawn (an axis keeps a few outside its view)."""
    from matplotlib.axis import Tick
    from matplotlib.text import Text

    in_ticks = {id(t) for tick in fig.findobj(Tick) for t in (tick.label1, tick.label2)}
    drawn = [t for ax in fig.axes if ax.axison for axis in (ax.xaxis, ax.yaxis) if axis.get_visible()
             for tick in axis._update_ticks() for t in (tick.label1, tick.label2) if t.get_visible()]
    other = [t for t in fig.findobj(Text) if id(t) not in in_ticks and t.get_visible()]
    return [t for t in other + drawn if t.get_text().strip()]


def readability_problems(fig) -> list[str]:
    """What a reader of the site would not be able to read in ``fig`` (empty when all is well)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    scale, width = displayed_scale(fig)
    canvas = FigureCanvasAgg(fig)                  # the kit's figures are made without pyplot: give one a canvas
    canvas.draw()
    renderer = canvas.get_renderer()
    px_per_pt = fig.dpi / 72 * scale
    problems = []
    texts = _texts(fig)
    for text in texts:
        size = text.get_fontsize() * px_per_pt
        if size < MIN_TEXT_PX:
            problems.append(f"text {text.get_text()!r}: {text.get_fontsize():.1f} pt shows {size:.1f} px tall "
                            f"(the {width} px figure is shown {build_site.FIGURE_WIDTH_PX} px wide)")
    boxes = [(t, t.get_window_extent(renderer)) for t in texts]
    for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
        dx = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
        dy = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
        if dx > OVERLAP_SLACK_PX and dy > OVERLAP_SLACK_PX:
            problems.append(f"texts overlap: {a.get_text()!r} and {b.get_text()!r}")
    for index, ax in enumerate(fig.axes):
        for image in ax.get_images():
            values = np.ma.masked_invalid(np.asarray(image.get_array(), dtype=float))
            if values.count() == 0 or float(values.max() - values.min()) == 0.0:
                problems.append(f"panel {index} ({ax.get_title()!r}) is one flat colour")
    return problems


# --------------------------------------------------------------------------- the figures, as lectures draw them
def _digits():
    return data.load("digits", size=32, limit=200)


def _lenet():
    torch.manual_seed(0)
    return models.get("lenet5", num_classes=10).eval()


def _meta(name: str, **kwargs):
    with torch.device("meta"):
        return models.get(name, **kwargs)


SYSTEM = [{"kind": "conv", "kernel_size": 3, "padding": 1, "out_channels": 8}, ("pool", 2, 2, 0),
          {"kind": "conv", "kernel_size": 3, "padding": 1, "out_channels": 16}, ("pool", 2, 2, 0), ("linear", 10)]

FIGURES = {
    # diagrams (cnnkit/diagrams.py)
    "conv_volume 32x32x3 (02)": lambda: diagrams.conv_volume(input_shape=(3, 32, 32), kernel=5, filters=6),
    "conv_volume LeNet C3 (05)": lambda: diagrams.conv_volume((6, 14, 14), 5, 16, 1, 0),
    "layer_stack numpy system (04)": lambda: diagrams.layer_stack(SYSTEM, (1, 8, 8)),
    "layer_stack LeNet-5 classic (05)": lambda: diagrams.layer_stack(models.get("lenet5", variant="classic"),
                                                                      (1, 32, 32)),
    "layer_stack AlexNet (05)": lambda: diagrams.layer_stack(_meta("alexnet"), (3, 227, 227), label_style="hwc"),
    "layer_stack VGG-16 (06)": lambda: diagrams.layer_stack(_meta("vgg16"), (3, 224, 224), label_style="hwc"),
    "inception_module 3a (06)": lambda: diagrams.inception_module(name="inception3a"),
    "residual_unit plain (06)": lambda: diagrams.residual_unit(models.BasicBlock(16, 16, residual=False),
                                                               (16, 8, 8)),
    "residual_unit (06)": lambda: diagrams.residual_unit(models.BasicBlock(16, 16), (16, 8, 8)),
    "residual_unit transition (06)": lambda: diagrams.residual_unit(models.BasicBlock(64, 128, stride=2),
                                                                    (64, 56, 56)),
    "plain_vs_residual 34 (06)": lambda: diagrams.plain_vs_residual(34),
    "plain_vs_residual 20 (07)": lambda: diagrams.plain_vs_residual(20),
    "typical_stage (04)": lambda: diagrams.typical_stage(input_shape=(1, 256, 256), filters=4, kernel_size=3,
                                                         pool_size=2),
    "sift_pipeline (04)": lambda: diagrams.sift_pipeline(vocabulary=200, pyramid_levels=3),
    "data_grid digits (02, 05, 07)": lambda: diagrams.data_grid(*_digits().train, _digits().classes,
                                                                n_per_class=10, seed=0),
    # plots (cnnkit/viz.py)
    "show_filters LeNet C1 (02, 08)": lambda: viz.show_filters(_lenet().c1, title="C1 filters after training"),
    "receptive_field_overlay (03)": lambda: viz.receptive_field_overlay(
        data.sample_image(gray=True, size=24), [("conv", 3), ("pool", 2, 2)], (4, 5)),
    "training_curves (05)": lambda: viz.training_curves(
        {"epoch": [1, 2, 3], "train_loss": [1.0, 0.5, 0.3], "test_loss": [1.1, 0.6, 0.4],
         "train_acc": [0.6, 0.8, 0.9], "test_acc": [0.55, 0.75, 0.85]}, title="modern LeNet-5 on the digits"),
    "hinton (08)": lambda: viz.hinton(np.random.default_rng(0).normal(size=(10, 24)), title="output layer",
                                      ylabel="digit class", xlabel="F6 unit"),
    "feature_maps c1 (08)": lambda: viz.feature_maps(_lenet(), _digits().test[0][0], "c1", cmap="gray"),
}


@pytest.mark.parametrize("name", list(FIGURES))
def test_figure_is_readable_at_the_site_width(name):
    fig = FIGURES[name]()
    problems = readability_problems(fig)
    assert not problems, f"{name}:\n  " + "\n  ".join(problems)


# --------------------------------------------------------------------------- the check itself can fail
def test_the_check_flags_small_text_overlaps_and_flat_panels():
    from matplotlib.figure import Figure

    wide = Figure(figsize=(20, 2), dpi=100)        # 2,000 px shown 860 px wide: 7 pt becomes 4 px
    wide.add_axes((0, 0, 1, 1)).plot([0, 1], [0, 1])
    wide.text(0.1, 0.5, "tiny label", fontsize=7)
    assert any("tiny label" in p for p in readability_problems(wide))

    crowded = Figure(figsize=(4, 2), dpi=100)
    crowded.text(0.1, 0.5, "first label", fontsize=12)
    crowded.text(0.12, 0.5, "second label", fontsize=12)
    assert any("overlap" in p for p in readability_problems(crowded))

    flat = Figure(figsize=(4, 2), dpi=100)
    ax = flat.add_subplot()
    ax.imshow(np.zeros((5, 5)))
    ax.set_title("nothing here")
    assert any("flat colour" in p for p in readability_problems(flat))

    fine = Figure(figsize=(4, 2), dpi=100)
    fine.add_subplot().imshow(np.arange(25.0).reshape(5, 5))
    fine.text(0.02, 0.02, "readable", fontsize=9)
    assert readability_problems(fine) == []
