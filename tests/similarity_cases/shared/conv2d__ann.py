def conv2d(x, w, b=None, stride=1, padding=0):
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError("need 4-D x and w")
    if x.shape[1] != w.shape[1]:
        raise ValueError("channels differ")
    if stride < 1 or padding < 0:
        raise ValueError("bad stride or padding")
    n, c, h, wid = x.shape
    f, _, kh, kw = w.shape
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (wid + 2 * padding - kw) // stride + 1
    if oh <= 0 or ow <= 0:
        raise ValueError("kernel does not fit")
    xp = np.zeros((n, c, h + 2 * padding, wid + 2 * padding))
    xp[:, :, padding:padding + h, padding:padding + wid] = x
    wmat = w.reshape(f, -1)
    out = np.zeros((n, f, oh, ow))
    for i in range(oh):
        for j in range(ow):
            cols = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw].reshape(n, -1)
            out[:, :, i, j] = cols @ wmat.T
    if b is not None:
        out += np.asarray(b).reshape(1, f, 1, 1)
    return out
