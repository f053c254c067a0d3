"""cnnkit.ops convolution: the lecture's example, PyTorch agreement, naive == fast, gradients, errors."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnkit import ops
from cnnkit.ops import conv as conv_module
from cnnkit.ops import filters
from cnnkit.ops.gradcheck import numeric_gradient, rel_error

TOL = 1e-9  # float64 agreement with torch.nn.functional (issue 3)


# --------------------------------------------------------------------------- cases

@st.composite
def conv_cases(draw, max_batch: int = 3, max_extra: int = 5):
    """A random conv layer: batch, grouped channels, kernel, stride, padding (int, pair,
    'same', 'valid'), dilation, and an input just large enough or larger."""
    groups = draw(st.integers(1, 3))
    c_in = groups * draw(st.integers(1, 3))
    c_out = groups * draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    style = draw(st.sampled_from(["int", "pair", "same", "valid"]))
    if style == "same":
        stride, padding, pads = 1, "same", (dilation[0] * (kh - 1), dilation[1] * (kw - 1))
    else:
        stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        if style == "int":
            p = draw(st.integers(0, 3))
            padding, pads = p, (2 * p, 2 * p)
        elif style == "pair":
            padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
            pads = (2 * padding[0], 2 * padding[1])
        else:
            padding, pads = "valid", (0, 0)
    h = max(1, dilation[0] * (kh - 1) + 1 - pads[0]) + draw(st.integers(0, max_extra))
    w = max(1, dilation[1] * (kw - 1) + 1 - pads[1]) + draw(st.integers(0, max_extra))
    n = draw(st.integers(1, max_batch))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((n, c_in, h, w))
    wt = rng.standard_normal((c_out, c_in // groups, kh, kw))
    b = rng.standard_normal(c_out) if draw(st.booleans()) else None
    if isinstance(stride, tuple) and draw(st.booleans()):
        stride = stride[0]  # an int means the same stride along both axes
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    return x, wt, b, kwargs


def torch_conv(x, w, b, kwargs, dout):
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = None if b is None else torch.tensor(b, requires_grad=True)
    out = F.conv2d(xt, wt, bt, **kwargs)
    out.backward(torch.tensor(dout))
    db = None if bt is None else bt.grad.numpy()
    return out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), db


# --------------------------------------------------------------------------- the lecture

# The 8x8 table h[., .] of the lecture's correlation slide (credit S. Seitz), typed from the
# syllabus lecture14-cnn-slides.txt: I[., .] correlated with the 3x3 box filter of ninths.
SLIDE_H = np.array([
    [0, 10, 20, 30, 30, 30, 20, 10],
    [0, 20, 40, 60, 60, 60, 40, 20],
    [0, 30, 60, 90, 90, 90, 60, 30],
    [0, 30, 50, 80, 80, 90, 60, 30],
    [0, 30, 50, 80, 80, 90, 60, 30],
    [0, 20, 30, 50, 50, 60, 40, 20],
    [10, 20, 30, 30, 30, 30, 20, 10],
    [10, 10, 10, 0, 0, 0, 0, 0],
], dtype=float)


def test_correlate2d_reproduces_the_lecture_table():
    image = filters.lecture_box_example()
    assert image.shape == (10, 10) and image[5, 4] == 0 and image[8, 2] == 90
    np.testing.assert_allclose(ops.correlate2d(image, filters.box()), SLIDE_H, atol=1e-12)


def test_conv2d_and_naive_give_the_lecture_table_too():
    x = filters.lecture_box_example()[None, None]
    w = filters.box()[None, None]
    np.testing.assert_allclose(ops.conv2d(x, w)[0, 0], SLIDE_H, atol=1e-12)
    np.testing.assert_allclose(ops.conv2d_naive(x, w)[0, 0], SLIDE_H, atol=1e-12)


@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 7), w=st.integers(1, 7), kh=st.integers(1, 4), kw=st.integers(1, 4),
       mode=st.sampled_from(["valid", "same", "full"]), seed=st.integers(0, 2**32 - 1))
def test_correlate2d_and_convolve2d_match_scipy_and_torch(h, w, kh, kw, mode, seed):
    rng = np.random.default_rng(seed)
    image, kernel = rng.standard_normal((h, w)), rng.standard_normal((kh, kw))
    if mode == "valid" and (kh > h or kw > w):
        with pytest.raises(ValueError, match="larger than image"):
            ops.correlate2d(image, kernel, mode)
        return
    got = ops.correlate2d(image, kernel, mode)
    if mode == "same":  # PyTorch's 'same' padding rule (extra row/column at the bottom/right)
        ref = F.conv2d(torch.tensor(image)[None, None], torch.tensor(kernel)[None, None], padding="same")[0, 0]
        assert rel_error(got, ref.numpy()) < TOL
    else:
        assert rel_error(got, scipy.signal.correlate2d(image, kernel, mode)) < TOL
        assert rel_error(ops.convolve2d(image, kernel, mode), scipy.signal.convolve2d(image, kernel, mode)) < TOL
    # convolution is correlation with the kernel turned by 180 degrees, in every mode
    np.testing.assert_array_equal(ops.convolve2d(image, kernel, mode), ops.correlate2d(image, kernel[::-1, ::-1], mode))


def test_sobel_finds_a_vertical_edge_and_convolve_flips_its_sign():
    image = np.zeros((5, 6))
    image[:, 3:] = 1.0  # dark left half, bright right half
    h = ops.correlate2d(image, filters.sobel_x())
    assert h.max() == 4.0 and np.all(h[:, 0] == 0) and np.all(h[:, 1:3] == 4.0)
    np.testing.assert_array_equal(ops.convolve2d(image, filters.sobel_x()), -h)
    assert np.all(ops.correlate2d(image, filters.sobel_y()) == 0)


# --------------------------------------------------------------------------- conv2d vs PyTorch

@settings(max_examples=150, deadline=None)
@given(case=conv_cases(), seed=st.integers(0, 2**32 - 1))
def test_conv2d_forward_and_backward_match_torch(case, seed):
    x, w, b, kwargs = case
    out = ops.conv2d(x, w, b, **kwargs)
    dout = np.random.default_rng(seed).standard_normal(out.shape)
    ref_out, ref_dx, ref_dw, ref_db = torch_conv(x, w, b, kwargs, dout)
    assert out.shape == ref_out.shape and out.dtype == np.float64
    assert rel_error(out, ref_out) < TOL
    dx, dw, db = ops.conv2d_backward(dout, x, w, **kwargs)
    assert rel_error(dx, ref_dx) < TOL
    assert rel_error(dw, ref_dw) < TOL
    if b is not None:
        assert rel_error(db, ref_db) < TOL


@settings(max_examples=60, deadline=None)
@given(case=conv_cases(max_batch=2, max_extra=3))
def test_naive_and_fast_conv2d_agree(case):
    x, w, b, kwargs = case
    assert rel_error(ops.conv2d_naive(x, w, b, **kwargs), ops.conv2d(x, w, b, **kwargs)) < TOL


@settings(max_examples=8, deadline=None)
@given(case=conv_cases(max_batch=2, max_extra=2))
def test_conv2d_backward_matches_numeric_gradients(case):
    x, w, b, kwargs = case
    b = np.zeros(w.shape[0]) if b is None else b
    dout = np.random.default_rng(0).standard_normal(ops.conv2d(x, w, b, **kwargs).shape)
    dx, dw, db = ops.conv2d_backward(dout, x, w, **kwargs)
    assert rel_error(dx, numeric_gradient(lambda v: ops.conv2d(v, w, b, **kwargs), x.copy(), dout)) < 1e-7
    assert rel_error(dw, numeric_gradient(lambda v: ops.conv2d(x, v, b, **kwargs), w.copy(), dout)) < 1e-7
    assert rel_error(db, numeric_gradient(lambda v: ops.conv2d(x, w, v, **kwargs), b.copy(), dout)) < 1e-7


def test_float32_stays_float32_and_agrees_with_float64():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((2, 4, 9, 9)), rng.standard_normal((6, 2, 3, 3)), rng.standard_normal(6)
    kwargs = dict(stride=2, padding=1, dilation=1, groups=2)
    out32 = ops.conv2d(x.astype(np.float32), w.astype(np.float32), b.astype(np.float32), **kwargs)
    assert out32.dtype == np.float32
    assert rel_error(out32, ops.conv2d(x, w, b, **kwargs)) < 1e-6
    grads32 = ops.conv2d_backward(np.ones_like(out32), x.astype(np.float32), w.astype(np.float32), **kwargs)
    grads64 = ops.conv2d_backward(np.ones(out32.shape), x, w, **kwargs)
    for g32, g64 in zip(grads32, grads64):
        assert g32.dtype == np.float32 and rel_error(g32, g64) < 1e-6
    assert ops.conv2d_naive(x.astype(np.float32), w.astype(np.float32), groups=2).dtype == np.float32


@pytest.mark.parametrize("budget", [1, 9_000, 40_000])
def test_blocked_conv_equals_one_block(monkeypatch, budget):
    """Small budgets cut the batch into samples and the samples into bands of output rows:
    the results do not change, only the memory used."""
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((5, 3, 9, 8)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    for kwargs in (dict(padding=1), dict(stride=2, padding=(2, 1), dilation=(2, 1)), dict(stride=(3, 1))):
        out = ops.conv2d(x, w, b, **kwargs)
        dout = rng.standard_normal(out.shape)
        grads = ops.conv2d_backward(dout, x, w, **kwargs)
        monkeypatch.setattr(conv_module, "CHUNK_BYTES", budget)
        np.testing.assert_allclose(ops.conv2d(x, w, b, **kwargs), out, rtol=1e-12, atol=1e-12)
        for got, want in zip(ops.conv2d_backward(dout, x, w, **kwargs), grads):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        monkeypatch.undo()


def test_blocks_cover_the_work_once_within_the_budget(monkeypatch):
    monkeypatch.setattr(conv_module, "CHUNK_BYTES", 1000)
    # samples small enough: whole samples, 1000 // (100 + 10 * 20) = 3 per block
    assert list(conv_module._blocks(7, 10, 20, 100)) == [(0, 3, 0, 10), (3, 6, 0, 10), (6, 7, 0, 10)]
    # a sample over budget: one sample at a time, (1000 - 400) // 200 = 3 rows per band
    assert list(conv_module._blocks(2, 7, 200, 400)) == [(0, 1, 0, 3), (0, 1, 3, 6), (0, 1, 6, 7),
                                                          (1, 2, 0, 3), (1, 2, 3, 6), (1, 2, 6, 7)]
    # nothing fits: still one row at a time, never zero
    assert list(conv_module._blocks(1, 2, 5000, 5000)) == [(0, 1, 0, 1), (0, 1, 1, 2)]


def test_integer_input_is_computed_in_float64():
    out = ops.conv2d(np.ones((1, 1, 3, 3), dtype=np.int64), np.ones((1, 1, 2, 2), dtype=np.int32))
    assert out.dtype == np.float64 and np.all(out == 4)


# --------------------------------------------------------------------------- filters

def test_filter_bank():
    assert sorted(filters.FILTERS) == ["box", "gaussian", "identity", "sharpen", "sobel_x", "sobel_y"]
    for name, make in filters.FILTERS.items():
        k = make()
        assert k.dtype == np.float64 and k.ndim == 2, name
        np.testing.assert_array_equal(filters.get(name), k)
    for name in ("box", "gaussian", "identity", "sharpen"):  # these keep flat regions flat
        assert abs(filters.get(name).sum() - 1) < 1e-12
    assert filters.sobel_x().sum() == 0 and filters.sobel_y().sum() == 0
    g = filters.gaussian(7, sigma=2.0)
    assert g.shape == (7, 7) and g.argmax() == 24 and np.allclose(g, g.T) and np.allclose(g, g[::-1])
    assert filters.box(5).shape == (5, 5)
    image = np.random.default_rng(3).standard_normal((6, 6))
    np.testing.assert_array_equal(ops.correlate2d(image, filters.identity(), "same"), image)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: filters.get("blur"), ValueError, "name must be one of"),
    (lambda: filters.get("box", sigma=1.0), TypeError, "does not take"),
    (lambda: filters.gaussian(4), ValueError, "size must be odd"),
    (lambda: filters.gaussian(5, sigma=0), ValueError, "sigma must be > 0"),
    (lambda: filters.box(0), ValueError, "size must be >= 1"),
    (lambda: filters.identity(2.0), TypeError, "size must be an int"),
])
def test_filter_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# --------------------------------------------------------------------------- errors

X = np.zeros((2, 4, 6, 6))
W = np.zeros((6, 4, 3, 3))


@pytest.mark.parametrize("conv", [ops.conv2d, ops.conv2d_naive])
@pytest.mark.parametrize("args, kwargs, exc, match", [
    ((X[0], W), {}, ValueError, r"x must be 4-D"),
    ((X, W[0]), {}, ValueError, r"w must be 4-D"),
    ((X, np.zeros((6, 3, 3, 3))), {}, ValueError, r"channel mismatch"),
    ((X, np.zeros((6, 4, 7, 3))), {}, ValueError, r"larger than the padded input"),
    ((X, W), {"dilation": 4}, ValueError, r"larger than the padded input"),
    ((X, W), {"stride": 0}, ValueError, r"stride must be >= 1"),
    ((X, W), {"stride": (1, -2)}, ValueError, r"stride\[1\] must be >= 1"),
    ((X, W), {"stride": 1.5}, TypeError, r"stride must be an int"),
    ((X, np.zeros((6, 1, 3, 3))), {"groups": 3}, ValueError, r"groups=3 must divide the input channels"),
    ((X, np.zeros((6, 2, 3, 3))), {"groups": 4}, ValueError, r"groups=4 must divide the output channels"),
    ((X, W), {"groups": 0}, ValueError, r"groups must be >= 1"),
    ((X, W), {"padding": -1}, ValueError, r"padding must be >= 0"),
    ((X, W), {"padding": (1, 2, 3)}, ValueError, r"padding must be an int or a pair"),
    ((X, W), {"padding": "half"}, ValueError, r"'same' or 'valid'"),
    ((X, W), {"padding": "same", "stride": 2}, ValueError, r"'same' needs stride 1"),
    ((X, W), {"dilation": 0}, ValueError, r"dilation must be >= 1"),
    ((X, W, np.zeros(5)), {}, ValueError, r"b must have one bias per output channel"),
    ((X.astype(complex), W), {}, TypeError, r"x must hold real numbers"),
    (("image", W), {}, TypeError, r"x must be an array"),
])
def test_conv2d_rejects_bad_arguments(conv, args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        conv(*args, **kwargs)


def test_conv2d_backward_rejects_a_wrong_dout():
    with pytest.raises(ValueError, match=r"dout must have the forward output's shape \(2, 6, 4, 4\)"):
        ops.conv2d_backward(np.zeros((2, 6, 6, 6)), X, W)
    with pytest.raises(ValueError, match="channel mismatch"):
        ops.conv2d_backward(np.zeros((2, 6, 4, 4)), X, np.zeros((6, 3, 3, 3)))


@pytest.mark.parametrize("args, exc, match", [
    ((np.zeros((1, 5, 5)), np.ones((3, 3))), ValueError, r"image must be 2-D"),
    ((np.zeros((5, 5)), np.ones(3)), ValueError, r"kernel must be 2-D"),
    ((np.zeros((5, 5)), np.ones((3, 3)), "wrap"), ValueError, r"mode must be one of"),
    ((np.zeros((2, 5)), np.ones((3, 3))), ValueError, r"larger than image"),
    ((np.zeros((5, 5)), np.ones((0, 3)), "same"), ValueError, r"kernel must not be empty"),
    (([["a"]], np.ones((1, 1))), TypeError, r"image must hold real numbers"),
])
def test_correlate2d_rejects_bad_arguments(args, exc, match):
    with pytest.raises(exc, match=match):
        ops.correlate2d(*args)
