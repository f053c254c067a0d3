"""cnnkit.viz pre-images (gradient, deconvnet, guided backpropagation): checked against hand computations,
against autograd where no ReLU is involved, and for leaving the model exactly as it was."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnkit import arith, models, viz

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


# --------------------------------------------------------------------------- a net small enough to do by hand
def _hand_net(inplace: bool = False) -> torch.nn.Sequential:
    """x (one row of 2 pixels) -> 1x1 conv to 2 channels, weights (1, -1) -> ReLU -> a (1, 2) conv to 1 unit.

    Channel 0 is relu(x), channel 1 relu(-x); the unit is 2 h0[p0] + 2 h0[p1] - 3 h1[p0] - 4 h1[p1].
    """
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1, bias=False), torch.nn.ReLU(inplace=inplace),
                              torch.nn.Conv2d(2, 1, (1, 2), bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([1.0, -1.0]).view(2, 1, 1, 1))
        net[2].weight.copy_(torch.tensor([[[[2.0, 2.0]], [[-3.0, -4.0]]]]))
    return net


class _FunctionalReLU(torch.nn.Module):
    """The same net with F.relu(..., inplace=True), as the kit's residual and Inception blocks write it."""

    def __init__(self) -> None:
        super().__init__()
        reference = _hand_net()
        self.first, self.second = reference[0], reference[2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(F.relu(self.first(x), inplace=True))


X = torch.tensor([[[[0.5, -0.7]]]])
# Pixel p0 = 0.5 opens h0 only, p1 = -0.7 opens h1 only. The backward signal reaching the ReLU outputs is the
# second conv's weights: h0 gets (2, 2), h1 gets (-3, -4).
#   gradient : a ReLU passes where its input > 0:      p0 <- 2 * 1 = 2,  p1 <- -4 * -1 = 4
#   deconvnet: a ReLU passes where the signal > 0:     p0 <- 2 (h0),     p1 <- 2 (h0; h1's signal is negative)
#   guided   : both:                                   p0 <- 2,          p1 <- 0 (h1 is open but its signal < 0)
BY_HAND = {"gradient": [2.0, 4.0], "deconvnet": [2.0, 2.0], "guided": [2.0, 0.0]}


@pytest.mark.parametrize("method", viz.PRE_IMAGE_METHODS)
@pytest.mark.parametrize("make", [_hand_net, lambda: _hand_net(inplace=True), _FunctionalReLU],
                         ids=["nn.ReLU", "nn.ReLU(inplace=True)", "F.relu(inplace=True)"])
def test_pre_images_match_the_hand_computation(method, make):
    net = make()
    layer = "2" if isinstance(net, torch.nn.Sequential) else "second"
    result = viz.pre_images(net, X, layer, 0, method=method)
    assert result.shape == (1, 1, 1, 2) and result.dtype == np.float64
    np.testing.assert_allclose(result[0, 0, 0], BY_HAND[method])


def test_gradient_method_is_autograd_and_the_wrappers_pick_their_method():
    net = _hand_net()
    x = X.clone().requires_grad_(True)
    net(x).sum().backward()
    np.testing.assert_allclose(viz.pre_images(net, X, "2", 0, method="gradient"), x.grad.numpy())
    np.testing.assert_allclose(viz.guided_backprop(net, X, "2", 0), viz.pre_images(net, X, "2", 0, method="guided"))
    np.testing.assert_allclose(viz.deconvnet(net, X, "2", 0), viz.pre_images(net, X, "2", 0, method="deconvnet"))


def _no_relu_net() -> torch.nn.Sequential:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.MaxPool2d(2), torch.nn.Conv2d(3, 4, 3, padding=1),
                               torch.nn.Tanh(), torch.nn.Conv2d(4, 2, 1))


@pytest.mark.parametrize("method", viz.PRE_IMAGE_METHODS)
def test_without_relus_every_method_is_the_plain_gradient(method):
    net = _no_relu_net()
    images = torch.randn(3, 2, 10, 10, generator=torch.Generator().manual_seed(1))
    units = [(0, 1), (2, 3), (3, 0)]
    x = images.clone().requires_grad_(True)
    out = net(x)[:, 1]
    sum(out[n, i, j] for n, (i, j) in enumerate(units)).backward()
    np.testing.assert_allclose(viz.pre_images(net, images, "4", 1, method=method, unit=units), x.grad.numpy(),
                               rtol=1e-5, atol=1e-7)


