def correlate2d(image, kernel):
    """Valid 2-D correlation of a 2-D ``image`` with a 2-D ``kernel`` (no kernel flip)."""
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    # both have to be matrices
    if image.ndim != 2:
        raise ValueError("image must be a 2-D array")
    if kernel.ndim != 2:
        raise ValueError("kernel must be a 2-D array")
    img_rows, img_cols = image.shape
    ker_rows, ker_cols = kernel.shape
    if ker_rows > img_rows or ker_cols > img_cols:
        raise ValueError("kernel is bigger than the image")

    n_out_rows = img_rows - ker_rows + 1
    n_out_cols = img_cols - ker_cols + 1
    output = np.zeros((n_out_rows, n_out_cols))
    for row in range(n_out_rows):
        for col in range(n_out_cols):
            # element-wise product of the kernel and the piece of image under it, then add everything
            piece = image[row:row + ker_rows, col:col + ker_cols]
            output[row, col] = (kernel * piece).sum()
    return output
