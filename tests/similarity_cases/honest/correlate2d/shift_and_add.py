def correlate2d(image, kernel):
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    # every tap of the kernel multiplies a shifted copy of the image
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError("expected 2-D image and kernel")
    kh, kw = kernel.shape
    oh = image.shape[0] - kh + 1
    ow = image.shape[1] - kw + 1
    if oh < 1 or ow < 1:
        raise ValueError("kernel does not fit")
    total = np.zeros((oh, ow))
    for i in range(kh):
        for j in range(kw):
            total += kernel[i, j] * image[i:i + oh, j:j + ow]
    return total
