"""cnnkit.widgets: drive every explorer by setting control values and check what it shows.

ipywidgets runs observers synchronously, so after ``control.value = x`` the explorer's HTML
(the numbers in the text, the highlighted cells of its SVG) is already redrawn.
"""
from __future__ import annotations

import html
import io
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnkit import arith, widgets
from cnnkit.ops import filters

_CELL = re.compile(r'<rect class="cell ?([\w-]*)" data-grid="(\w+)" data-r="(\d+)" data-c="(\d+)"[^>]*/>'
                   r'(?:<text[^>]*>([^<]*)</text>)?')
_BOX = re.compile(r'<rect class="([\w-]+)" data-top="(-?\d+)" data-bottom="(-?\d+)" '
                  r'data-left="(-?\d+)" data-right="(-?\d+)"')


def cells(svg: str, grid: str) -> dict[tuple[int, int], tuple[str, str | None]]:
    """(row, col) -> (highlight class, number shown or None) for every cell of one grid."""
    return {(int(r), int(c)): (mark, text if text else None)
            for mark, name, r, c, text in _CELL.findall(svg) if name == grid}


def marked(svg: str, grid: str, mark: str) -> set[tuple[int, int]]:
    return {rc for rc, (m, _) in cells(svg, grid).items() if m == mark}


def boxes(svg: str) -> dict[str, tuple[tuple[int, int], tuple[int, int]]]:
    return {cls: ((int(t), int(b)), (int(l), int(r))) for cls, t, b, l, r in _BOX.findall(svg)}


def text_of(widget) -> str:
    """The text a reader sees in an HTML widget: tags dropped, one line per block."""
    text = re.sub(r"</(div|pre|tr)>", "\n", widget.value)
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def test_widgets_import_no_torch_or_matplotlib():
    code = "import sys, cnnkit.widgets; print(sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --------------------------------------------------------------------------- conv explorer
def test_conv_explorer_default_shows_the_lecture_formula():
    ex = widgets.conv_explorer()
    assert isinstance(ex, widgets.ConvExplorer) and ex.children  # a widget container
    assert "5 x 5" in text_of(ex.formula)  # (N - F) / stride + 1 = (7 - 3) / 1 + 1
    assert ex.state["output_size"] == 5
    svg = ex.canvas.value
    assert len(cells(svg, "input")) == 49 and len(cells(svg, "output")) == 25
    assert marked(svg, "input", "tap") == {(r, c) for r in range(3) for c in range(3)}
    shown = [rc for rc, (_, number) in cells(svg, "output").items() if number is not None]
    assert shown == [(0, 0)]  # step 0: only the first output is filled in
    assert ex.step.max == 24


def test_conv_explorer_stride_padding_and_step():
    ex = widgets.conv_explorer()
    ex.stride.value = 2
    ex.padding.value = 1
    assert "4 x 4" in text_of(ex.formula)  # floor((7 + 2 - 2 - 1) / 2) + 1 = 4
    ex.step.value = 5  # output (1, 1): padded rows/cols 2..4
    svg = ex.canvas.value
    assert len(cells(svg, "input")) == 81
    assert marked(svg, "input", "pad") == {(r, c) for r in range(9) for c in range(9) if r in (0, 8) or c in (0, 8)}
    assert marked(svg, "input", "tap") == {(r, c) for r in range(2, 5) for c in range(2, 5)}
    assert marked(svg, "output", "current") == {(1, 1)}
    assert marked(svg, "output", "done") == {(0, 0), (0, 1), (0, 2), (0, 3), (1, 0)}
    expected = F.conv2d(torch.tensor(ex.state["input"])[None, None], torch.tensor(ex.state["kernel"])[None, None],
                        stride=2, padding=1)[0, 0].numpy()
    for (r, c), (_, number) in cells(svg, "output").items():
        if r * 4 + c <= 5:
            assert float(number) == expected[r, c]
        else:
            assert number is None
    assert "now at output (1, 1)" in text_of(ex.formula)


def test_conv_explorer_dilation_spreads_the_taps():
    ex = widgets.conv_explorer(dilation=2)
    assert ex.state["output_size"] == 3  # 7 - 2*(3-1) - 1 + 1
    ex.step.value = 4  # output (1, 1)
    assert marked(ex.canvas.value, "input", "tap") == {(r, c) for r in (1, 3, 5) for c in (1, 3, 5)}


