def conv_output_size(n, kernel_size, stride=1, padding=0):
    # count the left edges at which the window still fits
    last_start = n + 2 * padding - kernel_size
    if last_start < 0:
        raise ValueError("no window fits")
    return len(range(0, last_start + 1, stride))
