def conv_param_count(in_channels, out_channels, kernel_size, bias=True):
    # one filter holds in_channels x kH x kW weights, plus one bias
    try:
        height, width = kernel_size
    except TypeError:
        height = width = kernel_size
    per_filter = in_channels * height * width + int(bool(bias))
    return per_filter * out_channels
