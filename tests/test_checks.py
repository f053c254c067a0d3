"""cnnkit.checks: correct implementations pass, every catalogued mistake is caught and named.

Fast (tiny inputs, no notebook kernels). The "student" functions below are written independently
of the solution notebooks (vectorised where the solutions loop, other cache layouts, other momentum
conventions), and the solution notebooks' own functions are checked too. The mistakes' mutants
come from the instructor's catalogue (instructor/mistakes/); the package knows them as data only.
"""
from __future__ import annotations

import builtins
import copy
import dis
import functools
import inspect
import json
import re
import textwrap

from pathlib import Path

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import cnnkit.checks as checks
from cnnkit import ops
from cnnkit.checks import FUNCTIONS, CheckResult, call_updating, check, record_results
from cnnkit.checks import _core
from mistake_catalogue import MUTANTS as MISTAKES
from mistake_catalogue import Mutant as Mistake

ROOT = Path(__file__).resolve().parents[1]


# =========================================================================== correct "student" code
# ---- a1

def correlate2d(image, kernel):
    image, kernel = np.asarray(image, dtype=float), np.asarray(kernel, dtype=float)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError("image and kernel must be 2-D")
    if kernel.shape[0] > image.shape[0] or kernel.shape[1] > image.shape[1]:
        raise ValueError("kernel larger than image")
    return np.einsum("ijkl,kl->ij", sliding_window_view(image, kernel.shape), kernel)


def convolve2d(image, kernel):
    return correlate2d(image, np.rot90(np.asarray(kernel, dtype=float), 2))


