def convolve2d(image, kernel):
    k = np.asarray(kernel, dtype=float)
    if k.ndim != 2:
        raise ValueError(f"kernel should be 2-D, not {k.ndim}-D")
    return correlate2d(image, np.flipud(np.fliplr(k)))
