def convolve2d(image, kernel):
    """Valid 2-D convolution: correlation with the kernel rotated by 180 degrees."""
    k = np.asarray(kernel, dtype=float)
    if k.ndim != 2:
        raise ValueError(f"the kernel has to be 2-D, got {k.shape}")
    # flip both axes = 180 degree rotation
    return correlate2d(image, k[::-1, ::-1])
