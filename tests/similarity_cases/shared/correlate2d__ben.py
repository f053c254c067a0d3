def correlate2d(image, kernel):
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    # Ben: checks first
    if kernel.ndim != 2 or image.ndim != 2:
        raise ValueError("2-D arrays only, please")
    KH, KW = kernel.shape
    IH, IW = image.shape
    if KW > IW or KH > IH:
        raise ValueError("the kernel is too large")
    kvec = kernel.reshape(-1)
    result = np.zeros((IH - KH + 1) * (IW - KW + 1))
    pos = 0
    for r in range(IH - KH + 1):
        for c in range(IW - KW + 1):
            result[pos] = image[r:r + KH, c:c + KW].reshape(-1) @ kvec   # dot product of patch and kernel
            pos += 1
    return result.reshape(IH - KH + 1, IW - KW + 1)