def test_conv_explorer_invalid_shows_the_reason_and_recovers():
    ex = widgets.conv_explorer()
    ex.step.value = 24
    ex.input_size.value = 3
    ex.kernel_size.value = 5
    with pytest.raises(ValueError) as reason:
        arith.conv_output_size(3, 5, 1, 0, 1)
    assert str(reason.value) in text_of(ex.formula)
    assert ex.state["output_size"] is None and ex.state["error"] == str(reason.value)
    assert ex.step.disabled and ex.play.disabled
    assert cells(ex.canvas.value, "output") == {} and len(cells(ex.canvas.value, "input")) == 9
    ex.padding.value = 1  # 3 + 2 >= 5: one output again
    assert ex.state["error"] is None and "1 x 1" in text_of(ex.formula)
    assert not ex.step.disabled and ex.step.value == 0 and ex.step.max == 0


def test_conv_explorer_step_is_clamped_when_the_output_shrinks():
    ex = widgets.conv_explorer()
    ex.step.value = 24
    ex.stride.value = 2  # 3 x 3 outputs: the last one is step 8
    assert ex.step.value == 8 and ex.state["position"] == (2, 2)
    assert marked(ex.canvas.value, "output", "current") == {(2, 2)}


def test_conv_explorer_says_when_the_stride_does_not_fit():
    ex = widgets.conv_explorer(input_size=8, stride=2)  # (8 - 3) / 2 is not an integer
    assert ex.state["output_size"] == 3
    with pytest.raises(ValueError) as reason:
        arith.conv_output_size(8, 3, 2, strict=True)
    assert str(reason.value) in text_of(ex.formula) and "never looks at the last 1" in text_of(ex.formula)
    ex.input_size.value = 7
    assert "never looks at" not in text_of(ex.formula) and ex.state["note"] is None


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 16), k=st.integers(1, 7), s=st.integers(1, 4), p=st.integers(0, 4), d=st.integers(1, 3))
def test_conv_explorer_agrees_with_torch(n, k, s, p, d):
    ex = widgets.conv_explorer(input_size=n, kernel_size=k, stride=s, padding=p, dilation=d)
    x = torch.tensor(ex.state["input"])[None, None]
    w = torch.tensor(ex.state["kernel"])[None, None]
    try:
        expected = F.conv2d(x, w, stride=s, padding=p, dilation=d)[0, 0].numpy()
    except RuntimeError:
        assert ex.state["error"] is not None and ex.state["output_size"] is None
        return
    assert ex.state["output_size"] == expected.shape[0]
    assert f"{expected.shape[0]} x {expected.shape[0]}" in text_of(ex.formula)
    np.testing.assert_allclose(ex.state["output"], expected)


def test_conv_explorer_rejects_bad_arguments():
    with pytest.raises(ValueError, match="kernel_size must be an int in"):
        widgets.conv_explorer(kernel_size=9)


# --------------------------------------------------------------------------- receptive field explorer
def test_receptive_field_explorer_default_stack():
    ex = widgets.receptive_field_explorer()
    rows = arith.receptive_field(widgets.parse_layers(widgets.DEFAULT_LAYERS), 16)
    assert html.unescape(re.search(r"<pre>(.*)</pre>", ex.table.value, re.S).group(1)) == arith.format_rf_table(rows)
    assert "receptive field 10 x 10" in text_of(ex.summary)  # 3 + 2 + 1 + 2 * 2
    assert (ex.unit_row.max, ex.unit_col.max) == (7, 7)
    ex.unit_row.value, ex.unit_col.value = 3, 2
    # by hand: jump 2 after the pool, first unit centred at 0.5, so unit 3 starts at 0.5 - 4.5 + 3 * 2 = 2
    assert boxes(ex.canvas.value)["region"] == ((2, 12), (0, 10))
    assert boxes(ex.canvas.value)["region-padding"] == ((2, 12), (0, 10))
    assert boxes(ex.canvas.value)["unit"] == ((3, 4), (2, 3))
    assert "sees input rows 2..11, cols 0..9" in text_of(ex.summary)


def test_receptive_field_explorer_border_unit_reaches_into_padding():
    ex = widgets.receptive_field_explorer()
    ex.unit_col.value = 7
    assert boxes(ex.canvas.value)["region-padding"] == ((-4, 6), (10, 20))
    assert boxes(ex.canvas.value)["region"] == ((0, 6), (10, 16))
    assert "of its pixels lie in the padding" in text_of(ex.summary)


def test_receptive_field_explorer_follows_the_lecture_rule():
    # slide "Pooling Layer: Receptive Field Size": K x K conv (stride 1) then P x P pooling -> (P + K - 1)
    ex = widgets.receptive_field_explorer("conv k=5\npool k=2 s=2", input_size=12)
    assert "receptive field 6 x 6" in text_of(ex.summary)
    ex.layers.value = "conv k=3\npool k=3 s=3"
    assert "receptive field 5 x 5" in text_of(ex.summary)


