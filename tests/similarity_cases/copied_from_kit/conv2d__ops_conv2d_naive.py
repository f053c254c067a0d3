# cnnkit.ops.conv.conv2d_naive without dilation and groups, its argument checks written inline, renamed
def conv2d(x, w, b=None, stride=1, padding=0):
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError("x and w need 4 dimensions")
    if w.shape[1] != x.shape[1]:
        raise ValueError(f"channel mismatch: input has {x.shape[1]}, weights {w.shape[1]}")
    if stride < 1 or padding < 0:
        raise ValueError("stride/padding out of range")
    height = (x.shape[2] + 2 * padding - w.shape[2]) // stride + 1
    width = (x.shape[3] + 2 * padding - w.shape[3]) // stride + 1
    if height < 1 or width < 1:
        raise ValueError("kernel does not fit")
    batch = x.shape[0]
    n_filt, per_grp, fh, fw = w.shape
    # pad only the two spatial axes
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    result = np.zeros((batch, n_filt, height, width), dtype=x.dtype)
    for s in range(batch):
        for k in range(n_filt):
            chans = slice(0, per_grp)
            for y in range(height):
                for z in range(width):
                    top, lft = y * stride, z * stride          # corner of the window
                    window = padded[s, chans, top:top + fh, lft:lft + fw]
                    result[s, k, y, z] = np.sum(window * w[k])
            if b is not None:
                result[s, k] += b[k]
    return result
