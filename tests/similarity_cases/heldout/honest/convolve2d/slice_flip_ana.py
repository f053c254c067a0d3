def convolve2d(image, kernel):
    """Valid 2-D convolution: correlation with the kernel rotated by 180 degrees."""
    kernel = np.asarray(kernel, dtype=float)
    if kernel.ndim != 2:
        raise ValueError("kernel must be 2-D")
    # rotate the kernel by 180 degrees (flip rows and columns), then correlate
    flipped = kernel[::-1, ::-1]
    return correlate2d(image, flipped)
