def correlate2d(image, kernel):
    """Valid 2-D correlation of a 2-D ``image`` with a 2-D ``kernel`` (no kernel flip)."""
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    # make sure we got matrices
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D, got shape {image.shape}")
    if kernel.ndim != 2:
        raise ValueError(f"kernel must be 2-D, got shape {kernel.shape}")
    if 0 in kernel.shape:
        raise ValueError(f"empty kernel: {kernel.shape}")
    fh, fw = kernel.shape
    if fw > image.shape[1] or fh > image.shape[0]:
        raise ValueError(f"kernel {kernel.shape} bigger than image {image.shape}")
    # every fh x fw patch of the picture, as a view (out_h, out_w, fh, fw)
    patches = np.lib.stride_tricks.sliding_window_view(image, (fh, fw))
    result = np.einsum("abcd,cd->ab", patches, kernel)
    return result
