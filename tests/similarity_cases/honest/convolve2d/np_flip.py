def convolve2d(image, kernel):
    kernel = np.asarray(kernel, dtype=float)
    if kernel.ndim != 2:
        raise ValueError("kernel must be a 2-D array")
    flipped = np.flip(kernel)   # both axes
    return correlate2d(image, flipped)