def test_receptive_field_explorer_clamps_the_unit_and_shows_errors():
    ex = widgets.receptive_field_explorer()
    ex.unit_row.value = 7
    ex.input_size.value = 8  # output 4 x 4
    assert ex.unit_row.max == 3 and ex.unit_row.value == 3
    assert ex.state["unit"] == (3, 0)
    ex.layers.value = "conv k=3\ndense k=3"
    assert ex.state["error"] and "dense" in text_of(ex.summary) and ex.canvas.value == ""
    ex.layers.value = "conv k=three"
    assert "line 1" in text_of(ex.summary)
    ex.layers.value = "conv k=9"
    with pytest.raises(ValueError) as reason:
        arith.receptive_field([{"kind": "conv", "kernel_size": 9}], 8)
    assert str(reason.value) in text_of(ex.summary)
    ex.layers.value = widgets.DEFAULT_LAYERS
    assert ex.state["error"] is None


def test_receptive_field_explorer_from_a_model():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Conv2d(4, 8, 3, stride=2, padding=1), torch.nn.Flatten(), torch.nn.Linear(8, 2))
    ex = widgets.receptive_field_explorer(net, input_size=28)
    assert [line.split()[0] for line in ex.layers.value.splitlines()] == ["conv", "maxpool", "conv"]
    assert ex.state["rows"][-1].rf == 5 + 1 + 2 * 2  # 10
    assert ex.state["output_size"] == (6, 6)  # 28 -> 24 -> 12 -> 6
    with pytest.raises(TypeError, match="layers must be"):
        widgets.receptive_field_explorer(42)


def test_receptive_field_explorer_from_layer_dicts():
    # LeNet's two conv/pool stages: RF 5, 6, 6 + 4*2 = 14, 14 + 1*2 = 16; sizes 32 -> 28 -> 14 -> 10 -> 5
    stages = [{"kind": "conv", "kernel_size": 5, "name": "conv1"}, {"kind": "pool", "kernel_size": 2, "stride": 2},
              {"kind": "conv", "kernel_size": 5, "name": "conv2"}, {"kind": "pool", "kernel_size": 2, "stride": 2}]
    ex = widgets.receptive_field_explorer(stages, input_size=32)
    assert "receptive field 16 x 16" in text_of(ex.summary) and ex.state["output_size"] == (5, 5)
    assert [row.name for row in ex.state["rows"]][::2] == ["conv1", "conv2"]


def test_parse_and_format_layers_round_trip():
    text = "conv k=3x5 s=2 p=same d=1 name=c1  # a comment\n\nrelu\npool k=2 s=2"
    layers = widgets.parse_layers(text)
    assert layers == [{"kind": "conv", "kernel_size": (3, 5), "stride": 2, "padding": "same", "dilation": 1,
                       "name": "c1"}, {"kind": "relu"}, {"kind": "pool", "kernel_size": 2, "stride": 2}]
    assert widgets.parse_layers(widgets.format_layers(layers)) == layers
    with pytest.raises(ValueError, match="no layers"):
        widgets.parse_layers("# nothing")
    with pytest.raises(ValueError, match="line 2"):
        widgets.parse_layers("conv k=3\npool size=2")


# --------------------------------------------------------------------------- pooling explorer
_TORCH_POOL = {"max": lambda x, k, s: F.max_pool2d(x, k, s), "average": lambda x, k, s: F.avg_pool2d(x, k, s),
               "L2": lambda x, k, s: F.lp_pool2d(x, 2, k, s)}


def _check_pooling(ex):
    state = ex.state
    for source, pooled in (("input", "pooled"), ("shifted", "pooled_shifted")):
        x = torch.tensor(state[source])[None, None]
        expected = _TORCH_POOL[ex.kind.value](x, state["kernel_size"], state["stride"])[0, 0].numpy()
        np.testing.assert_allclose(state[pooled], expected, atol=1e-12)
    svg = ex.canvas.value
    assert marked(svg, "shifted", "changed") == {tuple(rc) for rc in np.argwhere(state["changed_input"])}
    assert marked(svg, "pooled_shifted", "changed") == {tuple(rc) for rc in np.argwhere(state["changed_pooled"])}
    text = text_of(ex.summary)
    assert f"{state['changed_input'].sum()} of {state['input'].size} detector values changed" in text
    assert f"{state['changed_pooled'].sum()} of {state['pooled'].size} pooled values changed" in text


