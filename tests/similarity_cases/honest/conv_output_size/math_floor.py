def conv_output_size(n, kernel_size, stride=1, padding=0):
    import math
    padded = n + padding * 2
    if padded < kernel_size:
        raise ValueError("the kernel must fit in the padded input")
    return math.floor((padded - kernel_size) / stride) + 1
