#include "stylize/core/temporal_loss.hpp"

#include "stylize/errors.hpp"
#include "stylize/io/flow.hpp"

namespace stylize {

std::vector<torch::Tensor> long_term_masks(const std::vector<torch::Tensor>& masks_nearest_first) {
  std::vector<torch::Tensor> result;
  result.reserve(masks_nearest_first.size());
  torch::Tensor covered;  // sum of the nearer masks
  for (const torch::Tensor& mask : masks_nearest_first) {
    result.push_back(covered.defined() ? (mask - covered).clamp_min(0.0) : mask.clone());
    covered = covered.defined() ? covered + mask : mask.clone();
  }
  return result;
}

TemporalGuide temporal_guide(const torch::Tensor& frame, const std::vector<torch::Tensor>& previous_frames,
                             const std::vector<torch::Tensor>& previous_outputs) {
  if (previous_frames.size() != previous_outputs.size()) {
    throw OptionError("temporal_guide: one output is needed for each previous frame");
  }
  TemporalGuide guide;
  std::vector<torch::Tensor> masks;
  for (size_t k = 0; k < previous_frames.size(); ++k) {
    if (previous_outputs[k].sizes() != frame.sizes()) {
      throw OptionError("temporal_guide: a previous output differs in size from the frame");
    }
    const FrameMotion motion = frame_motion(frame, previous_frames[k]);
    guide.warped.push_back(warp(previous_outputs[k], motion.backward));
    masks.push_back(motion.reliable);
  }
  guide.masks = long_term_masks(masks);
  return guide;
}

torch::Tensor temporal_start(const torch::Tensor& frame, const TemporalGuide& guide) {
  if (guide.warped.empty()) return frame;
  // The nearest frame's long-term mask is its own reliability mask.
  const torch::Tensor& mask = guide.masks.front();
  const torch::Tensor c = mask.view({1, 1, mask.size(0), mask.size(1)}).to(frame.dtype());
  return c * guide.warped.front().to(frame.dtype()) + (1 - c) * frame;
}

}  // namespace stylize
