def convolve2d(image, kernel):
    """Valid 2-D convolution: correlation with the kernel rotated by 180 degrees."""
    img = np.asarray(image, dtype=float)
    ker = np.asarray(kernel, dtype=float)
    if img.ndim != 2 or ker.ndim != 2:
        raise ValueError("2-D inputs required")
    kh, kw = ker.shape
    if kh > img.shape[0] or kw > img.shape[1]:
        raise ValueError("kernel larger than image")
    out = np.zeros((img.shape[0] - kh + 1, img.shape[1] - kw + 1))
    # convolution: the kernel index runs backwards, f[kh-1-k, kw-1-l]
    for m in range(out.shape[0]):
        for n in range(out.shape[1]):
            s = 0.0
            for k in range(kh):
                for l in range(kw):
                    s += ker[kh - 1 - k, kw - 1 - l] * img[m + k, n + l]
            out[m, n] = s
    return out
