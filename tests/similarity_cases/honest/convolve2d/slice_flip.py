def convolve2d(image, kernel):
    return correlate2d(image, np.asarray(kernel)[::-1, ::-1])
