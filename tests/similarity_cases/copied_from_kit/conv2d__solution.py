# the instructor's conv2d (solutions/a1_convolution) with renamed variables and reordered set-up
def conv2d(x, w, b=None, stride=1, padding=0):
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if stride < 1 or padding < 0:
        raise ValueError("invalid stride or padding")
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError("4-D arrays expected")
    if x.shape[1] != w.shape[1]:
        raise ValueError("channels differ")
    nf, _, fh, fw = w.shape
    nb, _, ih, iw = x.shape
    oh = (ih + 2 * padding - fh) // stride + 1
    ow = (iw + 2 * padding - fw) // stride + 1
    if oh < 1 or ow < 1:
        raise ValueError("kernel does not fit")
    xpad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    y = np.zeros((nb, nf, oh, ow))
    for i0 in range(nb):
        for i1 in range(nf):
            for i2 in range(oh):
                for i3 in range(ow):
                    patch = xpad[i0, :, i2 * stride:i2 * stride + fh, i3 * stride:i3 * stride + fw]
                    y[i0, i1, i2, i3] = np.sum(patch * w[i1])
    if b is not None:
        y += np.asarray(b, dtype=float).reshape(1, -1, 1, 1)
    return y
