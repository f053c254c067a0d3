"""cnnkit.ops.local_contrast_norm: a PyTorch-autograd reference, numeric gradients, invariances, errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnkit import ops
from cnnkit.ops.gradcheck import numeric_gradient, rel_error

TOL = 1e-9


def lcn_torch(x: torch.Tensor, size: int, sigma: float, eps: float, across: bool) -> torch.Tensor:
    """Local contrast normalization written independently with F.conv2d and a 2-D Gaussian window."""
    r = torch.arange(size, dtype=x.dtype) - (size - 1) / 2
    window = torch.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma ** 2))
    window = (window / window.sum())[None, None]
    n, c, h, w = x.shape

    def blur(z):  # z: (M, 1, H, W), zero padding, same size
        return F.conv2d(z, window, padding=size // 2)

    weight_sum = blur(torch.ones(1, 1, h, w, dtype=x.dtype))

    def local_mean(z):
        if across:
            return blur(z.mean(dim=1, keepdim=True)) / weight_sum
        return (blur(z.reshape(n * c, 1, h, w)) / weight_sum).reshape(n, c, h, w)

    v = x - local_mean(x)
    return v / torch.sqrt(local_mean(v * v) + eps)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(2, 9), w=st.integers(2, 9),
       size=st.sampled_from([3, 5, 9]), sigma=st.sampled_from([None, 0.7, 2.0]),
       eps=st.sampled_from([1e-4, 1e-2, 1.0]), across=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_local_contrast_norm_matches_torch_autograd(n, c, h, w, size, sigma, eps, across, seed):
    # (A 1-pixel window, or a 1x1 image, is its own mean: the output is 0 up to rounding and
    # the rounding of two libraries cannot be compared, so windows and images are >= 2 wide.)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)) * 3 + 1
    out, cache = ops.local_contrast_norm(x, size, sigma, eps, across, return_cache=True)
    xt = torch.tensor(x, requires_grad=True)
    ref = lcn_torch(xt, size, size / 4 if sigma is None else sigma, eps, across)
    dout = rng.standard_normal(out.shape)
    ref.backward(torch.tensor(dout))
    assert out.shape == x.shape and rel_error(out, ref.detach().numpy()) < TOL
    assert rel_error(ops.local_contrast_norm_backward(dout, cache), xt.grad.numpy()) < TOL


@pytest.mark.parametrize("across", [True, False])
def test_local_contrast_norm_backward_matches_numeric_gradients(across):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 3, 6, 5))
    out, cache = ops.local_contrast_norm(x, size=5, across_channels=across, return_cache=True)
    dout = rng.standard_normal(out.shape)
    numeric = numeric_gradient(lambda v: ops.local_contrast_norm(v, size=5, across_channels=across), x.copy(), dout)
    assert rel_error(ops.local_contrast_norm_backward(dout, cache), numeric) < 1e-7


def test_lcn_removes_brightness_and_contrast():
    """The slide's point: the same pattern lit differently gives the same response."""
    rng = np.random.default_rng(10)
    x = rng.standard_normal((1, 2, 12, 12))
    base = ops.local_contrast_norm(x, size=5, eps=1e-12)
    brighter_and_stronger = ops.local_contrast_norm(4.0 * x + 7.0, size=5, eps=1e-12)
    assert rel_error(base, brighter_and_stronger) < 1e-8
    flat = ops.local_contrast_norm(np.full((1, 1, 6, 6), 3.0))
    np.testing.assert_allclose(flat, 0.0, atol=1e-12)


def test_lcn_across_channels_shares_one_mean_per_position():
    x = np.zeros((1, 2, 5, 5))
    x[0, 0] = 1.0  # channel 0 bright, channel 1 dark
    across = ops.local_contrast_norm(x, size=3, eps=1e-12, across_channels=True)
    separate = ops.local_contrast_norm(x, size=3, eps=1e-12, across_channels=False)
    np.testing.assert_allclose(separate, 0.0, atol=1e-9)      # each map alone is flat
    assert np.all(across[0, 0] > 0.9) and np.all(across[0, 1] < -0.9)   # against each other they differ


def test_lcn_keeps_float32():
    x = np.random.default_rng(11).standard_normal((1, 2, 7, 7)).astype(np.float32)
    out, cache = ops.local_contrast_norm(x, return_cache=True)
    assert out.dtype == np.float32
    assert ops.local_contrast_norm_backward(np.ones_like(out), cache).dtype == np.float32
    assert rel_error(out, ops.local_contrast_norm(x.astype(np.float64))) < 1e-5


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(x=np.zeros((2, 5, 5))), ValueError, r"x must be 4-D"),
    (dict(size=4), ValueError, r"size must be odd"),
    (dict(size=0), ValueError, r"size must be >= 1"),
    (dict(sigma=-1.0), ValueError, r"sigma must be > 0"),
    (dict(eps=0.0), ValueError, r"eps must be > 0"),
    (dict(across_channels=1), TypeError, r"across_channels must be True or False"),
])
def test_lcn_rejects_bad_arguments(kwargs, exc, match):
    args = dict(x=np.zeros((1, 2, 5, 5)))
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        ops.local_contrast_norm(**args)


def test_lcn_backward_rejects_a_foreign_cache_or_dout():
    out, cache = ops.local_contrast_norm(np.zeros((1, 1, 4, 4)), return_cache=True)
    with pytest.raises(TypeError, match="cache must be the LCNCache"):
        ops.local_contrast_norm_backward(out, ops.max_pool2d(out, 2, return_cache=True)[1])
    with pytest.raises(ValueError, match=r"dout must have the forward output's shape \(1, 1, 4, 4\)"):
        ops.local_contrast_norm_backward(np.zeros((1, 1, 4, 3)), cache)
