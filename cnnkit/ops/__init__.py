"""Convolutional-network operations in plain numpy, forward and backward.

Everything works on NCHW arrays (weights ``(C_out, C_in/groups, kH, kW)``) in float32 or
float64, takes PyTorch's argument names, and agrees with ``torch.nn.functional``.

The (out, cache) convention
---------------------------
* A forward returns its output array, so it drops into a notebook like ``F.conv2d`` does.
* Where the backward needs something only the forward computed (which element of a max
  window won, a local mean, ...), the forward takes ``return_cache=True`` and then returns
  ``(out, cache)``; ``*_backward(dout, cache)`` returns the gradient of the input:
  ``max_pool2d``, ``avg_pool2d``, ``lp_pool2d``, ``feature_pool``, ``local_contrast_norm``.
* Where the inputs are enough, the backward takes them instead of a cache:
  ``conv2d_backward(dout, x, w, stride, padding, dilation, groups) -> (dx, dw, db)`` and
  ``relu_backward(dout, x) -> dx``. ``softmax_cross_entropy(logits, y)`` returns
  ``(loss, dlogits)`` at once.

Readable and fast versions: :func:`conv2d_naive` and :func:`pool2d_naive` are loops written
to be read; :func:`conv2d` and the pooling functions are the fast ones, tested against them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

# filters, gradcheck and _args are numpy only and never import the reference ops below.
from .. import _lazy
from . import filters, gradcheck

# name -> submodule that defines it. Imported on first use (PEP 562), so ``import cnnkit.ops``,
# ``cnnkit.ops.filters`` and ``cnnkit.ops.gradcheck`` work where these files are unavailable
# (the graded assignments hide them).
_LAZY = {
    **dict.fromkeys(("relu", "relu_backward", "softmax_cross_entropy"), "activations"),
    **dict.fromkeys(("conv2d", "conv2d_backward", "conv2d_naive", "convolve2d", "correlate2d"), "conv"),
    **dict.fromkeys(("local_contrast_norm", "local_contrast_norm_backward"), "norm"),
    **dict.fromkeys(("batch_norm", "batch_norm_backward", "global_avg_pool", "global_avg_pool_backward"),
                    "batchnorm"),
    **dict.fromkeys(("avg_pool2d", "avg_pool2d_backward", "feature_pool", "feature_pool_backward", "lp_pool2d",
                     "lp_pool2d_backward", "max_pool2d", "max_pool2d_backward", "pool2d_naive"), "pool"),
}

if TYPE_CHECKING:  # pragma: no cover - for editors and type checkers only
    from .activations import relu, relu_backward, softmax_cross_entropy
    from .batchnorm import batch_norm, batch_norm_backward, global_avg_pool, global_avg_pool_backward
    from .conv import conv2d, conv2d_backward, conv2d_naive, convolve2d, correlate2d
    from .norm import local_contrast_norm, local_contrast_norm_backward
    from .pool import (
        avg_pool2d,
        avg_pool2d_backward,
        feature_pool,
        feature_pool_backward,
        lp_pool2d,
        lp_pool2d_backward,
        max_pool2d,
        max_pool2d_backward,
        pool2d_naive,
    )

__all__ = [
    "correlate2d", "convolve2d", "conv2d", "conv2d_naive", "conv2d_backward",
    "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
    "lp_pool2d", "lp_pool2d_backward", "pool2d_naive",
    "feature_pool", "feature_pool_backward",
    "local_contrast_norm", "local_contrast_norm_backward",
    "batch_norm", "batch_norm_backward", "global_avg_pool", "global_avg_pool_backward",
    "relu", "relu_backward", "softmax_cross_entropy",
    "gradcheck", "filters",
]


def __getattr__(name: str) -> Any:
    """Import the submodule that defines ``name`` the first time it is used (PEP 562).

    An ImportError of that submodule propagates unchanged.
    """
    return _lazy.load(__name__, _LAZY, globals(), name)


def __dir__() -> list[str]:
    return _lazy.names(globals(), _LAZY)
