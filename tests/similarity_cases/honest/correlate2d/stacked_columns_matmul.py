def correlate2d(image, kernel):
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError("2-D only")
    (h, w), (p, q) = image.shape, kernel.shape
    if p > h or q > w:
        raise ValueError("kernel too large")
    n_rows, n_cols = h - p + 1, w - q + 1
    columns = np.stack([image[a:a + n_rows, b:b + n_cols].ravel() for a in range(p) for b in range(q)], axis=1)
    return (columns @ kernel.ravel()).reshape(n_rows, n_cols)
