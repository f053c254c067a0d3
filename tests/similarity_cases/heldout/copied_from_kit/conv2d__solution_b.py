def conv2d(x, w, b=None, stride=1, padding=0):
    """Forward pass of a 2-D convolutional layer (correlation, like PyTorch), NCHW in and out."""
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if (x.ndim != 4) or (w.ndim != 4):
        raise ValueError(f"x and w must be 4-D, got {x.shape} and {w.shape}")
    if w.shape[1] != x.shape[1]:
        raise ValueError(f"w expects {w.shape[1]} channels but x has {x.shape[1]}")
    if stride < 1 or padding < 0:
        raise ValueError(f"bad stride/padding: {stride}, {padding}")
    N = x.shape[0]
    H = x.shape[2]
    W = x.shape[3]
    F = w.shape[0]
    KH = w.shape[2]
    KW = w.shape[3]
    Ho = (H + 2 * padding - KH) // stride + 1
    Wo = (W + 2 * padding - KW) // stride + 1
    if Ho < 1 or Wo < 1:
        raise ValueError(f"kernel {KH}x{KW} does not fit into {H}x{W} (padding {padding})")
    pad_width = ((0, 0), (0, 0), (padding, padding), (padding, padding))
    x_pad = np.pad(x, pad_width)
    y = np.zeros((N, F, Ho, Wo))
    for a in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    i0 = i * stride
                    j0 = j * stride
                    y[a, f, i, j] = np.sum(x_pad[a, :, i0:i0 + KH, j0:j0 + KW] * w[f])
    if b is not None:
        bias = np.asarray(b, dtype=float)
        y += bias.reshape(1, -1, 1, 1)
    return y
