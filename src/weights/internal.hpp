// Helpers shared by the weights readers (src/weights/*.cpp).
// Not part of the public interface.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "stylize/weights/weights.hpp"

namespace stylize::detail {

// The safetensors metadata key naming the file's input convention (written by
// scripts/convert_weights.py); absent means torchvision.
constexpr const char* kInputConventionKey = "stylize.input_convention";

// Checks that `convs` chain as a VGG19 does (3 input channels, then each
// convolution takes what the previous one gives), that every kernel is 3x3 and
// that every value is finite. Throws WeightsError naming `path` and the layer.
void check_shapes(const std::string& path, const std::vector<ConvWeights>& convs);

// "(3,3,64,128)"
std::string shape_string(const std::vector<int64_t>& shape);

}  // namespace stylize::detail
