#include "stylize/core/pyramid_adam.hpp"

#include <ATen/ops/upsample_bilinear2d.h>
#include <ATen/ops/upsample_bilinear2d_backward.h>
#include <torch/torch.h>

namespace stylize {
namespace {

// The size of level k of a side of `size` pixels.
int64_t level_size(int64_t size, int k) { return (size + (int64_t{1} << k) - 1) >> k; }

torch::Tensor zeros_at_level(const torch::Tensor& like, int k) {
  std::vector<int64_t> shape = like.sizes().vec();
  shape[shape.size() - 2] = level_size(like.size(-2), k);
  shape[shape.size() - 1] = level_size(like.size(-1), k);
  return torch::zeros(shape, like.options().dtype(torch::kFloat32));
}

// Bilinear upsampling of `level` (..., h, w) to (..., height, width), and its
// adjoint: both fold the leading dimensions into one, as the channels are independent.
torch::Tensor upsample(const torch::Tensor& level, int64_t height, int64_t width) {
  std::vector<int64_t> shape = level.sizes().vec();
  const torch::Tensor four = level.reshape({-1, 1, level.size(-2), level.size(-1)});
  shape[shape.size() - 2] = height;
  shape[shape.size() - 1] = width;
  const std::vector<int64_t> size{height, width};
  return at::upsample_bilinear2d(four, size, false, c10::nullopt, c10::nullopt).reshape(shape);
}

torch::Tensor upsample_adjoint(const torch::Tensor& grad, const torch::Tensor& level) {
  const torch::Tensor four = grad.reshape({-1, 1, grad.size(-2), grad.size(-1)});
  const std::vector<int64_t> output_size{grad.size(-2), grad.size(-1)};
  const std::vector<int64_t> input_size{four.size(0), 1, level.size(-2), level.size(-1)};
  return at::upsample_bilinear2d_backward(four, output_size, input_size, false, c10::nullopt, c10::nullopt)
      .reshape(level.sizes());
}

}  // namespace

PyramidAdam::PyramidAdam(const AdamSettings& settings, const torch::Tensor& like, int levels) {
  levels_.reserve(static_cast<size_t>(levels) + 1);
  for (int k = 0; k <= levels; ++k) levels_.emplace_back(settings, zeros_at_level(like, k));
}

void PyramidAdam::step(torch::Tensor& param, const torch::Tensor& grad) {
  torch::NoGradGuard no_grad;
  const torch::Tensor g = grad.to(torch::kFloat32);
  // Every level's step is taken from the same gradient, then all are added.
  std::vector<torch::Tensor> coarse_steps;
  for (size_t k = 1; k < levels_.size(); ++k) {
    torch::Tensor change = torch::zeros_like(levels_[k].first_moment());
    levels_[k].step(change, upsample_adjoint(g, change));
    coarse_steps.push_back(std::move(change));
  }
  levels_[0].step(param, g);
  for (const torch::Tensor& change : coarse_steps) param.add_(upsample(change, param.size(-2), param.size(-1)));
}

std::vector<AdamMoments> PyramidAdam::moments(int64_t member) const {
  std::vector<AdamMoments> out;
  for (const Adam& level : levels_) {
    out.push_back(
        {level.first_moment().narrow(0, member, 1), level.second_moment().narrow(0, member, 1), level.steps()});
  }
  return out;
}

bool PyramidAdam::restore(const std::vector<AdamMoments>& moments) {
  if (moments.size() != levels_.size()) return false;
  for (size_t k = 0; k < levels_.size(); ++k) {
    const Adam& level = levels_[k];
    if (!moments[k].first.defined() || !moments[k].second.defined() ||
        moments[k].first.sizes() != level.first_moment().sizes() ||
        moments[k].second.sizes() != level.second_moment().sizes()) {
      return false;
    }
  }
  for (size_t k = 0; k < levels_.size(); ++k) {
    levels_[k].restore(moments[k].first, moments[k].second, moments[k].steps);
  }
  return true;
}

void PyramidAdam::resize(int64_t height, int64_t width, double gradient_scale) {
  // The pixels' moments go on (Adam::resize). The coarse levels start again at
  // zero: level k of the next scale is a grid twice as fine, relative to the
  // image, as level k was, so its old moments would describe another band of
  // the update. Measured (docs/benchmarks.md: "Time to a finished image"): carrying them
  // resized ended the 3-scale --preset fast of 2026-12-03 at 1.029x the
  // tutorial's loss, restarting them 1.018x.
  levels_.front().resize(height, width, gradient_scale);
  const torch::Tensor& pixels = levels_.front().first_moment();
  for (size_t k = 1; k < levels_.size(); ++k)
    levels_[k] = Adam(levels_[k].settings(), zeros_at_level(pixels, static_cast<int>(k)));
}

void PyramidAdam::set_eps(double eps) {
  for (Adam& level : levels_) level.set_eps(eps);
}

}  // namespace stylize
