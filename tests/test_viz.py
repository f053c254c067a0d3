"""cnnkit.viz: every figure is checked for what it shows, not only that it draws."""
from __future__ import annotations

import subprocess
import sys

import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.patches import Rectangle

from cnnkit import arith, viz

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _images(fig):
    """The AxesImage of every axes that shows one, in grid order."""
    return [ax.images[0] for ax in fig.axes if ax.images]


# --------------------------------------------------------------------------- import cost
def test_import_is_light():
    code = "import sys, cnnkit.viz; print(sorted(m for m in ('torch', 'matplotlib', 'ipywidgets') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --------------------------------------------------------------------------- filters
def test_show_filters_gray_shows_the_raw_weights():
    w = np.random.default_rng(0).normal(size=(6, 1, 5, 5))
    fig = viz.show_filters(w)
    images = _images(fig)
    assert len(images) == 6
    assert len(fig.axes) == 6  # a 2x3 grid, every cell used
    for i, image in enumerate(images):
        np.testing.assert_array_equal(image.get_array(), w[i, 0])
        lo, hi = image.get_clim()
        assert lo == -hi == -np.abs(w).max()  # one shared, symmetric colour scale


def test_show_filters_rgb_rescales_each_filter():
    conv = torch.nn.Conv2d(3, 4, 3)
    w = conv.weight.detach().double()
    fig = viz.show_filters(conv)
    images = _images(fig)
    assert len(images) == 4
    for i, image in enumerate(images):
        hwc = w[i].permute(1, 2, 0).numpy()
        expected = (hwc - hwc.min()) / (hwc.max() - hwc.min())
        np.testing.assert_allclose(image.get_array(), expected, rtol=1e-6)


def test_show_filters_deeper_layer_one_row_per_filter():
    w = np.random.default_rng(1).normal(size=(4, 5, 3, 3))
    fig = viz.show_filters(w)
    images = _images(fig)
    assert len(images) == 20
    for index, image in enumerate(images):
        np.testing.assert_array_equal(image.get_array(), w[index // 5, index % 5])
    fig = viz.show_filters(w, channel=2)
    images = _images(fig)
    assert len(images) == 4
    for i, image in enumerate(images):
        np.testing.assert_array_equal(image.get_array(), w[i, 2])


def test_show_filters_rejects_bad_input():
    with pytest.raises(ValueError, match="weights must be"):
        viz.show_filters(np.zeros((2, 2, 2, 2, 2)))
    with pytest.raises(ValueError, match="channel must be"):
        viz.show_filters(np.zeros((2, 3, 3, 3)), channel=3)
    with pytest.raises(TypeError, match="weights must be"):
        viz.show_filters("not weights")


# --------------------------------------------------------------------------- feature maps
def _small_net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 5, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                               torch.nn.Conv2d(5, 3, 3, padding=1), torch.nn.Flatten(), torch.nn.Linear(3 * 5 * 5, 2))


def test_feature_maps_equal_the_layer_output():
    net = _small_net()
    x = torch.rand(1, 12, 12)
    fig = viz.feature_maps(net, x, "1")
    images = _images(fig)
    assert len(images) == 5
    expected = torch.relu(torch.nn.functional.conv2d(x[None], net[0].weight, net[0].bias))[0].detach().numpy()
    for c, image in enumerate(images):
        np.testing.assert_allclose(image.get_array(), expected[c], rtol=1e-6, atol=1e-7)
    assert net.training  # mode restored
    from_numpy = _images(viz.feature_maps(net, x.double().numpy(), "1"))  # float64 numpy feeds a float32 model
    np.testing.assert_allclose(from_numpy[0].get_array(), expected[0], rtol=1e-6, atol=1e-7)
    assert len(_images(viz.feature_maps(net, x, net[3], max_maps=2))) == 2


def test_feature_maps_errors_name_the_problem():
    net = _small_net()
    with pytest.raises(ValueError, match="not a module name"):
        viz.feature_maps(net, torch.rand(1, 12, 12), "nope")
    with pytest.raises(ValueError, match="spatial"):
        viz.feature_maps(net, torch.rand(1, 12, 12), 5)
    with pytest.raises(ValueError, match="single image"):
        viz.feature_maps(net, torch.rand(2, 1, 12, 12), 0)


# --------------------------------------------------------------------------- hinton
def test_hinton_area_and_colour_follow_the_weights():
    m = np.array([[1.0, -0.25], [0.0, 0.5]])
    fig = viz.hinton(m)
    (ax,) = fig.axes
    squares = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(squares) == 3  # the zero weight draws nothing
    by_centre = {(round(p.get_y() + p.get_height() / 2), round(p.get_x() + p.get_width() / 2)): p for p in squares}
    assert by_centre[(0, 0)].get_width() == pytest.approx(1.0)
    assert by_centre[(0, 1)].get_width() == pytest.approx(0.5)  # area 0.25 of a full cell
    assert by_centre[(1, 1)].get_width() == pytest.approx(np.sqrt(0.5))
    assert by_centre[(0, 0)].get_facecolor()[:3] == (1.0, 1.0, 1.0)
    assert by_centre[(0, 1)].get_facecolor()[:3] == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="2-D"):
        viz.hinton(np.zeros(3))
    with pytest.raises(ValueError, match="max_weight"):
        viz.hinton(m, max_weight=0)


