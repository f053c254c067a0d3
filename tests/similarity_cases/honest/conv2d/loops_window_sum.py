def conv2d(x, w, b=None, stride=1, padding=0):
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if stride < 1:
        raise ValueError("stride must be positive")
    if padding < 0:
        raise ValueError("padding cannot be negative")
    if x.ndim != 4 or w.ndim != 4 or x.shape[1] != w.shape[1]:
        raise ValueError(f"incompatible shapes {x.shape} and {w.shape}")
    batch = x.shape[0]
    filters, k1, k2 = w.shape[0], w.shape[2], w.shape[3]
    size_h = (x.shape[2] + 2 * padding - k1) // stride + 1
    size_w = (x.shape[3] + 2 * padding - k2) // stride + 1
    if size_h <= 0 or size_w <= 0:
        raise ValueError("filter larger than the padded input")
    xpad = np.pad(x, [(0, 0), (0, 0), (padding, padding), (padding, padding)], mode="constant")
    bias = np.zeros(filters) if b is None else np.asarray(b, dtype=float)
    res = np.empty((batch, filters, size_h, size_w))
    for img in range(batch):
        for row in range(size_h):
            top = row * stride
            for col in range(size_w):
                left = col * stride
                block = xpad[img, :, top:top + k1, left:left + k2]
                for flt in range(filters):
                    res[img, flt, row, col] = np.sum(block * w[flt]) + bias[flt]
    return res
