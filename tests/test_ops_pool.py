"""cnnkit.ops pooling: PyTorch agreement (forward + backward), naive == fast, gradients, errors."""
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


@st.composite
def pool_cases(draw, max_batch: int = 3, allow_padding: bool = True):
    """Random pooling geometry: kernel, stride (None or int or pair), padding <= kernel/2, ceil_mode."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = draw(st.sampled_from([None, "int", "pair"]))
    if stride == "int":
        stride = draw(st.integers(1, 3))
    elif stride == "pair":
        stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))) if allow_padding else 0
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    h = max(1, kh - 2 * ph) + draw(st.integers(0, 6))
    w = max(1, kw - 2 * pw) + draw(st.integers(0, 6))
    n, c = draw(st.integers(1, max_batch)), draw(st.integers(1, 3))
    x = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).standard_normal((n, c, h, w))
    kernel = (kh, kw) if kh != kw or draw(st.booleans()) else kh
    return x, dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=draw(st.booleans()))


def torch_run(fn, x, dout_seed):
    """Forward and input gradient of a torch function of x, for a random dout."""
    xt = torch.tensor(x, requires_grad=True)
    out = fn(xt)
    dout = np.random.default_rng(dout_seed).standard_normal(tuple(out.shape))
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), dout, xt.grad.numpy()


def lp_reference(xt, p, kernel_size, stride, padding, ceil_mode):
    """The plain L_p norm of each window's elements, built from PyTorch ops."""
    total = F.avg_pool2d(xt.abs() ** p, kernel_size, stride, padding, ceil_mode, divisor_override=1)
    return total ** (1 / p)


# --------------------------------------------------------------------------- against PyTorch

@settings(max_examples=120, deadline=None)
@given(case=pool_cases(), seed=st.integers(0, 2**32 - 1))
def test_max_pool2d_matches_torch(case, seed):
    x, kw = case
    ref, dout, ref_dx = torch_run(lambda t: F.max_pool2d(t, **kw), x, seed)
    out, cache = ops.max_pool2d(x, **kw, return_cache=True)
    assert out.shape == ref.shape and rel_error(out, ref) < TOL
    np.testing.assert_array_equal(ops.max_pool2d(x, **kw), out)
    assert rel_error(ops.max_pool2d_backward(dout, cache), ref_dx) < TOL


@settings(max_examples=120, deadline=None)
@given(case=pool_cases(), include=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_avg_pool2d_matches_torch(case, include, seed):
    x, kw = case
    ref, dout, ref_dx = torch_run(lambda t: F.avg_pool2d(t, **kw, count_include_pad=include), x, seed)
    out, cache = ops.avg_pool2d(x, **kw, count_include_pad=include, return_cache=True)
    assert out.shape == ref.shape and rel_error(out, ref) < TOL
    assert rel_error(ops.avg_pool2d_backward(dout, cache), ref_dx) < TOL


@settings(max_examples=60, deadline=None)
@given(case=pool_cases(allow_padding=False), seed=st.integers(0, 2**32 - 1))
def test_l2_pool2d_matches_torch_lp_pool2d(case, seed):
    """Without padding and ceil mode, p=2 is exactly torch.nn.functional.lp_pool2d."""
    x, kw = case
    kw.pop("padding")
    kw["ceil_mode"] = False
    ref, dout, ref_dx = torch_run(lambda t: F.lp_pool2d(t, 2, **kw), x, seed)
    out, cache = ops.lp_pool2d(x, 2, **kw, return_cache=True)
    assert out.shape == ref.shape and rel_error(out, ref) < TOL
    assert rel_error(ops.lp_pool2d_backward(dout, cache), ref_dx) < TOL


@settings(max_examples=60, deadline=None)
@given(case=pool_cases(), p=st.sampled_from([1.0, 1.5, 2.0, 3.0, 4]), seed=st.integers(0, 2**32 - 1))
def test_lp_pool2d_matches_the_norm_of_each_window(case, p, seed):
    """Any p, with padding and ceil mode: the L_p norm of the elements in the window."""
    x, kw = case
    ref, dout, ref_dx = torch_run(lambda t: lp_reference(t, p, **kw), x, seed)
    out, cache = ops.lp_pool2d(x, p, **kw, return_cache=True)
    assert out.shape == ref.shape and rel_error(out, ref) < TOL
    assert rel_error(ops.lp_pool2d_backward(dout, cache), ref_dx) < TOL


@settings(max_examples=60, deadline=None)
@given(case=pool_cases(max_batch=2), kind=st.sampled_from(["max", "avg", "lp"]), include=st.booleans())
def test_naive_and_fast_pooling_agree(case, kind, include):
    x, kw = case
    fast = {"max": lambda: ops.max_pool2d(x, **kw),
            "avg": lambda: ops.avg_pool2d(x, **kw, count_include_pad=include),
            "lp": lambda: ops.lp_pool2d(x, 3, **kw)}[kind]()
    naive = ops.pool2d_naive(x, kind, **kw, norm_type=3, count_include_pad=include)
    assert naive.shape == fast.shape and rel_error(naive, fast) < TOL


def test_max_pool_ties_send_the_gradient_where_torch_does():
    """Integer inputs make many ties: the first maximum of a window wins, as in PyTorch."""
    x = np.random.default_rng(4).integers(0, 3, size=(2, 2, 7, 7)).astype(float)
    kw = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)
    ref, dout, ref_dx = torch_run(lambda t: F.max_pool2d(t, **kw), x, 5)
    out, cache = ops.max_pool2d(x, **kw, return_cache=True)
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_allclose(ops.max_pool2d_backward(dout, cache), ref_dx, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["max", "avg", "lp"])
def test_pool_backward_matches_numeric_gradients(kind):
    x = np.random.default_rng(6).standard_normal((2, 2, 6, 5))
    kw = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)
    fwd, bwd = {"max": (ops.max_pool2d, ops.max_pool2d_backward), "avg": (ops.avg_pool2d, ops.avg_pool2d_backward),
                "lp": (lambda v, **k: ops.lp_pool2d(v, 2, **k), ops.lp_pool2d_backward)}[kind]
    out, cache = fwd(x, **kw, return_cache=True)
    dout = np.random.default_rng(7).standard_normal(out.shape)
    assert rel_error(bwd(dout, cache), numeric_gradient(lambda v: fwd(v, **kw), x.copy(), dout)) < 1e-7


