// Input conventions, the checks every reader applies, and the choice of reader by signature.
#include "stylize/weights/weights.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "internal.hpp"
#include "stylize/errors.hpp"
#include "stylize/weights/catalog.hpp"
#include "stylize/weights/keras_h5.hpp"
#include "stylize/weights/safetensors.hpp"

namespace stylize {
namespace fs = std::filesystem;

namespace {

bool has_signature(const std::string& path, const char* signature, size_t length, size_t offset = 0) {
  std::ifstream file(path, std::ios::binary);
  file.seekg(static_cast<std::streamoff>(offset));
  std::string head(length, '\0');
  file.read(head.data(), static_cast<std::streamsize>(length));
  return file && std::memcmp(head.data(), signature, length) == 0;
}

// Up to `length` bytes from the start of the file.
std::string file_head(const std::string& path, size_t length) {
  std::ifstream file(path, std::ios::binary);
  std::string head(length, '\0');
  file.read(head.data(), static_cast<std::streamsize>(length));
  head.resize(static_cast<size_t>(std::max<std::streamsize>(0, file.gcount())));
  return head;
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
    if (conv.out_channels < 1) {
      throw WeightsError("weights file '" + path + "': " + conv.name +
                         " has no output channels; the file is not a VGG19");
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

namespace {

bool is_hdf5(const std::string& path) {
  // HDF5's signature is at offset 0, or at 512, 1024, ... after a user block.
  static const char kHdf5Signature[] = "\x89HDF\r\n\x1a\n";
  for (size_t offset : {0, 512, 1024, 2048}) {
    if (has_signature(path, kHdf5Signature, 8, offset)) return true;
  }
  return false;
}

}  // namespace

std::optional<InputConvention> read_input_convention(const std::string& path) {
  try {
    std::error_code error;
    if (!fs::is_regular_file(path, error)) return std::nullopt;
    if (is_hdf5(path)) return InputConvention::caffe();
    const SafetensorsReader reader = SafetensorsReader::open(path);
    const auto entry = reader.metadata().find(detail::kInputConventionKey);
    return entry == reader.metadata().end() ? InputConvention::torchvision() : InputConvention::by_name(entry->second);
  } catch (const std::exception&) {
    return std::nullopt;
  }
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
  const std::string convert = "; convert it with: /usr/bin/python3 scripts/convert_weights.py '" + path +
                              "' vgg19.safetensors (see README, \"Weights\")";
  // Before HDF5: a MATLAB v7.3 file is HDF5 after a 512-byte header of its own.
  if (has_signature(path, "MATLAB", 6)) {
    throw WeightsError("weights file '" + path + "' is a MATLAB (MatConvNet) file, which stylize does not read" +
                       convert);
  }
  if (is_hdf5(path)) return read_vgg19_keras_hdf5(path, num_convs);
  // torch.save: a zip archive holding data.pkl, or (legacy) a pickle starting
  // with torch's magic number. Keras 3 saves .keras files as zip archives too.
  static const char kLegacyTorchSignature[] = "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";
  const bool zip = has_signature(path, "PK\x03\x04", 4);
  const std::string names = zip ? file_head(path, 1 << 16) : "";  // the first members' names are in their headers
  if (has_signature(path, kLegacyTorchSignature, 14) || (zip && names.find("data.pkl") != std::string::npos)) {
    throw WeightsError("weights file '" + path + "' is a PyTorch checkpoint (.pth), which stylize does not read" +
                       convert);
  }
  if (zip && names.find("model.weights.h5") != std::string::npos) {
    throw WeightsError("weights file '" + path +
                       "' is a Keras 3 model archive (.keras), which stylize does not read; use the Keras 2 weights "
                       "file " +
                       std::string(kDefaultWeightsFileName) + " (`stylize weights download` fetches it)");
  }
  if (zip) {
    throw WeightsError("weights file '" + path +
                       "' is a zip archive but neither a PyTorch checkpoint nor a Keras 3 model; give a safetensors, "
                       "Keras .h5 or PyTorch .pth file (see README, \"Weights\")");
  }
  return read_vgg19_safetensors(path, num_convs);
}

}  // namespace stylize
