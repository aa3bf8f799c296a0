#!/usr/bin/env python3
"""Checks, on the reference implementation (scripts/reference_pytorch.py), that
normalized loss units do not depend on how a VGG19 file scales its features:

  rescaled  vgg19_tiny.safetensors against vgg19_tiny_rescaled.safetensors (each
            layer's filters times a_l in [0.3, 3], biases times the running
            product), in float64: losses equal to 1e-5, 20 Adam steps give the same image,
            the style/content gradient ratio is unchanged; tutorial units differ.
  folded    keras_vgg19_notop_tiny.h5 (Caffe convention) against
            keras_vgg19_tiny_folded_torchvision.safetensors (the preprocessing
            folded into conv1_1, tagged torchvision): losses equal to 1e-3 at
            128 px, the style/content gradient ratio to 1e-2 (0.3% seen). Only
            the zero-padded border differs: zero in torchvision space is
            (-0.41, -0.50, -0.005) in Caffe space, 0.2% of relu1_1's largest
            value on the border pixels; at 32 px, where the border's influence
            reaches most of the deep layers, the losses differ by up to 3e-3.

Prints a JSON summary; exits 1 when a check fails. Run by CTest (ReferenceLossUnits).
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_pytorch as ref  # noqa: E402

LAYERS = ref.DEFAULTS["content_layers"] + ref.DEFAULTS["style_layers"]


def net(name):
    return ref.Vgg19Features(os.path.join(ref.FIXTURES, name), LAYERS)


def probe_images(content, style):
    torch.manual_seed(0)
    return {"content": content, "style_resized": style, "mix": (0.6 * content + 0.4 * style).clamp(0, 1),
            "noise": (content + 0.1 * torch.randn_like(content)).clamp(0, 1)}


def losses(network, content, style, units, images):
    objective, _ = ref.prepare(network, content, style, dict(ref.DEFAULTS, units=units))
    with torch.no_grad():
        return {name: [float(v) for v in objective(image)] for name, image in images.items()}


def gradient_ratio(network, content, style, image):
    """|d style / d image| / |d content / d image|, normalized units."""
    objective, _ = ref.prepare(network, content, style, dict(ref.DEFAULTS, units="normalized"))
    x = image.clone().requires_grad_(True)
    _, style_term, content_term, _ = objective(x)
    g_style, = torch.autograd.grad(style_term, x, retain_graph=True)
    g_content, = torch.autograd.grad(content_term, x)
    return float(g_style.norm() / g_content.norm())


def worst_relative(a, b):
    worst = 0.0
    for name in a:
        for x, y in zip(a[name], b[name]):
            worst = max(worst, abs(x - y) / max(abs(x), abs(y), 1e-30))
    return worst


def border_share(a, b, content):
    """Largest relu1_1 difference on the 1-pixel border and inside, relative to the features' largest value."""
    with torch.no_grad():
        fa, fb = a(content)[1], b(content)[1]  # relu1_1
    diff = (fa - fb).abs()
    inside = diff[..., 1:-1, 1:-1].max()
    return float(diff.max() / fa.abs().max()), float(inside / fa.abs().max())


def main():
    content, style = ref.parity_images()
    images = probe_images(content, style)
    failures, summary = [], {}

    def check(name, ok, value):
        summary[name] = value
        if not ok:
            failures.append(name)

    # Per-layer rescaling, in float64: in float32 the Adam trajectories are
    # chaotic at this size (a random 1e-6 change of the start image moves pixels
    # by ~1e-2 after 20 steps, as ReLUs switch), so rounding alone separated
    # them by 2.6e-4 with another BLAS, and the losses by 1.6e-5. What remains in
    # float64 is the files' float32 rounding of the rescaled weights (~1e-6).
    a, b = net("vgg19_tiny.safetensors").double(), net("vgg19_tiny_rescaled.safetensors").double()
    content64, style64 = content.double(), style.double()
    images64 = {name: image.double() for name, image in images.items()}
    rescaled = worst_relative(losses(a, content64, style64, "normalized", images64),
                              losses(b, content64, style64, "normalized", images64))
    check("rescaled: normalized losses, worst relative difference", rescaled <= 1e-5, rescaled)
    tutorial = worst_relative(losses(a, content64, style64, "tutorial", images64),
                              losses(b, content64, style64, "tutorial", images64))
    check("rescaled: tutorial losses, worst relative difference (must be large)", tutorial > 1e-2, tutorial)
    options = dict(ref.DEFAULTS, units="normalized")
    image_a = ref.stylize(a, content64, style64, 20, options)
    image_b = ref.stylize(b, content64, style64, 20, options)
    moved = float((image_a - content64).abs().max())
    steps = float((image_a - image_b).abs().max())
    check("rescaled: 20 Adam steps, largest pixel difference", steps <= 1e-4 and moved > 1e-3, steps)
    mix64 = images64["mix"]
    ratios = gradient_ratio(a, content64, style64, mix64), gradient_ratio(b, content64, style64, mix64)
    check("rescaled: style/content gradient ratio", abs(ratios[0] / ratios[1] - 1) <= 1e-4, ratios)

    # Input convention folded into conv1_1, at 128 px.
    content, style = (torch.nn.functional.interpolate(t, size=(128, 128), mode="bilinear", align_corners=False)
                      for t in (content, style))
    images = probe_images(content, style)
    mix = images["mix"]
    caffe, folded = net("keras_vgg19_notop_tiny.h5"), net("keras_vgg19_tiny_folded_torchvision.safetensors")
    assert caffe.convention == "caffe" and folded.convention == "torchvision"
    difference = worst_relative(losses(caffe, content, style, "normalized", images),
                                losses(folded, content, style, "normalized", images))
    check("folded: normalized losses, worst relative difference", difference <= 1e-3, difference)
    ratios = gradient_ratio(caffe, content, style, mix), gradient_ratio(folded, content, style, mix)
    check("folded: style/content gradient ratio", abs(ratios[0] / ratios[1] - 1) <= 1e-2, ratios)
    border, inside = border_share(caffe, folded, content)
    check("folded: relu1_1 difference on the border / inside, relative to its largest value",
          inside <= 1e-5 and border <= 1e-2, [border, inside])
    legacy = ref.CONVENTIONS["torchvision"]["feature_scale"]
    summary["folded: what the 57.6 scale multiplied content and style by"] = [legacy ** 2, legacy ** 4]

    print(json.dumps(summary, indent=2))
    if failures:
        print("FAILED: " + "; ".join(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
