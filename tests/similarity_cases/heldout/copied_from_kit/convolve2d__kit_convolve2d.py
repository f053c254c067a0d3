def convolve2d(image, kernel):
    """Valid 2-D convolution: correlation with the kernel rotated by 180 degrees."""
    # h[m, n] = sum f[k, l] * I[m - k, n - l]  ->  same as correlating with f turned around
    filt = np.asarray(kernel, dtype=float)
    if filt.ndim != 2:
        raise ValueError(f"kernel must be 2-D, got shape {filt.shape}")
    turned = filt[::-1, ::-1]
    return correlate2d(image, turned)
