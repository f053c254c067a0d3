def convolve2d(image, kernel):
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError("only 2-D")
    kh, kw = kernel.shape
    rows, cols = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    if rows < 1 or cols < 1:
        raise ValueError("kernel too large")
    out = np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            for u in range(kh):
                for t in range(kw):
                    out[i, j] += kernel[kh - 1 - u, kw - 1 - t] * image[i + u, j + t]
    return out