def test_pooling_explorer_shows_the_invariance_of_max_pooling():
    ex = widgets.pooling_explorer()  # Goodfellow et al. Fig. 9.8: width 3, stride 1, shift by one pixel
    _check_pooling(ex)
    np.testing.assert_array_equal(ex.state["shifted"][0, 1:], ex.state["input"][0, :-1])  # moved right
    changed_input, changed_pooled = ex.state["changed_input"].mean(), ex.state["changed_pooled"].mean()
    assert changed_input > 0.9 and changed_pooled <= 0.5  # "every value below changed, only half above"
    ex.shift.value = 0
    assert ex.state["changed_input"].sum() == 0 and ex.state["changed_pooled"].sum() == 0
    _check_pooling(ex)


@pytest.mark.parametrize("kind", widgets.POOL_KINDS)
def test_pooling_explorer_kinds_match_torch(kind):
    ex = widgets.pooling_explorer(kind=kind, example="map")
    _check_pooling(ex)
    ex.kernel_size.value, ex.stride.value, ex.shift.value = 2, 2, 2
    assert ex.state["pooled"].shape == (3, 4)
    _check_pooling(ex)
    ex.example.value = "row"
    ex.seed.value = 5
    _check_pooling(ex)


def test_pooling_explorer_rejects_bad_arguments():
    with pytest.raises(ValueError, match="kind must be one of"):
        widgets.pooling_explorer(kind="median")


# --------------------------------------------------------------------------- filter explorer
@pytest.fixture(scope="module")
def photo():
    return np.random.default_rng(0).random((24, 20))


def _torch_same(image, kernel, flip):
    k = torch.tensor(kernel[::-1, ::-1].copy() if flip else kernel)
    return F.conv2d(torch.tensor(image)[None, None], k[None, None], padding="same")[0, 0].numpy()


def _decoded(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)), dtype=float)


@pytest.mark.parametrize("name", sorted(filters.FILTERS))
def test_filter_explorer_applies_each_filter(photo, name):
    ex = widgets.filter_explorer(photo, filter_name=name)
    kernel = filters.get(name)
    np.testing.assert_array_equal(ex.state["kernel"], kernel)
    np.testing.assert_allclose(ex.state["output"], _torch_same(photo, kernel, flip=False), atol=1e-12)
    ex.mode.value = "convolution"
    np.testing.assert_allclose(ex.state["output"], _torch_same(photo, kernel, flip=True), atol=1e-12)
    assert ex.state["symmetric"] == np.allclose(kernel, kernel[::-1, ::-1])
    assert ("agree" in text_of(ex.summary)) == ex.state["symmetric"]


def test_filter_explorer_shows_the_output_image(photo):
    ex = widgets.filter_explorer(photo, filter_name="box")  # a blur stays in [0, 1]: shown as is
    assert ex.state["display_range"] == (0.0, 1.0)
    np.testing.assert_allclose(_decoded(ex.filtered.value), np.round(ex.state["output"] * 255), atol=0.51)
    np.testing.assert_allclose(_decoded(ex.original.value), np.round(photo * 255), atol=0.51)
    ex.filter.value = "sobel_x"  # signed output: rescaled from its own range
    out = ex.state["output"]
    assert ex.state["display_range"] == (out.min(), out.max())
    np.testing.assert_allclose(_decoded(ex.filtered.value), np.round((out - out.min()) / np.ptp(out) * 255), atol=0.51)
    assert f"{out.min():.3g} .. {out.max():.3g}" in text_of(ex.summary)


def test_filter_explorer_edit_a_cell_makes_a_custom_kernel(photo):
    ex = widgets.filter_explorer(photo, filter_name="sobel_x")
    assert [c.value for c in ex.cells] == list(filters.sobel_x().ravel())
    ex.cells[4].value = 5.0
    assert ex.filter.value == "custom"
    expected = filters.sobel_x()
    expected[1, 1] = 5.0
    np.testing.assert_array_equal(ex.state["kernel"], expected)
    np.testing.assert_allclose(ex.state["output"], _torch_same(photo, expected, flip=False), atol=1e-12)
    ex.filter.value = "gaussian"  # 5 x 5: shown in the table, the editable cells keep your values
    assert ex.state["kernel"].shape == (5, 5) and "kernel (5x5)" in text_of(ex.kernel_view)
    ex.filter.value = "identity"
    np.testing.assert_allclose(ex.state["output"], photo)


def test_filter_explorer_default_photo_and_errors():
    ex = widgets.filter_explorer(size=32)
    assert ex.image.shape == (32, 32) and 0.0 <= ex.image.min() and ex.image.max() <= 1.0
    with pytest.raises(ValueError, match="2-D gray image"):
        widgets.filter_explorer(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="filter_name must be one of"):
        widgets.filter_explorer(np.zeros((8, 8)), filter_name="blur")
