#include "stylize/weights.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "stylize/download.hpp"
#include "stylize/errors.hpp"
#include "stylize/safetensors.hpp"
#include "weights_internal.hpp"

#ifndef STYLIZE_MODELS_DIR
#define STYLIZE_MODELS_DIR ""
#endif

namespace stylize {
namespace fs = std::filesystem;

namespace {

// Index of each convolution inside torchvision's vgg19().features Sequential.
constexpr int kTorchvisionIndex[16] = {0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34};

// Metadata key written by scripts/convert_weights.py; absent means torchvision.
constexpr const char* kConventionKey = "stylize.input_convention";

bool has_signature(const std::string& path, const char* signature, size_t length, size_t offset = 0) {
  std::ifstream file(path, std::ios::binary);
  file.seekg(static_cast<std::streamoff>(offset));
  std::string head(length, '\0');
  file.read(head.data(), static_cast<std::streamsize>(length));
  return file && std::memcmp(head.data(), signature, length) == 0;
}

}  // namespace

namespace detail {

void check_shapes(const std::string& path, const std::vector<ConvWeights>& convs) {
  int64_t expected_in = 3;
  for (const auto& conv : convs) {
    if (conv.in_channels != expected_in) {
      throw WeightsError("weights file '" + path + "': " + conv.name + " takes " + std::to_string(conv.in_channels) +
                         " input channels but the layer before it gives " + std::to_string(expected_in) +
                         "; the file is not a VGG19");
    }
    if (conv.kernel_h != 3 || conv.kernel_w != 3) {
      throw WeightsError("weights file '" + path + "': " + conv.name + " has a " + std::to_string(conv.kernel_h) + "x" +
                         std::to_string(conv.kernel_w) + " kernel, VGG19 uses 3x3");
    }
    for (const auto* values : {&conv.weight, &conv.bias}) {
      for (float v : *values) {
        if (!std::isfinite(v)) {
          throw WeightsError("weights file '" + path + "': " + conv.name +
                             " contains NaN or infinite values; the file is corrupt, download it again");
        }
      }
    }
    expected_in = conv.out_channels;
  }
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? "," : "") + std::to_string(shape[i]);
  return text + ")";
}

}  // namespace detail

InputConvention InputConvention::torchvision() {
  InputConvention c;
  c.name = "torchvision";
  c.bgr = false;
  c.scale = 1.0f;
  c.mean = {0.485f, 0.456f, 0.406f};
  c.std = {0.229f, 0.224f, 0.225f};
  c.feature_scale = 255.0 * (0.229 + 0.224 + 0.225) / 3.0;
  return c;
}

InputConvention InputConvention::caffe() {
  InputConvention c;
  c.name = "caffe";
  c.bgr = true;
  c.scale = 255.0f;
  c.mean = {103.939f, 116.779f, 123.68f};  // B, G, R
  c.std = {1.0f, 1.0f, 1.0f};
  return c;
}

std::optional<InputConvention> InputConvention::by_name(const std::string& name) {
  if (name == "torchvision") return torchvision();
  if (name == "caffe") return caffe();
  return std::nullopt;
}

const std::vector<std::string>& vgg19_conv_names() {
  static const std::vector<std::string> names = {"conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2",
                                                 "conv3_3", "conv3_4", "conv4_1", "conv4_2", "conv4_3", "conv4_4",
                                                 "conv5_1", "conv5_2", "conv5_3", "conv5_4"};
  return names;
}

VggWeights read_vgg19_safetensors(const std::string& path, int num_convs) {
  const SafetensorsReader reader = SafetensorsReader::open(path);
  VggWeights weights;
  weights.path = path;
  weights.format = "safetensors";
  weights.metadata = reader.metadata();
  if (auto it = reader.metadata().find(kConventionKey); it != reader.metadata().end()) {
    auto convention = InputConvention::by_name(it->second);
    if (!convention) {
      throw WeightsError("weights file '" + path + "' declares an unknown input convention '" + it->second +
                         "' (expected torchvision or caffe)");
    }
    weights.convention = *convention;
  }
  for (int i = 0; i < num_convs; ++i) {
    const std::string& name = vgg19_conv_names()[i];
    const std::string prefix = "features." + std::to_string(kTorchvisionIndex[i]);
    const std::string weight_key = prefix + ".weight";
    const std::string bias_key = prefix + ".bias";
    for (const auto& key : {weight_key, bias_key}) {
      if (!reader.contains(key)) {
        throw WeightsError("weights file '" + path + "' has no tensor '" + key + "' (VGG19 layer " + name +
                           "); expected a VGG19 with torchvision key names features.0.weight ... features.34.bias");
      }
    }
    const auto& shape = reader.tensors().at(weight_key).shape;
    const auto& bias_shape = reader.tensors().at(bias_key).shape;
    if (shape.size() != 4 || bias_shape.size() != 1 || bias_shape[0] != shape[0]) {
      throw WeightsError("weights file '" + path + "': " + weight_key + " / " + bias_key +
                         " do not have the shapes of a convolution (out, in, kh, kw) / (out)");
    }
    ConvWeights conv;
    conv.name = name;
    conv.out_channels = shape[0];
    conv.in_channels = shape[1];
    conv.kernel_h = shape[2];
    conv.kernel_w = shape[3];
    conv.weight = reader.read_floats(weight_key);
    conv.bias = reader.read_floats(bias_key);
    weights.convs.push_back(std::move(conv));
  }
  detail::check_shapes(path, weights.convs);
  return weights;
}

