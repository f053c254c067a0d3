def correlate2d(image, kernel):
    """Valid 2-D correlation of a 2-D ``image`` with a 2-D ``kernel`` (no kernel flip)."""
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)

    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError("Both inputs have to be two-dimensional.")
    height = image.shape[0]
    width = image.shape[1]
    fh = kernel.shape[0]
    fw = kernel.shape[1]
    if fh > height or fw > width:
        raise ValueError("Kernel does not fit into the image.")

    h = np.zeros((height - fh + 1, width - fw + 1))
    for m in range(height - fh + 1):
        for n in range(width - fw + 1):
            total = 0.0
            for k in range(fh):
                for l in range(fw):
                    total += kernel[k, l] * image[m + k, n + l]
            h[m, n] = total
    return h
