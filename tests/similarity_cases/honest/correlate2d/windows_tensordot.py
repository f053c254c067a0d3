def correlate2d(image, kernel):
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if kernel.ndim != 2 or image.ndim != 2:
        raise ValueError(f"need 2-D arrays, got {image.ndim}-D and {kernel.ndim}-D")
    if any(k > s for k, s in zip(kernel.shape, image.shape)):
        raise ValueError("kernel must fit inside the image")
    windows = np.lib.stride_tricks.sliding_window_view(image, kernel.shape)
    return np.tensordot(windows, kernel, axes=([2, 3], [0, 1]))
