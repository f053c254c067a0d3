"""cnnkit.ops batch normalization and global average pooling: PyTorch agreement, numeric gradients, errors."""
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
def bn_inputs(draw, training: bool):
    """x of shape (N, D) or (N, C, H, W) (more than one value per channel when training), gamma, beta, stats."""
    four_d = draw(st.booleans())
    n, c = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    shape = (n, c, draw(st.integers(1, 5)), draw(st.integers(1, 5))) if four_d else (n, c)
    if training and np.prod(shape) // c < 2:
        shape = (shape[0] + 1,) + shape[1:]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal(shape) * rng.uniform(0.1, 5) + rng.uniform(-3, 3)
    gamma, beta = rng.standard_normal(c), rng.standard_normal(c)
    running_mean, running_var = rng.standard_normal(c), rng.uniform(0.2, 3.0, c)
    return x, gamma, beta, running_mean, running_var, rng.standard_normal(shape)


def torch_batch_norm(x, gamma, beta, running_mean, running_var, training, momentum, eps, dout):
    """F.batch_norm in float64: output, (dx, dgamma, dbeta) for ``dout``, and the running stats after."""
    xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    rm = None if running_mean is None else torch.tensor(running_mean)
    rv = None if running_var is None else torch.tensor(running_var)
    out = F.batch_norm(xt, rm, rv, gt, bt, training=training, momentum=momentum, eps=eps)
    out.backward(torch.tensor(dout))
    stats = None if rm is None else (rm.numpy(), rv.numpy())
    return out.detach().numpy(), (xt.grad.numpy(), gt.grad.numpy(), bt.grad.numpy()), stats


def check_against_torch(x, gamma, beta, running_mean, running_var, dout, training, momentum, eps):
    ours_rm = None if running_mean is None else running_mean.copy()
    ours_rv = None if running_var is None else running_var.copy()
    out, cache = ops.batch_norm(x, gamma, beta, ours_rm, ours_rv, training=training, momentum=momentum, eps=eps,
                                return_cache=True)
    ref, ref_grads, ref_stats = torch_batch_norm(x, gamma, beta, running_mean, running_var, training, momentum,
                                                 eps, dout)
    assert out.shape == x.shape and out.dtype == np.float64
    assert rel_error(out, ref) < TOL
    grads = ops.batch_norm_backward(dout, cache)
    assert [g.shape for g in grads] == [x.shape, gamma.shape, beta.shape]
    for name, ours, theirs in zip(("dx", "dgamma", "dbeta"), grads, ref_grads):
        assert rel_error(ours, theirs) < TOL, name
    if running_mean is not None:
        assert rel_error(ours_rm, ref_stats[0]) < TOL and rel_error(ours_rv, ref_stats[1]) < TOL


# --------------------------------------------------------------------------- against PyTorch

@settings(max_examples=120, deadline=None)
@given(data=bn_inputs(training=True), momentum=st.sampled_from([0.0, 0.1, 0.5, 1.0]),
       eps=st.sampled_from([1e-5, 1e-3, 0.5]), with_stats=st.booleans())
def test_batch_norm_training_matches_torch(data, momentum, eps, with_stats):
    x, gamma, beta, rm, rv, dout = data
    if not with_stats:
        rm = rv = None
    check_against_torch(x, gamma, beta, rm, rv, dout, True, momentum, eps)


@settings(max_examples=80, deadline=None)
@given(data=bn_inputs(training=False), eps=st.sampled_from([1e-5, 1e-3, 0.5]))
def test_batch_norm_eval_matches_torch(data, eps):
    x, gamma, beta, rm, rv, dout = data
    before = (rm.copy(), rv.copy())
    check_against_torch(x, gamma, beta, rm, rv, dout, False, 0.1, eps)
    ops.batch_norm(x, gamma, beta, rm, rv, training=False)
    np.testing.assert_array_equal(rm, before[0])   # eval mode leaves the running stats alone
    np.testing.assert_array_equal(rv, before[1])


