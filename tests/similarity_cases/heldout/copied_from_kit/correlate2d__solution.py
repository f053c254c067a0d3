def correlate2d(image, kernel):
    """Valid 2-D correlation of a 2-D ``image`` with a 2-D ``kernel`` (no kernel flip)."""
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    # only 2D arrays allowed
    if kernel.ndim != 2 or image.ndim != 2:
        raise ValueError(f"expected 2-D image and kernel, got {image.shape} and {kernel.shape}")
    fh, fw = kernel.shape
    rows = image.shape[0] - fh + 1
    cols = image.shape[1] - fw + 1
    if (rows < 1) or (cols < 1):
        raise ValueError(f"kernel {kernel.shape} is too big for image {image.shape}")
    result = np.zeros((rows, cols))
    # slide the filter over every valid position
    for r in range(rows):
        for c in range(cols):
            result[r, c] = np.sum(kernel * image[r:(r + fh), c:(c + fw)])
    return result
