#!/usr/bin/python3
"""Converts VGG19 weights from other tools into stylize's safetensors layout.

  /usr/bin/python3 scripts/convert_weights.py INPUT OUTPUT.safetensors [--convention torchvision|caffe]

Reads (the format is told by the file's signature, not its name):

  vgg19-dcbb9e9d.pth            torchvision (legacy or zip torch.save), RGB [0, 1], ImageNet mean/std
  vgg19-d01eb7cb.pth            Caffe VGG19 converted to PyTorch (jcjohnson/pytorch-vgg, neural-style-pt),
                                BGR [0, 255] minus the Caffe mean
  imagenet-vgg-verydeep-19.mat  MatConvNet (old and new layout; MATLAB v5 files), RGB [0, 255] minus
                                meta.normalization.averageImage; written in Caffe's convention by
                                reordering conv1_1's input channels to BGR
  *.h5                          Keras save_weights() files (stylize reads them directly; converting is optional)

Writes features.0.weight ... features.34.bias (float32, (out, in, 3, 3)) for the
16 convolutions only, with the input convention in the safetensors
__metadata__ entry stylize.input_convention, so the C++ side needs no guessing.
A PyTorch checkpoint does not say which convention it expects: it is taken
from --convention, else from the torch hub hash in the file (SHA-256 prefix)
or its name (dcbb9e9d: torchvision, d01eb7cb: caffe), else from Caffe-style
classifier keys (classifier.1.weight); otherwise the script asks for --convention.

Needs Debian's python3-numpy, plus python3-torch for .pth, python3-scipy for
.mat and python3-h5py for .h5 (only the one the input needs is imported).
"""
import argparse
import hashlib
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

TORCHVISION_INDEX = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
CONV_NAMES = [f"conv{b}_{i}" for b, n in enumerate([2, 2, 4, 4, 4], start=1) for i in range(1, n + 1)]
CAFFE_MEAN_RGB = np.array([123.68, 116.779, 103.939])
# torch hub file names carry the first 8 hex digits of the file's SHA-256.
KNOWN_HASHES = {"dcbb9e9d": "torchvision", "d01eb7cb": "caffe"}


class ConversionError(Exception):
    pass


def sniff(path):
    with open(path, "rb") as f:
        head = f.read(128)
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "keras"
    if head.startswith(b"MATLAB"):
        if b"7.3 MAT-file" in head:
            raise ConversionError(f"{path} is a MATLAB v7.3 (HDF5) file; save it again in MATLAB with "
                                  "save(..., '-v7') or use MatConvNet's original download")
        return "matconvnet"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\x80\x02"):
        return "pytorch"
    raise ConversionError(f"{path} is not a PyTorch checkpoint, a MatConvNet .mat or a Keras .h5 file "
                          "(unknown signature)")


def check_chain(convs, source):
    """convs: list of (weight (out, in, 3, 3), bias (out,)) in network order."""
    expected_in = 3
    for name, (weight, bias) in zip(CONV_NAMES, convs):
        if weight.ndim != 4 or weight.shape[1] != expected_in or weight.shape[2:] != (3, 3):
            raise ConversionError(f"{source}: {name} has weight shape {tuple(weight.shape)}, expected "
                                  f"({weight.shape[0] if weight.ndim else '?'}, {expected_in}, 3, 3); not a VGG19")
        if bias.shape != (weight.shape[0],):
            raise ConversionError(f"{source}: {name} has bias shape {tuple(bias.shape)}, expected ({weight.shape[0]},)")
        if not (np.isfinite(weight).all() and np.isfinite(bias).all()):
            raise ConversionError(f"{source}: {name} contains NaN or infinite values; the file is corrupt")
        expected_in = weight.shape[0]


# --- PyTorch -----------------------------------------------------------------

