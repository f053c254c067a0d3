def conv2d(x, w, b=None, stride=1, padding=0):
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError("conv2d wants 4-D arrays")
    n, c, h, wd = x.shape
    f, c2, r, s = w.shape
    if c2 != c:
        raise ValueError(f"w has {c2} input channels, x has {c}")
    if stride < 1 or padding < 0:
        raise ValueError("invalid stride/padding")
    h_out = (h + 2 * padding - r) // stride + 1
    w_out = (wd + 2 * padding - s) // stride + 1
    if h_out < 1 or w_out < 1:
        raise ValueError("kernel does not fit")
    xp = np.pad(x, ((0, 0), (0, 0), (padding,) * 2, (padding,) * 2))
    # row indices and column indices of every tap of every output position
    ii = (np.arange(h_out) * stride)[:, None] + np.arange(r)[None, :]      # (h_out, r)
    jj = (np.arange(w_out) * stride)[:, None] + np.arange(s)[None, :]      # (w_out, s)
    patches = xp[:, :, ii[:, :, None, None], jj[None, None, :, :]]         # (n, c, h_out, r, w_out, s)
    patches = patches.transpose(0, 2, 4, 1, 3, 5).reshape(n, h_out, w_out, c * r * s)
    y = patches @ w.reshape(f, -1).T                                      # (n, h_out, w_out, f)
    if b is not None:
        y += np.asarray(b, dtype=float)
    return y.transpose(0, 3, 1, 2)
