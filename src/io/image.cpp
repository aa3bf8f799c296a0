#include "stylize/io/image.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include <torch/nn/functional/upsampling.h>
#include <torch/torch.h>

namespace stylize {
namespace {

torch::Tensor matrix(std::vector<double> values) { return torch::tensor(values, torch::kFloat64).view({3, 3}); }

// Applies a 3x3 colour matrix and an offset to (N, 3, H, W) pixels.
torch::Tensor transform(const torch::Tensor& image, const torch::Tensor& m, const torch::Tensor& offset) {
  const torch::Tensor x = image.to(torch::kFloat64);
  const torch::Tensor y =
      torch::einsum("ij,njhw->nihw", {m.to(x.device()), x}) + offset.to(x.device()).view({1, 3, 1, 1});
  return y.to(image.scalar_type());
}

// Symmetric matrix to the power p, through its eigendecomposition.
torch::Tensor symmetric_power(const torch::Tensor& s, double p) {
  const auto [values, vectors] = torch::linalg_eigh(s, "L");
  return vectors.matmul(torch::diag(values.clamp_min(1e-10).pow(p))).matmul(vectors.transpose(0, 1));
}

}  // namespace

torch::Tensor resize_to(const torch::Tensor& image, int64_t height, int64_t width) {
  if (image.size(-2) == height && image.size(-1) == width) return image;
  namespace F = torch::nn::functional;
  const bool shrinking = height < image.size(-2) || width < image.size(-1);
  return F::interpolate(image, F::InterpolateFuncOptions()
                                   .size(std::vector<int64_t>{height, width})
                                   .mode(torch::kBilinear)
                                   .align_corners(false)
                                   .antialias(shrinking));
}

torch::Tensor resize_longest_side(const torch::Tensor& image, int longest_side) {
  const int64_t h = image.size(-2), w = image.size(-1);
  const int64_t longest = std::max(h, w);
  if (longest_side <= 0 || longest == longest_side) return image;
  const double factor = static_cast<double>(longest_side) / longest;
  return resize_to(image, std::max<int64_t>(1, std::llround(h * factor)),
                   std::max<int64_t>(1, std::llround(w * factor)));
}

torch::Tensor rgb_to_ycbcr(const torch::Tensor& rgb) {
  static const torch::Tensor m = matrix({0.299f, 0.587f, 0.114f,        //
                                         -0.168736f, -0.331264f, 0.5f,  //
                                         0.5f, -0.418688f, -0.081312f});
  return transform(rgb, m, torch::tensor({0.0, 0.5, 0.5}, torch::kFloat64));
}

torch::Tensor ycbcr_to_rgb(const torch::Tensor& ycbcr) {
  static const torch::Tensor m = matrix({1.0f, 0.0f, 1.402f,            //
                                         1.0f, -0.344136f, -0.714136f,  //
                                         1.0f, 1.772f, 0.0f});
  const torch::Tensor offset = -m.matmul(torch::tensor({0.0, 0.5, 0.5}, torch::kFloat64));
  return transform(ycbcr, m, offset);
}

torch::Tensor luminance_image(const torch::Tensor& rgb) {
  return rgb_to_ycbcr(rgb).narrow(1, 0, 1).expand({-1, 3, -1, -1}).contiguous();
}

torch::Tensor match_luminance(const torch::Tensor& source, const torch::Tensor& target) {
  const torch::Tensor s = rgb_to_ycbcr(source).narrow(1, 0, 1);
  const torch::Tensor t = rgb_to_ycbcr(target).narrow(1, 0, 1);
  const torch::Tensor matched = (s - s.mean()) * (t.std() / s.std().clamp_min(1e-6)) + t.mean();
  return matched.clamp(0.0, 1.0).expand({-1, 3, -1, -1}).contiguous();
}

torch::Tensor combine_luminance_and_chroma(const torch::Tensor& luma, const torch::Tensor& color) {
  const torch::Tensor y = rgb_to_ycbcr(luma).narrow(1, 0, 1);
  const torch::Tensor chroma = rgb_to_ycbcr(resize_to(color, luma.size(-2), luma.size(-1)))
                                   .narrow(1, 1, 2)
                                   .expand({y.size(0), -1, -1, -1});  // one colour image for a batch of lumas
  return ycbcr_to_rgb(torch::cat({y, chroma}, 1)).clamp(0.0, 1.0);
}

std::pair<torch::Tensor, torch::Tensor> color_statistics(const torch::Tensor& rgb) {
  const torch::Tensor pixels = rgb.to(torch::kFloat64).permute({1, 0, 2, 3}).reshape({3, -1});
  const torch::Tensor mean = pixels.mean(1);
  const torch::Tensor centred = pixels - mean.view({3, 1});
  const torch::Tensor covariance = centred.matmul(centred.transpose(0, 1)) / static_cast<double>(pixels.size(1));
  return {mean, covariance};
}

torch::Tensor match_color_statistics(const torch::Tensor& source, const torch::Tensor& target) {
  const auto [mean_s, cov_s] = color_statistics(source);
  const auto [mean_t, cov_t] = color_statistics(target);
  // Regularize so flat (e.g. grayscale) images do not blow up the inverse root.
  const torch::Tensor eye = torch::eye(3, torch::kFloat64) * 1e-5;
  const torch::Tensor a = symmetric_power(cov_t + eye, 0.5).matmul(symmetric_power(cov_s + eye, -0.5));
  return transform(source, a, mean_t - a.matmul(mean_s)).clamp(0.0, 1.0);
}

}  // namespace stylize
