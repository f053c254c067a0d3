def correlate2d(image, kernel):
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if kernel.ndim != 2 or image.ndim != 2:
        raise ValueError("correlate2d needs two 2-D arrays")
    rows = image.shape[0] - kernel.shape[0] + 1
    cols = image.shape[1] - kernel.shape[1] + 1
    if min(rows, cols) <= 0:
        raise ValueError("the kernel is bigger than the image")
    result = np.empty((rows, cols))
    for r in range(rows):
        for c in range(cols):
            patch = image[r:r + kernel.shape[0], c:c + kernel.shape[1]]
            result[r, c] = (patch * kernel).sum()
    return result
