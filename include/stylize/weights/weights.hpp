// VGG19 weights in memory, independent of the file format they came from.
// The readers (safetensors.hpp, keras_h5.hpp) do not depend on LibTorch: they
// produce plain float arrays that the network copies in. Layer names come from
// the layer table (stylize/vgg19_layers.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace stylize {

// How an RGB image in [0, 1] must be transformed before the first convolution:
// optional swap to BGR, multiply by `scale`, subtract `mean`, divide by `std`
// (mean and std are given in the network's channel order).
struct InputConvention {
  std::string name;  // "torchvision" or "caffe"
  bool bgr = false;
  float scale = 1.0f;
  std::array<float, 3> mean{};
  std::array<float, 3> std{1.0f, 1.0f, 1.0f};

  // RGB, [0, 1], ImageNet mean and std: torchvision and timm checkpoints.
  static InputConvention torchvision();
  // BGR, [0, 255], ImageNet mean in BGR, no std: Caffe, Keras and MatConvNet VGGs.
  static InputConvention caffe();
  // Looks a convention up by name; nullopt if unknown.
  static std::optional<InputConvention> by_name(const std::string& name);
};

// One 3x3 convolution: weight in (out, in, kh, kw) order, row major.
struct ConvWeights {
  std::string name;  // "conv1_1"
  int64_t out_channels = 0;
  int64_t in_channels = 0;
  int64_t kernel_h = 0;
  int64_t kernel_w = 0;
  std::vector<float> weight;
  std::vector<float> bias;
};

// The convolutional part of a VGG19, in network order, possibly truncated:
// convs holds conv1_1, conv1_2, ... up to the deepest layer that was asked for.
struct VggWeights {
  std::vector<ConvWeights> convs;
  InputConvention convention = InputConvention::torchvision();
  std::string path;    // file it was read from
  std::string format;  // "safetensors", "keras-hdf5", ...
  // Facts the file states about itself, for display: the safetensors
  // __metadata__ entries, or keras.keras_version / keras.backend.
  std::map<std::string, std::string> metadata;
};

// Reads the first `num_convs` convolutions (1..16) of a VGG19 from `path`,
// choosing the reader by the file's signature (HDF5: Keras, keras_h5.hpp;
// otherwise safetensors, safetensors.hpp). PyTorch and MATLAB files are
// recognized and refused with the command that converts them. Throws WeightsError.
VggWeights load_vgg19_weights(const std::string& path, int num_convs = 16);

// The input convention of the weights file at `path` from its header alone,
// as load_vgg19_weights would find it (Keras's HDF5: caffe; safetensors: its
// stylize.input_convention entry, else torchvision); nullopt for a file it
// would refuse, or cannot read. Never throws.
std::optional<InputConvention> read_input_convention(const std::string& path);

}  // namespace stylize
