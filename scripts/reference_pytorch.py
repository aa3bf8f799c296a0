#!/usr/bin/env python3
"""The stylize algorithm in plain PyTorch eager mode: the reference for parity
tests and the baseline for benchmarks. Needs Debian's python3-torch.

  reference_pytorch.py --golden                      # rewrite tests/fixtures/golden_losses_v2.json and
                                                     # golden_files.json (with its two PNG images)
  reference_pytorch.py --bench --size 512 --iterations 5 [--weights W]
                                                     # seconds per iteration, peak memory

Same algorithm and defaults as the C++ tool: VGG19 features (safetensors with
torchvision key names and the input convention from the file's metadata, or a
Keras HDF5 file, Caffe convention), content loss = MSE of feature maps, style
loss = MSE of Gram matrices / (H*W), total variation = sum of absolute
differences times (512 / longest side)^2, TensorFlow's Adam (epsilon added to
the raw sqrt(v), and scaled by the same size factor), image clamped to [0, 1]
after each step. Loss units (src/core/loss_units.cpp): "tutorial", the raw
objective (the default for Caffe-convention files), or "normalized" (the
default for the others): each term relative to its target's magnitude, times
the Keras network's typical magnitude of that layer.
"""
import argparse
import json
import os
import resource
import sys
import time

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
TORCHVISION_INDEX = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
BLOCK_CONVS = [2, 2, 4, 4, 4]
# feature_scale: what stylize before issue 11 multiplied a torchvision file's
# content terms by (squared) and style terms by (to the fourth); kept only so
# check_loss_units.py can show what that guess did to a folded network.
CONVENTIONS = {
    "torchvision": dict(bgr=False, scale=1.0, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225],
                        feature_scale=255.0 * (0.229 + 0.224 + 0.225) / 3.0),
    "caffe": dict(bgr=True, scale=255.0, mean=[103.939, 116.779, 123.68], std=[1.0, 1.0, 1.0], feature_scale=1.0),
}
DEFAULTS = dict(content_layers=["relu5_2"], style_layers=["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"],
                content_weight=1e4, style_weight=1e-2, tv_weight=30.0, lr=0.02, beta1=0.99, beta2=0.999, eps=0.1)


# Typical magnitudes of the Keras VGG19's features per block: the mean square of
# the Gram entries (G = F F^T / (H W)), and of the feature maps as
# CONTENT_PER_SQRT_GRAM * sqrt(that). Keep in sync with src/core/loss_units.cpp,
# which says where they come from.
REFERENCE_GRAM_MEAN_SQUARE = [1.2297e6, 1.1475e8, 1.0029e8, 3.2518e10, 1.7219e6]
CONTENT_PER_SQRT_GRAM = 418236.0 / 180327.0
REFERENCE_SIDE = 512


def reference_magnitudes(layer):
    """(feature mean square, Gram mean square) of `layer`'s block in the Keras VGG19."""
    gram = REFERENCE_GRAM_MEAN_SQUARE[int(layer[4]) - 1]
    return CONTENT_PER_SQRT_GRAM * gram ** 0.5, gram


def size_factor(height, width):
    """Pixel count of the same image at longest side 512 relative to this one."""
    return (REFERENCE_SIDE / max(height, width)) ** 2


def normalizer(target, reference, units):
    """Factor turning a tutorial-unit term with this (frozen) target into `units`."""
    if units == "tutorial":
        return 1.0
    return reference / float(target.double().square().mean())


def default_units(convention):
    return "tutorial" if convention == "caffe" else "normalized"


class TfAdam:
    """TensorFlow/Keras Adam, elementwise, state in the parameter's dtype (float32
    as in TensorFlow, float64 for the exact checks):
    x -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)."""

    def __init__(self, param, lr, beta1, beta2, eps):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m = torch.zeros_like(param)
        self.v = torch.zeros_like(param)
        self.t = 0

    @torch.no_grad()
    def step(self, param, grad):
        self.t += 1
        self.m.mul_(self.beta1).add_(grad, alpha=1 - self.beta1)
        self.v.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
        lr_t = self.lr * (1 - self.beta2 ** self.t) ** 0.5 / (1 - self.beta1 ** self.t)
        param.addcdiv_(self.m, self.v.sqrt().add_(self.eps), value=-lr_t)


