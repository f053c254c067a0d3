def convolve2d(image, kernel):
    kernel = np.asarray(kernel, dtype=float)
    if kernel.ndim != 2:
        raise ValueError("need a 2-D kernel")
    rows = np.arange(kernel.shape[0])[::-1]
    cols = np.arange(kernel.shape[1])[::-1]
    return correlate2d(image, kernel[np.ix_(rows, cols)])
