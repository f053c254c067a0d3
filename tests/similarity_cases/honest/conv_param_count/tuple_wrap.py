def conv_param_count(in_channels, out_channels, kernel_size, bias=True):
    ks = tuple(np.atleast_1d(kernel_size))
    if len(ks) == 1:
        ks = ks * 2
    n = out_channels * in_channels
    for side in ks:
        n *= int(side)
    return n + out_channels * bias
