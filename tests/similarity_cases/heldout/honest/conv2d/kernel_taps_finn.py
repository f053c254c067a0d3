def conv2d(x, w, b=None, stride=1, padding=0):
    """Forward pass of a 2-D convolutional layer (correlation, like PyTorch), NCHW in and out."""
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)

    if x.ndim != 4 or w.ndim != 4:
        raise ValueError("conv2d: x and w need 4 dimensions")
    if x.shape[1] != w.shape[1]:
        raise ValueError("conv2d: x.shape[1] != w.shape[1]")

    s, p = stride, padding
    big = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    n_f, _, k_h, k_w = w.shape
    if k_h > big.shape[2] or k_w > big.shape[3]:
        raise ValueError("conv2d: kernel does not fit")
    out_h = (big.shape[2] - k_h) // s + 1
    out_w = (big.shape[3] - k_w) // s + 1

    bias = np.zeros(n_f) if b is None else np.asarray(b, dtype=float)
    y = np.zeros((x.shape[0], n_f, out_h, out_w)) + bias[:, None, None]
    # loop over the kernel taps; every tap sees a strided sub-grid of the padded input
    for u in range(k_h):
        for v in range(k_w):
            grid = big[:, :, u:u + s * (out_h - 1) + 1:s, v:v + s * (out_w - 1) + 1:s]  # N, C, oh, ow
            y += np.einsum("nchw,fc->nfhw", grid, w[:, :, u, v])
    return y
