def correlate2d(image, kernel):
    """Valid 2-D correlation of a 2-D ``image`` with a 2-D ``kernel`` (no kernel flip)."""
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    # check the inputs are 2d
    if kernel.ndim != 2:
        raise ValueError("kernel has to be 2D")
    if image.ndim != 2:
        raise ValueError("image has to be 2D")
    kr, kc = kernel.shape
    ir, ic = image.shape
    if kr > ir or kc > ic:
        raise ValueError("kernel does not fit in image")

    out_cols = ic - kc + 1
    out_rows = ir - kr + 1
    res = np.zeros((out_rows, out_cols))
    for r in range(out_rows):
        for c in range(out_cols):
            sub = image[r:r + kr, c:c + kc]     # the window under the kernel
            res[r, c] = (kernel * sub).sum()    # multiply and add up
    return res
