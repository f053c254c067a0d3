def convolve2d(image, kernel):
    """Valid 2-D convolution: correlation with the kernel rotated by 180 degrees."""
    return correlate2d(image, np.flip(np.asarray(kernel, dtype=float)))
