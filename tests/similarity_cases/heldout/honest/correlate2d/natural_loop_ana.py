def correlate2d(image, kernel):
    """Valid 2-D correlation of a 2-D ``image`` with a 2-D ``kernel`` (no kernel flip)."""
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError("image and kernel must both be 2-D")
    H, W = image.shape
    kh, kw = kernel.shape
    if kh > H or kw > W:
        raise ValueError("kernel is larger than the image")
    out_h = H - kh + 1
    out_w = W - kw + 1
    out = np.zeros((out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            window = image[i:i + kh, j:j + kw]
            out[i, j] = np.sum(window * kernel)
    return out
