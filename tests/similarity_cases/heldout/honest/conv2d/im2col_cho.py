def conv2d(x, w, b=None, stride=1, padding=0):
    """Forward pass of a 2-D convolutional layer (correlation, like PyTorch), NCHW in and out."""
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if x.ndim != 4 or w.ndim != 4 or x.shape[1] != w.shape[1]:
        raise ValueError("bad shapes: x (N,C,H,W) and w (F,C,kh,kw) with the same C")
    n_img, n_ch, h_in, w_in = x.shape
    n_out, _, k1, k2 = w.shape
    p = padding
    xp = np.pad(x, [(0, 0), (0, 0), (p, p), (p, p)], mode="constant")
    h_out = (h_in + 2 * p - k1) // stride + 1
    w_out = (w_in + 2 * p - k2) // stride + 1
    if h_in + 2 * p < k1 or w_in + 2 * p < k2:
        raise ValueError("kernel does not fit")
    # build the column matrix: for every output position the flattened (C, k1, k2) patch
    cols = np.empty((n_img, h_out * w_out, n_ch * k1 * k2))
    idx = 0
    for a in range(h_out):
        for bb in range(w_out):
            patch = xp[:, :, a * stride:a * stride + k1, bb * stride:bb * stride + k2]
            cols[:, idx, :] = patch.reshape(n_img, -1)
            idx += 1
    w_mat = w.reshape(n_out, -1)              # (F, C*k1*k2)
    y = cols @ w_mat.T                         # (N, positions, F)
    if b is not None:
        y = y + np.asarray(b, dtype=float)
    return y.transpose(0, 2, 1).reshape(n_img, n_out, h_out, w_out)
