#!/usr/bin/python3
"""Makes the weight-format fixtures in tests/fixtures/ (deterministic).

Each file has exactly the layout of the real one (same groups, attributes,
keys, variable and field names, dtypes), only with a few channels per layer
(TINY_WIDTHS) so that it stays far below 100 KB:

  keras_vgg19_notop_tiny.h5        Keras 1 save_weights(), as the real
                                   vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5: root attribute
                                   layer_names (fixed-length strings) with input_1, blockN_convM and
                                   blockN_pool; one group per layer with a weight_names attribute;
                                   datasets blockN_convM/blockN_convM_W_1:0 (kh, kw, in, out) and
                                   blockN_convM/blockN_convM_b_1:0 (out)
  keras2_vgg19_notop_tiny.h5       TF2 Keras 2 save_weights() with h5py 3: variable-length strings,
                                   backend and keras_version attributes, groups created in name order,
                                   datasets nested as blockN_convM/blockN_convM/kernel:0 and .../bias:0
  keras_vgg19_missing_layer_tiny.h5  the Keras 1 file without block4_conv2
  keras_vgg19_bad_shape_tiny.h5    the Keras 1 file with block3_conv1 taking 4 input channels, not 6
  hdf5_not_keras.h5                an HDF5 file that is not a Keras weights file
  keras_vgg19_declared_huge.h5     a few KB declaring block1_conv1 and block1_conv2 740741 channels wide
                                   (chunks never written, a fill value): 40M values, twice VGG19's 20.0M
  vgg19_torchvision_tiny.pth       torchvision vgg19().state_dict() (features.N.*, classifier.0/3/6.*),
                                   zip serialization; ..._legacy.pth: the same, legacy serialization
  vgg19_caffe_tiny.pth             jcjohnson/pytorch-vgg's Caffe VGG19 (vgg19-d01eb7cb.pth): features.N.*,
                                   classifier.1/4/6.*, legacy serialization, BGR 0-255 weights
  imagenet-vgg-verydeep-19_tiny.mat      MatConvNet >= beta17 (MATLAB v5): layers (1x43 cell of structs
                                   name, type, weights {kernel (kh,kw,in,out), bias (out,1)}, ...) and
                                   meta.normalization.averageImage (1x1x3, RGB 0-255)
  imagenet-vgg-verydeep-19_old_tiny.mat  the older MatConvNet layout: layers with weights first,
                                   top-level normalization.averageImage (an image)
  vgg19_{torchvision,caffe,matconvnet}_tiny.converted.safetensors
                                   the .pth and .mat fixtures converted by scripts/convert_weights.py
  keras_vgg19_tiny_folded_torchvision.safetensors
                                   keras_vgg19_notop_tiny.h5 with Caffe's input convention (BGR, x255, minus
                                   the mean) folded into conv1_1 and tagged torchvision: stylize's torchvision
                                   preprocessing followed by the folded conv1_1 computes exactly the Keras
                                   network's conv1_1, except at the zero-padded border (zero in torchvision
                                   space is 255 x ImageNet mean - Caffe mean = (-0.41, -0.50, -0.005) in Caffe
                                   space). Normalized loss units must not see the difference.
  weights_golden_features.safetensors
                                   a 24x24 image and relu1_1, relu3_1, relu5_1 of it computed by an
                                   independent PyTorch implementation from each ORIGINAL-format fixture
                                   (h5py, torch.load, scipy.io.loadmat), applying that format's own
                                   input convention; tests/test_weight_formats.cpp compares stylize's
                                   features with them.

Run: /usr/bin/python3 scripts/make_weight_fixtures.py
(needs Debian's python3-numpy, python3-h5py, python3-torch, python3-scipy)
"""
import collections
import os
import subprocess
import sys

import h5py
import numpy as np
import scipy.io
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import safetensors_io  # noqa: E402

