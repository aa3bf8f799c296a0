#!/usr/bin/env python3
"""The convolution roofline of one stylize iteration (scripts/bench.sh): VGG19's
14 convolutions up to conv5_2, each timed alone through LibTorch's oneDNN (the
library Debian's python3-torch and libtorch-dev share), one forward and one
backward for the input's gradient (the weights need none), channels-last, as
stylize runs them: in bf16 conv1_1 is one bf16 convolution of 11 input
channels without a bias (the float32 image and its weights each split into two
bf16 parts, the bias carried by channels of ones: Vgg19Features::split_first_conv). Nothing else of an iteration is in it (ReLU, pooling, Gram matrices,
the optimizer), so an iteration cannot be faster than the sum.

    roofline.py --size 512 [--threads N] [--repeats 3] [--precisions bf16,fp32]   # prints one JSON line

A precision left out is null in the JSON (scripts/bench.sh leaves out bf16 on a
CPU without AMX or AVX512-BF16, where oneDNN emulates it dozens of times slower).
"""
import argparse
import ctypes
import json
import os
import time

import torch
import torch.nn.functional as F

# (name, input channels, output channels, downsampling of its input against the image)
CONVS = [("conv1_1", 3, 64, 1), ("conv1_2", 64, 64, 1),
         ("conv2_1", 64, 128, 2), ("conv2_2", 128, 128, 2),
         ("conv3_1", 128, 256, 4), ("conv3_2", 256, 256, 4), ("conv3_3", 256, 256, 4), ("conv3_4", 256, 256, 4),
         ("conv4_1", 256, 512, 8), ("conv4_2", 512, 512, 8), ("conv4_3", 512, 512, 8), ("conv4_4", 512, 512, 8),
         ("conv5_1", 512, 512, 16), ("conv5_2", 512, 512, 16)]


def time_layer(height, width, cin, cout, dtype, repeats, bias=True):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1, cin, height, width, generator=generator).to(dtype).contiguous(
        memory_format=torch.channels_last).requires_grad_(True)
    weight = (torch.randn(cout, cin, 3, 3, generator=generator) * 0.05).to(dtype).contiguous(
        memory_format=torch.channels_last)
    bias = torch.zeros(cout, dtype=dtype) if bias else None
    upstream = torch.randn(1, cout, height, width, generator=generator).to(dtype).contiguous(
        memory_format=torch.channels_last)
    times = []
    for _ in range(repeats + 1):  # the first builds oneDNN's primitives
        start = time.perf_counter()
        y = F.conv2d(x, weight, bias, padding=1)
        torch.autograd.grad(y, x, upstream)
        times.append(time.perf_counter() - start)
    steady = sorted(times[1:])
    return steady[len(steady) // 2]


def cpu_has_bf16():
    """AMX-BF16 or AVX512-BF16 in /proc/cpuinfo: oneDNN's native bf16 kernels."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = next((line.split(":", 1)[1].split() for line in cpuinfo if line.startswith("flags")), [])
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def keep_freed_memory():
    """What stylize does at its start (keep_freed_cpu_memory): glibc keeps freed
    buffers instead of giving them back, so a layer's output is not a fresh
    mapping whose pages fault in at every call (on an AMX CPU that made the
    bf16 convolutions alone time 1.5x what they take inside stylize)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-4, 0)   # M_MMAP_MAX
        libc.mallopt(-1, -1)  # M_TRIM_THRESHOLD
    except OSError:
        pass


def main():
    keep_freed_memory()
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--height", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--precisions", default="bf16,fp32")
    args = parser.parse_args()
    torch.set_num_threads(args.threads or os.cpu_count())
    height, width = args.height or args.size, args.size
    result = {"size": args.size, "height": height, "threads": torch.get_num_threads(),
              "cpu_bf16": cpu_has_bf16()}
    wanted = args.precisions.split(",")
    for precision, dtype in (("bf16", torch.bfloat16), ("fp32", torch.float32)):
        if precision not in wanted:
            result[precision] = None
            continue
        layers = {}
        for name, cin, cout, down in CONVS:
            if name == "conv1_1" and precision == "bf16":
                layers[name] = time_layer(height, width, 11, cout, dtype, args.repeats, bias=False)
            else:
                layers[name] = time_layer(height // down, width // down, cin, cout, dtype, args.repeats)
        result[precision] = {"seconds": sum(layers.values()), "layers": layers}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
