def correlate2d(image, kernel):
    """Valid 2-D correlation of a 2-D ``image`` with a 2-D ``kernel`` (no kernel flip)."""
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if image.ndim != 2:
        raise ValueError("image is not 2-D")
    if kernel.ndim != 2:
        raise ValueError("kernel is not 2-D")
    img_h, img_w = image.shape
    k_h, k_w = kernel.shape
    n_rows, n_cols = img_h - k_h + 1, img_w - k_w + 1
    if n_rows < 1 or n_cols < 1:
        raise ValueError("kernel bigger than image")
    # one row per output position, holding the flattened patch
    patches = np.array([image[a:a + k_h, b:b + k_w].flatten()
                        for a in range(n_rows) for b in range(n_cols)])
    values = patches.dot(kernel.flatten())
    return values.reshape(n_rows, n_cols)
