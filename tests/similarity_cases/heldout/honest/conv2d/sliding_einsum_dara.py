def conv2d(x, w, b=None, stride=1, padding=0):
    """Forward pass of a 2-D convolutional layer (correlation, like PyTorch), NCHW in and out."""
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if x.ndim != 4:
        raise ValueError("x must be 4-D (N, C, H, W)")
    if w.ndim != 4:
        raise ValueError("w must be 4-D (F, C, kH, kW)")
    if w.shape[1] != x.shape[1]:
        raise ValueError("w expects %d channels, x has %d" % (w.shape[1], x.shape[1]))
    if padding > 0:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    kh, kw = w.shape[2:]
    if kh > x.shape[2] or kw > x.shape[3]:
        raise ValueError("kernel does not fit in the (padded) input")
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))  # N, C, H', W', kh, kw
    win = win[:, :, ::stride, ::stride]
    out = np.einsum("nchwkl,fckl->nfhw", win, w, optimize=True)
    if b is not None:
        out += np.asarray(b, dtype=float)[None, :, None, None]
    return out
