def correlate2d(image, kernel):
    """Valid 2-D correlation of a 2-D ``image`` with a 2-D ``kernel`` (no kernel flip)."""
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError("inputs must be 2-D")
    if kernel.shape[0] > image.shape[0] or kernel.shape[1] > image.shape[1]:
        raise ValueError("kernel larger than image")
    kr, kc = kernel.shape
    # weighted sum of the patch starting at (r, c) for every r, c
    return np.array([[np.sum(kernel * image[r:r + kr, c:c + kc])
                      for c in range(image.shape[1] - kc + 1)]
                     for r in range(image.shape[0] - kr + 1)])
