def conv_param_count(in_channels, out_channels, kernel_size, bias=True):
    size = (kernel_size,) * 2 if np.ndim(kernel_size) == 0 else tuple(kernel_size)
    return size[0] * size[1] * in_channels * out_channels + bias * out_channels