def test_hinton_labels_rows_columns_and_axes_without_crowding():
    m = np.random.default_rng(0).normal(size=(10, 84))
    fig = viz.hinton(m, row_labels=[f"digit {d}" for d in range(10)], xlabel="F6 unit", ylabel="class")
    (ax,) = fig.axes
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert rows[0] == "digit 0" and set(rows) <= {f"digit {d}" for d in range(10)}
    columns = [t.get_text() for t in ax.get_xticklabels()]
    assert columns[:2] == ["0", "4"] and len(columns) <= 24, "every k-th column index, at most 24 of them"
    assert ax.get_xlabel() == "F6 unit" and ax.get_ylabel() == "class"
    assert min(t.get_fontsize() for t in ax.get_xticklabels() + ax.get_yticklabels()) >= 8
    with pytest.raises(ValueError, match="row_labels must have one label per row"):
        viz.hinton(m, row_labels=["a"])


# --------------------------------------------------------------------------- curves
def test_training_curves_plot_the_history():
    history = {"epoch": [1, 2, 3], "train_loss": [1.0, 0.5, 0.3], "test_loss": [1.1, 0.7, 0.6],
               "train_acc": [0.5, 0.8, 0.9], "test_acc": [0.4, 0.7, 0.8], "lr": [0.1, 0.05, 0.01]}
    fig = viz.training_curves(history)
    assert len(fig.axes) == 3
    lines = {line.get_label(): line for ax in fig.axes for line in ax.get_lines()}
    for key in ("train_loss", "test_loss", "train_acc", "test_acc", "lr"):
        np.testing.assert_array_equal(lines[key.replace("_", " ")].get_ydata(), history[key])
    assert len(viz.training_curves({"epoch": [1], "train_loss": [2.0]}).axes) == 1
    with pytest.raises(ValueError, match="has 2 values"):
        viz.training_curves({"epoch": [1, 2, 3], "train_loss": [1.0, 2.0]})
    with pytest.raises(TypeError, match="mapping"):
        viz.training_curves([1, 2])


@pytest.mark.slow
def test_training_curves_of_a_real_fit():
    from cnnkit import train

    torch.manual_seed(0)
    x = torch.rand(32, 1, 6, 6)
    y = (x.mean(dim=(1, 2, 3)) > 0.5).long()
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(), torch.nn.Linear(32, 2))
    history = train.fit(model, ((x, y), (x, y)), epochs=2, lr=0.01, batch_size=16, device="cpu", progress=False)
    fig = viz.training_curves(history)
    assert len(fig.axes) == 3
    lines = {line.get_label(): line for ax in fig.axes for line in ax.get_lines()}
    np.testing.assert_allclose(lines["test acc"].get_ydata(), history["test_acc"])


# --------------------------------------------------------------------------- occlusion
class _PatchDetector(torch.nn.Module):
    """Class 1's logit is half the sum of the pixels in rows 4..7, cols 6..9; class 0's is a constant 6."""

    def forward(self, x):
        evidence = 0.5 * x[:, 0, 4:8, 6:10].sum(dim=(1, 2))
        return torch.stack([torch.full_like(evidence, 6.0), evidence], dim=1)


