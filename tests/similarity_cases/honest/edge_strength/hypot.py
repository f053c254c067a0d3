def edge_strength(image):
    horizontal = correlate2d(image, filters.sobel_x())
    vertical = correlate2d(image, filters.sobel_y())
    return np.hypot(horizontal, vertical)
