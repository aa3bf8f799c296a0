#include "stylize/weights/safetensors.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>

#include "internal.hpp"
#include "stylize/errors.hpp"
#include "stylize/vgg19_layers.hpp"

namespace stylize {
namespace {

// Largest JSON header accepted; real headers are a few kilobytes.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

int dtype_size(const std::string& dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL" || dtype == "F8_E4M3" || dtype == "F8_E5M2") return 1;
  return 0;
}

float half_to_float(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0) {
    if (mantissa == 0) {
      bits = sign;
    } else {  // subnormal: renormalize
      exponent = 127 - 15 + 1;
      while ((mantissa & 0x400u) == 0) {
        mantissa <<= 1;
        --exponent;
      }
      bits = sign | (exponent << 23) | ((mantissa & 0x3ffu) << 13);
    }
  } else if (exponent == 31) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else {
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  }
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

float bf16_to_float(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

uint64_t read_le64(const unsigned char* p) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

// The header's "__metadata__": a map of strings.
std::map<std::string, std::string> read_metadata(const nlohmann::json& entry, const std::string& where) {
  if (!entry.is_object()) throw WeightsError(where + ": __metadata__ must be a JSON object of strings");
  std::map<std::string, std::string> metadata;
  for (auto m = entry.begin(); m != entry.end(); ++m) {
    if (!m.value().is_string()) throw WeightsError(where + ": __metadata__ value '" + m.key() + "' must be a string");
    metadata[m.key()] = m.value().get<std::string>();
  }
  return metadata;
}

// One tensor's header entry, checked against itself and the data section's
// `data_size` bytes; `bad` begins every error ("weights file 'x': tensor 'k' ").
TensorInfo read_tensor_entry(const nlohmann::json& entry, const std::string& bad, uint64_t data_size) {
  if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets")) {
    throw WeightsError(bad + "needs dtype, shape and data_offsets");
  }
  const auto& dtype = entry["dtype"];
  const auto& shape = entry["shape"];
  const auto& offsets = entry["data_offsets"];
  if (!dtype.is_string()) {
    // Not printed: dumping a hostile, deeply nested value recursed until the
    // stack overflowed (a 400 KB header of nested arrays crashed stylize).
    throw WeightsError(bad + "has a dtype that is not a string");
  }
  if (dtype_size(dtype.get<std::string>()) == 0) {
    const std::string& name = dtype.get_ref<const std::string&>();
    throw WeightsError(bad + "has an unknown dtype \"" + (name.size() <= 32 ? name : name.substr(0, 32) + "...") +
                       "\"");
  }
  if (!shape.is_array() || !offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned()) {
    throw WeightsError(bad + "has a malformed shape or data_offsets");
  }
  TensorInfo info;
  info.dtype = dtype.get<std::string>();
  uint64_t numel = 1;
  // The product of the nonzero dimensions: a zero dimension must not hide
  // absurd ones after it (a shape [0, 2^64 - 1] was accepted and read back
  // as the dimension -1).
  uint64_t nonzero = 1;
  for (const auto& dim : shape) {
    if (!dim.is_number_unsigned()) throw WeightsError(bad + "has a negative or non-integer dimension");
    const uint64_t d = dim.get<uint64_t>();
    if (d != 0 && nonzero > std::numeric_limits<uint64_t>::max() / 8 / d) {
      throw WeightsError(bad + "has a shape too large to be real");
    }
    if (d != 0) nonzero *= d;
    numel *= d;
    info.shape.push_back(static_cast<int64_t>(d));
  }
  info.begin = offsets[0].get<uint64_t>();
  info.end = offsets[1].get<uint64_t>();
  if (info.begin > info.end || info.end > data_size) {
    throw WeightsError(bad + "points past the end of the file (data_offsets [" + std::to_string(info.begin) + ", " +
                       std::to_string(info.end) + "], data section has " + std::to_string(data_size) +
                       " bytes): the file is truncated or corrupt");
  }
  if (info.end - info.begin != numel * dtype_size(info.dtype)) {
    throw WeightsError(bad + "has " + std::to_string(info.end - info.begin) + " bytes of data but its shape and " +
                       info.dtype + " need " + std::to_string(numel * dtype_size(info.dtype)));
  }
  return info;
}

}  // namespace

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

SafetensorsReader::SafetensorsReader(std::unique_ptr<std::istream> stream, uint64_t size, std::string name)
    : stream_(std::move(stream)), file_size_(size), name_(std::move(name)) {}

SafetensorsReader SafetensorsReader::open(const std::string& path) {
  auto file = std::make_unique<std::ifstream>(path, std::ios::binary);
  if (!*file) {
    throw WeightsError("cannot open weights file '" + path + "': " + std::strerror(errno));
  }
  file->seekg(0, std::ios::end);
  const auto size = static_cast<uint64_t>(file->tellg());
  file->seekg(0);
  SafetensorsReader reader(std::move(file), size, path);
  reader.parse();
  return reader;
}

SafetensorsReader SafetensorsReader::from_bytes(std::string bytes, const std::string& display_name) {
  const uint64_t size = bytes.size();
  SafetensorsReader reader(std::make_unique<std::istringstream>(std::move(bytes)), size, display_name);
  reader.parse();
  return reader;
}

void SafetensorsReader::parse() {
  const std::string where = "weights file '" + name_ + "'";
  if (file_size_ < 8) {
    throw WeightsError(where + " is not a safetensors file: it has only " + std::to_string(file_size_) +
                       " bytes (expected an 8-byte header length, a JSON header and tensor data)");
  }
  unsigned char length_bytes[8];
  stream_->read(reinterpret_cast<char*>(length_bytes), 8);
  const uint64_t header_length = read_le64(length_bytes);
  if (header_length == 0 || header_length > kMaxHeaderBytes || header_length > file_size_ - 8) {
    throw WeightsError(where + " is not a valid safetensors file: its header length field says " +
                       std::to_string(header_length) + " bytes but the file has " + std::to_string(file_size_) +
                       " (truncated or not safetensors)");
  }
  std::string header(header_length, '\0');
  stream_->read(header.data(), static_cast<std::streamsize>(header_length));
  if (!*stream_) throw WeightsError(where + ": could not read its header");
  data_start_ = 8 + header_length;
  const uint64_t data_size = file_size_ - data_start_;

  nlohmann::json json = nlohmann::json::parse(header, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    throw WeightsError(where + " is not a valid safetensors file: its header is not a JSON object");
  }

  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto it = json.begin(); it != json.end(); ++it) {
    if (it.key() == "__metadata__") {
      metadata_ = read_metadata(it.value(), where);
      continue;
    }
    TensorInfo info = read_tensor_entry(it.value(), where + ": tensor '" + it.key() + "' ", data_size);
    if (info.end > info.begin) ranges.emplace_back(info.begin, info.end);
    tensors_.emplace(it.key(), std::move(info));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].second) {
      throw WeightsError(where + " is corrupt: two tensors share bytes of the data section");
    }
  }
}

