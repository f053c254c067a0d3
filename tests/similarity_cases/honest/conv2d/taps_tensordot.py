def conv2d(x, w, b=None, stride=1, padding=0):
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if w.ndim != 4:
        raise ValueError("w must be 4-D")
    if x.ndim != 4:
        raise ValueError("x must be 4-D")
    if x.shape[1] != w.shape[1]:
        raise ValueError("x and w disagree on the channels")
    if padding < 0 or stride < 1:
        raise ValueError("padding must be >= 0 and stride >= 1")
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    kh, kw = w.shape[-2:]
    span_h = x.shape[2] - kh
    span_w = x.shape[3] - kw
    if span_h < 0 or span_w < 0:
        raise ValueError("kernel larger than padded image")
    acc = 0.0
    # one tap (dy, dx) of all filters at a time, over all output positions at once
    for dy in range(kh):
        for dx in range(kw):
            shifted = x[:, :, dy:dy + span_h + 1:stride, dx:dx + span_w + 1:stride]
            acc = acc + np.tensordot(w[:, :, dy, dx], shifted, axes=([1], [1])).transpose(1, 0, 2, 3)
    if b is not None:
        acc = acc + np.reshape(b, (1, -1, 1, 1))
    return acc
