def edge_strength(image):
    # Sobel = smoothing [1, 2, 1] times the central difference [-1, 0, 1]
    smooth = np.array([1.0, 2.0, 1.0])
    diff = np.array([-1.0, 0.0, 1.0])
    g_cols = correlate2d(image, np.outer(smooth, diff))
    g_rows = correlate2d(image, np.outer(diff, smooth))
    magnitude = np.sqrt(np.square(g_cols) + np.square(g_rows))
    return magnitude
