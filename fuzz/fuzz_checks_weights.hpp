// The checks of the weights readers' fuzz targets (fuzz_safetensors,
// fuzz_keras_h5), apart from fuzz_checks.hpp so that those targets build
// without LibTorch. See fuzz_checks.hpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "stylize/errors.hpp"
#include "stylize/weights/keras_h5.hpp"
#include "stylize/weights/safetensors.hpp"

namespace stylize::fuzz {

// Accepted inputs must parse, and every tensor must read back with as many
// values as its shape says, or be refused with a WeightsError.
inline std::string check_safetensors(const std::string& bytes) {
  try {
    const auto reader = SafetensorsReader::from_bytes(bytes, "fuzz.safetensors");
    for (const auto& [name, info] : reader.tensors()) {
      for (const int64_t dim : info.shape) {
        if (dim < 0) return "tensor '" + name + "' was accepted with the dimension " + std::to_string(dim);
      }
      if (info.begin > info.end) return "tensor '" + name + "' was accepted with begin > end";
      try {
        const std::vector<float> values = reader.read_floats(name);
        if (values.size() != static_cast<uint64_t>(info.numel())) {
          return "tensor '" + name + "' read back " + std::to_string(values.size()) + " values for " +
                 std::to_string(info.numel()) + " elements";
        }
      } catch (const WeightsError&) {
        // An integer or 8-bit dtype: refused, as documented.
      }
    }
  } catch (const WeightsError&) {
    // The documented way to refuse a file.
  }
  return "";
}

// Accepted inputs must give the 16 convolutions of a VGG19: chained channel
// counts from 3, 3x3 kernels, as many values as the shapes say, all finite;
// the others must be refused with a WeightsError.
inline std::string check_keras_h5(const std::string& bytes) {
  try {
    const VggWeights weights = read_vgg19_keras_hdf5_bytes(bytes, "fuzz.h5");
    if (weights.convs.size() != 16) return "accepted with " + std::to_string(weights.convs.size()) + " convolutions";
    int64_t channels = 3;
    for (const ConvWeights& conv : weights.convs) {
      if (conv.in_channels != channels || conv.out_channels < 1 || conv.kernel_h != 3 || conv.kernel_w != 3) {
        return conv.name + " was accepted with the shape (" + std::to_string(conv.out_channels) + "," +
               std::to_string(conv.in_channels) + "," + std::to_string(conv.kernel_h) + "," +
               std::to_string(conv.kernel_w) + ") after " + std::to_string(channels) + " channels";
      }
      if (conv.weight.size() != static_cast<size_t>(conv.out_channels * conv.in_channels * 9) ||
          conv.bias.size() != static_cast<size_t>(conv.out_channels)) {
        return conv.name + " read back " + std::to_string(conv.weight.size()) + " weights and " +
               std::to_string(conv.bias.size()) + " biases for its shape";
      }
      for (const auto* values : {&conv.weight, &conv.bias}) {
        for (const float v : *values) {
          if (!std::isfinite(v)) return conv.name + " was accepted with a non-finite value";
        }
      }
      channels = conv.out_channels;
    }
  } catch (const WeightsError&) {
    // The documented way to refuse a file.
  }
  return "";
}

}  // namespace stylize::fuzz
