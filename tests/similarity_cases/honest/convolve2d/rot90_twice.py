def convolve2d(image, kernel):
    rotated = np.rot90(np.asarray(kernel, dtype=float), 2)
    return correlate2d(image, rotated)
