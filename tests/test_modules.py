"""cnnkit.modules: one count_parameters, one eval_mode, one find_layer, used everywhere.

The point of one ``eval_mode``: a BatchNorm layer a user froze in eval mode (fine-tuning with
frozen statistics) stays frozen after every function of the kit that runs the model in eval
mode, instead of being switched back to training by ``model.train(was_training)``.
"""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from cnnkit import arith, models, modules, summary, train, viz


def frozen_bn_net() -> nn.Sequential:
    """A small classifier in training mode whose BatchNorm the user has put in eval mode."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(4, 3))
    net.train()
    net[1].eval()
    return net


def modes(net: nn.Module) -> list[bool]:
    return [m.training for m in net.modules()]


def test_eval_mode_restores_each_layer_own_flag():
    net = frozen_bn_net()
    before = modes(net)
    assert before[0] and not net[1].training
    with modules.eval_mode(net) as inside:
        assert inside is net and not any(modes(net))
    assert modes(net) == before
    with pytest.raises(RuntimeError, match="boom"), modules.eval_mode(net):
        raise RuntimeError("boom")
    assert modes(net) == before


@pytest.mark.parametrize("call", [
    lambda net, x: viz.feature_maps(net, x[0], "0"),
    lambda net, x: viz.occlusion_sensitivity(net, x[0], 1, patch=4, stride=4),
    lambda net, x: viz.plot_occlusion(net, x[0], 1, patch=4, stride=4),
    lambda net, x: viz.top_activations(net, x, "4", channel=1, k=2),
    lambda net, x: viz.top_activating_patches(net, x, "4", channel=1, k=2),
    lambda net, x: train.evaluate(net, (x, torch.zeros(len(x), dtype=torch.long))),
    lambda net, x: summary.summary(net, (1, 8, 8)),
    lambda net, x: summary.receptive_field_of(net, (1, 8, 8)),
    lambda net, x: summary.gradient_receptive_field(net, (1, 8, 8)),
], ids=["feature_maps", "occlusion_sensitivity", "plot_occlusion", "top_activations", "top_activating_patches",
        "evaluate", "summary", "receptive_field_of", "gradient_receptive_field"])
def test_a_frozen_batchnorm_stays_in_eval_mode(call):
    net = frozen_bn_net()
    before = modes(net)
    x = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    call(net, x)
    assert not net[1].training, "the frozen BatchNorm was switched back to training"
    assert modes(net) == before


def test_count_parameters_is_one_function_everywhere():
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    net[1].weight.requires_grad_(False)
    assert models.count_parameters is modules.count_parameters is summary.count_parameters
    assert modules.count_parameters(net) == 16 + 10
    assert modules.count_parameters(net, trainable_only=True) == 26 - 8
    assert modules.count_parameters(nn.Sequential(net, net[0])) == 26  # shared parameters once
    with pytest.raises(TypeError):
        modules.count_parameters(net, True)  # trainable_only is a keyword
    with pytest.raises(TypeError, match="model must be a torch.nn.Module, got str"):
        modules.count_parameters("resnet20")


def test_find_layer_by_module_name_index_or_class_name():
    net = frozen_bn_net()
    assert modules.find_layer(net, "1") == ("1", net[1])
    assert modules.find_layer(net, net[4]) == ("4", net[4])
    assert modules.find_layer(net, 2) == ("2", net[2]) and modules.find_layer(net, -1) == ("8", net[8])
    assert modules.find_layer(net, "Sequential") == ("", net)
    with pytest.raises(ValueError, match=r"layer='c9' is not a module name of the model; names: '0', '1'"):
        modules.find_layer(net, "c9")
    with pytest.raises(ValueError, match="out of range"):
        modules.find_layer(net, 9)
    with pytest.raises(ValueError, match="not a submodule"):
        modules.find_layer(net, nn.ReLU())
    with pytest.raises(TypeError, match="layer must be"):
        modules.find_layer(net, 1.0)


def test_module_device():
    assert modules.module_device(nn.Linear(2, 2)) == torch.device("cpu")
    assert modules.module_device(nn.ReLU()) is None
    with torch.device("meta"):
        assert modules.module_device(nn.Linear(2, 2)).type == "meta"


def test_viz_layers_from_model_is_arith_s():
    assert viz.layers_from_model is arith.layers_from_model
    net = frozen_bn_net()
    assert [d["kind"] for d in viz.layers_from_model(net, strict=False)] == ["conv", "maxpool", "conv"]


def test_modules_and_geometry_import_neither_torch_nor_the_kit_above_them():
    code = ("import sys, cnnkit.modules, cnnkit._geometry; "
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('cnnkit.') and m not in "
            "('cnnkit.modules', 'cnnkit._geometry')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

