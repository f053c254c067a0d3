"""Synthetic stand-ins for MNIST and CIFAR-10: the real shapes, dtypes and classes, made offline.

``CNNKIT_SYNTHETIC_DATA=1`` (see :func:`cnnkit.config.synthetic_data`) makes
:func:`cnnkit.data.load` return these instead of reading the downloaded files, so a notebook's
``full``-size code path runs where there is no network (a GPU check, CI) in a time that the
number of images bounds.

Each class has a smooth random template (a 4x4 pattern per channel, interpolated to the image
size); an image is its class's template, shifted by up to 4 pixels (wrapping around), mixed
with uniform noise and rounded to 8 bits. The task is learnable (a CNN finds the shifted
pattern), not linearly trivial, and far from saturated in a few epochs, so training curves
move as they would on real data. Seeded: the same call gives the same arrays everywhere.
"""
from __future__ import annotations

import numpy as np

#: name -> (image shape (C, H, W), real train count, real test count, class names, seed)
SPECS: dict[str, tuple[tuple[int, int, int], int, int, tuple[str, ...], int]] = {
    "mnist": ((1, 28, 28), 60_000, 10_000, tuple(str(d) for d in range(10)), 1),
    "cifar10": ((3, 32, 32), 50_000, 10_000, ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                                               "horse", "ship", "truck"), 2),
}
#: Share of an image that is its class's template; the rest is noise.
SIGNAL = 0.3
#: Largest shift of the template, in pixels, in each direction.
MAX_SHIFT = 4
_CHUNK = 4096  # images generated at a time: bounds the temporary arrays (~50 MB for CIFAR-10)


def split_sizes(name: str, train_images: int) -> tuple[int, int]:
    """(train, test) image counts: the real ones for ``train_images=0``, else ``train_images`` and
    the real test share of it (at least 1)."""
    _, n_train, n_test, _, _ = SPECS[name]
    if train_images == 0:
        return n_train, n_test
    return train_images, max(1, round(train_images * n_test / n_train))


def _interpolation(size: int, knots: int) -> np.ndarray:
    """(size, knots) matrix that linearly interpolates ``knots`` values to ``size`` pixels."""
    pos = np.linspace(0, knots - 1, size)
    left = np.minimum(pos.astype(int), knots - 2)
    frac = pos - left
    m = np.zeros((size, knots))
    m[np.arange(size), left] = 1 - frac
    m[np.arange(size), left + 1] = frac
    return m


def _templates(shape: tuple[int, int, int], classes: int, rng: np.random.Generator) -> np.ndarray:
    """(classes, C, H, W) smooth patterns in [0, 1], one per class."""
    c, h, w = shape
    coarse = rng.random((classes, c, 4, 4))
    rows, cols = _interpolation(h, 4), _interpolation(w, 4)
    return np.einsum("hi,kcij,wj->kchw", rows, coarse, cols)


def _images(labels: np.ndarray, templates: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """float32 (N, C, H, W) in [0, 1], multiples of 1/255 like the real files' bytes / 255."""
    n = len(labels)
    classes, c, h, w = templates.shape
    span = 2 * MAX_SHIFT + 1
    # Every class at every shift, (classes * span * span, C, H, W): 2.5 M values for CIFAR-10.
    shifted = np.stack([np.roll(templates, (dy, dx), axis=(2, 3))
                        for dy in range(-MAX_SHIFT, MAX_SHIFT + 1) for dx in range(-MAX_SHIFT, MAX_SHIFT + 1)],
                       axis=1).reshape(classes * span * span, c, h, w).astype(np.float32)
    out = np.empty((n, c, h, w), dtype=np.float32)
    for start in range(0, n, _CHUNK):
        lab = labels[start:start + _CHUNK]
        k = len(lab)
        signal = shifted[lab * span * span + rng.integers(0, span * span, k)]
        noise = rng.random((k, c, h, w), dtype=np.float32)
        mixed = SIGNAL * signal + (1 - SIGNAL) * noise
        out[start:start + k] = np.rint(mixed * 255) / 255
    return out


def make(name: str, train_images: int = 0):
    """(train, test, classes) for ``"mnist"`` or ``"cifar10"``, as the real readers return them.

    Images float32 (N, C, H, W) in [0, 1], labels int64 with every class equally often (as in
    CIFAR-10). ``train_images=0`` gives the real set's sizes, else ``train_images`` training
    images (see :func:`split_sizes`).
    """
    if name not in SPECS:
        raise ValueError(f"synthetic data exists for {tuple(SPECS)}, not {name!r}")
    if not isinstance(train_images, int) or train_images < 0:
        raise ValueError(f"train_images must be an int >= 0 (0: the real size), got {train_images!r}")
    shape, _, _, classes, seed = SPECS[name]
    templates = _templates(shape, len(classes), np.random.default_rng([seed, 0]))
    splits = []
    for index, count in enumerate(split_sizes(name, train_images), start=1):
        rng = np.random.default_rng([seed, index])
        labels = rng.permutation(np.arange(count) % len(classes)).astype(np.int64)
        splits.append((_images(labels, templates, rng), labels))
    return splits[0], splits[1], list(classes)