FIXTURES = os.path.join(HERE, "..", "tests", "fixtures")
TORCHVISION_INDEX = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
BLOCK_CONVS = [2, 2, 4, 4, 4]
CONV_NAMES = [f"conv{b}_{i}" for b, n in enumerate(BLOCK_CONVS, start=1) for i in range(1, n + 1)]
KERAS_NAMES = [f"block{b}_conv{i}" for b, n in enumerate(BLOCK_CONVS, start=1) for i in range(1, n + 1)]
TINY_WIDTHS = [4, 4, 6, 6, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8]
CLASSIFIER = [6, 6, 10]  # tiny fc6, fc7, fc8 (4096, 4096, 1000 in the real files)
CAFFE_MEAN_BGR = [103.939, 116.779, 123.68]
MATCONVNET_MEAN_RGB = [123.68, 116.779, 103.939]
GOLDEN_LAYERS = ["relu1_1", "relu3_1", "relu5_1"]


def path(name):
    return os.path.join(FIXTURES, name)


def random_convs(rng, scale=1.0):
    """16 convolutions as (kernel (kh, kw, in, out), bias (out,)), He-initialized."""
    convs, in_channels = [], 3
    for out_channels in TINY_WIDTHS:
        std = np.sqrt(2.0 / (in_channels * 9)) * scale
        kernel = rng.normal(0, std, (3, 3, in_channels, out_channels)).astype(np.float32)
        bias = rng.normal(0, 0.05, (out_channels,)).astype(np.float32)
        convs.append((kernel, bias))
        in_channels = out_channels
    return convs


def oihw(kernel):
    return np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))


def keras_layers():
    names = ["input_1"]
    for block, count in enumerate(BLOCK_CONVS, start=1):
        names += [f"block{block}_conv{i}" for i in range(1, count + 1)] + [f"block{block}_pool"]
    return names


# --- Keras -------------------------------------------------------------------

def write_keras1(filename, convs, skip=()):
    """Keras 1.x Model.save_weights() with h5py 2 (fixed-length byte strings)."""
    weights = dict(zip(KERAS_NAMES, convs))
    layers = [name for name in keras_layers() if name not in skip]
    with h5py.File(path(filename), "w") as f:
        f.attrs["layer_names"] = np.array([n.encode() for n in layers])  # dtype S<n>
        for layer in layers:
            g = f.create_group(layer)
            if layer in weights:
                kernel, bias = weights[layer]
                names = [f"{layer}_W_1:0".encode(), f"{layer}_b_1:0".encode()]
                g.attrs["weight_names"] = np.array(names)
                g.create_dataset(names[0].decode(), data=kernel)
                g.create_dataset(names[1].decode(), data=bias)
            else:
                g.attrs["weight_names"] = np.asarray([])  # what h5py stores for Keras's empty list


def write_keras1_declared_huge(filename, width=740741):
    """The Keras 1 layout with two layers declared far wider than any VGG19, stored as chunks never
    written: a few KB on disk, 40M values to read."""
    layers = keras_layers()
    with h5py.File(path(filename), "w") as f:
        f.attrs["layer_names"] = np.array([n.encode() for n in layers])
        for layer, shape in (("block1_conv1", (3, 3, 3, width)), ("block1_conv2", (3, 3, width, 3))):
            g = f.create_group(layer)
            names = [f"{layer}_W_1:0".encode(), f"{layer}_b_1:0".encode()]
            g.attrs["weight_names"] = np.array(names)
            g.create_dataset(names[0].decode(), shape=shape, dtype="f4", chunks=(3, 3, 3, 3), fillvalue=0.01)
            g.create_dataset(names[1].decode(), shape=(shape[3],), dtype="f4", chunks=(3,), fillvalue=0.01)


