# cnnkit.ops.conv.conv2d (im2col and one matmul) for one group and no blocking, _im2col inlined
def conv2d(x, w, b=None, stride=1, padding=0):
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if x.ndim != 4 or w.ndim != 4 or x.shape[1] != w.shape[1]:
        raise ValueError("shapes do not match")
    if stride < 1 or padding < 0:
        raise ValueError("bad stride or padding")
    N, Cin, H, Wd = x.shape
    Cout, Cg, KH, KW = w.shape
    OH = (H + 2 * padding - KH) // stride + 1
    OW = (Wd + 2 * padding - KW) // stride + 1
    if OH < 1 or OW < 1:
        raise ValueError("kernel too large")
    out = np.empty((N, Cout, OH, OW), dtype=x.dtype)
    weights = w.reshape(1, Cout, Cg * KH * KW)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    # a strided view names every patch, one copy turns them into columns
    s_n, s_c, s_h, s_w = xp.strides
    shape = (1, Cg, KH, KW, N, OH, OW)
    strides = (Cg * s_c, s_c, s_h, s_w, s_n, stride * s_h, stride * s_w)
    view = np.lib.stride_tricks.as_strided(xp, shape=shape, strides=strides, writeable=False)
    columns = np.ascontiguousarray(view).reshape(1, Cg * KH * KW, N * OH * OW)
    prod = np.matmul(weights, columns)
    out[:, :, :, :] = prod.reshape(Cout, N, OH, OW).transpose(1, 0, 2, 3)
    if b is not None:
        out += np.asarray(b, dtype=float)[:, None, None]
    return out
