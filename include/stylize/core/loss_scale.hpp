// Dynamic loss scaling for fp16 backward passes, as torch.cuda.amp.GradScaler
// does it: the loss is multiplied by scale() before the backward pass (tiny
// style gradients would underflow fp16) and the gradient divided by it after.
// An overflow (a non-finite gradient) halves the scale and retries the step;
// after `growth_interval` good steps in a row the scale doubles again, so one
// early overflow does not leave the gradients near fp16's underflow for the
// rest of the run.
#pragma once

namespace stylize {

struct LossScaleSettings {
  double initial = 65536.0;  // 2^16, torch.cuda.amp's
  double growth = 2.0;
  double backoff = 0.5;
  int growth_interval = 2000;  // good steps before growing; 0: never grow
  double min = 1.0;            // an overflow at this scale is not the scale's fault
};

enum class LossScaleVerdict {
  Apply,   // the gradients are finite: apply the step
  Retry,   // they overflowed: the scale was backed off, run the step again
  GiveUp,  // they overflowed at the smallest scale: a numeric failure
};

class DynamicLossScale {
 public:
  explicit DynamicLossScale(const LossScaleSettings& settings = {});
  // No scaling (fp32, bf16): scale 1, and any overflow gives up.
  static DynamicLossScale disabled();

  double scale() const { return scale_; }
  int good_steps() const { return good_steps_; }

  // After a backward pass with the loss multiplied by scale().
  LossScaleVerdict update(bool gradients_finite);

 private:
  LossScaleSettings settings_;
  double scale_;
  int good_steps_ = 0;
};

}  // namespace stylize