def test_occlusion_map_drops_where_the_discriminative_pixels_are():
    image = torch.zeros(1, 16, 16)
    image[0, 4:8, 6:10] = 1.0  # the pixels class 1 depends on
    model = _PatchDetector()
    heat = viz.occlusion_sensitivity(model, image, target=1, patch=4, stride=2, fill=0.0)
    assert heat.shape == (arith.conv_output_size(16, 4, 2), arith.conv_output_size(16, 4, 2)) == (7, 7)
    clean = torch.softmax(model(image[None]), 1)[0, 1].item()
    assert clean == pytest.approx(torch.softmax(torch.tensor([6.0, 8.0]), 0)[1].item())
    # the square at corner (4, 6) = cell (2, 3) hides every discriminative pixel
    assert np.unravel_index(heat.argmin(), heat.shape) == (2, 3)
    assert heat[2, 3] == pytest.approx(torch.softmax(torch.tensor([6.0, 0.0]), 0)[1].item())
    # squares that miss rows 4..7 x cols 6..9 leave the probability at its clean value
    for i in range(7):
        for j in range(7):
            misses = i * 2 + 4 <= 4 or i * 2 >= 8 or j * 2 + 4 <= 6 or j * 2 >= 10
            if misses:
                assert heat[i, j] == pytest.approx(clean)
            else:
                assert heat[i, j] < clean
    # the batch size is only a speed knob
    np.testing.assert_allclose(viz.occlusion_sensitivity(model, image, 1, patch=4, stride=2, fill=0.0, batch_size=5),
                               heat)


def test_occlusion_fill_mean_and_errors():
    image = torch.rand(1, 16, 16)
    model = _PatchDetector()
    heat = viz.occlusion_sensitivity(model, image, 1, patch=16, stride=1, fill="mean")
    occluded = torch.full_like(image, image.mean().item())
    assert heat.shape == (1, 1)
    assert heat[0, 0] == pytest.approx(torch.softmax(model(occluded[None]), 1)[0, 1].item(), rel=1e-6)
    with pytest.raises(ValueError, match="larger than the image"):
        viz.occlusion_sensitivity(model, image, 1, patch=17)
    with pytest.raises(ValueError, match="fill"):
        viz.occlusion_sensitivity(model, image, 1, fill="grey")
    with pytest.raises(ValueError, match="target=2"):
        viz.occlusion_sensitivity(model, image, 2)


def test_plot_occlusion_shows_the_map_next_to_the_image():
    image = torch.zeros(1, 16, 16)
    image[0, 4:8, 6:10] = 1.0
    fig = viz.plot_occlusion(_PatchDetector(), image, 1, patch=4, stride=2, fill=0.0)
    images = _images(fig)
    assert len(images) == 2
    np.testing.assert_array_equal(images[0].get_array(), image[0].numpy())
    np.testing.assert_allclose(images[1].get_array(),
                               viz.occlusion_sensitivity(_PatchDetector(), image, 1, patch=4, stride=2, fill=0.0))
    # cell (0, 0) is centred on the centre of the square at (0, 0): pixel 1.5
    left, right, bottom, top = images[1].get_extent()
    assert (left + 2 / 2, top + 2 / 2) == (1.5, 1.5)


# --------------------------------------------------------------------------- receptive fields
LAYERS = [("conv", 3, 1, 1), ("pool", 2, 2, 0), ("conv", 3, 1, 1)]


def _red_box(fig):
    (ax,) = fig.axes
    return [p for p in ax.patches if isinstance(p, Rectangle) and p.get_linestyle() in ("-", "solid")]


def test_receptive_field_overlay_outlines_the_region():
    image = np.random.default_rng(0).random((16, 16))
    fig = viz.receptive_field_overlay(image, LAYERS, (3, 3))
    # worked by hand: conv2 unit 3 sees pool units 2..4 = conv1 units 4..9 = input pixels 3..10
    (box,) = _red_box(fig)
    assert (box.get_y() + 0.5, box.get_x() + 0.5, box.get_height(), box.get_width()) == (3, 3, 8, 8)
    assert len(fig.axes[0].patches) == 1  # fully inside: no dashed box
    assert "RF 8x8" in fig.axes[0].get_title()
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), image)


def test_receptive_field_overlay_at_the_border_shows_the_padding_part():
    image = np.zeros((16, 16, 3))
    fig = viz.receptive_field_overlay(image, LAYERS, (0, 0))
    (ax,) = fig.axes
    assert len(ax.patches) == 2
    dashed = [p for p in ax.patches if p.get_linestyle() not in ("-", "solid")][0]
    assert (dashed.get_y() + 0.5, dashed.get_height()) == (-3, 8)  # reaches 3 pixels into the padding
    (box,) = _red_box(fig)
    assert (box.get_y() + 0.5, box.get_height()) == (0, 5)
    with pytest.raises(ValueError, match="unit"):
        viz.receptive_field_overlay(image, LAYERS, (9, 0))


