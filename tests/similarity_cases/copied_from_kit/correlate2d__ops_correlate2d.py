# cnnkit.ops.conv.correlate2d, the "valid" mode kept, the kit's helpers replaced by numpy, names changed
def correlate2d(image, kernel):
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError("both inputs have to be 2-D")
    if kernel.shape[0] == 0 or kernel.shape[1] == 0:
        raise ValueError(f"the filter is empty: {kernel.shape}")
    dt = np.result_type(image, kernel)
    fh, fw = kernel.shape
    # the filter has to lie wholly inside the picture
    if fh > image.shape[0] or fw > image.shape[1]:
        raise ValueError(f"filter {kernel.shape} bigger than picture {image.shape}")
    src = image
    patches = np.lib.stride_tricks.sliding_window_view(src, (fh, fw))  # no copy, just a view
    return np.einsum("ijkl,kl->ij", patches, kernel).astype(dt, copy=False)
