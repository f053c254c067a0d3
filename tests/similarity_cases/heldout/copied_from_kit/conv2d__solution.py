def conv2d(x, w, b=None, stride=1, padding=0):
    """Forward pass of a 2-D convolutional layer (correlation, like PyTorch), NCHW in and out."""
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    # validate the input
    if w.ndim != 4 or x.ndim != 4:
        raise ValueError(f"need 4-D x (N, C, H, W) and w (F, C, kH, kW), got {x.shape} and {w.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channels, w has {w.shape[1]}")
    if padding < 0 or stride < 1:
        raise ValueError(f"need stride >= 1 and padding >= 0, got {stride} and {padding}")
    num_filt, _, fh, fw = w.shape
    batch, _, rows, cols = x.shape
    H_out = (rows + 2 * padding - fh) // stride + 1
    W_out = (cols + 2 * padding - fw) // stride + 1
    if (H_out < 1) or (W_out < 1):
        raise ValueError(f"filter {fh}x{fw} too large for {rows}x{cols} input with padding {padding}")
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    result = np.zeros((batch, num_filt, H_out, W_out))

    # loop over images, filters and output positions
    for img in range(batch):
        for k in range(num_filt):
            for r in range(H_out):
                for c in range(W_out):
                    patch = padded[img, :, (r * stride):(r * stride + fh), (c * stride):(c * stride + fw)]
                    result[img, k, r, c] = np.sum(patch * w[k])

    # add the bias at the end
    if b is not None:
        result += np.asarray(b, dtype=float).reshape(1, -1, 1, 1)
    return result
