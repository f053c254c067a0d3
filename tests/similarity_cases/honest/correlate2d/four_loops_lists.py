def correlate2d(image, kernel):
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if image.ndim != 2:
        raise ValueError("image must be 2-D")
    if kernel.ndim != 2:
        raise ValueError("kernel must be 2-D")
    H, W = image.shape
    kH, kW = kernel.shape
    if kH > H or kW > W:
        raise ValueError("kernel larger than image")
    out = []
    for y in range(H - kH + 1):
        row = []
        for x in range(W - kW + 1):
            acc = 0.0
            for a in range(kH):
                for b in range(kW):
                    acc += kernel[a, b] * image[y + a, x + b]
            row.append(acc)
        out.append(row)
    return np.array(out)
