def conv_param_count(in_channels, out_channels, kernel_size, bias=True):
    window = np.broadcast_to(np.asarray(kernel_size), (2,))
    total = int(np.prod(window)) * in_channels * out_channels
    if bias:
        total += out_channels
    return total
