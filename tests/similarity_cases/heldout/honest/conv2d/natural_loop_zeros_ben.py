def conv2d(x, w, b=None, stride=1, padding=0):
    """Forward pass of a 2-D convolutional layer (correlation, like PyTorch), NCHW in and out."""
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if len(w.shape) != 4:
        raise ValueError("weights must have shape (F, C, kH, kW)")
    if len(x.shape) != 4:
        raise ValueError("input must have shape (N, C, H, W)")
    if x.shape[1] != w.shape[1]:
        raise ValueError("channel mismatch between input and filters")
    batch, chans, height, width = x.shape
    n_filt, _, kh, kw = w.shape
    # zero padding done by hand: a bigger zero array with x copied in the middle
    padded = np.zeros((batch, chans, height + 2 * padding, width + 2 * padding))
    padded[:, :, padding:padding + height, padding:padding + width] = x
    if padded.shape[2] < kh or padded.shape[3] < kw:
        raise ValueError("kernel bigger than the padded input")
    oh = (padded.shape[2] - kh) // stride + 1
    ow = (padded.shape[3] - kw) // stride + 1
    result = np.zeros((batch, n_filt, oh, ow))
    for img in range(batch):
        for k in range(n_filt):
            for r in range(oh):
                top = r * stride
                for c in range(ow):
                    left = c * stride
                    result[img, k, r, c] = (padded[img, :, top:top + kh, left:left + kw] * w[k]).sum()
    # the bias is added at the end, one number per output channel
    if b is not None:
        result += np.asarray(b, dtype=float).reshape(1, n_filt, 1, 1)
    return result
