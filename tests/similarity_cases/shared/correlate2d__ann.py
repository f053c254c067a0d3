def correlate2d(image, kernel):
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError("only 2-D")
    ih, iw = image.shape
    kh, kw = kernel.shape
    if kh > ih or kw > iw:
        raise ValueError("kernel too large")
    flat_k = kernel.reshape(-1)
    out = np.zeros((ih - kh + 1) * (iw - kw + 1))
    idx = 0
    for top in range(ih - kh + 1):
        for left in range(iw - kw + 1):
            out[idx] = image[top:top + kh, left:left + kw].reshape(-1) @ flat_k
            idx += 1
    return out.reshape(ih - kh + 1, iw - kw + 1)
