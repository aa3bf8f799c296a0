#!/usr/bin/env python3
"""Makes the small test fixtures in tests/fixtures/ (deterministic; numpy only).

- vgg19_tiny.safetensors: a VGG19 with the exact key names and tensor layout of
  torchvision's vgg19().features (features.0.weight ... features.34.bias, conv
  weights (out, in, 3, 3)) and timm's metadata, plus a classifier tensor that
  readers must ignore, but only a few channels per layer.
- dtypes.safetensors: the same small tensor stored as F32, F16, BF16 and F64.
- parity_images.safetensors: a 32x32 content and style image, (1, 3, 32, 32) in [0, 1].
- vgg19_tiny_rescaled.safetensors: vgg19_tiny with each layer's filters scaled by
  a_l in [0.3, 3] and its bias by the running product a_1...a_l, so every
  feature map is c_l = a_1...a_l times vgg19_tiny's (exact for ReLU, pooling and
  zero padding): normalized loss units must not see the difference. The
  factors are in the metadata (stylize.rescale_factors).

Run: python3 scripts/make_fixtures.py  (then scripts/reference_pytorch.py --golden)

  make_fixtures.py --full-size PATH   writes a full-width VGG19 (64 ... 512
  channels, about 80 MB) with random weights from a fixed seed, for benchmarks
  when the real weights are absent. Never commit it.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")

# Index of each conv in torchvision's vgg19().features and its tiny width.
TORCHVISION_INDEX = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
TINY_WIDTHS = [4, 4, 6, 6, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8]


FULL_WIDTHS = [64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512]


def tiny_vgg19(rng, widths=TINY_WIDTHS):
    tensors, in_channels = {}, 3
    for index, out_channels in zip(TORCHVISION_INDEX, widths):
        std = np.sqrt(2.0 / (in_channels * 9))  # He initialization keeps activations alive
        tensors[f"features.{index}.weight"] = rng.normal(0, std, (out_channels, in_channels, 3, 3)).astype(np.float32)
        tensors[f"features.{index}.bias"] = rng.normal(0, 0.05, (out_channels,)).astype(np.float32)
        in_channels = out_channels
    tensors["classifier.6.bias"] = rng.normal(0, 1, (10,)).astype(np.float32)  # ignored by readers
    return tensors


def pattern(rng, size, phase):
    y, x = np.mgrid[0:size, 0:size] / size
    channels = [0.5 + 0.4 * np.sin(2 * np.pi * (k + 1) * (x * np.cos(phase + k) + y * np.sin(phase + k)))
                for k in range(3)]
    image = np.stack(channels)[None] + rng.normal(0, 0.05, (1, 3, size, size))
    return np.clip(image, 0, 1).astype(np.float32)


def rescaled(tensors, seed=11):
    """A copy with per-layer filter scales a_l in [0.3, 3] and biases scaled by the running product."""
    factors = np.exp(np.random.default_rng(seed).uniform(np.log(0.3), np.log(3.0), len(TORCHVISION_INDEX)))
    out, product = dict(tensors), 1.0
    for index, a in zip(TORCHVISION_INDEX, factors):
        product *= a
        out[f"features.{index}.weight"] = (tensors[f"features.{index}.weight"].astype(np.float64) * a).astype(np.float32)
        out[f"features.{index}.bias"] = (tensors[f"features.{index}.bias"].astype(np.float64) * product).astype(np.float32)
    return out, factors


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full-size", metavar="PATH", help="write a full-width random VGG19 to PATH and stop")
    args = parser.parse_args()
    if args.full_size:
        tensors = tiny_vgg19(np.random.default_rng(19), FULL_WIDTHS)
        safetensors_io.save(args.full_size, tensors, {"format": "pt", "stylize.note": "random weights, benchmarks only"})
        print(f"wrote {args.full_size}: {os.path.getsize(args.full_size) / 2**20:.1f} MiB")
        return
    os.makedirs(FIXTURES, exist_ok=True)
    rng = np.random.default_rng(20261121)
    tiny = tiny_vgg19(rng)
    safetensors_io.save(os.path.join(FIXTURES, "vgg19_tiny.safetensors"), tiny, {"format": "pt"})
    scaled, factors = rescaled(tiny)
    safetensors_io.save(os.path.join(FIXTURES, "vgg19_tiny_rescaled.safetensors"), scaled,
                        {"format": "pt", "stylize.rescale_factors": ",".join(f"{a:.9g}" for a in factors)})

    values = np.array([[0.0, 1.0, -2.5, 0.333251953125], [65504.0, -1e-4, 3.140625, 1e-7]], dtype=np.float32)
    safetensors_io.save(os.path.join(FIXTURES, "dtypes.safetensors"),
                        {"f32": values, "f16": values, "bf16": values, "f64": values},
                        dtypes={"f16": "F16", "bf16": "BF16", "f64": "F64"})

    safetensors_io.save(os.path.join(FIXTURES, "parity_images.safetensors"),
                        {"content": pattern(rng, 32, 0.3), "style": pattern(rng, 32, 1.9)})
    for name in sorted(os.listdir(FIXTURES)):
        print(f"{name}: {os.path.getsize(os.path.join(FIXTURES, name))} bytes")


if __name__ == "__main__":
    main()
