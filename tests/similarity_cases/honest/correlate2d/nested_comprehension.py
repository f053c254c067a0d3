def correlate2d(image, kernel):
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError("image and kernel must both be matrices")
    kr, kc = kernel.shape
    if image.shape[0] < kr or image.shape[1] < kc:
        raise ValueError("kernel does not fit in the image")
    return np.array([[np.vdot(kernel, image[i:i + kr, j:j + kc])
                      for j in range(image.shape[1] - kc + 1)]
                     for i in range(image.shape[0] - kr + 1)])
