def conv2d(x, w, b=None, stride=1, padding=0):
    """Forward pass of a 2-D convolutional layer (correlation, like PyTorch), NCHW in and out."""
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if x.ndim != 4:
        raise ValueError(f"x must be 4-D, got {x.shape}")
    if w.ndim != 4:
        raise ValueError(f"w must be 4-D, got {w.shape}")
    if b is not None:
        b = np.asarray(b, dtype=float)
        if b.ndim != 1:
            raise ValueError(f"b must be 1-D, got {b.shape}")
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    batch, cin, ht, wdt = x.shape
    cout, cw, fh, fw = w.shape
    if cw != cin:
        raise ValueError(f"channel mismatch: x has {cin} channels, w {w.shape} expects {cw}")
    if b is not None and b.shape[0] != cout:
        raise ValueError(f"b must have {cout} entries, got {b.shape}")
    oh = (ht + 2 * padding - fh) // stride + 1
    ow = (wdt + 2 * padding - fw) // stride + 1
    if ht + 2 * padding < fh or wdt + 2 * padding < fw:
        raise ValueError("kernel does not fit")

    # pad (only when needed)
    xpad = x if padding == 0 else np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    # im2col: a strided view that names every patch, copied into a (C*kH*kW, N*oh*ow) matrix
    st_n, st_c, st_h, st_w = xpad.strides
    view = np.lib.stride_tricks.as_strided(
        xpad,
        shape=(cin, fh, fw, batch, oh, ow),
        strides=(st_c, st_h, st_w, st_n, stride * st_h, stride * st_w),
        writeable=False,
    )
    columns = np.ascontiguousarray(view).reshape(cin * fh * fw, batch * oh * ow)
    kernel_rows = w.reshape(cout, cin * fh * fw)
    prod = np.matmul(kernel_rows, columns)                 # one big matrix multiply
    y = prod.reshape(cout, batch, oh, ow).transpose(1, 0, 2, 3)
    if b is not None:
        y = y + b[:, None, None]
    return y
