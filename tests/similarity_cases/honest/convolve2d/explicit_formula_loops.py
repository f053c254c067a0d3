def convolve2d(image, kernel):
    # h[m, n] = sum_k sum_l f[k, l] I[m - k, n - l], written out with the flipped index
    img = np.asarray(image, dtype=float)
    ker = np.asarray(kernel, dtype=float)
    if img.ndim != 2 or ker.ndim != 2:
        raise ValueError("convolve2d takes 2-D arrays")
    kh, kw = ker.shape
    if kh > img.shape[0] or kw > img.shape[1]:
        raise ValueError("kernel larger than image")
    out = np.zeros((img.shape[0] - kh + 1, img.shape[1] - kw + 1))
    for m in range(out.shape[0]):
        for n in range(out.shape[1]):
            s = 0.0
            for k in range(kh):
                for l in range(kw):
                    s += ker[k, l] * img[m + kh - 1 - k, n + kw - 1 - l]
            out[m, n] = s
    return out
