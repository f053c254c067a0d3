def correlate2d(image, kernel):
    """Valid 2-D correlation of a 2-D ``image`` with a 2-D ``kernel`` (no kernel flip)."""
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if kernel.ndim != 2 or image.ndim != 2:
        raise ValueError("need 2-D arrays")
    if any(k > n for k, n in zip(kernel.shape, image.shape)):
        raise ValueError("kernel larger than image")
    oh = image.shape[0] - kernel.shape[0] + 1
    ow = image.shape[1] - kernel.shape[1] + 1
    acc = np.zeros((oh, ow))
    # instead of sliding the kernel, slide the image: each kernel weight multiplies a shifted
    # copy of the image, and the shifted copies are added up
    for dy in range(kernel.shape[0]):
        for dx in range(kernel.shape[1]):
            acc += kernel[dy, dx] * image[dy:dy + oh, dx:dx + ow]
    return acc
