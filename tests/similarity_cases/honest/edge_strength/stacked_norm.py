def edge_strength(image):
    responses = np.stack([correlate2d(image, k) for k in (filters.sobel_x(), filters.sobel_y())])
    return np.linalg.norm(responses, axis=0)
