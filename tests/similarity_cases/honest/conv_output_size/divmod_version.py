def conv_output_size(n, kernel_size, stride=1, padding=0):
    q, _ = divmod(n - kernel_size + 2 * padding, stride)
    if n + 2 * padding - kernel_size < 0:
        raise ValueError("kernel_size too large for n and padding")
    return q + 1