def load_convs(path):
    """[(weight (out, in, 3, 3), bias)] and the input convention name of a safetensors or Keras HDF5 file."""
    if path.endswith(".h5"):
        def names(values):
            return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values).reshape(-1)]

        convs = []
        with h5py.File(path, "r") as f:
            for block, count in enumerate(BLOCK_CONVS, start=1):
                for i in range(1, count + 1):
                    group = f[f"block{block}_conv{i}"]
                    tensors = [np.asarray(group[w]) for w in names(group.attrs["weight_names"])]
                    kernel = next(t for t in tensors if t.ndim == 4)
                    bias = next(t for t in tensors if t.ndim == 1)
                    convs.append((torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))),
                                  torch.from_numpy(bias.copy())))
        return convs, "caffe"
    tensors, metadata = safetensors_io.load(path)
    convs = [(torch.from_numpy(tensors[f"features.{i}.weight"].copy()),
              torch.from_numpy(tensors[f"features.{i}.bias"].copy())) for i in TORCHVISION_INDEX]
    return convs, metadata.get("stylize.input_convention", "torchvision")


def layer_names():
    names = []
    for block, convs in enumerate(BLOCK_CONVS, start=1):
        for i in range(1, convs + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return names


class Vgg19Features(torch.nn.Module):
    def __init__(self, path, outputs):
        super().__init__()
        weights, self.convention = load_convs(path)
        convention = CONVENTIONS[self.convention]
        self.bgr = convention["bgr"]
        self.feature_scale = convention["feature_scale"]
        std = torch.tensor(convention["std"]).view(1, 3, 1, 1)
        self.register_buffer("scale", convention["scale"] / std)
        self.register_buffer("shift", -torch.tensor(convention["mean"]).view(1, 3, 1, 1) / std)
        self.names = layer_names()
        self.outputs = outputs
        self.last = max(self.names.index(name) for name in outputs)
        convs = sum(1 for n in self.names[:self.last + 1] if n.startswith("conv"))
        self.convs = torch.nn.ModuleList()
        for weight, bias in weights[:convs]:
            conv = torch.nn.Conv2d(weight.shape[1], weight.shape[0], 3, padding=1)
            conv.weight.data.copy_(weight)
            conv.bias.data.copy_(bias)
            self.convs.append(conv)
        for parameter in self.parameters():
            parameter.requires_grad_(False)

    def forward(self, image):
        x = image.flip(1) if self.bgr else image
        x = torch.addcmul(self.shift, x, self.scale)
        found, conv = {}, 0
        for name in self.names[:self.last + 1]:
            if name.startswith("conv"):
                x = self.convs[conv](x)
                conv += 1
            elif name.startswith("relu"):
                x = torch.relu(x)
            else:
                x = torch.nn.functional.max_pool2d(x, 2)
            found[name] = x
        return [found[name] for name in self.outputs]


def gram_matrix(features):
    n, c, h, w = features.shape
    m = features.reshape(n, c, h * w)
    return torch.bmm(m, m.transpose(1, 2)) / (h * w)


def total_variation(image):
    return (image[..., 1:, :] - image[..., :-1, :]).abs().sum() + (image[..., 1:] - image[..., :-1]).abs().sum()


def objective(net, o, content_targets, style_targets, content_norms, style_norms, factor):
    """image -> [total, style, content, tv], the weighted terms."""
    nc, ns = len(o["content_layers"]), len(o["style_layers"])

    def losses(image):
        features = net(image)
        content = sum(o["content_weight"] * n / nc * torch.mean((f - t) ** 2)
                      for f, t, n in zip(features[:nc], content_targets, content_norms))
        style = sum(o["style_weight"] * n / ns * torch.mean((gram_matrix(f) - t) ** 2)
                    for f, t, n in zip(features[nc:], style_targets, style_norms))
        tv = o["tv_weight"] * factor * total_variation(image)
        return [content + style + tv, style, content, tv]

    return losses


def prepare(net, content, style, o):
    """The objective of stylizing `content` with `style` (image -> [total, style, content, tv]) and the size
    factor. o["units"] defaults by the network's convention."""
    nc = len(o["content_layers"])
    units = o.get("units", default_units(net.convention))
    with torch.no_grad():
        content_targets = net(content)[:nc]
        style_targets = [gram_matrix(f) for f in net(style)[nc:]]
    content_norms = [normalizer(t, reference_magnitudes(layer)[0], units)
                     for t, layer in zip(content_targets, o["content_layers"])]
    style_norms = [normalizer(t, reference_magnitudes(layer)[1], units)
                   for t, layer in zip(style_targets, o["style_layers"])]
    factor = size_factor(*content.shape[-2:])
    return objective(net, o, content_targets, style_targets, content_norms, style_norms, factor), factor


def stylize(net, content, style, iterations, o=DEFAULTS, on_iteration=None, start=None):
    """TensorFlow's Adam from the content image (or `start`)."""
    losses, factor = prepare(net, content, style, o)
    image = (content if start is None else start).clone().requires_grad_(True)
    adam = TfAdam(image, o["lr"], o["beta1"], o["beta2"], o["eps"] * factor)
    for iteration in range(1, iterations + 1):
        image.grad = None
        values = losses(image)
        values[0].backward()
        adam.step(image.data, image.grad)
        with torch.no_grad():
            image.clamp_(0, 1)
        if on_iteration:
            on_iteration(iteration, [float(v) for v in values])
    return image.detach()


# The golden runs: the tutorial defaults on the Keras fixture (tutorial units;
# at 32 px total variation dominates), other layers and weights under which all
# three terms move the image, and
# the defaults on a torchvision-convention file (normalized units).
GOLDEN_RUNS = {
    "tutorial": ("keras_vgg19_notop_tiny.h5", DEFAULTS),
    "relu4_2": ("keras_vgg19_notop_tiny.h5",
                dict(DEFAULTS, content_layers=["relu4_2"], style_layers=["relu1_1", "relu2_1", "relu3_1"],
                     content_weight=1e6, style_weight=10.0, tv_weight=3.0)),
    "normalized": ("vgg19_tiny.safetensors", DEFAULTS),
}
GOLDEN_CHECKPOINTS = [0, 1, 5, 10, 20]


def parity_images():
    images, _ = safetensors_io.load(os.path.join(FIXTURES, "parity_images.safetensors"))
    return (torch.from_numpy(images[k].copy()) for k in ("content", "style"))


def golden():
    content, style = parity_images()
    runs = {}
    for name, (weights, options) in GOLDEN_RUNS.items():
        net = Vgg19Features(os.path.join(FIXTURES, weights), options["content_layers"] + options["style_layers"])
        losses, perturbed = {}, {}

        def recorder(into):
            def record(iteration, values):  # values of the image after iteration - 1 updates
                if iteration - 1 in GOLDEN_CHECKPOINTS:
                    into[str(iteration - 1)] = values
            return record

        stylize(net, content, style, max(GOLDEN_CHECKPOINTS) + 1, options, on_iteration=recorder(losses))
        # How much a 1e-7 change of the start image (float32 rounding's size)
        # moves each value: Adam's sign-like first steps and switching ReLUs make
        # some values chaotic (the tutorial's content term after 20 updates moves
        # by ~9%). Tests allow a tenth of it (and at least their floor).
        torch.manual_seed(0)
        start = (content + 1e-7 * torch.randn_like(content)).clamp(0, 1)
        stylize(net, content, style, max(GOLDEN_CHECKPOINTS) + 1, options, on_iteration=recorder(perturbed),
                start=start)
        sensitivity = {k: [abs(p - b) / max(abs(b), 1e-30) for b, p in zip(losses[k], perturbed[k])]
                       for k in losses}
        units = options.get("units", default_units(net.convention))
        runs[name] = {"weights": weights, "options": dict(options, units=units), "losses_after_updates": losses,
                      "sensitivity_after_updates": sensitivity}
    result = {"description": "losses [total, style, content, tv] after N TensorFlow-Adam updates, and their "
                             "relative change when the start image changes by 1e-7, written by "
                             "scripts/reference_pytorch.py --golden with torch " + torch.__version__,
              "images": "parity_images.safetensors", "runs": runs}
    path = os.path.join(FIXTURES, "golden_losses_v2.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(json.dumps({k: v["losses_after_updates"] for k, v in runs.items()}))
    print(f"wrote {os.path.relpath(path)}")


# The golden run through files: the tutorial defaults on the Keras fixture from
# 16-bit PNG files, both shrunk by exactly 2 (stylize's area resize is then a
# 2x2 mean), with a style of another size and shape than the content. 16-bit
# pixels kept within [0.15, 0.85], and no two neighbours equal after the
# halving: where neighbours tie, total variation's L1 gradient is sign(0), and
# a 1-ulp difference in how the two implementations sum the four pixels would
# flip it (8-bit files tie everywhere, and the runs part within a few updates).
FILES_RUN = dict(weights="keras_vgg19_notop_tiny.h5", content="golden_content.png", style="golden_style.png",
                 content_size=(48, 64), style_size=(40, 40), size=32, style_size_flag=20)


def write_png(path, pixels):
    """A 16-bit RGB PNG of an (H, W, 3) uint16 array, filter 0, zlib level 9: the same bytes every time."""
    import struct
    import zlib
    h, w, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def read_png(path):
    """Decodes the 16-bit RGB, filter-0 PNGs write_png makes (independently of OpenCV): (1, 3, H, W) in [0, 1]."""
    import struct
    import zlib
    data = open(path, "rb").read()
    pos, idat, size = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
            assert body[8:10] == b"\x10\x02", "16-bit RGB only"
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    w, h = size
    rows = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(h, 1 + 6 * w)
    assert (rows[:, 0] == 0).all(), "filter type 0 only"
    pixels = rows[:, 1:].copy().view(">u2").reshape(h, w, 3).astype(np.float32) / np.float32(65535.0)
    return torch.from_numpy(pixels).permute(2, 0, 1).unsqueeze(0).contiguous()


def tie_free_image(h, w, phase, rng):
    """A smooth colourful 16-bit image with noise whose 2x2 means have no equal neighbours."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    smooth = np.stack([np.sin(x / 5 + phase), np.cos(y / 4 - phase), np.sin((x + y) / 7 + 2 * phase)], 2)
    while True:
        values = np.clip(0.5 + 0.25 * smooth + rng.normal(0, 0.06, (h, w, 3)), 0.15, 0.85)
        pixels = (values * 65535).round().astype(np.uint16)
        halved = pixels.astype(np.int64).reshape(h // 2, 2, w // 2, 2, 3).sum((1, 3))
        if (np.diff(halved, axis=0) != 0).all() and (np.diff(halved, axis=1) != 0).all():
            return pixels


def golden_files():
    run = FILES_RUN
    rng = np.random.default_rng(2024)
    for name, (h, w), phase in ((run["content"], run["content_size"], 0.3), (run["style"], run["style_size"], 1.9)):
        write_png(os.path.join(FIXTURES, name), tie_free_image(h, w, phase, rng))
    # stylize's decode (8-bit / 255) and area resize by exactly 1/2 (the 2x2 mean).
    content = torch.nn.functional.avg_pool2d(read_png(os.path.join(FIXTURES, run["content"])), 2)
    style = torch.nn.functional.avg_pool2d(read_png(os.path.join(FIXTURES, run["style"])), 2)
    net = Vgg19Features(os.path.join(FIXTURES, run["weights"]), DEFAULTS["content_layers"] + DEFAULTS["style_layers"])
    losses, perturbed = {}, {}

    def recorder(into):
        def record(iteration, values):
            if iteration - 1 in GOLDEN_CHECKPOINTS:
                into[str(iteration - 1)] = values
        return record

    stylize(net, content, style, max(GOLDEN_CHECKPOINTS) + 1, on_iteration=recorder(losses))
    torch.manual_seed(0)  # the chaos of each value, as golden() measures it
    start = (content + 1e-7 * torch.randn_like(content)).clamp(0, 1)
    stylize(net, content, style, max(GOLDEN_CHECKPOINTS) + 1, on_iteration=recorder(perturbed), start=start)
    sensitivity = {k: [abs(p - b) / max(abs(b), 1e-30) for b, p in zip(losses[k], perturbed[k])] for k in losses}
    result = {"description": "losses [total, style, content, tv] after N TensorFlow-Adam updates of the tutorial "
                             "defaults on the Keras fixture, from the 16-bit PNG files (decoded and halved by a 2x2 mean as "
                             "stylize's area resize does at --size 32 --style-size 20), written by "
                             "scripts/reference_pytorch.py --golden with torch " + torch.__version__,
              "run": dict(run, units=default_units(net.convention)), "losses_after_updates": losses,
              "sensitivity_after_updates": sensitivity}
    path = os.path.join(FIXTURES, "golden_files.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(json.dumps(losses))
    print(f"wrote {os.path.relpath(path)}")


def bench(args):
    torch.manual_seed(0)
    torch.set_num_threads(args.threads or os.cpu_count())
    net = Vgg19Features(args.weights, DEFAULTS["content_layers"] + DEFAULTS["style_layers"])
    content = torch.rand(1, 3, args.size, args.size)
    style = torch.rand(1, 3, args.size, args.size)
    times = []
    last = [time.perf_counter()]

    def tick(iteration, values):
        now = time.perf_counter()
        times.append(now - last[0])
        last[0] = now

    stylize(net, content, style, args.iterations, on_iteration=tick)
    steady = times[1:] if len(times) > 1 else times
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # The median: robust to warm-up iterations and to bursts of load on a shared machine.
    print(json.dumps({"size": args.size, "seconds_per_iteration": float(np.median(steady)),
                      "peak_rss_mib": round(peak_mib, 1), "threads": torch.get_num_threads()}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--golden", action="store_true", help="rewrite tests/fixtures/golden_losses_v2.json and golden_files.json")
    parser.add_argument("--bench", action="store_true", help="time iterations on random images")
    parser.add_argument("--weights", default=os.path.join(FIXTURES, "vgg19_tiny.safetensors"))
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.golden:
        golden()
        golden_files()
    elif args.bench:
        bench(args)
    else:
        parser.print_help()


if __name__ == "__main__":
    main()
