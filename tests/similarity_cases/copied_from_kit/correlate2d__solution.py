# the instructor's correlate2d (solutions/a1_convolution), renamed, checks swapped, comments added
def correlate2d(image, kernel):
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if kernel.ndim != 2 or image.ndim != 2:
        raise ValueError("2-D inputs are required")
    rows_k, cols_k = kernel.shape
    # size of the valid output
    rows_o, cols_o = image.shape[0] - rows_k + 1, image.shape[1] - cols_k + 1
    if rows_o < 1 or cols_o < 1:
        raise ValueError("kernel too big for the image")
    res = np.zeros((rows_o, cols_o))
    for a in range(rows_o):
        for bb in range(cols_o):
            # weighted sum of the patch under the kernel
            res[a, bb] = np.sum(kernel * image[a:a + rows_k, bb:bb + cols_k])
    return res