def write_keras2(filename, convs):
    """TF2 Keras 2.x save_weights() (hdf5_format.save_weights_to_hdf5_group) with h5py 3."""
    weights = dict(zip(KERAS_NAMES, convs))
    layers = keras_layers()
    with h5py.File(path(filename), "w") as f:
        f.attrs["layer_names"] = [n.encode("utf8") for n in layers]
        f.attrs["backend"] = "tensorflow".encode("utf8")
        f.attrs["keras_version"] = "2.9.0".encode("utf8")
        for layer in sorted(layers):  # Keras 2 creates the groups in name order
            g = f.create_group(layer)
            if layer in weights:
                kernel, bias = weights[layer]
                names = [f"{layer}/kernel:0".encode("utf8"), f"{layer}/bias:0".encode("utf8")]
                g.attrs["weight_names"] = names
                for name, value in zip(names, (kernel, bias)):
                    g.create_dataset(name, value.shape, dtype=value.dtype)[:] = value
            else:
                g.attrs["weight_names"] = []


# --- PyTorch -------------------------------------------------------------------

def state_dict(rng, convs, classifier_keys):
    sd = collections.OrderedDict()
    for index, (kernel, bias) in zip(TORCHVISION_INDEX, convs):
        sd[f"features.{index}.weight"] = torch.from_numpy(oihw(kernel))
        sd[f"features.{index}.bias"] = torch.from_numpy(bias.copy())
    in_features = TINY_WIDTHS[-1] * 7 * 7
    for key, out_features in zip(classifier_keys, CLASSIFIER):
        sd[f"classifier.{key}.weight"] = torch.from_numpy(
            rng.normal(0, 0.01, (out_features, in_features)).astype(np.float32))
        sd[f"classifier.{key}.bias"] = torch.zeros(out_features)
        in_features = out_features
    return sd


# --- MatConvNet ---------------------------------------------------------------