def test_running_stats_follow_torch_over_many_steps():
    """nn.BatchNorm2d's buffers after 5 training steps equal ours; then eval mode agrees."""
    rng = np.random.default_rng(3)
    layer = torch.nn.BatchNorm2d(3, momentum=0.3).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(rng.standard_normal(3)))
        layer.bias.copy_(torch.tensor(rng.standard_normal(3)))
    gamma, beta = layer.weight.detach().numpy().copy(), layer.bias.detach().numpy().copy()
    running_mean, running_var = np.zeros(3), np.ones(3)
    for _ in range(5):
        x = rng.standard_normal((4, 3, 5, 6)) * 2 + 1
        out = ops.batch_norm(x, gamma, beta, running_mean, running_var, training=True, momentum=0.3)
        assert rel_error(out, layer.train()(torch.tensor(x)).detach().numpy()) < TOL
    assert rel_error(running_mean, layer.running_mean.numpy()) < TOL
    assert rel_error(running_var, layer.running_var.numpy()) < TOL
    x = rng.standard_normal((2, 3, 4, 4))
    out = ops.batch_norm(x, gamma, beta, running_mean, running_var, training=False)
    assert rel_error(out, layer.eval()(torch.tensor(x)).detach().numpy()) < TOL


def test_training_output_has_zero_mean_unit_variance_per_channel():
    x = np.random.default_rng(4).standard_normal((8, 3, 4, 4)) * [[[[5.0]], [[0.1]], [[30.0]]]] + 7.0
    out = ops.batch_norm(x, np.ones(3), np.zeros(3), eps=1e-12)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1.0, rtol=1e-9)


# --------------------------------------------------------------------------- numeric gradients

@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 3, 4)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_backward_matches_numeric_gradients(shape, training):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape) * 2 + 1
    c = shape[1]
    gamma, beta = rng.standard_normal(c), rng.standard_normal(c)
    rm, rv = rng.standard_normal(c), rng.uniform(0.5, 2.0, c)
    dout = rng.standard_normal(shape)

    def forward(x_, g_, b_):
        # Running stats are copied so the numeric differences do not update them.
        return ops.batch_norm(x_, g_, b_, rm.copy(), rv.copy(), training=training)

    out, cache = ops.batch_norm(x, gamma, beta, rm.copy(), rv.copy(), training=training, return_cache=True)
    dx, dgamma, dbeta = ops.batch_norm_backward(dout, cache)
    assert rel_error(dx, numeric_gradient(lambda v: forward(v, gamma, beta), x.copy(), dout)) < 1e-7
    assert rel_error(dgamma, numeric_gradient(lambda v: forward(x, v, beta), gamma.copy(), dout)) < 1e-7
    assert rel_error(dbeta, numeric_gradient(lambda v: forward(x, gamma, v), beta.copy(), dout)) < 1e-7


def test_batch_norm_keeps_float32():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    rm, rv = np.zeros(2, np.float32), np.ones(2, np.float32)
    out, cache = ops.batch_norm(x, np.ones(2), np.zeros(2), rm, rv, return_cache=True)
    assert out.dtype == np.float32 and rm.dtype == rv.dtype == np.float32
    assert all(g.dtype == np.float32 for g in ops.batch_norm_backward(np.ones_like(out), cache))
    assert rel_error(out, ops.batch_norm(x.astype(np.float64), np.ones(2), np.zeros(2))) < 1e-6


# --------------------------------------------------------------------------- global average pooling

@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3), c=st.integers(1, 4), h=st.integers(1, 7), w=st.integers(1, 7),
       keepdims=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_global_avg_pool_matches_torch(n, c, h, w, keepdims, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w))
    xt = torch.tensor(x, requires_grad=True)
    ref = F.adaptive_avg_pool2d(xt, 1)
    ref = ref if keepdims else torch.flatten(ref, 1)
    dout = rng.standard_normal(tuple(ref.shape))
    ref.backward(torch.tensor(dout))
    out, cache = ops.global_avg_pool(x, keepdims=keepdims, return_cache=True)
    assert out.shape == tuple(ref.shape) and rel_error(out, ref.detach().numpy()) < TOL
    assert rel_error(ops.global_avg_pool_backward(dout, cache), xt.grad.numpy()) < TOL


