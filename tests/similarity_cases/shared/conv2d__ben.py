def conv2d(x, w, b=None, stride=1, padding=0):
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    # validate
    if stride < 1 or padding < 0:
        raise ValueError("stride must be >= 1 and padding >= 0")
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError("x and w must be 4-D arrays")
    if x.shape[1] != w.shape[1]:
        raise ValueError("input channels of x and w differ")
    F, _, KH, KW = w.shape
    N, C, H, W = x.shape
    OH = (H + 2 * padding - KH) // stride + 1
    OW = (W + 2 * padding - KW) // stride + 1
    if OH <= 0 or OW <= 0:
        raise ValueError("the kernel does not fit")
    padded = np.zeros((N, C, H + 2 * padding, W + 2 * padding))
    padded[:, :, padding:padding + H, padding:padding + W] = x
    W2 = w.reshape(F, -1)
    res = np.zeros((N, F, OH, OW))
    for r in range(OH):
        for q in range(OW):
            patch = padded[:, :, r * stride:r * stride + KH, q * stride:q * stride + KW].reshape(N, -1)
            res[:, :, r, q] = patch @ W2.T   # all filters at once
    if b is not None:
        res += np.asarray(b).reshape(1, F, 1, 1)
    return res
