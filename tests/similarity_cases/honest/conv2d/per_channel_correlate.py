def conv2d(x, w, b=None, stride=1, padding=0):
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError("both arrays must have four axes")
    if x.shape[1] != w.shape[1]:
        raise ValueError("channels of x and w differ")
    if stride < 1 or padding < 0:
        raise ValueError("stride must be >= 1, padding >= 0")
    if padding > 0:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    maps = []
    for sample in x:
        per_filter = []
        for k, filt in enumerate(w):
            # the layer is a sum of 2-D correlations, one per input channel
            total = sum(correlate2d(sample[ch], filt[ch]) for ch in range(x.shape[1]))
            if b is not None:
                total = total + b[k]
            per_filter.append(total[::stride, ::stride])
        maps.append(per_filter)
    return np.array(maps, dtype=float)
