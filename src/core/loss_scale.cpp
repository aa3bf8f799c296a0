#include "stylize/core/loss_scale.hpp"

#include <algorithm>

namespace stylize {

DynamicLossScale::DynamicLossScale(const LossScaleSettings& settings) : settings_(settings), scale_(settings.initial) {}

DynamicLossScale DynamicLossScale::disabled() {
  LossScaleSettings settings;
  settings.initial = settings.min = 1.0;
  settings.growth_interval = 0;
  return DynamicLossScale(settings);
}

LossScaleVerdict DynamicLossScale::update(bool gradients_finite) {
  if (!gradients_finite) {
    good_steps_ = 0;
    if (scale_ <= settings_.min) return LossScaleVerdict::GiveUp;
    scale_ = std::max(settings_.min, scale_ * settings_.backoff);
    return LossScaleVerdict::Retry;
  }
  if (settings_.growth_interval > 0 && ++good_steps_ >= settings_.growth_interval) {
    good_steps_ = 0;
    scale_ *= settings_.growth;
  }
  return LossScaleVerdict::Apply;
}

}  // namespace stylize