VggWeights load_vgg19_weights(const std::string& path, int num_convs) {
  if (num_convs < 1 || num_convs > 16) throw WeightsError("a VGG19 has 1 to 16 convolutions");
  std::error_code error;
  if (!fs::exists(path, error)) {
    throw WeightsError("cannot read weights file '" + path + "': file not found");
  }
  if (fs::is_directory(path, error)) {
    throw WeightsError("cannot read weights file '" + path + "': it is a directory, not a file");
  }
  // HDF5's signature is at offset 0, or at 512, 1024, ... after a user block.
  static const char kHdf5Signature[] = "\x89HDF\r\n\x1a\n";
  for (size_t offset : {0, 512, 1024, 2048}) {
    if (has_signature(path, kHdf5Signature, 8, offset)) return read_vgg19_keras_hdf5(path, num_convs);
  }
  const std::string convert = "; convert it with: /usr/bin/python3 scripts/convert_weights.py '" + path +
                              "' vgg19.safetensors (see README, \"Weights\")";
  // torch.save: a zip archive, or (legacy) a pickle starting with torch's magic number.
  static const char kLegacyTorchSignature[] = "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";
  if (has_signature(path, "PK\x03\x04", 4) || has_signature(path, kLegacyTorchSignature, 14)) {
    throw WeightsError("weights file '" + path + "' is a PyTorch checkpoint (.pth), which stylize does not read" +
                       convert);
  }
  if (has_signature(path, "MATLAB", 6)) {
    throw WeightsError("weights file '" + path + "' is a MATLAB (MatConvNet) file, which stylize does not read" +
                       convert);
  }
  return read_vgg19_safetensors(path, num_convs);
}

std::string weights_cache_dir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg && fs::path(xdg).is_absolute()) {
    return (fs::path(xdg) / "stylize").string();
  }
  if (const char* home = std::getenv("HOME"); home && *home) return (fs::path(home) / ".cache" / "stylize").string();
  return "";
}

std::vector<std::string> default_weights_candidates() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("STYLIZE_WEIGHTS"); env && *env) candidates.emplace_back(env);
  const std::string built_in = STYLIZE_MODELS_DIR;
  for (const std::string& dir : {std::string("models"), built_in}) {
    if (dir.empty()) continue;
    candidates.push_back(dir + "/vgg19.safetensors");
    candidates.push_back(dir + "/" + kDefaultWeightsFileName);
  }
  if (const std::string cache = weights_cache_dir(); !cache.empty()) {
    candidates.push_back(cache + "/" + kDefaultWeightsFileName);
  }
  return candidates;
}

std::optional<std::string> find_weights(const std::string& explicit_path) {
  std::error_code error;
  if (!explicit_path.empty()) {
    if (!fs::exists(explicit_path, error)) {
      throw WeightsError("cannot read weights file '" + explicit_path + "' (--weights): file not found");
    }
    return explicit_path;
  }
  if (const char* env = std::getenv("STYLIZE_WEIGHTS"); env && *env && !fs::exists(env, error)) {
    throw WeightsError(std::string("cannot read weights file '") + env + "' named by STYLIZE_WEIGHTS: file not found");
  }
  for (const auto& candidate : default_weights_candidates()) {
    if (fs::is_regular_file(candidate, error)) return candidate;
  }
  return std::nullopt;
}

std::string how_to_get_weights() {
  const DownloadSource source = default_download_source();
  const std::string cache = weights_cache_dir();
  return "download " + source.url + " (" + source.size_text + ", " + source.checksum_name() + " " + source.checksum +
         ") and save it as " + (cache.empty() ? std::string("models") : cache) + "/" + kDefaultWeightsFileName +
         ", or run scripts/download_models.sh (torchvision weights, 575 MB), " +
         "or pass --weights PATH, or set STYLIZE_WEIGHTS=PATH";
}

std::string resolve_weights_path(const std::string& explicit_path) {
  if (auto found = find_weights(explicit_path)) return *found;
  std::string looked;
  for (const auto& candidate : default_weights_candidates()) looked += (looked.empty() ? "" : ", ") + candidate;
  throw WeightsError("no VGG19 weights found (looked for " + looked + "). To get them: " + how_to_get_weights());
}

}  // namespace stylize
