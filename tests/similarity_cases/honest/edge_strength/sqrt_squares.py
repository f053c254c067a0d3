def edge_strength(image):
    g_h = correlate2d(image, filters.sobel_x())
    g_v = correlate2d(image, filters.sobel_y())
    return np.sqrt(g_h * g_h + g_v * g_v)
