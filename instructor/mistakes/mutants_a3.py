"""Catalogued mistakes of assignment 3 (a CNN from scratch), with mutants.

Every mutant is the instructor's solution with exactly one mistake (marked ``# MISTAKE``), written
self-contained: numpy is imported in the body. Two kinds of mutant need something more, as the
student's function does:

* the 2x2 max-pool pair: a forward's cache is read by its backward, so each mutant comes with a
  correct, self-contained companion (``Mutant.helpers``) that understands its cache;
* ``train`` calls the notebook's ``loss_and_grads`` (given in the notebook, not written by the
  student): its mutants call that global too (``Mutant.needs``).
"""
from __future__ import annotations

from .mutant import A3, L03_POOL, L04_SYSTEM, L07_CHAIN, L07_EXERCISES, Mutant, lecture

# --------------------------------------------------------------------------- conv2d_backward


def conv2d_backward_dw_divided_by_n(dout, x, w, stride=1, padding=0):
    import numpy as np
    dout, x, w = (np.asarray(a, dtype=float) for a in (dout, x, w))
    s, p = stride, padding
    _, _, h, wd = x.shape
    _, _, kh, kw = w.shape
    out_h, out_w = dout.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    db = dout.sum(axis=(0, 2, 3))
    for k in range(kh):
        for l in range(kw):
            rows = slice(k, k + s * (out_h - 1) + 1, s)
            cols = slice(l, l + s * (out_w - 1) + 1, s)
            dw[:, :, k, l] = np.einsum("nfij,ncij->fc", dout, xp[:, :, rows, cols])
            dxp[:, :, rows, cols] += np.einsum("nfij,fc->ncij", dout, w[:, :, k, l])
    dw = dw / x.shape[0]  # MISTAKE: dw averaged over the batch (dout already carries the 1/N of the loss)
    return dxp[:, :, p:p + h, p:p + wd], dw, db


def conv2d_backward_db_not_summed_over_batch(dout, x, w, stride=1, padding=0):
    import numpy as np
    dout, x, w = (np.asarray(a, dtype=float) for a in (dout, x, w))
    s, p = stride, padding
    _, _, h, wd = x.shape
    _, _, kh, kw = w.shape
    out_h, out_w = dout.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    db = dout.sum(axis=(2, 3))  # MISTAKE: not summed over the batch: shape (N, F) instead of (F,)
    for k in range(kh):
        for l in range(kw):
            rows = slice(k, k + s * (out_h - 1) + 1, s)
            cols = slice(l, l + s * (out_w - 1) + 1, s)
            dw[:, :, k, l] = np.einsum("nfij,ncij->fc", dout, xp[:, :, rows, cols])
            dxp[:, :, rows, cols] += np.einsum("nfij,fc->ncij", dout, w[:, :, k, l])
    return dxp[:, :, p:p + h, p:p + wd], dw, db


def conv2d_backward_db_not_summed_over_space(dout, x, w, stride=1, padding=0):
    import numpy as np
    dout, x, w = (np.asarray(a, dtype=float) for a in (dout, x, w))
    s, p = stride, padding
    _, _, h, wd = x.shape
    _, _, kh, kw = w.shape
    out_h, out_w = dout.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    db = dout.sum(axis=0)  # MISTAKE: not summed over the output positions: shape (F, H', W') instead of (F,)
    for k in range(kh):
        for l in range(kw):
            rows = slice(k, k + s * (out_h - 1) + 1, s)
            cols = slice(l, l + s * (out_w - 1) + 1, s)
            dw[:, :, k, l] = np.einsum("nfij,ncij->fc", dout, xp[:, :, rows, cols])
            dxp[:, :, rows, cols] += np.einsum("nfij,fc->ncij", dout, w[:, :, k, l])
    return dxp[:, :, p:p + h, p:p + wd], dw, db