std::vector<float> SafetensorsReader::read_floats(const std::string& tensor_name) const {
  const auto it = tensors_.find(tensor_name);
  if (it == tensors_.end()) {
    throw WeightsError("weights file '" + name_ + "' has no tensor '" + tensor_name + "'");
  }
  const TensorInfo& info = it->second;
  const auto count = static_cast<size_t>(info.numel());
  const int width = dtype_size(info.dtype);
  if (info.dtype != "F32" && info.dtype != "F16" && info.dtype != "BF16" && info.dtype != "F64") {
    throw WeightsError("weights file '" + name_ + "': tensor '" + tensor_name + "' has dtype " + info.dtype +
                       "; only F32, F16, BF16 and F64 weights are supported");
  }
  std::string raw(count * width, '\0');
  stream_->clear();
  stream_->seekg(static_cast<std::streamoff>(data_start_ + info.begin));
  stream_->read(raw.data(), static_cast<std::streamsize>(raw.size()));
  if (!*stream_) {
    throw WeightsError("weights file '" + name_ + "': could not read tensor '" + tensor_name + "' (truncated file?)");
  }
  std::vector<float> values(count);
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  auto u16 = [&](size_t i) { return static_cast<uint16_t>(bytes[2 * i] | bytes[2 * i + 1] << 8); };
  if (info.dtype == "F32") {
    for (size_t i = 0; i < count; ++i) {
      const unsigned char* p = bytes + 4 * i;
      const uint32_t bits = uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
      std::memcpy(&values[i], &bits, 4);
    }
  } else if (info.dtype == "F64") {
    for (size_t i = 0; i < count; ++i) {
      const uint64_t bits = read_le64(bytes + 8 * i);
      double d;
      std::memcpy(&d, &bits, 8);
      values[i] = static_cast<float>(d);
    }
  } else if (info.dtype == "F16") {
    for (size_t i = 0; i < count; ++i) values[i] = half_to_float(u16(i));
  } else {
    for (size_t i = 0; i < count; ++i) values[i] = bf16_to_float(u16(i));
  }
  return values;
}

VggWeights read_vgg19_safetensors(const std::string& path, int num_convs) {
  const SafetensorsReader reader = SafetensorsReader::open(path);
  VggWeights weights;
  weights.path = path;
  weights.format = "safetensors";
  weights.metadata = reader.metadata();
  if (auto it = reader.metadata().find(detail::kInputConventionKey); it != reader.metadata().end()) {
    auto convention = InputConvention::by_name(it->second);
    if (!convention) {
      throw WeightsError("weights file '" + path + "' declares an unknown input convention '" + it->second +
                         "' (expected torchvision or caffe)");
    }
    weights.convention = *convention;
  }
  for (int i = 0; i < num_convs; ++i) {
    const std::string& name = vgg19_conv_names()[i];
    // torchvision's features Sequential holds the layers in the table's order.
    const std::string prefix = "features." + std::to_string(vgg19_layer_index(name));
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

}  // namespace stylize
