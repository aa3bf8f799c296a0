#include "stylize/core/adam.hpp"

#include <cmath>

#include <torch/nn/functional/upsampling.h>

namespace stylize {

Adam::Adam(const AdamSettings& settings, const torch::Tensor& like)
    : settings_(settings),
      m_(torch::zeros_like(like, like.options().dtype(torch::kFloat32))),
      v_(torch::zeros_like(like, like.options().dtype(torch::kFloat32))) {}

bool Adam::restore(const torch::Tensor& first, const torch::Tensor& second, int64_t steps) {
  if (!first.defined() || !second.defined() || first.sizes() != m_.sizes() || second.sizes() != v_.sizes() ||
      steps < 0) {
    return false;
  }
  m_ = first.to(m_.options()).clone();
  v_ = second.to(v_.options()).clone();
  steps_ = steps;
  return true;
}

void Adam::step(torch::Tensor& param, const torch::Tensor& grad) {
  torch::NoGradGuard no_grad;
  ++steps_;
  const double b1 = settings_.beta1, b2 = settings_.beta2;
  const torch::Tensor g = grad.to(torch::kFloat32);
  m_.mul_(b1).add_(g, 1.0 - b1);
  v_.mul_(b2).addcmul_(g, g, 1.0 - b2);
  const double t = static_cast<double>(steps_);
  const double correction1 = 1.0 - std::pow(b1, t);
  const double correction2 = 1.0 - std::pow(b2, t);
  // The first moment the step follows, m, divided by `correction` (1 - b1^t);
  // with Nesterov's look-ahead b1 m / (1 - b1^(t+1)) + (1 - b1) g / (1 - b1^t)
  // (adam.hpp), corrected already.
  torch::Tensor first = m_;
  double correction = correction1;
  if (settings_.nesterov) {
    first = m_ * (b1 / (1.0 - std::pow(b1, t + 1.0))) + g * ((1.0 - b1) / correction1);
    correction = 1.0;
  }
  if (settings_.epsilon == AdamEpsilon::TensorFlow) {
    // lr_t = lr * sqrt(1 - b2^t) / correction; x -= lr_t * first / (sqrt(v) + eps)
    const double lr_t = settings_.lr * std::sqrt(correction2) / correction;
    param.addcdiv_(first, v_.sqrt().add_(settings_.eps), -lr_t);
  } else {
    // x -= lr / correction * first / (sqrt(v / (1 - b2^t)) + eps)
    const double step_size = settings_.lr / correction;
    param.addcdiv_(first, v_.sqrt().div_(std::sqrt(correction2)).add_(settings_.eps), -step_size);
  }
}

void Adam::resize(int64_t height, int64_t width, double gradient_scale) {
  namespace F = torch::nn::functional;
  torch::NoGradGuard no_grad;
  // interpolate wants (N, C, H, W): fold any leading dimensions into N and C.
  const auto resized = [&](const torch::Tensor& t, torch::nn::functional::InterpolateFuncOptions::mode_t mode) {
    std::vector<int64_t> shape = t.sizes().vec();
    const torch::Tensor four = t.reshape({-1, 1, t.size(-2), t.size(-1)});
    const torch::Tensor out = F::interpolate(
        four, F::InterpolateFuncOptions().size(std::vector<int64_t>{height, width}).mode(mode).align_corners(false));
    shape[shape.size() - 2] = height;
    shape[shape.size() - 1] = width;
    return out.reshape(shape).contiguous();
  };
  m_ = resized(m_, torch::kBicubic).mul_(gradient_scale);
  v_ = resized(v_, torch::kBilinear).clamp_min_(0.0).mul_(gradient_scale * gradient_scale);
}

}  // namespace stylize
