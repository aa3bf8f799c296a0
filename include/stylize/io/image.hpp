// Operations on images in memory: (N, 3, H, W) float tensors, RGB in [0, 1].
// Resizing, and the colour operations of colour preservation (Gatys et al.
// 2016, "Preserving Color in Neural Artistic Style Transfer"): luminance-only
// transfer and colour histogram matching. No file formats here (image_io.hpp).
#pragma once

#include <cstdint>
#include <utility>

#include <torch/types.h>

namespace stylize {

// Resizes an image tensor so that its longest side is `longest_side`, with
// antialiasing when shrinking. Differentiable; keeps dtype and device.
torch::Tensor resize_longest_side(const torch::Tensor& image, int longest_side);

// Resizes an image tensor to exactly (height, width) (bilinear, antialiased when shrinking).
torch::Tensor resize_to(const torch::Tensor& image, int64_t height, int64_t width);

// Full-range YCbCr (JPEG/BT.601): Y in [0, 1], Cb and Cr centred on 0.5.
torch::Tensor rgb_to_ycbcr(const torch::Tensor& rgb);
torch::Tensor ycbcr_to_rgb(const torch::Tensor& ycbcr);

// The luminance of `rgb` as a 3-channel gray image.
torch::Tensor luminance_image(const torch::Tensor& rgb);

// Shifts and scales the luminance of `source` (a gray image) to the mean and
// standard deviation of `target`'s luminance.
torch::Tensor match_luminance(const torch::Tensor& source, const torch::Tensor& target);

// The luminance of `luma` (any RGB image; its Y channel is used) with the
// chroma (Cb, Cr) of `color`, resized to luma's size if needed.
torch::Tensor combine_luminance_and_chroma(const torch::Tensor& luma, const torch::Tensor& color);

// Transforms the colours of `source` so that their mean and covariance equal
// those of `target` (x' = A (x - mu_s) + mu_t, A = C_t^(1/2) C_s^(-1/2)).
// Results are clamped to [0, 1].
torch::Tensor match_color_statistics(const torch::Tensor& source, const torch::Tensor& target);

// Mean (3) and covariance (3x3) of the pixel colours of an (N, 3, H, W) image.
std::pair<torch::Tensor, torch::Tensor> color_statistics(const torch::Tensor& rgb);

}  // namespace stylize