def test_pooling_keeps_float32_and_stride_defaults_to_kernel():
    x = np.random.default_rng(8).standard_normal((1, 2, 6, 6)).astype(np.float32)
    for fn in (ops.max_pool2d, ops.avg_pool2d, lambda v, k: ops.lp_pool2d(v, 2, k)):
        out = fn(x, 2)
        assert out.dtype == np.float32 and out.shape == (1, 2, 3, 3)
    np.testing.assert_array_equal(ops.max_pool2d(x, 2), x.reshape(1, 2, 3, 2, 3, 2).max(axis=(3, 5)))


# --------------------------------------------------------------------------- across features

@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 3), groups=st.integers(1, 3), size=st.integers(1, 4), h=st.integers(1, 4),
       w=st.integers(1, 4), kind=st.sampled_from(["max", "l2", "avg"]), seed=st.integers(0, 2**32 - 1))
def test_feature_pool_matches_torch(n, groups, size, h, w, kind, seed):
    x = np.random.default_rng(seed).standard_normal((n, groups * size, h, w))

    def reference(t):
        g = t.reshape(n, groups, size, h, w)
        return {"max": lambda: g.max(dim=2).values, "l2": lambda: (g ** 2).sum(dim=2).sqrt(),
                "avg": lambda: g.mean(dim=2)}[kind]()

    ref, dout, ref_dx = torch_run(reference, x, seed)
    out, cache = ops.feature_pool(x, size, kind, return_cache=True)
    assert out.shape == (n, groups, h, w) and rel_error(out, ref) < TOL
    np.testing.assert_array_equal(ops.feature_pool(x, size, kind), out)
    assert rel_error(ops.feature_pool_backward(dout, cache), ref_dx) < TOL


@pytest.mark.parametrize("kind", ["max", "l2", "avg"])
def test_feature_pool_backward_matches_numeric_gradients(kind):
    x = np.random.default_rng(12).standard_normal((2, 6, 3, 4))
    out, cache = ops.feature_pool(x, 3, kind, return_cache=True)
    dout = np.random.default_rng(13).standard_normal(out.shape)
    numeric = numeric_gradient(lambda v: ops.feature_pool(v, 3, kind), x.copy(), dout)
    assert rel_error(ops.feature_pool_backward(dout, cache), numeric) < 1e-7


def test_l2_feature_pool_is_the_lecture_formula():
    x = np.arange(24, dtype=float).reshape(1, 4, 2, 3)
    out = ops.feature_pool(x, 2, "l2")
    np.testing.assert_allclose(out[0, 1], np.sqrt(x[0, 2] ** 2 + x[0, 3] ** 2))


# --------------------------------------------------------------------------- errors

X = np.zeros((1, 2, 6, 6))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: ops.max_pool2d(X[0], 2), ValueError, r"x must be 4-D"),
    (lambda: ops.max_pool2d(X, 0), ValueError, r"kernel_size must be >= 1"),
    (lambda: ops.max_pool2d(X, 2, stride=0), ValueError, r"stride must be >= 1"),
    (lambda: ops.max_pool2d(X, 2, padding=-1), ValueError, r"padding must be >= 0"),
    (lambda: ops.avg_pool2d(X, 2, padding=2), ValueError, r"at most half of kernel_size"),
    (lambda: ops.avg_pool2d(X, 7), ValueError, r"larger than the padded input"),
    (lambda: ops.avg_pool2d(X, 2.0), TypeError, r"kernel_size must be an int"),
    (lambda: ops.max_pool2d(X, 2, ceil_mode="yes"), TypeError, r"ceil_mode must be True or False"),
    (lambda: ops.lp_pool2d(X, 0.5, 2), ValueError, r"norm_type must be >= 1"),
    (lambda: ops.lp_pool2d(X, "2", 2), TypeError, r"norm_type must be a real number"),
    (lambda: ops.pool2d_naive(X, "min", 2), ValueError, r"kind must be one of"),
    (lambda: ops.feature_pool(X, 3), ValueError, r"group_size=3 must divide the number of channels C=2"),
    (lambda: ops.feature_pool(X, 2, "median"), ValueError, r"kind must be one of"),
    (lambda: ops.max_pool2d_backward(np.zeros((1, 2, 3, 3)), None), TypeError, r"cache must be"),
    (lambda: ops.max_pool2d_backward(np.zeros((1, 2, 3, 3)), ops.avg_pool2d(X, 2, return_cache=True)[1]),
     TypeError, r"got a .avg. PoolCache"),
    (lambda: ops.max_pool2d_backward(np.zeros((1, 2, 2, 3)), ops.max_pool2d(X, 2, return_cache=True)[1]),
     ValueError, r"dout must have the forward output's shape \(1, 2, 3, 3\)"),
    (lambda: ops.feature_pool_backward(np.zeros((1, 2, 6, 6)), ops.feature_pool(X, 2, return_cache=True)[1]),
     ValueError, r"dout must have the forward output's shape"),
])
def test_pooling_rejects_bad_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
