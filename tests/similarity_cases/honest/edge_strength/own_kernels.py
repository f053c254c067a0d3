def edge_strength(image):
    sx = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float)
    sy = sx.T
    dx = correlate2d(image, sx)
    dy = correlate2d(image, sy)
    return (dx * dx + dy * dy) ** 0.5
