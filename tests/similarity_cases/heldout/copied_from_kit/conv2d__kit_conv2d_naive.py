def conv2d(x, w, b=None, stride=1, padding=0):
    """Forward pass of a 2-D convolutional layer (correlation, like PyTorch), NCHW in and out."""
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    # --- argument checks ---
    if x.ndim != 4:
        raise ValueError(f"x must be 4-D, got shape {x.shape}")
    if w.ndim != 4:
        raise ValueError(f"w must be 4-D, got shape {w.shape}")
    if b is not None:
        b = np.asarray(b, dtype=float)
        if b.ndim != 1:
            raise ValueError(f"b must be 1-D, got shape {b.shape}")
    if stride < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    batch, chans, rows, cols = x.shape
    filters_out, filt_chans, fh, fw = w.shape
    if fh == 0 or fw == 0:
        raise ValueError(f"w must have a non-empty kernel, got shape {w.shape}")
    if filt_chans != chans:
        raise ValueError(f"channel mismatch: x has {chans} channels but w {w.shape} expects {filt_chans}")
    if b is not None and b.shape[0] != filters_out:
        raise ValueError(f"b needs one bias per output channel ({filters_out}), got shape {b.shape}")
    rows_p = rows + 2 * padding
    cols_p = cols + 2 * padding
    if fh > rows_p or fw > cols_p:
        raise ValueError("kernel does not fit in the padded input")
    n_rows = (rows_p - fh) // stride + 1
    n_cols = (cols_p - fw) // stride + 1

    # --- the loops: one dot product per output value ---
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    y = np.zeros((batch, filters_out, n_rows, n_cols))
    for s in range(batch):
        for k in range(filters_out):
            for p in range(n_rows):
                for q in range(n_cols):
                    top, left = p * stride, q * stride          # corner of the window
                    window = padded[s, :, top:top + fh, left:left + fw]
                    y[s, k, p, q] = np.sum(window * w[k])
            if b is not None:
                y[s, k] += b[k]
    return y
