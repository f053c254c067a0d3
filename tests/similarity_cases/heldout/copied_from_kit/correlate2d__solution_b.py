def correlate2d(image, kernel):
    """Valid 2-D correlation of a 2-D ``image`` with a 2-D ``kernel`` (no kernel flip)."""
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError(
            f"image and kernel have to be 2-D (shapes {image.shape}, {kernel.shape})"
        )
    kernel_h = kernel.shape[0]
    kernel_w = kernel.shape[1]
    h_out = image.shape[0] - kernel_h + 1
    w_out = image.shape[1] - kernel_w + 1
    if w_out < 1 or h_out < 1:
        raise ValueError(f"kernel {kernel.shape} doesn't fit in image {image.shape}")
    h = np.zeros((h_out, w_out))
    for y in range(h_out):
        for x in range(w_out):
            window = image[y:y + kernel_h, x:x + kernel_w]
            h[y, x] = np.sum(kernel * window)
    return h