def matconvnet_layers(rng, convs, old):
    weights = dict(zip(CONV_NAMES, convs))
    names = []
    for block, count in enumerate(BLOCK_CONVS, start=1):
        for i in range(1, count + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    names += ["fc6", "relu6", "fc7", "relu7", "fc8", "prob"]
    fc_shapes = {"fc6": (7, 7, TINY_WIDTHS[-1], CLASSIFIER[0]), "fc7": (1, 1, CLASSIFIER[0], CLASSIFIER[1]),
                 "fc8": (1, 1, CLASSIFIER[1], CLASSIFIER[2])}
    cells = np.empty((1, len(names)), dtype=object)
    for i, name in enumerate(names):
        if name in weights or name in fc_shapes:
            if name in weights:
                kernel, bias = weights[name]
            else:
                kernel = rng.normal(0, 0.01, fc_shapes[name]).astype(np.float32)
                bias = np.zeros(fc_shapes[name][3], np.float32)
            w = np.empty((1, 2), dtype=object)
            w[0, 0] = kernel
            w[0, 1] = bias.reshape(1, -1) if old else bias.reshape(-1, 1)
            pad = np.zeros((1, 4)) if name in fc_shapes else np.ones((1, 4))
            if old:
                layer = {"weights": w, "pad": pad, "type": "conv", "name": name, "stride": np.ones((1, 2))}
            else:
                layer = {"name": name, "type": "conv", "weights": w,
                         "size": np.array([kernel.shape], dtype=np.float64), "pad": pad,
                         "stride": np.ones((1, 2)), "precious": False, "dilate": np.ones((1, 2)),
                         "opts": np.empty((0, 0), dtype=object)}
        elif name.startswith("relu"):
            layer = {"type": "relu", "name": name} if old else {"name": name, "type": "relu", "leak": 0.0,
                                                                "precious": False}
        elif name.startswith("pool"):
            common = {"name": name, "type": "pool", "method": "max", "pool": np.full((1, 2), 2.0),
                      "stride": np.full((1, 2), 2.0), "pad": np.zeros((1, 4))}
            layer = common if old else dict(common, precious=False, opts=np.empty((0, 0), dtype=object))
        else:
            layer = {"type": "softmax", "name": name} if old else {"name": name, "type": "softmax",
                                                                   "precious": False}
        cells[0, i] = layer
    return cells


def classes():
    names = np.empty((1, CLASSIFIER[2]), dtype=object)
    descriptions = np.empty((1, CLASSIFIER[2]), dtype=object)
    for i in range(CLASSIFIER[2]):
        names[0, i] = f"n0{i:07d}"
        descriptions[0, i] = f"class {i}"
    return {"name": names, "description": descriptions}


def fix_mat_header(filename):
    """scipy writes the creation time into the 116-byte text header; a fixed text keeps the file reproducible."""
    text = b"MATLAB 5.0 MAT-file, Platform: posix, Created by: scripts/make_weight_fixtures.py"
    with open(path(filename), "r+b") as f:
        f.write(text.ljust(116, b" "))


def write_matconvnet(filename, rng, convs):
    # Field order: the usual Python readers (anishathalye/neural-style) index
    # positionally: layers[0][i][0][0][2][0] for weights, meta.normalization[...][2] for averageImage.
    normalization = {"imageSize": np.array([[224.0, 224.0, 3.0]]), "interpolation": "bilinear",
                     "averageImage": np.array(MATCONVNET_MEAN_RGB, dtype=np.float32).reshape(1, 1, 3),
                     "keepAspect": True, "border": np.array([[32.0, 32.0]]), "cropSize": 0.875}
    meta = {"inputs": {"name": "data", "size": np.array([[224.0, 224.0, 3.0, 10.0]])}, "classes": classes(),
            "normalization": normalization}
    scipy.io.savemat(path(filename), {"layers": matconvnet_layers(rng, convs, old=False), "meta": meta},
                     do_compression=True, oned_as="column")
    fix_mat_header(filename)
    data = scipy.io.loadmat(path(filename))
    assert np.allclose(data["meta"]["normalization"][0][0][0][0][2][0][0], MATCONVNET_MEAN_RGB)
    assert np.array_equal(data["layers"][0][0][0][0][2][0][0], convs[0][0])


def write_matconvnet_old(filename, rng, convs):
    average = np.tile(np.array(MATCONVNET_MEAN_RGB, dtype=np.float32), (4, 4, 1))  # a (tiny) mean image
    normalization = {"averageImage": average, "keepAspect": True, "border": np.array([[32.0, 32.0]]),
                     "imageSize": np.array([[224.0, 224.0, 3.0]]), "interpolation": "bilinear"}
    scipy.io.savemat(path(filename), {"layers": matconvnet_layers(rng, convs, old=True),
                                      "normalization": normalization, "classes": classes()},
                     do_compression=True, oned_as="column")
    fix_mat_header(filename)
    data = scipy.io.loadmat(path(filename))
    assert np.allclose(np.mean(data["normalization"][0][0][0], axis=(0, 1)), MATCONVNET_MEAN_RGB)
    assert np.array_equal(data["layers"][0][0][0][0][0][0][0], convs[0][0])


# --- Reference features ------------------------------------------------------

def features(convs_oihw, image, to_network_input):
    """relu1_1, relu3_1, relu5_1 of `image` (1, 3, H, W, RGB in [0, 1])."""
    x = to_network_input(torch.from_numpy(image.copy()).double())
    found, conv = {}, 0
    for block, count in enumerate(BLOCK_CONVS, start=1):
        for i in range(1, count + 1):
            weight, bias = convs_oihw[conv]
            x = torch.relu(torch.nn.functional.conv2d(x, weight.double(), bias.double(), padding=1))
            found[f"relu{block}_{i}"] = x
            conv += 1
        if block < len(BLOCK_CONVS):  # pool5 would leave nothing of a 24 px image
            x = torch.nn.functional.max_pool2d(x, 2)
    return {name: found[name].float().numpy() for name in GOLDEN_LAYERS}


def caffe_input(x):  # RGB [0, 1] -> BGR [0, 255] minus the BGR mean
    return x.flip(1) * 255.0 - torch.tensor(CAFFE_MEAN_BGR, dtype=x.dtype).view(1, 3, 1, 1)


def torchvision_input(x):
    mean = torch.tensor([0.485, 0.456, 0.406], dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], dtype=x.dtype).view(1, 3, 1, 1)
    return (x - mean) / std


