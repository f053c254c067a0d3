def conv_param_count(in_channels, out_channels, kernel_size, bias=True):
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    weights = in_channels * out_channels * kernel_size[0] * kernel_size[1]
    biases = out_channels if bias else 0
    return weights + biases
