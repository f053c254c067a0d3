def convolve2d(image, kernel):
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if kernel.ndim != 2 or image.ndim != 2:
        raise ValueError("2-D arrays only, please")
    KH, KW = kernel.shape
    R = image.shape[0] - KH + 1
    C = image.shape[1] - KW + 1
    if R < 1 or C < 1:
        raise ValueError("the kernel is too large")
    result = np.zeros((R, C))
    for r in range(R):
        for c in range(C):
            for a in range(KH):
                for d in range(KW):
                    # the flipped kernel tap times the image pixel
                    result[r, c] += kernel[KH - 1 - a, KW - 1 - d] * image[r + a, c + d]
    return result
