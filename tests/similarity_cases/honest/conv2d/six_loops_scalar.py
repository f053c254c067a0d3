def conv2d(x, w, b=None, stride=1, padding=0):
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError("x and w must be 4-D")
    N, C, H, W = x.shape
    F, Cw, KH, KW = w.shape
    if C != Cw:
        raise ValueError("channel mismatch")
    if stride <= 0 or padding < 0:
        raise ValueError("bad stride or padding")
    Hp, Wp = H + 2 * padding, W + 2 * padding
    if KH > Hp or KW > Wp:
        raise ValueError("kernel does not fit")
    padded = np.zeros((N, C, Hp, Wp))
    padded[:, :, padding:padding + H, padding:padding + W] = x
    Ho = (Hp - KH) // stride + 1
    Wo = (Wp - KW) // stride + 1
    y = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for oy in range(Ho):
                for ox in range(Wo):
                    s = 0.0 if b is None else float(b[f])
                    for c in range(C):
                        for ky in range(KH):
                            for kx in range(KW):
                                s += w[f, c, ky, kx] * padded[n, c, oy * stride + ky, ox * stride + kx]
                    y[n, f, oy, ox] = s
    return y
