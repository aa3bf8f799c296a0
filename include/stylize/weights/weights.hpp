// VGG19 weights in memory, independent of the file format they came from, and
// the readers for the formats stylize understands. Readers do not depend on
// LibTorch: they produce plain float arrays that the network copies in.
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
  // Roughly how much smaller this network's features are than a Caffe-convention
  // network's: the ratio of the input scales (255 x ImageNet std for
  // torchvision, 1 for Caffe). Loss weights are calibrated in Caffe units (the
  // TensorFlow tutorial's Keras VGG19), so content terms are multiplied by
  // feature_scale^2 and style terms by feature_scale^4.
  double feature_scale = 1.0;

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

// The 16 convolution names of VGG19 (configuration E), in order.
const std::vector<std::string>& vgg19_conv_names();

// Reads the first `num_convs` convolutions (1..16) of a VGG19 from `path`,
// choosing the reader by the file's signature (HDF5: Keras; otherwise
// safetensors). PyTorch and MATLAB files are recognized and refused with the
// command that converts them. Throws WeightsError.
VggWeights load_vgg19_weights(const std::string& path, int num_convs = 16);

// Reader for a safetensors file with torchvision key names
// (features.0.weight ... features.34.bias). The input convention comes from the
// `stylize.input_convention` metadata entry (torchvision when absent).
// Throws WeightsError.
VggWeights read_vgg19_safetensors(const std::string& path, int num_convs = 16);

// Reader for a Keras HDF5 weights file (save_weights() of Keras 1 or 2, e.g.
// vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5): layers block1_conv1 ...
// block5_conv4, kernels (kh, kw, in, out) transposed to (out, in, kh, kw),
// Caffe input convention. Implemented in src/weights_hdf5.cpp. Throws WeightsError.
VggWeights read_vgg19_keras_hdf5(const std::string& path, int num_convs = 16);

// File name of the default weights, Keras's VGG19 "notop" file; it is
// downloaded into weights_cache_dir() on first use (see download.hpp).
constexpr const char* kDefaultWeightsFileName = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5";

// Where downloaded weights are kept: $XDG_CACHE_HOME/stylize, else
// $HOME/.cache/stylize; empty when neither variable is set.
std::string weights_cache_dir();

// Where weights are looked for, in order, when no --weights is given:
// $STYLIZE_WEIGHTS; models/vgg19.safetensors and models/<kDefaultWeightsFileName>
// under the current directory, then in the models/ folder of the source tree
// this binary was built from; then <kDefaultWeightsFileName> in
// weights_cache_dir().
std::vector<std::string> default_weights_candidates();

// The weights file to use: `explicit_path` when given (it must exist), else
// $STYLIZE_WEIGHTS when set (it must exist), else the first existing default
// candidate, else nullopt. Throws WeightsError when a named file is missing.
std::optional<std::string> find_weights(const std::string& explicit_path);

// Like find_weights, but throws WeightsError saying how to get weights when
// none is found. Never downloads (see resolve_or_download_weights in download.hpp).
std::string resolve_weights_path(const std::string& explicit_path);

// One line a person can follow to get the default weights by hand.
std::string how_to_get_weights();

}  // namespace stylize
