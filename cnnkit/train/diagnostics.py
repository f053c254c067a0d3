"""Looking inside training: how large each layer's gradient is (vanishing gradients)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_WEIGHTED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def layer_gradient_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[tuple[str, float]]:
    """L2 norm of the cross-entropy gradient of each conv/linear weight, from input to output.

    One forward and one backward pass on ``(x, y)``. The order is the order in which the
    layers ran in the forward pass, so in a deep plain network with saturating
    activations the first entries are the ones that vanish. The model's ``.grad``
    fields are not touched (``torch.autograd.grad`` is used) and its mode is kept.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x and y must be non-empty and equally long, got {len(x)} and {len(y)}")
    names = {module: name for name, module in model.named_modules() if isinstance(module, _WEIGHTED)}
    if not names:
        raise ValueError(f"{type(model).__name__} has no Conv or Linear layer to measure")
    order: list[nn.Module] = []

    def record(module, _inputs, _output):
        if module not in order:
            order.append(module)

    hooks = [module.register_forward_hook(record) for module in names]
    try:
        param = next(model.parameters())
        loss = F.cross_entropy(model(x.to(param.device, param.dtype)), y.to(param.device))
    finally:
        for hook in hooks:
            hook.remove()
    weights = [module.weight for module in order]
    grads = torch.autograd.grad(loss, weights, allow_unused=True)
    return [(names[m] or type(m).__name__, 0.0 if g is None else float(g.detach().norm()))
            for m, g in zip(order, grads)]