def test_layers_from_model_walks_conv_and_pool_layers():
    net = _small_net()
    layers = viz.layers_from_model(net, upto="3")
    assert [d["kind"] for d in layers] == ["conv", "maxpool", "conv"]
    assert layers[2] == {"kind": "conv", "name": "3", "kernel_size": 3, "stride": 1, "padding": 1, "dilation": 1}
    assert arith.receptive_field(layers)[-1].rf == 3 + 1 + 2 * 2
    with pytest.raises(ValueError, match="Flatten"):
        viz.layers_from_model(net)
    fig = viz.receptive_field_overlay(np.zeros((12, 12)), torch.nn.Sequential(net[0], net[1], net[2]), (1, 1))
    (box,) = _red_box(fig)
    assert (box.get_y() + 0.5, box.get_height()) == (2, 4)


# --------------------------------------------------------------------------- top activations
def _cross_detector():
    conv = torch.nn.Conv2d(1, 2, 3, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0] = torch.tensor([[-1.0, 2, -1], [2, 2, 2], [-1, 2, -1]])  # a "+" shape
        conv.weight[1, 0, 1, 1] = 1.0
    return torch.nn.Sequential(conv, torch.nn.ReLU())


def test_top_activations_find_the_planted_pattern():
    generator = torch.Generator().manual_seed(0)
    images = 0.2 * torch.rand(12, 1, 10, 10, generator=generator)
    images[7, 0, 5, 3:6] = 1.0  # a strong "+" centred at (5, 4) in image 7
    images[7, 0, 4:7, 4] = 1.0
    images[2, 0, 1, 6:9] = 0.8  # a weaker one centred at (1, 7) in image 2
    images[2, 0, 0:3, 7] = 0.8
    net = _cross_detector()
    records = viz.top_activations(net, images, "1", channel=0, k=3, batch_size=5)
    assert [r.image_index for r in records[:2]] == [7, 2]
    assert records[0].position == (4, 3)  # the valid 3x3 conv unit centred on pixel (5, 4)
    assert records[0].region == ((4, 7), (3, 6))
    assert records[1].region == ((0, 3), (6, 9))
    # brute force: each image's strongest response, sorted
    response = net(images).detach()[:, 0].flatten(1).max(dim=1).values
    expected = torch.argsort(response, descending=True)[:3].tolist()
    assert [r.image_index for r in records] == expected
    np.testing.assert_allclose([r.value for r in records], response[expected].numpy(), rtol=1e-6)


def test_top_activating_patches_draws_the_crops():
    images = 0.2 * torch.rand(6, 1, 10, 10, generator=torch.Generator().manual_seed(1))
    images[4, 0, 5, 3:6] = 1.0
    images[4, 0, 4:7, 4] = 1.0
    fig = viz.top_activating_patches(_cross_detector(), images, 0, channel=0, k=4)
    panels = _images(fig)
    assert len(panels) == 4
    np.testing.assert_allclose(panels[0].get_array(), images[4, 0, 4:7, 3:6].numpy())
    assert fig.axes[0].get_title().startswith("#4:")
    with pytest.raises(ValueError, match="channel must be"):
        viz.top_activations(_cross_detector(), images, 0, channel=2)


def test_no_pyplot_figures_leak():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    viz.hinton(np.eye(3))
    viz.show_filters(np.ones((2, 1, 3, 3)))
    viz.plot_pre_images(_cross_detector(), torch.rand(3, 1, 6, 6), 0, channel=0, k=2)
    assert plt.get_fignums() == before
    assert matplotlib.get_backend().lower() == "agg"


@pytest.mark.slow
def test_returned_figures_render_as_images_in_a_kernel(tmp_path):
    """A Figure returned as a cell's value shows as a PNG in Jupyter, though viz never touches pyplot."""
    import nbformat

    from nbrun import run_notebook

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import numpy as np\nimport cnnkit\ncnnkit.viz.hinton(np.eye(3) - 0.5)")]
    path = tmp_path / "fig.ipynb"
    nbformat.write(nb, path)
    out = run_notebook(path, timeout=120, env={"MPLBACKEND": "module://matplotlib_inline.backend_inline"})
    data = out.cells[0].outputs[0]["data"]
    assert "image/png" in data, f"figure shown as {sorted(data)}"
