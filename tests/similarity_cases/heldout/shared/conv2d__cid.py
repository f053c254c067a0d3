def conv2d(x, w, b=None, stride=1, padding=0):
    """Forward pass of a 2-D convolutional layer (correlation, like PyTorch), NCHW in and out."""
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if x.ndim != 4:
        raise ValueError("x needs shape (N, C, H, W)")
    if w.ndim != 4:
        raise ValueError("w needs shape (F, C, kH, kW)")
    num_imgs, num_ch, in_h, in_w = x.shape
    num_filters, filt_ch, filt_h, filt_w = w.shape
    if filt_ch != num_ch:
        raise ValueError("number of channels in x and w differ")
    if b is None:
        b = np.zeros(num_filters)
    b = np.asarray(b, dtype=float)

    # pad only the two spatial axes
    x_padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), mode="constant")
    padded_h = in_h + 2 * padding
    padded_w = in_w + 2 * padding
    if filt_h > padded_h or filt_w > padded_w:
        raise ValueError("filter does not fit in the padded input")

    out_h = 1 + (padded_h - filt_h) // stride
    out_w = 1 + (padded_w - filt_w) // stride
    out = np.zeros((num_imgs, num_filters, out_h, out_w))
    for n in range(num_imgs):
        for f in range(num_filters):
            for i in range(out_h):
                for j in range(out_w):
                    h0 = i * stride
                    w0 = j * stride
                    region = x_padded[n, :, h0:h0 + filt_h, w0:w0 + filt_w]
                    out[n, f, i, j] = np.sum(region * w[f]) + b[f]
    return out
