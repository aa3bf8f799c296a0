// A reader for the safetensors format (https://huggingface.co/docs/safetensors):
// an 8-byte little-endian header length, a JSON header mapping tensor names to
// {dtype, shape, data_offsets} (plus an optional "__metadata__" map of strings),
// then the raw little-endian tensor data. Every shape and offset is validated
// when the file is opened; tensors are read one at a time on demand, so a
// 550 MB checkpoint costs only the tensors actually used.
#pragma once

#include <cstdint>
#include <istream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "stylize/weights/weights.hpp"

namespace stylize {

struct TensorInfo {
  std::string dtype;  // "F32", "F16", "BF16", "F64", ...
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data section
  uint64_t end = 0;
  int64_t numel() const;
};

class SafetensorsReader {
 public:
  // Opens and validates a file. Throws WeightsError.
  static SafetensorsReader open(const std::string& path);
  // Parses an in-memory file (used by tests and the fuzzer). Throws WeightsError.
  static SafetensorsReader from_bytes(std::string bytes, const std::string& display_name);

  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  const std::string& name() const { return name_; }

  // Reads one tensor converted to float32 (F32, F16, BF16 and F64 are supported).
  // Throws WeightsError for an unknown name, an unsupported dtype or a short read.
  std::vector<float> read_floats(const std::string& tensor_name) const;

 private:
  SafetensorsReader(std::unique_ptr<std::istream> stream, uint64_t size, std::string name);
  void parse();

  std::unique_ptr<std::istream> stream_;
  uint64_t file_size_ = 0;
  uint64_t data_start_ = 0;
  std::string name_;
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Reads the first `num_convs` convolutions of a VGG19 from a safetensors file
// with torchvision key names (features.0.weight ... features.34.bias). The
// input convention comes from the `stylize.input_convention` metadata entry
// (torchvision when absent). Throws WeightsError.
VggWeights read_vgg19_safetensors(const std::string& path, int num_convs = 16);

}  // namespace stylize
