def conv2d(x, w, b=None, stride=1, padding=0):
    """Forward pass of a 2-D convolutional layer (correlation, like PyTorch), NCHW in and out."""
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError("x and w must be 4-D")
    N, C, H, W = x.shape
    F, Cw, HH, WW = w.shape
    if C != Cw:
        raise ValueError("x and w have different numbers of channels")
    if b is None:
        b = np.zeros(F)
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    Hp, Wp = H + 2 * padding, W + 2 * padding
    if HH > Hp or WW > Wp:
        raise ValueError("the kernel does not fit")
    H_out = (Hp - HH) // stride + 1
    W_out = (Wp - WW) // stride + 1
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = x_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out