def test_default_unit_is_each_images_strongest_and_one_pair_serves_all():
    net = _no_relu_net()
    images = torch.randn(2, 2, 10, 10, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        maps = net(images)[:, 0]
    strongest = [divmod(int(m.flatten().argmax()), m.shape[1]) for m in maps]
    np.testing.assert_allclose(viz.pre_images(net, images, "4", 0),
                               viz.pre_images(net, images, "4", 0, unit=strongest))
    np.testing.assert_allclose(viz.pre_images(net, images, "4", 0, unit=(1, 1)),
                               viz.pre_images(net, images, "4", 0, unit=[(1, 1), (1, 1)]))


def test_pre_image_lies_inside_the_units_receptive_field():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Conv2d(4, 3, 3), torch.nn.ReLU())
    torch.manual_seed(3)
    image = torch.rand(1, 16, 16)
    (top, bottom), (left, right) = arith.receptive_field_region(viz.layers_from_model(net, upto="3"), (2, 3),
                                                                (16, 16), clip=True)
    for method in viz.PRE_IMAGE_METHODS:
        pre = viz.pre_images(net, image, "3", 2, method=method, unit=(2, 3))[0, 0]
        outside = pre.copy()
        outside[top:bottom, left:right] = 0.0
        assert np.abs(pre).sum() > 0 and not outside.any(), method


def test_a_vector_layer_takes_the_entry_channel():
    torch.manual_seed(4)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(12, 5))
    image = torch.rand(1, 4, 4)
    x = image[None].clone().requires_grad_(True)
    net(x)[0, 3].backward()
    np.testing.assert_allclose(viz.pre_images(net, image, "3", 3, method="gradient"), x.grad.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match=r"unit must be None: layer '3' gives vectors"):
        viz.pre_images(net, image, "3", 3, unit=(0, 0))


# --------------------------------------------------------------------------- the model is left as it was
def _hooks(net: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
               for m in net.modules())


def test_model_is_restored_and_untouched():
    net = models.get("lenet5", num_classes=10)
    net.train()
    net.s2.eval()                                   # a layer the user froze stays frozen
    before = {k: v.clone() for k, v in net.state_dict().items()}
    images = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(5))
    for method in viz.PRE_IMAGE_METHODS:
        viz.pre_images(net, images, "c3", 0, method=method)
    with pytest.raises(ValueError, match="channel"):
        viz.pre_images(net, images, "c3", 99)       # an error half-way must not leave anything behind
    assert _hooks(net) == 0
    assert net.training and not net.s2.training and net.c1.training
    assert all(p.grad is None for p in net.parameters())
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    # and the ReLUs are ordinary again: autograd's gradient through the ReLU net is the true one
    x = X.clone().requires_grad_(True)
    _hand_net()(x).sum().backward()
    np.testing.assert_allclose(x.grad[0, 0, 0].numpy(), BY_HAND["gradient"])


def test_works_under_no_grad_and_with_numpy_float64_images():
    net = _hand_net()
    with torch.no_grad():
        result = viz.pre_images(net, X.double().numpy()[0], "2", 0)
    np.testing.assert_allclose(result[0, 0, 0], BY_HAND["guided"])


def test_kit_resnet_with_functional_inplace_relus():
    torch.manual_seed(6)
    net = models.get("resnet20", num_classes=10).eval()
    images = torch.rand(2, 3, 12, 12, generator=torch.Generator().manual_seed(7))
    guided = viz.guided_backprop(net, images, "layer2.0", 5)
    gradient = viz.pre_images(net, images, "layer2.0", 5, method="gradient")
    x = images.clone().requires_grad_(True)
    seen = []
    handle = net.layer2[0].register_forward_hook(lambda module, inputs, output: seen.append(output))
    net(x)
    handle.remove()
    maps = seen[-1][:, 5].flatten(1)
    maps.gather(1, maps.detach().argmax(dim=1, keepdim=True)).sum().backward()
    np.testing.assert_allclose(gradient, x.grad.numpy(), rtol=1e-4, atol=1e-6)
    assert guided.shape == gradient.shape and not np.allclose(guided, gradient)