def load_torch(path):
    import torch
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:  # torch < 1.13 has no weights_only
        state = torch.load(path, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - a pickled nn.Module or a damaged file
        raise ConversionError(f"cannot load {path} as a state dict of tensors ({e}); save the model's "
                              "state_dict() instead of the whole model") from e
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ConversionError(f"{path} does not hold a state dict (found {type(state).__name__})")
    return {k: v.detach().cpu().float().numpy() for k, v in state.items() if hasattr(v, "detach")}


def torch_convention(path, state, explicit):
    if explicit:
        return explicit, "--convention"
    with open(path, "rb") as f:
        digest = hashlib.sha256()
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    prefix = digest.hexdigest()[:8]
    if prefix in KNOWN_HASHES:
        return KNOWN_HASHES[prefix], f"its SHA-256 starts with {prefix}"
    for known, convention in KNOWN_HASHES.items():
        if known in os.path.basename(path):
            return convention, f"its name contains {known}"
    if any(k.endswith("classifier.1.weight") for k in state):
        return "caffe", "it has Caffe-converted classifier keys (classifier.1.weight)"
    raise ConversionError(f"cannot tell which input convention {path} expects: pass --convention torchvision "
                          "(torchvision and timm checkpoints: RGB, ImageNet mean/std) or --convention caffe "
                          "(Caffe-converted VGG19 such as vgg19-d01eb7cb.pth: BGR, 0-255)")


def convert_torch(path, explicit):
    state = load_torch(path)
    prefixes = {k[: -len("features.0.weight")] for k in state if k.endswith("features.0.weight")}
    if len(prefixes) != 1:
        raise ConversionError(f"{path} has no features.0.weight key: not a torchvision-style VGG19 state dict")
    prefix = prefixes.pop()
    extra = sorted(int(m.group(1)) for k in state
                   for m in [re.match(re.escape(prefix) + r"features\.(\d+)\.weight$", k)] if m)
    if extra[:16] != TORCHVISION_INDEX:
        raise ConversionError(f"{path}: its convolutions are features.{extra} but a VGG19 has "
                              f"features.{TORCHVISION_INDEX} (a VGG with batch norm or another depth?)")
    convs = []
    for index in TORCHVISION_INDEX:
        convs.append((state[f"{prefix}features.{index}.weight"], state[f"{prefix}features.{index}.bias"]))
    convention, why = torch_convention(path, state, explicit)
    return convs, convention, why


# --- MatConvNet ----------------------------------------------------------------

def field(record, name):
    """A field of a scipy.io.loadmat struct record (struct_as_record=True, squeeze_me=False)."""
    value = record[name]
    while isinstance(value, np.ndarray) and value.dtype == object and value.size == 1:
        value = value.flat[0]
    return value


def text(value):
    return str(np.asarray(value).reshape(-1)[0]) if np.asarray(value).size else ""


def convert_matconvnet(path, explicit):
    import scipy.io
    data = scipy.io.loadmat(path)
    if "layers" not in data:
        raise ConversionError(f"{path} has no 'layers' variable: not a MatConvNet SimpleNN model")
    layers = {}
    for cell in np.asarray(data["layers"]).reshape(-1):
        record = cell.reshape(-1)[0] if isinstance(cell, np.ndarray) else cell
        layers[text(field(record, "name"))] = record
    if "meta" in data:  # MatConvNet >= beta17 (vl_simplenn_tidy)
        normalization = field(field(data["meta"].reshape(-1)[0], "normalization").reshape(-1)[0], "averageImage")
    elif "normalization" in data:  # older files
        normalization = field(data["normalization"].reshape(-1)[0], "averageImage")
    else:
        raise ConversionError(f"{path} has neither meta.normalization nor normalization: no input mean")
    mean_rgb = np.asarray(normalization, dtype=np.float64).reshape(-1, 3).mean(axis=0)
    convs = []
    for name in CONV_NAMES:
        if name not in layers:
            raise ConversionError(f"{path} has no layer {name}; expected a MatConvNet VGG19 (conv1_1 ... conv5_4)")
        weights = np.asarray(field(layers[name], "weights")).reshape(-1)
        if weights.size != 2:
            raise ConversionError(f"{path}: layer {name} has {weights.size} weight arrays, expected 2")
        kernel = np.asarray(weights[0], dtype=np.float32)  # (kh, kw, in, out)
        bias = np.asarray(weights[1], dtype=np.float32).reshape(-1)
        if kernel.ndim != 4:
            raise ConversionError(f"{path}: layer {name}'s filters have shape {kernel.shape}, expected (3,3,in,out)")
        convs.append((np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)), bias))
    # MatConvNet's VGG takes RGB minus averageImage; stylize's caffe convention
    # feeds BGR minus the same mean, so conv1_1 reads its inputs in BGR order.
    if np.abs(mean_rgb - CAFFE_MEAN_RGB).max() > 0.01:
        raise ConversionError(f"{path}: its averageImage is RGB {np.round(mean_rgb, 3).tolist()}, but stylize's "
                              f"caffe convention subtracts {CAFFE_MEAN_RGB.tolist()}; this file cannot be "
                              "converted exactly")
    if explicit and explicit != "caffe":
        raise ConversionError("a MatConvNet VGG19 takes 0-255 pixels minus the mean: only --convention caffe fits")
    weight, bias = convs[0]
    convs[0] = (np.ascontiguousarray(weight[:, ::-1]), bias)
    return convs, "caffe", f"MatConvNet RGB mean {np.round(mean_rgb, 3).tolist()}, conv1_1 reordered to BGR"