def conv2d_backward_dx_no_flip(dout, x, w, stride=1, padding=0):
    import numpy as np
    dout, x, w = (np.asarray(a, dtype=float) for a in (dout, x, w))
    s, p = stride, padding
    n, _, h, wd = x.shape
    f, _, kh, kw = w.shape
    out_h, out_w = dout.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dw = np.zeros_like(w)
    db = dout.sum(axis=(0, 2, 3))
    for k in range(kh):
        for l in range(kw):
            rows = slice(k, k + s * (out_h - 1) + 1, s)
            cols = slice(l, l + s * (out_w - 1) + 1, s)
            dw[:, :, k, l] = np.einsum("nfij,ncij->fc", dout, xp[:, :, rows, cols])
    # dx as a "full" correlation of dout (spread out by the stride) with the kernel
    spread = np.zeros((n, f, s * (out_h - 1) + 1, s * (out_w - 1) + 1))
    spread[:, :, ::s, ::s] = dout
    dp = np.pad(spread, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
    full_h, full_w = spread.shape[2] + kh - 1, spread.shape[3] + kw - 1
    dxp = np.zeros_like(xp)
    for k in range(kh):
        for l in range(kw):
            # MISTAKE: the kernel must be rotated here: w[:, :, kh - 1 - k, kw - 1 - l]
            dxp[:, :, :full_h, :full_w] += np.einsum("nfij,fc->ncij", dp[:, :, k:k + full_h, l:l + full_w],
                                                     w[:, :, k, l])
    return dxp[:, :, p:p + h, p:p + wd], dw, db


def conv2d_backward_dx_wrong_crop(dout, x, w, stride=1, padding=0):
    import numpy as np
    dout, x, w = (np.asarray(a, dtype=float) for a in (dout, x, w))
    s, p = stride, padding
    _, _, h, wd = x.shape
    _, _, kh, kw = w.shape
    out_h, out_w = dout.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    db = dout.sum(axis=(0, 2, 3))
    for k in range(kh):
        for l in range(kw):
            rows = slice(k, k + s * (out_h - 1) + 1, s)
            cols = slice(l, l + s * (out_w - 1) + 1, s)
            dw[:, :, k, l] = np.einsum("nfij,ncij->fc", dout, xp[:, :, rows, cols])
            dxp[:, :, rows, cols] += np.einsum("nfij,fc->ncij", dout, w[:, :, k, l])
    return dxp[:, :, :h, :wd], dw, db  # MISTAKE: crops the bottom-right padding only (from 0, not from p)


def conv2d_backward_dx_ignores_stride(dout, x, w, stride=1, padding=0):
    import numpy as np
    dout, x, w = (np.asarray(a, dtype=float) for a in (dout, x, w))
    s, p = stride, padding
    _, _, h, wd = x.shape
    _, _, kh, kw = w.shape
    out_h, out_w = dout.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    db = dout.sum(axis=(0, 2, 3))
    for k in range(kh):
        for l in range(kw):
            rows = slice(k, k + s * (out_h - 1) + 1, s)
            cols = slice(l, l + s * (out_w - 1) + 1, s)
            dw[:, :, k, l] = np.einsum("nfij,ncij->fc", dout, xp[:, :, rows, cols])
            # MISTAKE: dx goes to neighbouring pixels, as if the stride were 1
            dxp[:, :, k:k + out_h, l:l + out_w] += np.einsum("nfij,fc->ncij", dout, w[:, :, k, l])
    return dxp[:, :, p:p + h, p:p + wd], dw, db


def conv2d_backward_dx_overwrite(dout, x, w, stride=1, padding=0):
    import numpy as np
    dout, x, w = (np.asarray(a, dtype=float) for a in (dout, x, w))
    s, p = stride, padding
    _, _, h, wd = x.shape
    _, _, kh, kw = w.shape
    out_h, out_w = dout.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    db = dout.sum(axis=(0, 2, 3))
    for k in range(kh):
        for l in range(kw):
            rows = slice(k, k + s * (out_h - 1) + 1, s)
            cols = slice(l, l + s * (out_w - 1) + 1, s)
            dw[:, :, k, l] = np.einsum("nfij,ncij->fc", dout, xp[:, :, rows, cols])
            # MISTAKE: = instead of +=: a pixel used by several kernel offsets keeps only the last one
            dxp[:, :, rows, cols] = np.einsum("nfij,fc->ncij", dout, w[:, :, k, l])
    return dxp[:, :, p:p + h, p:p + wd], dw, db


# --------------------------------------------------------------------------- the 2x2 max-pool pair
# The mutants use the solution's cache, (x.shape, index 0..3 of each window's winner in reading order),
# so that each one, pasted alone next to the solution's other function, makes exactly its mistake.
# The companions are that solution pair, self-contained: a check of one mutant runs it with them.


def max_pool2x2_forward_companion(x):
    """The solution's forward: cache = (x.shape, index 0..3 of each window's first maximum, reading order)."""
    import numpy as np
    x = np.asarray(x, dtype=float)
    if x.shape[2] % 2 or x.shape[3] % 2:
        raise ValueError(f"height and width must be even, got {x.shape}")
    n, c, h, w = x.shape
    windows = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
    winner = windows.argmax(axis=-1)
    out = np.take_along_axis(windows, winner[..., None], axis=-1)[..., 0]
    return out, (x.shape, winner)


def max_pool2x2_backward_companion(dout, cache):
    """The solution's backward, for that cache."""
    import numpy as np
    dout = np.asarray(dout, dtype=float)
    shape, winner = cache
    n, c, h, w = shape
    dwin = np.zeros(winner.shape + (4,))
    np.put_along_axis(dwin, winner[..., None], dout[..., None], axis=-1)
    return dwin.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(shape)


def max_pool2x2_forward_last_on_ties(x):
    import numpy as np
    x = np.asarray(x, dtype=float)
    if x.shape[2] % 2 or x.shape[3] % 2:
        raise ValueError(f"height and width must be even, got {x.shape}")
    n, c, h, w = x.shape
    windows = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
    winner = 3 - windows[..., ::-1].argmax(axis=-1)  # MISTAKE: the last maximum wins a tie, not the first
    out = np.take_along_axis(windows, winner[..., None], axis=-1)[..., 0]
    return out, (x.shape, winner)


def max_pool2x2_forward_window_reshape(x):
    import numpy as np
    x = np.asarray(x, dtype=float)
    if x.shape[2] % 2 or x.shape[3] % 2:
        raise ValueError(f"height and width must be even, got {x.shape}")
    n, c, h, w = x.shape
    windows = x.reshape(n, c, h // 2, w // 2, 4)  # MISTAKE: reshape without the transpose: not 2x2 windows
    winner = windows.argmax(axis=-1)
    out = np.take_along_axis(windows, winner[..., None], axis=-1)[..., 0]
    return out, (x.shape, winner)


def max_pool2x2_forward_crops_odd(x):
    import numpy as np
    x = np.asarray(x, dtype=float)
    x = x[:, :, :x.shape[2] // 2 * 2, :x.shape[3] // 2 * 2]  # MISTAKE: drops an odd last row/column, no ValueError
    n, c, h, w = x.shape
    windows = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
    winner = windows.argmax(axis=-1)
    out = np.take_along_axis(windows, winner[..., None], axis=-1)[..., 0]
    return out, (x.shape, winner)


def max_pool2x2_backward_row_col_swapped(dout, cache):
    import numpy as np
    dout = np.asarray(dout, dtype=float)
    shape, winner = cache
    n, c, h, w = shape
    dx = np.zeros(shape)
    rows, cols = winner % 2, winner // 2  # MISTAKE: reading order is row = k // 2, column = k % 2
    ii, jj = np.meshgrid(np.arange(h // 2), np.arange(w // 2), indexing="ij")
    for a in range(n):
        for b in range(c):
            dx[a, b, 2 * ii + rows[a, b], 2 * jj + cols[a, b]] = dout[a, b]
    return dx


def max_pool2x2_backward_broadcast(dout, cache):
    import numpy as np
    dout = np.asarray(dout, dtype=float)
    shape, winner = cache
    # MISTAKE: dout is copied to all 4 elements of its window, not only to the winner
    return np.repeat(np.repeat(dout, 2, axis=2), 2, axis=3).reshape(shape)


def max_pool2x2_backward_window_reshape(dout, cache):
    import numpy as np
    dout = np.asarray(dout, dtype=float)
    shape, winner = cache
    dwin = np.zeros(winner.shape + (4,))
    np.put_along_axis(dwin, winner[..., None], dout[..., None], axis=-1)
    return dwin.reshape(shape)  # MISTAKE: reshaped back without the transpose: gradients land in the wrong places


def max_pool2x2_backward_mask_only(dout, cache):
    import numpy as np
    dout = np.asarray(dout, dtype=float)
    shape, winner = cache
    n, c, h, w = shape
    dwin = np.zeros(winner.shape + (4,))
    np.put_along_axis(dwin, winner[..., None], 1.0, axis=-1)  # MISTAKE: 1 at the winner, not dout
    return dwin.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(shape)


# --------------------------------------------------------------------------- init_params


def init_params_variance_as_std(rng, filters=16, classes=10):
    import numpy as np
    return {  # MISTAKE: 2 / fan-in is the variance; the standard deviation is its square root
        "w1": rng.normal(0.0, 2 / 9, size=(filters, 1, 3, 3)),
        "b1": np.zeros(filters),
        "w2": rng.normal(0.0, 1 / (16 * filters), size=(16 * filters, classes)),
        "b2": np.zeros(classes),
    }


def init_params_zeros(rng, filters=16, classes=10):
    import numpy as np
    return {  # MISTAKE: zero weights: every filter stays identical and the ReLUs pass no gradient
        "w1": np.zeros((filters, 1, 3, 3)),
        "b1": np.zeros(filters),
        "w2": np.zeros((16 * filters, classes)),
        "b2": np.zeros(classes),
    }


def init_params_he_for_w2(rng, filters=16, classes=10):
    import numpy as np
    return {
        "w1": rng.normal(0.0, np.sqrt(2 / 9), size=(filters, 1, 3, 3)),
        "b1": np.zeros(filters),
        "w2": rng.normal(0.0, np.sqrt(2 / (16 * filters)), size=(16 * filters, classes)),  # MISTAKE: sqrt(2/fan-in)
        "b2": np.zeros(classes),
    }


def init_params_w1_fan_out(rng, filters=16, classes=10):
    import numpy as np
    return {
        "w1": rng.normal(0.0, np.sqrt(2 / (9 * filters)), size=(filters, 1, 3, 3)),  # MISTAKE: fan-out, not fan-in
        "b1": np.zeros(filters),
        "w2": rng.normal(0.0, np.sqrt(1 / (16 * filters)), size=(16 * filters, classes)),
        "b2": np.zeros(classes),
    }


def init_params_w2_fan_out(rng, filters=16, classes=10):
    import numpy as np
    return {
        "w1": rng.normal(0.0, np.sqrt(2 / 9), size=(filters, 1, 3, 3)),
        "b1": np.zeros(filters),
        "w2": rng.normal(0.0, np.sqrt(1 / classes), size=(16 * filters, classes)),  # MISTAKE: fan-out, not fan-in
        "b2": np.zeros(classes),
    }


def init_params_w2_transposed(rng, filters=16, classes=10):
    import numpy as np
    return {
        "w1": rng.normal(0.0, np.sqrt(2 / 9), size=(filters, 1, 3, 3)),
        "b1": np.zeros(filters),
        "w2": rng.normal(0.0, np.sqrt(1 / (16 * filters)), size=(classes, 16 * filters)),  # MISTAKE: transposed
        "b2": np.zeros(classes),
    }


# --------------------------------------------------------------------------- train (calls the notebook's loss_and_grads)


def train_no_momentum(params, x, y, epochs, lr, batch_size, rng, momentum=0.9):
    import numpy as np
    velocity = {key: np.zeros_like(value) for key, value in params.items()}
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            loss, grads = loss_and_grads(params, x[batch], y[batch])  # noqa: F821 - the notebook's
            for key in params:
                velocity[key] = momentum * velocity[key] - lr * grads[key]
                params[key] -= lr * grads[key]  # MISTAKE: steps with the gradient, not the velocity (plain SGD)
            losses.append(loss)
    return losses


def train_no_shuffle(params, x, y, epochs, lr, batch_size, rng, momentum=0.9):
    import numpy as np
    velocity = {key: np.zeros_like(value) for key, value in params.items()}
    losses = []
    for _ in range(epochs):
        order = np.arange(len(x))  # MISTAKE: the same fixed order every epoch, rng never used
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            loss, grads = loss_and_grads(params, x[batch], y[batch])  # noqa: F821 - the notebook's
            for key in params:
                velocity[key] = momentum * velocity[key] - lr * grads[key]
                params[key] += velocity[key]
            losses.append(loss)
    return losses


def train_shuffle_once(params, x, y, epochs, lr, batch_size, rng, momentum=0.9):
    import numpy as np
    velocity = {key: np.zeros_like(value) for key, value in params.items()}
    losses = []
    order = rng.permutation(len(x))  # MISTAKE: shuffled once, before the epochs, not at every epoch
    for _ in range(epochs):
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            loss, grads = loss_and_grads(params, x[batch], y[batch])  # noqa: F821 - the notebook's
            for key in params:
                velocity[key] = momentum * velocity[key] - lr * grads[key]
                params[key] += velocity[key]
            losses.append(loss)
    return losses


def train_velocity_sign(params, x, y, epochs, lr, batch_size, rng, momentum=0.9):
    import numpy as np
    velocity = {key: np.zeros_like(value) for key, value in params.items()}
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            loss, grads = loss_and_grads(params, x[batch], y[batch])  # noqa: F821 - the notebook's
            for key in params:
                velocity[key] = momentum * velocity[key] + lr * grads[key]  # MISTAKE: + lr * grad: goes uphill
                params[key] += velocity[key]
            losses.append(loss)
    return losses


def train_velocity_reset_each_epoch(params, x, y, epochs, lr, batch_size, rng, momentum=0.9):
    import numpy as np
    losses = []
    for _ in range(epochs):
        velocity = {key: np.zeros_like(value) for key, value in params.items()}  # MISTAKE: reset every epoch
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            loss, grads = loss_and_grads(params, x[batch], y[batch])  # noqa: F821 - the notebook's
            for key in params:
                velocity[key] = momentum * velocity[key] - lr * grads[key]
                params[key] += velocity[key]
            losses.append(loss)
    return losses


def train_stale_velocity(params, x, y, epochs, lr, batch_size, rng, momentum=0.9):
    import numpy as np
    velocity = {key: np.zeros_like(value) for key, value in params.items()}
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            loss, grads = loss_and_grads(params, x[batch], y[batch])  # noqa: F821 - the notebook's
            for key in params:
                params[key] += velocity[key]  # MISTAKE: steps with the old velocity, before updating it
                velocity[key] = momentum * velocity[key] - lr * grads[key]
            losses.append(loss)
    return losses


def train_not_in_place(params, x, y, epochs, lr, batch_size, rng, momentum=0.9):
    import numpy as np
    velocity = {key: np.zeros_like(value) for key, value in params.items()}
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            loss, grads = loss_and_grads(params, x[batch], y[batch])  # noqa: F821 - the notebook's
            for key in params:
                velocity[key] = momentum * velocity[key] - lr * grads[key]
            # MISTAKE: a new dict: the caller's params never change
            params = {key: params[key] + velocity[key] for key in params}
            losses.append(loss)
    return losses


def train_epoch_losses(params, x, y, epochs, lr, batch_size, rng, momentum=0.9):
    import numpy as np
    velocity = {key: np.zeros_like(value) for key, value in params.items()}
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(x))
        epoch = []
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            loss, grads = loss_and_grads(params, x[batch], y[batch])  # noqa: F821 - the notebook's
            for key in params:
                velocity[key] = momentum * velocity[key] - lr * grads[key]
                params[key] += velocity[key]
            epoch.append(loss)
        losses.append(float(np.mean(epoch)))  # MISTAKE: one mean loss per epoch, not one loss per mini-batch
    return losses


def train_ignores_momentum_arg(params, x, y, epochs, lr, batch_size, rng, momentum=0.9):
    import numpy as np
    velocity = {key: np.zeros_like(value) for key, value in params.items()}
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            loss, grads = loss_and_grads(params, x[batch], y[batch])  # noqa: F821 - the notebook's
            for key in params:
                velocity[key] = 0.9 * velocity[key] - lr * grads[key]  # MISTAKE: 0.9 written in, the momentum argument ignored
                params[key] += velocity[key]
            losses.append(loss)
    return losses


# --------------------------------------------------------------------------- the catalogue

_FORWARD = (("forward", max_pool2x2_forward_companion),)
_BACKWARD = (("backward", max_pool2x2_backward_companion),)
_INIT = lecture(L07_EXERCISES, "He initialisation: standard deviation sqrt(2 / fan-in); a3, Part 3")
_SGD = lecture(L04_SYSTEM, "the training loop; the update rule is in a3, Part 4")


def _m(id_: str, title: str, where, mutant, what: str = "", **extra) -> Mutant:
    text = where if isinstance(where, str) else lecture(where, what)
    return Mutant(id_, id_.split(".")[0], A3, title, text, mutant, **extra)


MISTAKES_A3 = [
    _m("conv2d_backward.dw_divided_by_n", "dw is divided by the batch size N (dout already holds the 1/N of "
       "the mean loss)", L07_CHAIN, conv2d_backward_dw_divided_by_n, "a3, Part 1: dw sums over n, i, j"),
    _m("conv2d_backward.db_not_summed_over_batch", "db is not summed over the batch (shape (N, F) instead of "
       "(F,))", L07_CHAIN, conv2d_backward_db_not_summed_over_batch, "a3, Part 1: db sums over n, i, j"),
    _m("conv2d_backward.db_not_summed_over_space", "db is not summed over the output positions (shape "
       "(F, H', W') instead of (F,))", L07_CHAIN, conv2d_backward_db_not_summed_over_space,
       "a3, Part 1: db sums over n, i, j"),
    _m("conv2d_backward.dx_no_flip", "dx as a full correlation with the kernel not rotated by 180 degrees",
       L07_CHAIN, conv2d_backward_dx_no_flip, "a3, Part 1: each input pixel gets dout times the weight it "
       "met"),
    _m("conv2d_backward.dx_wrong_crop", "dx is cropped from the corner ([:H, :W]) instead of removing the "
       "padding on every side ([p:p + H, p:p + W])", L07_CHAIN, conv2d_backward_dx_wrong_crop,
       "a3, Part 1: then crop the padding away"),
    _m("conv2d_backward.dx_ignores_stride", "dx ignores the stride: gradients go to neighbouring pixels "
       "instead of every s-th", L07_CHAIN, conv2d_backward_dx_ignores_stride,
       "a3, Part 1: x_p[n, c, i s + k, j s + l]"),
    _m("conv2d_backward.dx_overwrite", "dx is overwritten (=) instead of accumulated (+=) over the kernel "
       "offsets", L07_CHAIN, conv2d_backward_dx_overwrite, "a3, Part 1: += from every output it contributed to"),

    _m("max_pool2x2_forward.last_on_ties", "on a tie the last maximum wins; the first one, in reading order, "
       "must", L03_POOL, max_pool2x2_forward_last_on_ties, "max pooling; a3, Part 2: the first one on ties",
       helpers=_BACKWARD),
    _m("max_pool2x2_forward.window_reshape", "x.reshape(N, C, H/2, W/2, 4) without the transpose: the groups "
       "of 4 are not the 2x2 windows", L03_POOL, max_pool2x2_forward_window_reshape,
       "a3, Part 2: reshape(N, C, H/2, 2, W/2, 2)", helpers=_BACKWARD),
    _m("max_pool2x2_forward.crops_odd", "an odd height or width is cropped instead of raising ValueError",
       L03_POOL, max_pool2x2_forward_crops_odd, "a3, Part 2: raise ValueError if H or W is odd",
       helpers=_BACKWARD),
    _m("max_pool2x2_backward.row_col_swapped", "the winner's index k is read as column k // 2, row k % 2: "
       "within each window the gradient lands on the mirrored pixel", L07_CHAIN,
       max_pool2x2_backward_row_col_swapped, "a3, Part 2: the winner in reading order", helpers=_FORWARD),
    _m("max_pool2x2_backward.broadcast", "dout is copied to all 4 elements of the window instead of going to "
       "the winner only", L07_CHAIN, max_pool2x2_backward_broadcast, "a3, Part 2: the 3 others get 0",
       helpers=_FORWARD),
    _m("max_pool2x2_backward.window_reshape", "the windows are reshaped back without the transpose: the "
       "gradients land in the wrong pixels", L07_CHAIN, max_pool2x2_backward_window_reshape,
       "a3, Part 2", helpers=_FORWARD),
    _m("max_pool2x2_backward.mask_only", "the winner gets 1 instead of dout", L07_CHAIN,
       max_pool2x2_backward_mask_only, "each local derivative is multiplied by the gradient from above",
       helpers=_FORWARD),

    _m("init_params.variance_as_std", "the variance is used as the standard deviation (std = 2 / fan-in "
       "instead of sqrt(2 / fan-in))", _INIT, init_params_variance_as_std),
    _m("init_params.zeros", "all weights start at zero: every filter stays the same", _INIT, init_params_zeros),
    _m("init_params.he_for_w2", "w2 uses sqrt(2 / fan-in) too; the instructions ask sqrt(1 / fan-in) for the "
       "linear layer", _INIT, init_params_he_for_w2),
    _m("init_params.w1_fan_out", "w1's fan-in taken as filters x 3 x 3 (the fan-out) instead of 1 x 3 x 3",
       _INIT, init_params_w1_fan_out),
    _m("init_params.w2_fan_out", "w2's fan-in taken as the number of classes (the fan-out) instead of "
       "16 x filters", _INIT, init_params_w2_fan_out),
    _m("init_params.w2_transposed", "w2 has shape (classes, 16 x filters) instead of (16 x filters, classes)",
       _INIT, init_params_w2_transposed),

    _m("train.no_momentum", "parameters step by -lr * gradient (plain SGD): the velocity is never used",
       _SGD, train_no_momentum, needs=("loss_and_grads",)),
    _m("train.no_shuffle", "the mini-batches come in the same fixed order every epoch (rng.permutation is "
       "not used)", _SGD, train_no_shuffle, needs=("loss_and_grads",)),
    _m("train.shuffle_once", "the data are shuffled once, before the first epoch, instead of at every epoch",
       _SGD, train_shuffle_once, needs=("loss_and_grads",)),
    _m("train.velocity_sign", "the velocity adds + lr * gradient: the parameters move uphill", _SGD,
       train_velocity_sign, needs=("loss_and_grads",)),
    _m("train.velocity_reset_each_epoch", "the velocity is reset to zero at the start of every epoch", _SGD,
       train_velocity_reset_each_epoch, needs=("loss_and_grads",)),
    _m("train.stale_velocity", "parameters step with the old velocity, before it is updated with the new "
       "gradient", _SGD, train_stale_velocity, needs=("loss_and_grads",)),
    _m("train.not_in_place", "a new params dict is built: the caller's parameters never change", _SGD,
       train_not_in_place, needs=("loss_and_grads",)),
    _m("train.epoch_losses", "returns one mean loss per epoch instead of one loss per mini-batch", _SGD,
       train_epoch_losses, needs=("loss_and_grads",)),
    _m("train.ignores_momentum_arg", "the momentum 0.9 is written into the update; the momentum argument is "
       "ignored", _SGD, train_ignores_momentum_arg, needs=("loss_and_grads",)),
]
