def conv2d(x, w, b=None, stride=1, padding=0):
    """Forward pass of a 2-D convolutional layer (correlation, like PyTorch), NCHW in and out."""
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    # shape checks
    if w.ndim != 4:
        raise ValueError("w must be (F, C, kH, kW)")
    if x.ndim != 4:
        raise ValueError("x must be (N, C, H, W)")
    n_f, c_f, k_h, k_w = w.shape
    n_x, c_x, h_x, w_x = x.shape
    if c_f != c_x:
        raise ValueError("channel counts of x and w do not match")
    if b is None:
        b = np.zeros(n_f)
    b = np.asarray(b, dtype=float)

    hp = h_x + 2 * padding
    wp = w_x + 2 * padding
    # zero padding on H and W
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), mode="constant")
    if k_h > hp or k_w > wp:
        raise ValueError("kernel too big for padded input")

    oh = (hp - k_h) // stride + 1
    ow = (wp - k_w) // stride + 1
    y = np.zeros((n_x, n_f, oh, ow))
    for img in range(n_x):
        for filt in range(n_f):
            for r in range(oh):
                for c in range(ow):
                    top, left = r * stride, c * stride
                    win = xp[img, :, top:top + k_h, left:left + k_w]
                    y[img, filt, r, c] = np.sum(win * w[filt]) + b[filt]
    return y
