def conv2d(x, w, b=None, stride=1, padding=0):
    """Forward pass of a 2-D convolutional layer (correlation, like PyTorch), NCHW in and out."""
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError("expected 4-D x and w")
    batch, ch, ih, iw = x.shape
    nf, wch, fh, fw = w.shape
    if wch != ch:
        raise ValueError("channels do not match")
    if fh > ih + 2 * padding or fw > iw + 2 * padding:
        raise ValueError("filter larger than padded input")
    if stride < 1:
        raise ValueError("stride must be positive")
    xp = np.pad(x, ((0, 0), (0, 0), (padding,) * 2, (padding,) * 2))
    xp = np.ascontiguousarray(xp)
    oh = (ih + 2 * padding - fh) // stride + 1
    ow = (iw + 2 * padding - fw) // stride + 1
    sn, sc, sh, sw = xp.strides
    patches = np.lib.stride_tricks.as_strided(
        xp,
        shape=(batch, ch, oh, ow, fh, fw),
        strides=(sn, sc, sh * stride, sw * stride, sh, sw),
        writeable=False,
    )
    # contract channel and kernel axes: (batch, oh, ow) x (nf) -> move nf to axis 1
    y = np.tensordot(patches, w, axes=([1, 4, 5], [1, 2, 3]))   # batch, oh, ow, nf
    y = np.moveaxis(y, -1, 1)
    if b is not None:
        y = y + np.reshape(b, (1, nf, 1, 1))
    return y