# --- Keras HDF5 ----------------------------------------------------------------

def strings(values):
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values).reshape(-1)]


def attribute_list(group, name):
    if name in group.attrs:
        return strings(group.attrs[name])
    values, chunk = [], 0
    while f"{name}{chunk}" in group.attrs:
        values += strings(group.attrs[f"{name}{chunk}"])
        chunk += 1
    return values


def convert_keras(path, explicit):
    import h5py
    with h5py.File(path, "r") as f:
        root = f["model_weights"] if "layer_names" not in f.attrs and "model_weights" in f else f
        layer_names = attribute_list(root, "layer_names")
        convs = []
        for name in CONV_NAMES:
            layer = f"block{name[4]}_conv{name[6:]}"
            if layer not in layer_names or layer not in root:
                raise ConversionError(f"{path} has no layer {layer} (VGG19 {name})")
            tensors = [np.asarray(root[layer][w], dtype=np.float32) for w in attribute_list(root[layer], "weight_names")]
            kernel = [t for t in tensors if t.ndim == 4]
            bias = [t for t in tensors if t.ndim == 1]
            if len(kernel) != 1 or len(bias) != 1:
                raise ConversionError(f"{path}: layer {layer} does not hold one kernel and one bias")
            convs.append((np.ascontiguousarray(kernel[0].transpose(3, 2, 0, 1)), bias[0]))
    if explicit and explicit != "caffe":
        raise ConversionError("Keras VGG19 weights take Caffe-style input: only --convention caffe fits")
    return convs, "caffe", "Keras VGG19 (caffe preprocessing)"


def convert(source, output, convention=None):
    kind = sniff(source)
    converter = {"pytorch": convert_torch, "matconvnet": convert_matconvnet, "keras": convert_keras}[kind]
    convs, convention, why = converter(source, convention)
    check_chain(convs, source)
    tensors = {}
    for index, (weight, bias) in zip(TORCHVISION_INDEX, convs):
        tensors[f"features.{index}.weight"] = np.ascontiguousarray(weight, dtype=np.float32)
        tensors[f"features.{index}.bias"] = np.ascontiguousarray(bias, dtype=np.float32)
    metadata = {"format": "pt", "stylize.input_convention": convention,
                "stylize.source": os.path.basename(source), "stylize.source_format": kind}
    if os.path.isdir(output):
        raise ConversionError(f"{output} is a folder: give the file to write, e.g. {os.path.join(output, 'vgg19.safetensors')}")
    folder = os.path.dirname(output) or "."
    if not os.path.isdir(folder):
        raise ConversionError(f"cannot write {output}: the folder {folder} does not exist; create it first")
    temporary = output + ".tmp"
    try:
        safetensors_io.save(temporary, tensors, metadata)
        os.replace(temporary, output)
    except OSError as e:
        if os.path.isfile(temporary):
            os.remove(temporary)
        raise ConversionError(f"cannot write {output}: {e.strerror}") from e
    return kind, convention, why


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", help="vgg19-dcbb9e9d.pth, vgg19-d01eb7cb.pth, imagenet-vgg-verydeep-19.mat or a Keras .h5")
    parser.add_argument("output", help="the safetensors file to write")
    parser.add_argument("--convention", choices=["torchvision", "caffe"],
                        help="input convention of a PyTorch checkpoint (default: detected, see above)")
    args = parser.parse_args()
    try:
        if not os.path.isfile(args.input):
            raise ConversionError(f"{args.input}: file not found")
        kind, convention, why = convert(args.input, args.output, args.convention)
    except ConversionError as e:
        sys.exit(f"convert_weights.py: error: {e}")
    except ImportError as e:
        sys.exit(f"convert_weights.py: error: the Python module {e.name} is needed for this file: "
                 f"sudo apt-get install python3-{e.name}, and run this script with /usr/bin/python3")
    print(f"wrote {args.output}: {kind} weights, {convention} input convention ({why})")


if __name__ == "__main__":
    main()
