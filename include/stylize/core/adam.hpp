// Adam as TensorFlow/Keras computes it, elementwise on one tensor with float32
// state. The TensorFlow tutorial's defaults (eps = 0.1) make the placement of
// epsilon matter: TF adds it to the raw sqrt(v) (the paper's epsilon-hat),
//   x -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps),
// while PyTorch adds it to the bias-corrected sqrt(v / (1 - b2^t)), which makes
// its effective epsilon 1/sqrt(1 - b2^t) times smaller: 3.16x at t = 1, equal at
// t = 10, 0.33x at t = 100. PyTorch's placement stays available by name.
//
// With `nesterov` the step looks one step ahead (NAdam, Dozat 2016, with a
// constant beta1): m / (1 - b1^t) becomes
//   b1 m_t / (1 - b1^(t+1)) + (1 - b1) g_t / (1 - b1^t),
// the momentum's next step plus this gradient's own, so the newest gradient
// weighs 1 + b1 times (about twice) as much in its own step as in Adam's and
// a gradient that turns shows in the steps sooner.
//
// Every element is updated on its own, so the members of a batch (B, ...) get
// exactly the updates they would get one at a time (they share the step count).
#pragma once

#include <cstdint>

#include <torch/types.h>

#include "stylize/types.hpp"  // AdamEpsilon

namespace stylize {

struct AdamSettings {
  double lr = 0.02;
  double beta1 = 0.99;
  double beta2 = 0.999;
  double eps = 0.1;
  AdamEpsilon epsilon = AdamEpsilon::TensorFlow;
  bool nesterov = false;  // NAdam's look-ahead first moment (above); false: Adam's, as the tutorial
};

class Adam {
 public:
  // State (both moments) starts at zero, shaped like `like`, float32, on its device.
  Adam(const AdamSettings& settings, const torch::Tensor& like);

  // One update of `param` (float32, same shape as the state) in place, from `grad`.
  void step(torch::Tensor& param, const torch::Tensor& grad);

  // Resizes the moments to (height, width) (the last two dimensions) to carry
  // the state to the next scale of a coarse-to-fine run, as
  // crowsonkb/style-transfer-pytorch does: the first moment bicubic, the second
  // bilinear and then clamped at 0 (align_corners false). The step count is kept.
  // `gradient_scale` is how much larger the next scale's gradients are per
  // pixel (the engine's: the ratio of the scales' size factors, 1/4 when the
  // side doubles, as content and style are means and TV is scaled to match):
  // the first moment is multiplied by it and the second by its square, so the
  // steps go on at the size they had. Unscaled, the second moment of the
  // coarse scale's 4x larger gradients would shrink every step at the next
  // scale about 4-fold until it decays, over about 1/(1 - beta2) = 1000 steps.
  void resize(int64_t height, int64_t width, double gradient_scale = 1.0);

  // Epsilon of the following steps (it may follow the gradients' scale, e.g. per scale).
  void set_eps(double eps) { settings_.eps = eps; }
  double eps() const { return settings_.eps; }

  const AdamSettings& settings() const { return settings_; }
  int64_t steps() const { return steps_; }
  // Sets the moments and step count, e.g. a resumed run's, saved with its
  // checkpoint; false, changing nothing, when a shape differs from the state's.
  bool restore(const torch::Tensor& first, const torch::Tensor& second, int64_t steps);

  const torch::Tensor& first_moment() const { return m_; }
  const torch::Tensor& second_moment() const { return v_; }

 private:
  AdamSettings settings_;
  torch::Tensor m_, v_;
  int64_t steps_ = 0;
};

}  // namespace stylize
