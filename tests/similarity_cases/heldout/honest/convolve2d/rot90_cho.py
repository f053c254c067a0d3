def convolve2d(image, kernel):
    """Valid 2-D convolution: correlation with the kernel rotated by 180 degrees."""
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError("convolve2d expects 2-D image and kernel")
    rotated = np.rot90(kernel, k=2)   # two quarter turns = 180 degrees
    result = correlate2d(image, rotated)
    return result
