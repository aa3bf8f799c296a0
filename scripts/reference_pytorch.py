#!/usr/bin/env python3
"""The stylize algorithm in plain PyTorch eager mode: the reference for parity
tests and the baseline for benchmarks. Needs Debian's python3-torch.

  reference_pytorch.py --golden                      # rewrite tests/fixtures/golden_losses.json
  reference_pytorch.py --bench --size 512 --iterations 5 [--weights W]
                                                     # seconds per iteration, peak memory

Same algorithm and defaults as the C++ tool: VGG19 features (torchvision key
names, input convention from the file's metadata), content loss = MSE of
feature maps, style loss = MSE of Gram matrices / (H*W), total variation = sum of
absolute differences, Adam, image clamped to [0, 1] after each step.
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
TORCHVISION_INDEX = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
BLOCK_CONVS = [2, 2, 4, 4, 4]
# feature_scale: loss weights are calibrated for Caffe-convention networks
# (0-255 input); content terms are multiplied by feature_scale^2 and style terms
# by feature_scale^4 (the ratio of input scales, 255 x mean ImageNet std).
CONVENTIONS = {
    "torchvision": dict(bgr=False, scale=1.0, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225],
                        feature_scale=255.0 * (0.229 + 0.224 + 0.225) / 3.0),
    "caffe": dict(bgr=True, scale=255.0, mean=[103.939, 116.779, 123.68], std=[1.0, 1.0, 1.0], feature_scale=1.0),
}
DEFAULTS = dict(content_layers=["relu5_2"], style_layers=["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"],
                content_weight=1e4, style_weight=1e-2, tv_weight=30.0, lr=0.02, beta1=0.99, beta2=0.999, eps=0.1)


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
        tensors, metadata = safetensors_io.load(path)
        convention = CONVENTIONS[metadata.get("stylize.input_convention", "torchvision")]
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
        for index in TORCHVISION_INDEX[:convs]:
            weight = torch.from_numpy(tensors[f"features.{index}.weight"].copy())
            conv = torch.nn.Conv2d(weight.shape[1], weight.shape[0], 3, padding=1)
            conv.weight.data.copy_(weight)
            conv.bias.data.copy_(torch.from_numpy(tensors[f"features.{index}.bias"].copy()))
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


def stylize(net, content, style, iterations, o=DEFAULTS, on_iteration=None):
    nc = len(o["content_layers"])
    with torch.no_grad():
        content_targets = net(content)[:nc]
        style_targets = [gram_matrix(f) for f in net(style)[nc:]]
    k = net.feature_scale
    cw = o["content_weight"] * k ** 2 / nc
    sw = o["style_weight"] * k ** 4 / len(o["style_layers"])
    image = content.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([image], lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"])
    for iteration in range(1, iterations + 1):
        optimizer.zero_grad()
        features = net(image)
        content_loss = sum(cw * torch.mean((f - t) ** 2) for f, t in zip(features[:nc], content_targets))
        style_loss = sum(sw * torch.mean((gram_matrix(f) - t) ** 2) for f, t in zip(features[nc:], style_targets))
        tv_loss = o["tv_weight"] * total_variation(image)
        total = content_loss + style_loss + tv_loss
        total.backward()
        optimizer.step()
        with torch.no_grad():
            image.clamp_(0, 1)
        if on_iteration:
            on_iteration(iteration, [float(v) for v in (total, style_loss, content_loss, tv_loss)])
    return image.detach()


# The golden runs: the tutorial defaults, and other layers and weights under
# which every term still moves the image.
GOLDEN_RUNS = {
    "tutorial": DEFAULTS,
    "relu4_2": dict(DEFAULTS, content_layers=["relu4_2"], style_layers=["relu1_1", "relu2_1", "relu3_1"],
                    content_weight=1e2, style_weight=1e-3, tv_weight=3.0),
}
GOLDEN_CHECKPOINTS = [0, 1, 5, 10, 20]


def golden():
    images, _ = safetensors_io.load(os.path.join(FIXTURES, "parity_images.safetensors"))
    content, style = (torch.from_numpy(images[k].copy()) for k in ("content", "style"))
    runs = {}
    for name, options in GOLDEN_RUNS.items():
        net = Vgg19Features(os.path.join(FIXTURES, "vgg19_tiny.safetensors"),
                            options["content_layers"] + options["style_layers"])
        losses = {}

        def record(iteration, values):  # values of the image after iteration - 1 updates
            if iteration - 1 in GOLDEN_CHECKPOINTS:
                losses[str(iteration - 1)] = values

        stylize(net, content, style, max(GOLDEN_CHECKPOINTS) + 1, options, on_iteration=record)
        runs[name] = {"options": options, "losses_after_updates": losses}
    result = {
        "description": "losses [total, style, content, tv] after N Adam updates, written by "
                       "scripts/reference_pytorch.py --golden with torch " + torch.__version__,
        "weights": "vgg19_tiny.safetensors", "images": "parity_images.safetensors", "runs": runs,
    }
    path = os.path.join(FIXTURES, "golden_losses.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(json.dumps({k: v["losses_after_updates"] for k, v in runs.items()}))
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
    parser.add_argument("--golden", action="store_true", help="rewrite tests/fixtures/golden_losses.json")
    parser.add_argument("--bench", action="store_true", help="time iterations on random images")
    parser.add_argument("--weights", default=os.path.join(FIXTURES, "vgg19_tiny.safetensors"))
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.golden:
        golden()
    elif args.bench:
        bench(args)
    else:
        parser.print_help()


if __name__ == "__main__":
    main()