# --------------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize("kwargs, match", [
    (dict(layer="nope"), r"layer='nope' is not a module name of the model; names: '0', '1', '2'"),
    (dict(channel=1), r"channel must be an int in 0\.\.0 \(layer '2' has 1 channels\), got 1"),
    (dict(channel=-1), r"channel must be an int in 0\.\.0"),
    (dict(method="deconv"), r"method must be one of \('gradient', 'deconvnet', 'guided'\), got 'deconv'"),
    (dict(unit=(0, 1)), r"unit must be None, a \(row, col\) pair or 1 pairs .* col in 0\.\.0 .* got \(0, 1\)"),
    (dict(unit=[(0, 0), (0, 0)]), r"unit must be None, a \(row, col\) pair or 1 pairs"),
    (dict(unit=3), r"unit must be None, a \(row, col\) pair"),
])
def test_bad_arguments_name_the_argument_and_the_allowed_values(kwargs, match):
    arguments = dict(layer="2", channel=0) | kwargs
    with pytest.raises(ValueError, match=match):
        viz.pre_images(_hand_net(), X, arguments.pop("layer"), arguments.pop("channel"), **arguments)


def test_channel_must_be_an_int():
    with pytest.raises(TypeError, match=r"channel must be an int \(a channel index of layer '2'\), got 0.0"):
        viz.pre_images(_hand_net(), X, "2", 0.0)


def test_model_must_be_a_module():
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        viz.pre_images(lambda x: x, X, "2", 0)


# --------------------------------------------------------------------------- the figure
def _cross_detector() -> torch.nn.Sequential:
    conv = torch.nn.Conv2d(1, 2, 3, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0] = torch.tensor([[-1.0, 2, -1], [2, 2, 2], [-1, 2, -1]])  # a "+" shape
        conv.weight[1, 0, 1, 1] = 1.0
    return torch.nn.Sequential(torch.nn.ReLU(), conv, torch.nn.ReLU())


def test_plot_pre_images_puts_each_pre_image_above_its_patch():
    images = 0.2 * torch.rand(6, 1, 10, 10, generator=torch.Generator().manual_seed(8))
    images[4, 0, 5, 3:6] = 1.0
    images[4, 0, 4:7, 4] = 1.0
    net = _cross_detector()
    fig = viz.plot_pre_images(net, images, "1", channel=0, k=3)
    grid = np.array(fig.axes).reshape(2, 3)
    records = viz.top_activations(net, images, "1", 0, k=3)
    assert records[0].image_index == 4
    expected = viz.guided_backprop(net, images[[r.image_index for r in records]], "1", 0,
                                   unit=[r.position for r in records])
    for column, record in enumerate(records):
        (top, bottom), (left, right) = record.region
        pre, patch = grid[0, column].images[0], grid[1, column].images[0]
        np.testing.assert_allclose(pre.get_array(), expected[column, 0, top:bottom, left:right], rtol=1e-6)
        low, high = pre.get_clim()
        assert low == -high                          # signed: mid-grey is 0
        np.testing.assert_allclose(patch.get_array(), images[record.image_index, 0, top:bottom, left:right].numpy())
        assert grid[0, column].get_title().startswith(f"#{record.image_index}:")
    # the "+" detector's guided pre-image of the planted cross: its weights where they are positive (the input
    # ReLU is open on the positive image, and guided backpropagation drops the negative corners' signal)
    np.testing.assert_allclose(grid[0, 0].images[0].get_array(), net[1].weight[0, 0].detach().clamp(min=0).numpy())
    with pytest.raises(ValueError, match="method must be one of"):
        viz.plot_pre_images(net, images, "1", 0, method="saliency")


def test_plot_pre_images_colour_images():
    torch.manual_seed(9)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.ReLU(), torch.nn.Conv2d(2, 2, 3))
    images = torch.rand(4, 3, 9, 9, generator=torch.Generator().manual_seed(10))
    fig = viz.plot_pre_images(net, images, "2", 1, k=2, method="deconvnet")
    pre = fig.axes[0].images[0].get_array()
    assert pre.shape == (5, 5, 3) and 0.0 <= pre.min() and pre.max() <= 1.0