def reference_keras(filename, image):
    def names(values):
        return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values).reshape(-1)]

    convs = []
    with h5py.File(path(filename), "r") as f:
        layer_names = names(f.attrs["layer_names"])
        for layer in KERAS_NAMES:
            assert layer in layer_names
            tensors = [np.asarray(f[layer][w]) for w in names(f[layer].attrs["weight_names"])]
            kernel = next(t for t in tensors if t.ndim == 4)
            bias = next(t for t in tensors if t.ndim == 1)
            convs.append((torch.from_numpy(kernel).permute(3, 2, 0, 1), torch.from_numpy(bias)))
    return features(convs, image, caffe_input)


def reference_torch(filename, image, to_input):
    sd = torch.load(path(filename), map_location="cpu")
    convs = [(sd[f"features.{i}.weight"], sd[f"features.{i}.bias"]) for i in TORCHVISION_INDEX]
    return features(convs, image, to_input)


def reference_matconvnet(filename, image):
    data = scipy.io.loadmat(path(filename))
    mean_rgb = np.asarray(data["meta"]["normalization"][0][0]["averageImage"][0][0], dtype=np.float64).reshape(3)
    layers = {str(cell[0][0]["name"][0]): cell[0][0] for cell in data["layers"][0]}
    convs = []
    for name in CONV_NAMES:
        kernel, bias = layers[name]["weights"][0][0], layers[name]["weights"][0][1]
        convs.append((torch.from_numpy(kernel).permute(3, 2, 0, 1), torch.from_numpy(bias.reshape(-1))))

    def to_input(x):  # MatConvNet: RGB [0, 255] minus averageImage
        return x * 255.0 - torch.tensor(mean_rgb, dtype=x.dtype).view(1, 3, 1, 1)

    return features(convs, image, to_input)


def golden_image():
    rng = np.random.default_rng(3)
    size = 24
    y, x = np.mgrid[0:size, 0:size] / size
    channels = [0.5 + 0.4 * np.sin(2 * np.pi * (k + 1) * (x * np.cos(0.7 + k) + y * np.sin(0.7 + k)))
                for k in range(3)]
    image = np.stack(channels)[None] + rng.normal(0, 0.05, (1, 3, size, size))
    return np.clip(image, 0, 1).astype(np.float32)


TORCHVISION_MEAN = [0.485, 0.456, 0.406]
TORCHVISION_STD = [0.229, 0.224, 0.225]


def fold_caffe_into_torchvision(convs):
    """Keras (Caffe-convention) convolutions -> torchvision-convention ones computing the same features.

    Caffe input: x_c[c] = 255 x[2 - c] - mean_bgr[c]; torchvision input: x_t[i] = (x[i] - m[i]) / s[i].
    So x_c[c] = 255 (s[2 - c] x_t[2 - c] + m[2 - c]) - mean_bgr[c], and conv1_1 (W, b) on x_c equals
    W'[o, i] = 255 s[i] W[o, 2 - i], b'[o] = b[o] + sum_c (255 m[2 - c] - mean_bgr[c]) sum_k W[o, c, k] on x_t.
    """
    kernel, bias = convs[0]
    w = oihw(kernel).astype(np.float64)  # (out, in = BGR, 3, 3)
    folded = np.empty_like(w)
    for i in range(3):
        folded[:, i] = 255.0 * TORCHVISION_STD[i] * w[:, 2 - i]
    shift = np.array([255.0 * TORCHVISION_MEAN[2 - c] - CAFFE_MEAN_BGR[c] for c in range(3)])
    folded_bias = bias.astype(np.float64) + np.einsum("ocij,c->o", w, shift)
    tensors = {}
    for n, (index, (k, b)) in enumerate(zip(TORCHVISION_INDEX, convs)):
        if n == 0:
            tensors[f"features.{index}.weight"] = folded.astype(np.float32)
            tensors[f"features.{index}.bias"] = folded_bias.astype(np.float32)
        else:
            tensors[f"features.{index}.weight"] = oihw(k)
            tensors[f"features.{index}.bias"] = b.copy()
    return tensors


