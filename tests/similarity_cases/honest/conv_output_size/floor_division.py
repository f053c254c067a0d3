def conv_output_size(n, kernel_size, stride=1, padding=0):
    if kernel_size > n + 2 * padding:
        raise ValueError(f"kernel {kernel_size} is larger than the padded input {n + 2 * padding}")
    return (n + 2 * padding - kernel_size) // stride + 1
