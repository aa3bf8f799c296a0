// Helpers shared by the image and video readers and writers (defined in
// image_io.cpp, write_target in file.cpp): conversions between OpenCV images
// and stylize's image tensors. Internal to the library's I/O.
#pragma once

#include <filesystem>
#include <string>

#include <torch/types.h>
#include <opencv2/core.hpp>

namespace stylize::detail {

// A 3-channel float32 BGR image in [0, 1] as a (1, 3, H, W) float32 RGB tensor (a copy).
torch::Tensor bgr_float_to_tensor(const cv::Mat& bgr);

// Resizes so the longest side is `longest_side` (0: unchanged): area
// averaging when shrinking, bicubic when enlarging, clamped to [0, 1].
cv::Mat resize_mat_longest_side(const cv::Mat& image, int longest_side);

// A (1, 3, H, W) or (3, H, W) tensor in [0, 1] as an 8-bit BGR image (a
// copy). `path` names the output in the OutputError thrown for a bad shape.
cv::Mat tensor_to_bgr8(const torch::Tensor& image, const std::string& path);

// The file a write to `path` replaces: `path`, or where the symbolic link
// there points (the link stays a link, as with cp or an editor).
std::filesystem::path write_target(const std::string& path);

}  // namespace stylize::detail