def convert(source, output, *extra):
    subprocess.run([sys.executable, os.path.join(HERE, "convert_weights.py"), path(source), path(output), *extra],
                   check=True)


def main():
    os.makedirs(FIXTURES, exist_ok=True)
    rng = np.random.default_rng(20261122)
    keras = random_convs(rng)
    write_keras1("keras_vgg19_notop_tiny.h5", keras)
    write_keras2("keras2_vgg19_notop_tiny.h5", keras)
    write_keras1("keras_vgg19_missing_layer_tiny.h5", keras, skip={"block4_conv2"})
    bad = list(keras)
    bad[4] = (bad[4][0][:, :, :4, :], bad[4][1])  # block3_conv1 taking 4 channels where block2_conv2 gives 6
    write_keras1("keras_vgg19_bad_shape_tiny.h5", bad)
    with h5py.File(path("hdf5_not_keras.h5"), "w") as f:  # HDF5, but not Keras weights
        f.create_dataset("data", data=np.arange(6, dtype=np.float32))
    write_keras1_declared_huge("keras_vgg19_declared_huge.h5")

    torchvision = random_convs(rng)
    sd = state_dict(rng, torchvision, [0, 3, 6])
    torch.save(sd, path("vgg19_torchvision_tiny.pth"))
    torch.save(sd, path("vgg19_torchvision_tiny_legacy.pth"), _use_new_zipfile_serialization=False)
    caffe = random_convs(rng)
    torch.save(state_dict(rng, caffe, [1, 4, 6]), path("vgg19_caffe_tiny.pth"), _use_new_zipfile_serialization=False)

    matconvnet = random_convs(rng)
    write_matconvnet("imagenet-vgg-verydeep-19_tiny.mat", rng, matconvnet)
    write_matconvnet_old("imagenet-vgg-verydeep-19_old_tiny.mat", rng, matconvnet)

    convert("vgg19_torchvision_tiny.pth", "vgg19_torchvision_tiny.converted.safetensors", "--convention", "torchvision")
    convert("vgg19_caffe_tiny.pth", "vgg19_caffe_tiny.converted.safetensors")  # detected: classifier.1.weight
    convert("imagenet-vgg-verydeep-19_tiny.mat", "vgg19_matconvnet_tiny.converted.safetensors")

    safetensors_io.save(path("keras_vgg19_tiny_folded_torchvision.safetensors"), fold_caffe_into_torchvision(keras),
                        {"format": "pt", "stylize.input_convention": "torchvision",
                         "stylize.note": "keras_vgg19_notop_tiny.h5 with its input convention folded into conv1_1"})

    image = golden_image()
    golden = {"image": image}
    references = {
        "keras": reference_keras("keras_vgg19_notop_tiny.h5", image),
        "keras2": reference_keras("keras2_vgg19_notop_tiny.h5", image),
        "torchvision": reference_torch("vgg19_torchvision_tiny.pth", image, torchvision_input),
        "caffe": reference_torch("vgg19_caffe_tiny.pth", image, caffe_input),
        "matconvnet": reference_matconvnet("imagenet-vgg-verydeep-19_tiny.mat", image),
    }
    for source, layers in references.items():
        for layer, value in layers.items():
            golden[f"{source}.{layer}"] = value
    safetensors_io.save(path("weights_golden_features.safetensors"), golden,
                        {"description": "features of `image` computed in float64 by scripts/make_weight_fixtures.py "
                                        "from each original-format fixture with its own input convention",
                         "torch": torch.__version__})
    for name in sorted(os.listdir(FIXTURES)):
        print(f"{name}: {os.path.getsize(path(name))} bytes")


if __name__ == "__main__":
    main()
