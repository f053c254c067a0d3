def correlate2d(image, kernel):
    """Valid 2-D correlation of a 2-D ``image`` with a 2-D ``kernel`` (no kernel flip)."""
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if not (image.ndim == 2 and kernel.ndim == 2):
        raise ValueError("correlate2d works on 2-D arrays only")
    if kernel.shape[0] > image.shape[0] or kernel.shape[1] > image.shape[1]:
        raise ValueError("kernel must fit inside the image")
    # all kh x kw windows at once: shape (out_h, out_w, kh, kw)
    views = np.lib.stride_tricks.sliding_window_view(image, kernel.shape)
    return np.einsum("ijkl,kl->ij", views, kernel)
