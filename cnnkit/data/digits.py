"""scikit-learn's bundled 8x8 handwritten digits: the data set that needs no network."""
from __future__ import annotations

import numpy as np

#: Images kept for testing; 1,797 - 360 = 1,437 remain for training (a 80/20 split).
TEST_SIZE = 360
#: The split is stratified by class and fixed by this seed, so every run sees the same one.
SPLIT_SEED = 0


def read_digits() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], list[str]]:
    """(train, test, classes) with images as float32 (N, 1, 8, 8) in [0, 1] and int64 labels.

    The raw pixels count ink from 0 to 16; dividing by 16 puts them in [0, 1].
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    images = (bunch.images.astype(np.float32) / 16.0)[:, None, :, :]
    labels = bunch.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(images, labels, test_size=TEST_SIZE, stratify=labels,
                                              random_state=SPLIT_SEED)
    return (x_tr, y_tr), (x_te, y_te), [str(d) for d in range(10)]