def test_global_avg_pool_backward_matches_numeric_gradients():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 4, 5))
    out, cache = ops.global_avg_pool(x, return_cache=True)
    dout = rng.standard_normal(out.shape)
    numeric = numeric_gradient(ops.global_avg_pool, x.copy(), dout)
    assert rel_error(ops.global_avg_pool_backward(dout, cache), numeric) < 1e-8


# --------------------------------------------------------------------------- errors

@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(x=np.zeros(4)), ValueError, r"x must be \(N, D\) or \(N, C, H, W\)"),
    (dict(x=np.array(["a", "b"])), TypeError, r"x must hold real numbers"),
    (dict(gamma=np.ones(2)), ValueError, r"gamma must have shape \(3,\)"),
    (dict(beta=np.ones((3, 1))), ValueError, r"beta must have shape \(3,\)"),
    (dict(momentum=1.5), ValueError, r"momentum must be in \[0, 1\]"),
    (dict(momentum=-0.1), ValueError, r"momentum must be >= 0"),
    (dict(momentum=None), TypeError, r"momentum must be a real number"),
    (dict(eps=0.0), ValueError, r"eps must be > 0"),
    (dict(training=1), TypeError, r"training must be True or False"),
    (dict(running_mean=np.zeros(3)), ValueError, r"running_mean and running_var must be given together"),
    (dict(training=False), ValueError, r"training=False normalises with running_mean and running_var"),
    (dict(running_mean=[0.0] * 3, running_var=np.ones(3)), TypeError, r"running_mean must be a float numpy array"),
    (dict(running_mean=np.zeros(3), running_var=np.ones(4)), ValueError, r"running_var must have shape \(3,\)"),
    (dict(x=np.zeros((1, 3, 1, 1))), ValueError, r"more than 1 value per channel"),
])
def test_batch_norm_rejects_bad_arguments(kwargs, exc, match):
    args = dict(x=np.zeros((2, 3, 2, 2)), gamma=np.ones(3), beta=np.zeros(3))
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        ops.batch_norm(**args)


def test_single_value_per_channel_is_fine_in_eval_mode():
    out = ops.batch_norm(np.full((1, 2), 3.0), np.ones(2), np.zeros(2), np.full(2, 1.0), np.full(2, 4.0),
                         training=False, eps=0.0 + 1e-12)
    np.testing.assert_allclose(out, 1.0)   # (3 - 1) / sqrt(4)


def test_backwards_reject_a_foreign_cache_or_dout():
    x = np.zeros((2, 3, 2, 2))
    out, cache = ops.batch_norm(x, np.ones(3), np.zeros(3), return_cache=True)
    _, pool_cache = ops.global_avg_pool(x, return_cache=True)
    with pytest.raises(TypeError, match="cache must be the BatchNormCache"):
        ops.batch_norm_backward(out, pool_cache)
    with pytest.raises(ValueError, match=r"dout must have the forward output's shape \(2, 3, 2, 2\)"):
        ops.batch_norm_backward(np.zeros((2, 3, 2, 1)), cache)
    with pytest.raises(TypeError, match="cache must be the GlobalAvgPoolCache"):
        ops.global_avg_pool_backward(np.zeros((2, 3)), cache)
    with pytest.raises(ValueError, match=r"dout must have the forward output's shape \(2, 3\)"):
        ops.global_avg_pool_backward(np.zeros((2, 3, 1, 1)), pool_cache)
    with pytest.raises(ValueError, match=r"x must be 4-D"):
        ops.global_avg_pool(np.zeros((2, 3)))
    with pytest.raises(TypeError, match=r"keepdims must be True or False"):
        ops.global_avg_pool(x, keepdims="yes")
