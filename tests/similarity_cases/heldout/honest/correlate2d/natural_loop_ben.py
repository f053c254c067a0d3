def correlate2d(image, kernel):
    """Valid 2-D correlation of a 2-D ``image`` with a 2-D ``kernel`` (no kernel flip)."""
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    # check the input first
    if len(image.shape) != 2:
        raise ValueError(f"image should be 2D, got shape {image.shape}")
    if len(kernel.shape) != 2:
        raise ValueError(f"kernel should be 2D, got shape {kernel.shape}")
    rows, cols = image.shape[0], image.shape[1]
    krows, kcols = kernel.shape[0], kernel.shape[1]
    if krows > rows or kcols > cols:
        raise ValueError("the kernel does not fit in the image")

    result = np.empty((rows - krows + 1, cols - kcols + 1), dtype=float)
    flat_kernel = kernel.ravel()
    for r in range(result.shape[0]):
        for c in range(result.shape[1]):
            patch = image[r:r + krows, c:c + kcols]
            result[r, c] = patch.ravel() @ flat_kernel   # dot product of the patch and the kernel
    return result