def conv2d(x, w, b=None, stride=1, padding=0):
    x, w = np.asarray(x, dtype=float), np.asarray(w, dtype=float)
    if x.ndim != 4 or w.ndim != 4 or x.shape[1] != w.shape[1]:
        raise ValueError("bad shapes")
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    if w.shape[2] > xp.shape[2] or w.shape[3] > xp.shape[3]:
        raise ValueError("kernel does not fit")
    win = sliding_window_view(xp, w.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    out = np.einsum("ncijkl,fckl->nfij", win, w)
    return out if b is None else out + np.asarray(b, dtype=float)[None, :, None, None]


def conv_output_size(n, kernel_size, stride=1, padding=0):
    if kernel_size > n + 2 * padding:
        raise ValueError("does not fit")
    return (n + 2 * padding - kernel_size) // stride + 1


def conv_param_count(in_channels, out_channels, kernel_size, bias=True):
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    return out_channels * (in_channels * kh * kw + int(bool(bias)))


SOBEL_X = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def edge_strength(image):
    return np.hypot(correlate2d(image, SOBEL_X), correlate2d(image, SOBEL_X.T))


# ---- a2

def pool2d(x, kernel_size, stride, kind):
    x = np.asarray(x, dtype=float)
    if kind not in ("max", "avg", "l2"):
        raise ValueError(kind)
    win = sliding_window_view(x, (kernel_size, kernel_size), axis=(2, 3))[:, :, ::stride, ::stride]
    if kind == "max":
        return win.max(axis=(-2, -1))
    if kind == "avg":
        return win.mean(axis=(-2, -1))
    return np.sqrt((win ** 2).sum(axis=(-2, -1)))


def pool2d_backward(dout, x, kernel_size, stride, kind):
    x, dout = np.asarray(x, dtype=float), np.asarray(dout, dtype=float)
    if kind not in ("max", "avg", "l2"):
        raise ValueError(kind)
    k, s = kernel_size, stride
    dx = np.zeros_like(x)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    win = x[n, c, i * s:i * s + k, j * s:j * s + k]
                    g = dout[n, c, i, j]
                    if kind == "max":
                        a, b = np.unravel_index(np.argmax(win), win.shape)   # first maximum, reading order
                        dx[n, c, i * s + a, j * s + b] += g
                    elif kind == "avg":
                        dx[n, c, i * s:i * s + k, j * s:j * s + k] += g / k ** 2
                    else:
                        norm = np.linalg.norm(win)
                        if norm > 0:
                            dx[n, c, i * s:i * s + k, j * s:j * s + k] += g * win / norm
    return dx


def feature_pool(x, group_size, kind="max"):
    x = np.asarray(x, dtype=float)
    n, c, h, w = x.shape
    if c % group_size:
        raise ValueError("group_size must divide C")
    g = x.reshape(n, c // group_size, group_size, h, w)
    return g.max(axis=2) if kind == "max" else np.linalg.norm(g, axis=2)


def local_contrast_norm(x, window, eps=1e-4):
    x, window = np.asarray(x, dtype=float), np.asarray(window, dtype=float)
    kh, kw = window.shape
    h, w = x.shape[2:]

    def mean(z):
        z = z.mean(axis=1, keepdims=True)
        zp = np.pad(z, ((0, 0), (0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)))
        ones = np.pad(np.ones((h, w)), ((kh // 2, kh // 2), (kw // 2, kw // 2)))
        num = np.einsum("ncijkl,kl->ncij", sliding_window_view(zp, (kh, kw), axis=(2, 3)), window)
        return num / np.einsum("ijkl,kl->ij", sliding_window_view(ones, (kh, kw)), window)

    v = x - mean(x)
    return v / np.sqrt(mean(v * v) + eps)


def receptive_field(layers):
    out, rf, jump = [], 1, 1
    for k, s in layers:
        rf += (k - 1) * jump
        jump *= s
        out.append([rf, jump])          # lists, not tuples: fine
    return out


def shift_experiment(maps, shift=1, kernel_size=3):
    maps = np.asarray(maps, dtype=float)
    shifted = np.concatenate([np.zeros(maps.shape[:-1] + (shift,)), maps[..., :-shift]], axis=-1)
    pooled = (pool2d(maps, kernel_size, 1, "max"), pool2d(shifted, kernel_size, 1, "max"))
    return np.isclose(maps, shifted).mean(), np.isclose(*pooled).mean()


# ---- a3

def conv2d_backward(dout, x, w, stride=1, padding=0):
    dout, x, w = (np.asarray(a, dtype=float) for a in (dout, x, w))
    s, p = stride, padding
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            patch = xp[:, :, i * s:i * s + kh, j * s:j * s + kw]
            dw += np.einsum("nf,nckl->fckl", dout[:, :, i, j], patch)
            dxp[:, :, i * s:i * s + kh, j * s:j * s + kw] += np.einsum("nf,fckl->nckl", dout[:, :, i, j], w)
    return dxp[:, :, p:p + h, p:p + wd], dw, dout.sum(axis=(0, 2, 3))


def max_pool2x2_forward(x):
    x = np.asarray(x, dtype=float)
    n, c, h, w = x.shape
    if h % 2 or w % 2:
        raise ValueError("odd size")
    out = x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))
    # a different cache from the solution's: a 0/1 mask of the first maximum of each window
    up = np.repeat(np.repeat(out, 2, axis=2), 2, axis=3)
    hit = (x == up).reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
    first = np.zeros_like(hit, dtype=float)
    np.put_along_axis(first, hit.argmax(axis=-1)[..., None], 1.0, axis=-1)
    mask = first.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(x.shape)
    return out, {"mask": mask}


def max_pool2x2_backward(dout, cache):
    dout = np.asarray(dout, dtype=float)
    return cache["mask"] * np.repeat(np.repeat(dout, 2, axis=2), 2, axis=3)


def init_params(rng, filters=16, classes=10):
    return {"w1": rng.standard_normal((filters, 1, 3, 3)) * np.sqrt(2 / 9), "b1": np.zeros(filters),
            "w2": rng.standard_normal((16 * filters, classes)) / np.sqrt(16 * filters), "b2": np.zeros(classes)}


def loss_and_grads(params, x, y):
    """The a3 network (conv 3x3 pad 1 -> ReLU -> 2x2 max pool -> linear -> softmax), from the kit's ops."""
    a = ops.conv2d(x, params["w1"], params["b1"], padding=1)
    r = ops.relu(a)
    p, pc = ops.max_pool2d(r, 2, 2, return_cache=True)
    flat = p.reshape(len(x), -1)
    loss, ds = ops.softmax_cross_entropy(flat @ params["w2"] + params["b2"], y)
    dp = (ds @ params["w2"].T).reshape(p.shape)
    da = ops.relu_backward(ops.max_pool2d_backward(dp, pc), a)
    _, dw1, db1 = ops.conv2d_backward(da, x, params["w1"], padding=1)
    return loss, {"w1": dw1, "b1": db1, "w2": flat.T @ ds, "b2": ds.sum(axis=0)}


def train(params, x, y, epochs, lr, batch_size, rng, momentum=0.9):
    """PyTorch's momentum convention (v = mu v + g; p -= lr v): the same trajectory for a constant lr."""
    v = {k: np.zeros_like(p) for k, p in params.items()}
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            loss, g = loss_and_grads(params, x[idx], y[idx])
            for k in params:
                v[k] = momentum * v[k] + g[k]
                params[k] -= lr * v[k]
            losses.append(loss)
    return losses


def train_drop_last(params, x, y, epochs, lr, batch_size, rng, momentum=0.9):
    """Drops the last, smaller mini-batch of each epoch: a legitimate variant."""
    velocity = {k: np.zeros_like(p) for k, p in params.items()}
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x) - batch_size + 1, batch_size):
            idx = order[start:start + batch_size]
            loss, g = loss_and_grads(params, x[idx], y[idx])
            for k in params:
                velocity[k] = momentum * velocity[k] - lr * g[k]
                params[k] = params[k] + velocity[k]
            losses.append(float(loss))
    return losses


CORRECT = {f.__name__: f for f in (
    correlate2d, convolve2d, conv2d, conv_output_size, conv_param_count, edge_strength,
    pool2d, pool2d_backward, feature_pool, local_contrast_norm, receptive_field, shift_experiment,
    conv2d_backward, max_pool2x2_forward, max_pool2x2_backward, init_params, train)}


def student_helpers(name: str, ns: dict) -> dict:
    """The helpers a notebook would pass to check(name, ...), taken from namespace ``ns``."""
    wanted = {"max_pool2x2_forward": {"backward": "max_pool2x2_backward"},
              "max_pool2x2_backward": {"forward": "max_pool2x2_forward"},
              "train": {"loss_and_grads": "loss_and_grads"},
              "convolve2d": {"correlate2d": "correlate2d"},
              "edge_strength": {"correlate2d": "correlate2d"},
              "shift_experiment": {"pool2d": "pool2d"}}.get(name, {})
    return {keyword: ns[function] for keyword, function in wanted.items()}


def mutant_helpers(m: Mistake) -> dict:
    """What check() needs next to a mutant: the pair companion it understands, the student's network."""
    helpers = {"max_pool2x2_forward": {}, "max_pool2x2_backward": {},
               "train": {"loss_and_grads": loss_and_grads}}.get(m.function, {})
    return {**helpers, **dict(m.helpers)}


def as_student(m: Mistake):
    """The mutant as it runs in a notebook (train's mutants call the notebook's loss_and_grads)."""
    return m.in_notebook(loss_and_grads=loss_and_grads) if m.needs else m.mutant


# =========================================================================== the catalogue

def test_catalogue_size_and_ids():
    assert len(MISTAKES) >= 45
    ids = [m.id for m in MISTAKES]
    assert len(ids) == len(set(ids)), "mistake ids must be unique"
    for assignment in checks.ASSIGNMENTS:
        assert sum(m.assignment == assignment for m in MISTAKES) >= 12, assignment
    for m in MISTAKES:
        assert isinstance(m, Mistake)
        assert m.id.startswith(m.function + ".") and re.fullmatch(r"[a-z0-9_]+\.[a-z0-9_]+", m.id), m.id
        assert FUNCTIONS[m.function] == m.assignment, m.id
        assert m.title and not m.title.endswith(".") and len(m.title) < 160, m.id
        assert re.match(r"lecture \d\d, section '[^']+'", m.lecture), m.id
        assert callable(m.mutant)
    for name in FUNCTIONS:
        assert len(checks.mistakes_of(name)) >= 3, name


def test_the_package_knows_every_mistake_in_words():
    """cnnkit.checks.MISTAKES is the instructor's catalogue without its code: same ids, titles, sections."""
    assert [m.mistake for m in MISTAKES] == checks.MISTAKES
    for shipped in checks.MISTAKES:
        assert isinstance(shipped, checks.Mistake) and not hasattr(shipped, "mutant")
    assert checks.mistakes_of("conv2d") == [m.mistake for m in MISTAKES if m.function == "conv2d"]


def test_catalogue_has_the_required_mistakes():
    required = """
        correlate2d.flipped_kernel correlate2d.drops_last correlate2d.no_ndim_check correlate2d.no_size_check
        convolve2d.no_flip convolve2d.flip_rows_only convolve2d.flip_cols_only
        conv2d.no_bias conv2d.bias_wrong_axis conv2d.no_shape_checks conv2d.stride_on_kernel_index
        conv2d.pad_one_side conv2d.padding_ignored conv2d.only_channel_0 conv2d.sums_over_filters
        conv_output_size.no_padding conv_output_size.ceil conv_output_size.no_plus_one
        conv_param_count.no_bias conv_param_count.bias_per_input_channel
        edge_strength.sum edge_strength.no_sqrt
        pool2d.h_over_s pool2d.avg_div_k pool2d.l2_no_sqrt pool2d.stride_ignored
        pool2d_backward.max_all_ties pool2d_backward.avg_not_divided pool2d_backward.l2_nan_zero_window
        pool2d_backward.l2_no_norm_division feature_pool.strided_groups feature_pool.drops_leftover
        local_contrast_norm.no_mean_subtraction local_contrast_norm.per_channel_std
        local_contrast_norm.eps_outside_sqrt local_contrast_norm.no_eps
        receptive_field.jump_before_rf receptive_field.k_not_k_minus_1
        shift_experiment.wrong_axis shift_experiment.wrong_direction
        conv2d_backward.dw_divided_by_n conv2d_backward.db_not_summed_over_batch conv2d_backward.dx_no_flip
        conv2d_backward.dx_wrong_crop conv2d_backward.dx_ignores_stride
        max_pool2x2_forward.last_on_ties max_pool2x2_backward.broadcast
        init_params.variance_as_std init_params.zeros
        train.no_momentum train.no_shuffle train.velocity_sign
    """.split()
    ids = {m.id for m in MISTAKES}
    assert not set(required) - ids


def _lecture_headings() -> dict[str, set[str]]:
    headings: dict[str, set[str]] = {}
    for path in sorted((ROOT / "lectures").glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        found = set()
        for cell in nb["cells"]:
            if cell["cell_type"] == "markdown":
                for line in "".join(cell["source"]).splitlines():
                    if line.startswith("#"):
                        found.add(line.lstrip("#").strip())
        headings[path.name[:2]] = found
    return headings


def test_every_lecture_reference_names_a_real_section():
    headings = _lecture_headings()
    for m in MISTAKES:
        number = m.lecture[len("lecture "):len("lecture ") + 2]
        cited = [h for h in headings[number] if m.lecture.startswith(f"lecture {number}, section '{h}'")]
        assert cited, f"{m.id}: {m.lecture!r} names no heading of lectures/{number}_*.ipynb"


# =========================================================================== correct code passes

@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_correct_implementation_passes(name):
    result = check(CORRECT[name], **student_helpers(name, globals()))
    assert isinstance(result, CheckResult)
    assert result.passed, result.message
    assert result.mistake is None
    assert re.fullmatch(rf"{name}: all {result.checks} checks passed( \(.*\))?", result.message)
    assert repr(result) == result.message and name in result._repr_markdown_()
    result.assert_passed()


@functools.lru_cache(maxsize=None)
def _solution_cells(assignment: str) -> tuple[str, ...]:
    nb = json.loads((ROOT / "solutions" / assignment / f"{assignment}.ipynb").read_text(encoding="utf-8"))
    return tuple("".join(cell["source"]) for cell in nb["cells"]
                 if cell["cell_type"] == "code" and cell.get("metadata", {}).get("nbgrader", {}).get("solution"))


def _solution_namespace(assignment: str, replace: Mistake | None = None) -> dict:
    """The functions of a solution notebook (every solution cell, executed in a fresh namespace), with
    ``replace``'s mutant pasted in after the cell that defines its function, as a student's answer."""
    import cnnkit
    from cnnkit.ops import filters

    ns = {"np": np, "cnnkit": cnnkit, "filters": filters, "ops": ops}
    for source in _solution_cells(assignment):
        exec(compile(source, f"<{assignment}>", "exec"), ns)
        if replace is not None and re.search(rf"^def {replace.function}\(", source, re.MULTILINE):
            exec(compile(_renamed_source(replace.mutant, replace.function), f"<{replace.id}>", "exec"), ns)
    return ns


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_solution_notebook_passes(name):
    ns = _solution_namespace(FUNCTIONS[name])
    if name not in ns:
        pytest.skip(f"the solution notebook defines no {name}")
    result = check(ns[name], **student_helpers(name, ns))
    assert result.passed and result.mistake is None, result.message


@pytest.mark.parametrize("m", MISTAKES, ids=lambda m: m.id)
def test_mutant_pasted_into_the_solution_notebook_is_named(m):
    """What a student's one wrong function does in the notebook (next to the solution's other functions,
    which the check gets as helpers, as the graded cells pass them): caught and named."""
    ns = _solution_namespace(m.assignment, replace=m)
    result = check(ns[m.function], **student_helpers(m.function, ns))
    assert result.mistake == m.id, result.message


def test_dropping_the_last_partial_batch_is_accepted():
    result = check(train_drop_last, name="train", loss_and_grads=loss_and_grads)
    assert result.passed, result.message


def test_optional_helpers_and_skipped_tie_check():
    # without the backward, the forward's tie-breaking cannot be seen: says so, and passes
    result = check(max_pool2x2_forward)
    assert result.passed and "tie" in result.message, result.message
    last = next(m for m in MISTAKES if m.id == "max_pool2x2_forward.last_on_ties")
    assert check(last.mutant, name="max_pool2x2_forward").passed
    assert check(last.mutant, name="max_pool2x2_forward", **mutant_helpers(last)).mistake == last.id


def test_check_calls_with_fresh_copies():
    def conv2d(x, w, b=None, stride=1, padding=0):          # a correct conv2d that scribbles on its input
        out = CORRECT["conv2d"](x, w, b, stride, padding)
        if isinstance(x, np.ndarray) and x.ndim == 4 and x.flags.writeable:
            x[...] = 7.0
        return out

    assert check(conv2d).passed


# =========================================================================== every mistake is caught and named

@pytest.mark.parametrize("m", MISTAKES, ids=lambda m: m.id)
def test_mutant_fails_and_is_diagnosed(m):
    result = check(as_student(m), name=m.function, **mutant_helpers(m))
    assert not result.passed, f"{m.id} passes its check"
    assert result.mistake == m.id, result.message
    msg = result.message
    assert msg.startswith(f"{m.function}: ")
    assert m.title in msg and m.lecture in msg
    assert "Traceback" not in msg and len(msg.splitlines()) <= 8
    if "first wrong entry" in msg:
        assert re.search(r"first wrong entry \S*\[\d+(, \d+)*\]: expected \S+, got \S+", msg), msg
    with pytest.raises(AssertionError) as info:
        result.assert_passed()
    assert str(info.value) == msg


def test_message_shows_case_index_expected_and_got():
    m = next(m for m in MISTAKES if m.id == "conv2d.no_bias")
    msg = check(m.mutant, name="conv2d").message
    assert msg.startswith("conv2d: wrong result for x of shape (1, 2, 4, 4), w of shape (1, 2, 3, 3), b=[0.5], "
                          "stride=1, padding=0.")
    assert "first wrong entry out[0, 0, 0, 0]: expected 3.5, got 3 (got - expected = -0.5)" in msg
    assert "the bias is never added" in msg and "lecture 02, section '6. Multiple channels and multiple filters'" in msg
    assert "To reproduce: x = np.random.default_rng(0)" in msg


def test_message_for_a_missing_value_error():
    m = next(m for m in MISTAKES if m.id == "conv2d.no_shape_checks")
    msg = check(m.mutant, name="conv2d").message
    assert ("conv2d(np.ones((1, 3, 5, 5)), np.ones((1, 1, 3, 3))) should raise ValueError (3 input channels, but "
            "the filters expect 1); it returned an array of shape (1, 1, 3, 3).") in msg


def test_message_for_an_exception_names_it_and_the_case():
    def conv2d(x, w, b=None, stride=1, padding=0):
        raise IndexError("tuple index out of range")

    result = check(conv2d)
    assert not result.passed and result.mistake is None
    assert result.message.startswith("conv2d: raised IndexError (tuple index out of range) for x of shape")
    assert "Traceback" not in result.message


def test_not_written_yet():
    def conv2d(x, w, b=None, stride=1, padding=0):
        raise NotImplementedError()

    result = check(conv2d)
    assert result.message == ("conv2d: not written yet: it raises NotImplementedError (replace the "
                              "`raise NotImplementedError()` line by your code).")


def test_unknown_mistake_is_explained_without_a_name():
    def pool2d(x, kernel_size, stride, kind):
        return CORRECT["pool2d"](x, kernel_size, stride, kind) + 0.125

    result = check(pool2d)
    assert not result.passed and result.mistake is None
    assert "first wrong entry out[0, 0, 0, 0]: expected 3, got 3.125" in result.message
    assert "known mistake" not in result.message


def test_prerequisite_helper_is_blamed():
    flipped = next(m for m in MISTAKES if m.id == "correlate2d.flipped_kernel").mutant
    short = next(m for m in MISTAKES if m.id == "correlate2d.drops_last").mutant

    def edge_strength(image):                      # right formula, on a wrong correlate2d
        return np.hypot(flipped(image, SOBEL_X), flipped(image, SOBEL_X.T))

    assert check(edge_strength).passed             # |flipped Sobel| gives the same magnitude

    def convolve2d(image, kernel):                 # forgets the flip, on a correlate2d that drops a row
        return short(image, kernel)

    result = check(convolve2d, correlate2d=short)
    assert not result.passed and "uses your correlate2d, which fails its own check" in result.message


# =========================================================================== one mistake, one loss

def _mistake(mistake_id: str):
    return next(m for m in MISTAKES if m.id == mistake_id).mutant


@pytest.mark.parametrize("wrong", ["correlate2d.drops_last", "correlate2d.square_kernel", "correlate2d.same_size",
                                   "correlate2d.flipped_kernel"])
def test_convolve2d_built_on_a_wrong_correlate2d_is_not_charged_again(wrong):
    correlate2d = _mistake(wrong)

    def convolve2d(image, kernel):
        return correlate2d(image, np.asarray(kernel, dtype=float)[::-1, ::-1])

    def edge_strength(image):
        return np.sqrt(correlate2d(image, SOBEL_X) ** 2 + correlate2d(image, SOBEL_X.T) ** 2)

    for func in (convolve2d, edge_strength):
        result = check(func, correlate2d=correlate2d)
        assert result.passed, result.message
        if not check(func).passed:  # judged on the kit's correlate2d it fails: the note says why it passed
            assert "judged with your own correlate2d" in result.message
    assert not check(correlate2d, name="correlate2d").passed   # the mistake still costs its own cell


def test_a_composition_that_could_not_be_caught_is_judged_on_the_kit():
    """A correlate2d that returns zeros cannot tell right from wrong compositions: no credit for it."""
    def correlate2d(image, kernel):
        image, kernel = np.asarray(image), np.asarray(kernel)
        return np.zeros((image.shape[0] - kernel.shape[0] + 1, image.shape[1] - kernel.shape[1] + 1))

    def convolve2d(image, kernel):
        return correlate2d(image, kernel)

    def edge_strength(image):
        return correlate2d(image, SOBEL_X)

    assert not check(convolve2d, correlate2d=correlate2d).passed
    assert not check(edge_strength, correlate2d=correlate2d).passed


def test_an_unwritten_function_never_agrees_with_its_prerequisite():
    """A correlate2d left unfinished for non-square kernels: a convolve2d that raises the same
    NotImplementedError there earns nothing for it (it may be unfinished too)."""
    square_only = _mistake("correlate2d.square_kernel")

    def correlate2d(image, kernel):
        if np.shape(kernel)[0] != np.shape(kernel)[1]:
            raise NotImplementedError
        return square_only(image, kernel)

    def convolve2d(image, kernel):
        return correlate2d(image, np.asarray(kernel, dtype=float)[::-1, ::-1])

    result = check(convolve2d, correlate2d=correlate2d)
    assert not result.passed and "not written yet" in result.message


def test_shift_experiment_on_a_wrong_pool2d():
    pool2d = _mistake("pool2d.h_over_s")

    def shift_experiment(maps, shift=1, kernel_size=3):
        maps = np.asarray(maps, dtype=float)
        shifted = np.zeros_like(maps)
        shifted[..., shift:] = maps[..., :maps.shape[-1] - shift]
        same = lambda a, b: float(np.mean(np.isclose(a, b)))  # noqa: E731
        return same(maps, shifted), same(pool2d(maps, kernel_size, 1, "max"), pool2d(shifted, kernel_size, 1, "max"))

    def no_pooling(maps, shift=1, kernel_size=3):
        detector, _ = shift_experiment(maps, shift, kernel_size)
        return detector, detector

    assert check(shift_experiment, pool2d=pool2d).passed
    assert not check(no_pooling, name="shift_experiment", pool2d=pool2d).passed


def test_conv2d_parts_charge_stride_and_the_core_separately():
    def conv2d_no_bias(x, w, b=None, stride=1, padding=0):
        return ops.conv2d(x, w, None, stride=stride, padding=padding)

    def conv2d_no_stride(x, w, b=None, stride=1, padding=0):
        return ops.conv2d(x, w, b, stride=1, padding=padding)

    assert not check(conv2d_no_bias, name="conv2d", part="basic").passed
    assert check(conv2d_no_bias, name="conv2d", part="stride_padding").passed
    assert check(conv2d_no_stride, name="conv2d", part="basic").passed
    assert not check(conv2d_no_stride, name="conv2d", part="stride_padding").passed
    with pytest.raises(ValueError, match="part='strides'.*'basic', 'stride_padding'"):
        check(conv2d_no_bias, name="conv2d", part="strides")


def test_train_mistakes_are_recognised_on_a_right_network_only():
    """train's mistakes are stored as trajectories on the a3 network: with a network that computes
    other gradients (a wrong loss_and_grads), a wrong train is still caught, judged on that network,
    but no stored trajectory fits it, so no mistake is named rather than a wrong one."""
    m = next(m for m in MISTAKES if m.id == "train.no_shuffle")

    def doubled(params, x, y):
        loss, grads = loss_and_grads(params, x, y)
        return loss, {k: 2 * g for k, g in grads.items()}

    right = check(m.in_notebook(loss_and_grads=loss_and_grads), name="train", loss_and_grads=loss_and_grads)
    other = check(m.in_notebook(loss_and_grads=doubled), name="train", loss_and_grads=doubled)
    assert right.mistake == m.id
    assert not other.passed and other.mistake is None and "known mistake" not in other.message
    assert check(CORRECT["train"], loss_and_grads=doubled).passed is False  # it calls the notebook's own network


def test_pair_mistake_seen_from_the_other_function():
    """A backward that copies dout to the whole window, seen from check(forward, backward=...)."""
    m = next(m for m in MISTAKES if m.id == "max_pool2x2_backward.broadcast")
    forward = dict(m.helpers)["forward"]
    result = check(forward, name="max_pool2x2_forward", backward=m.mutant)
    assert result.mistake == m.id and "known mistake in max_pool2x2_backward" in result.message


def test_backward_check_needs_a_right_forward_first():
    bad = next(m for m in MISTAKES if m.id == "max_pool2x2_forward.window_reshape")
    result = check(max_pool2x2_backward, forward=bad.mutant)
    assert not result.passed and "check(max_pool2x2_forward)" in result.message


# =========================================================================== mutants: self-contained, distinct

def _renamed_source(func, new_name: str) -> str:
    src = textwrap.dedent(inspect.getsource(func))
    assert src.startswith(f"def {func.__name__}("), f"{func.__name__}: no decorators, a plain def"
    return src.replace(f"def {func.__name__}(", f"def {new_name}(", 1)


def _global_names(code) -> set[str]:
    names = set()
    for ins in dis.get_instructions(code):
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
            names.add(ins.argval)
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            names |= _global_names(const)
    return names


def _paste(func, new_name: str, extra: dict | None = None):
    """exec the function's source alone (only builtins, plus the notebook globals it needs) and rename it."""
    src = _renamed_source(func, new_name)
    assert "cnnkit" not in src and "_ops" not in src, f"{func.__name__} refers to the kit"
    ns: dict = {"__builtins__": builtins, **(extra or {})}
    exec(compile(src, f"<pasted {func.__name__}>", "exec"), ns)
    return ns[new_name]


@pytest.mark.parametrize("m", MISTAKES, ids=lambda m: m.id)
def test_mutant_is_self_contained(m):
    allowed = set(dir(builtins)) | set(m.needs)
    for func in (m.mutant, *dict(m.helpers).values()):
        assert _global_names(func.__code__) <= allowed, (func.__name__, _global_names(func.__code__) - allowed)
    pasted = _paste(m.mutant, m.function, {"loss_and_grads": loss_and_grads} if m.needs else None)
    helpers = {k: _paste(f, f"companion_{k}") for k, f in m.helpers}
    helpers = {**mutant_helpers(m), **helpers}
    # it still behaves identically, case by case, and is still recognised
    spec = checks._SPECS[m.function]
    run = spec.run or _core.default_run
    original = as_student(m)
    for case in spec.cases():
        if not all(h in helpers for h in case.needs):
            continue
        a = _core.invoke(lambda: run(original, case, {**mutant_helpers(m)}))
        b = _core.invoke(lambda: run(pasted, case, helpers))
        assert _core.same_outcome(spec, a, b), (m.id, _core.describe_case(case))
    assert check(pasted, **helpers).mistake == m.id


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_mutants_of_a_function_are_distinct_on_its_cases(name):
    spec = checks._SPECS[name]
    run = spec.run or _core.default_run
    mistakes = [m for m in MISTAKES if m.function == name]
    cases = spec.cases()
    outcomes = {}
    for m in mistakes:
        helpers = mutant_helpers(m)
        outcomes[m.id] = [_core.invoke(lambda: run(as_student(m), c, helpers)) if all(h in helpers for h in c.needs)
                          else None for c in cases]
    for i, a in enumerate(mistakes):
        for b in mistakes[i + 1:]:
            differ = any(x is not None and y is not None and not _core.same_outcome(spec, x, y)
                         for x, y in zip(outcomes[a.id], outcomes[b.id]))
            assert differ, f"{a.id} and {b.id} give the same results on every case of check({name})"


# =========================================================================== interface

def test_name_override_for_objects_without_a_name():
    part = functools.partial(CORRECT["conv2d"])
    assert not hasattr(part, "__name__")
    with pytest.raises(TypeError, match="name="):
        check(part)
    assert check(part, name="conv2d").passed
    wrapped = lambda *a, **k: CORRECT["pool2d"](*a, **k)  # noqa: E731 - a proxy-like callable
    with pytest.raises(ValueError, match="no checks for a function called '<lambda>'"):
        check(wrapped)
    assert check(wrapped, name="pool2d").passed
    bad = functools.partial(next(m for m in MISTAKES if m.id == "pool2d.avg_div_k").mutant)
    assert check(bad, name="pool2d").mistake == "pool2d.avg_div_k"


def test_helpers_are_validated():
    with pytest.raises(TypeError, match="loss_and_grads=loss_and_grads"):
        check(train)
    with pytest.raises(TypeError, match="forward=max_pool2x2_forward"):
        check(max_pool2x2_backward)
    with pytest.raises(TypeError, match="unexpected helper"):
        check(conv2d, forward=max_pool2x2_forward)


def test_assert_passed():
    check(conv2d).assert_passed()
    result = check(next(m for m in MISTAKES if m.id == "conv2d.no_bias").mutant, name="conv2d")
    with pytest.raises(AssertionError, match="the bias is never added"):
        result.assert_passed()
    assert "❌" in result._repr_markdown_() and result.message in result._repr_markdown_()


def test_reference_missing_gives_a_plain_answer(monkeypatch):
    from cnnkit.checks import _specs_a1

    def hidden():
        raise ImportError("cnnkit.ops.conv is not available in this assignment while it is graded")

    monkeypatch.setattr(_specs_a1, "_ops", hidden)
    result = check(conv2d)
    assert not result.passed and result.mistake is None
    assert result.message.startswith("conv2d: cannot be checked here")


# =========================================================================== as a grader would call it

_PLAIN = (np.ndarray, int, float, str, bool, type(None), np.integer, np.floating, np.random.Generator)


def _assert_plain(value, where="argument"):
    if isinstance(value, (list, tuple)):
        for v in value:
            _assert_plain(v, where)
    elif isinstance(value, dict):
        for k, v in value.items():
            assert isinstance(k, str), where
            _assert_plain(v, where)
    else:
        assert isinstance(value, _PLAIN), f"{where} of type {type(value).__name__} is not plain data"


class proxy:
    """Call ``func`` the way a grader's proxy does: arguments and results travel by value (copies),
    exceptions come back as new classes with the same name, and nothing is ever written back into
    the caller's objects; what the function changed in place is only read through
    ``__cnnkit_call_updating__`` (what :func:`cnnkit.checks.call_updating` asks for)."""

    def __init__(self, func, returned: list | None = None):
        self._func, self._returned = func, returned

    def __call__(self, *args, **kwargs):
        return self._run(args, kwargs)[0]

    def __cnnkit_call_updating__(self, args, kwargs):
        return self._run(args, kwargs)

    def _run(self, args, kwargs):
        for v in (*args, *kwargs.values()):
            if not (self._returned and any(v is r for r in self._returned)):
                _assert_plain(v)
        sent_args, sent_kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)
        try:
            result = self._func(*sent_args, **sent_kwargs)
        except Exception as exc:
            raise type(type(exc).__name__, (Exception,), {})(str(exc)) from None
        result = copy.deepcopy(result)
        if self._returned is not None:
            self._returned.append(result[1] if isinstance(result, tuple) and len(result) == 2 else result)
        return result, list(copy.deepcopy(sent_args)), copy.deepcopy(sent_kwargs)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_through_a_grader_proxy(name):
    caches: list = []
    helpers = {k: proxy(v, caches) for k, v in student_helpers(name, globals()).items()}
    result = check(proxy(CORRECT[name], caches), name=name, **helpers)
    assert result.passed, result.message
    for m in (m for m in MISTAKES if m.function == name):
        caches = []
        helpers = {k: proxy(v, caches) for k, v in mutant_helpers(m).items()}
        result = check(proxy(as_student(m), caches), name=name, **helpers)
        assert result.mistake == m.id, result.message


def test_check_reads_nothing_of_the_function_but_its_name():
    """A grader's proxy is judged by what its calls return: attributes it reports about itself
    (code, globals, a wrapped function, a signature, a module) are never consulted."""
    class Liar:
        __name__ = "conv2d"
        __wrapped__ = staticmethod(CORRECT["conv2d"])
        __code__ = CORRECT["conv2d"].__code__
        __globals__ = {"mistake": None}
        __module__ = "cnnkit.ops.conv"
        __qualname__ = "conv2d"
        __signature__ = inspect.signature(CORRECT["conv2d"])

        def __call__(self, x, w, b=None, stride=1, padding=0):
            return ops.conv2d(x, w, None, stride=stride, padding=padding)   # forgets the bias

        def __getattr__(self, attribute):
            raise AssertionError(f"check() read {attribute!r}")

    result = check(Liar())
    assert not result.passed and result.mistake == "conv2d.no_bias", result.message


# =========================================================================== what a grader needs

def test_result_names_the_mistake_title_and_lecture():
    m = next(m for m in MISTAKES if m.id == "conv2d.no_bias")
    result = check(m.mutant, name="conv2d")
    assert (result.mistake, result.title, result.lecture) == (m.id, m.title, m.lecture)
    passed = check(CORRECT["conv2d"])
    assert (passed.mistake, passed.title, passed.lecture) == (None, None, None)

    def conv2d(x, w, b=None, stride=1, padding=0):                  # wrong in no catalogued way
        return CORRECT["conv2d"](x, w, b, stride, padding) * 2

    unknown = check(conv2d)
    assert not unknown.passed and (unknown.mistake, unknown.title, unknown.lecture) == (None, None, None)


def test_record_results_collects_every_check_and_nests():
    bias = next(m for m in MISTAKES if m.id == "conv2d.no_bias").mutant
    before = check(CORRECT["pool2d"])
    with record_results() as outer:
        first = check(CORRECT["conv2d"])
        with record_results() as inner:
            second = check(bias, name="conv2d")
            # a check's own look at a prerequisite (its note) is not a separate result
            third = check(CORRECT["convolve2d"], correlate2d=_mistake("correlate2d.drops_last"))
        fourth = check(CORRECT["conv_output_size"])
    after = check(CORRECT["pool2d"])
    assert [id(r) for r in outer] == [id(first), id(second), id(third), id(fourth)]
    assert [id(r) for r in inner] == [id(second), id(third)]
    assert before.passed and after.passed and second.mistake == "conv2d.no_bias"
    with pytest.raises(TypeError):                    # a wrong call of check itself records nothing
        with record_results() as failed:
            check(CORRECT["train"])
    assert failed == []
    with record_results() as again:                   # the same list is not reused after its context
        check(CORRECT["pool2d"])
    assert len(again) == 1 and failed == []


def test_call_updating_copies_and_returns_what_changed():
    def step(params, scale, *, shift=0.0):
        params["w"] += scale
        params.setdefault("seen", 0)
        return float(params["w"].sum() + shift)

    params = {"w": np.zeros(3)}
    returned, args, kwargs = call_updating(step, params, 2.0, shift=1.0)
    assert returned == 7.0 and params == {"w": params["w"]} and not params["w"].any()   # the caller's untouched
    assert args[0]["w"].tolist() == [2.0, 2.0, 2.0] and args[0]["seen"] == 0 and args[1] == 2.0
    assert kwargs == {"shift": 1.0} and isinstance(args, list) and isinstance(kwargs, dict)

    class Remote:
        """A grader's proxy: it answers for itself with the same triple."""
        calls: list = []

        def __call__(self, *args, **kwargs):
            raise AssertionError("called directly")

        def __cnnkit_call_updating__(self, args, kwargs):
            self.calls.append((args, kwargs))
            return "done", (*args, "changed"), {**kwargs, "extra": True}

    remote = Remote()
    assert call_updating(remote, 1, k=2) == ("done", [1, "changed"], {"k": 2, "extra": True})
    assert remote.calls == [((1,), {"k": 2})]

    class NotCallable:
        __cnnkit_call_updating__ = "not a function"

        def __call__(self, value):
            return value + 1

    assert call_updating(NotCallable(), 1) == (2, [1], {})


def test_train_is_judged_on_what_it_left_in_params_not_on_the_callers_objects():
    """A grader never copies a student's in-place changes back: train's updated params are read
    through call_updating, so a right train passes only when its proxy reports them."""
    class WritesNothingBack:
        __name__ = "train"

        def __call__(self, params, *args, **kwargs):
            return CORRECT["train"](copy.deepcopy(params), *args, **kwargs)

    assert not check(WritesNothingBack(), loss_and_grads=loss_and_grads).passed
    assert check(proxy(CORRECT["train"]), name="train", loss_and_grads=loss_and_grads).passed


# (the CPU time of every check is measured in benchmarks/bench_checks.py, not asserted here)


_HIDDEN_REFERENCE = ("torch", "cnnkit.ops.conv", "cnnkit.ops.pool", "cnnkit.ops.norm", "cnnkit.ops.activations",
                     "cnnkit.nn", "cnnkit.arith")


@pytest.mark.parametrize("hidden, expected", [
    (_HIDDEN_REFERENCE, "False None conv_output_size: cannot be checked here"),
    ((), "True conv_output_size.no_plus_one conv_output_size: wrong result for n=32, kernel_size=5.\n"
         "  expected 28, got 27.\n  This looks like a known mistake: the + 1 is missing"),
], ids=["reference hidden", "nothing hidden"])
def test_importable_where_modules_are_hidden(hidden, expected):
    """A grading sandbox hides the reference ops and cnnkit.arith (a1, a2): importing cnnkit.checks
    still works (it imports neither), and a check still answers in plain words (without the
    reference it cannot judge). The mistake is named from the catalogue's data alone: no code of
    the instructor's is imported, and the package holds no mutant module any more."""
    import subprocess
    import sys

    code = textwrap.dedent("""
        import sys
        BLOCKED = %r

        class Blocker:
            def find_spec(self, name, path=None, target=None):
                if any(name == b or name.startswith(b + ".") for b in BLOCKED):
                    raise ImportError(f"{name} is hidden in this sandbox")
                return None

        sys.meta_path.insert(0, Blocker())
        from cnnkit.checks import check
        assert not [m for m in sys.modules if m.startswith(("cnnkit.checks.mutants", "cnnkit.ops.conv", "instructor"))]
        def conv_output_size(n, kernel_size, stride=1, padding=0):
            return (n + 2 * padding - kernel_size) // stride   # the + 1 is missing
        result = check(conv_output_size)
        print(result.mistake is not None, result.mistake, result.message)
        assert not [m for m in sys.modules if m.startswith(("instructor", "cnnkit.checks.mutants"))]
    """) % (hidden,)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(expected), proc.stdout
