#include "stylize/core/temporal_loss.hpp"

#include <stdexcept>

#include "stylize/errors.hpp"
#include "stylize/io/flow.hpp"

namespace stylize {

namespace {

// The mask as ((1 or N), 1, H, W), so that it broadcasts over the channels.
torch::Tensor as_image_mask(const torch::Tensor& mask) {
  if (mask.dim() == 2) return mask.view({1, 1, mask.size(0), mask.size(1)});
  if (mask.dim() == 4 && mask.size(1) == 1) return mask;
  throw std::invalid_argument("temporal_loss: expected an (H, W) or (N, 1, H, W) mask");
}

}  // namespace

torch::Tensor temporal_loss(const torch::Tensor& image, const torch::Tensor& warped_previous,
                            const torch::Tensor& mask) {
  if (image.dim() != 4 || warped_previous.dim() != 4 || warped_previous.sizes().slice(1) != image.sizes().slice(1)) {
    throw std::invalid_argument(
        "temporal_loss: expected an (N, C, H, W) image and a warped previous frame of that size");
  }
  const torch::Tensor c = as_image_mask(mask);
  if (c.size(2) != image.size(2) || c.size(3) != image.size(3)) {
    throw std::invalid_argument("temporal_loss: the mask differs in size from the image");
  }
  const torch::Dtype dtype = image.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  const torch::Tensor difference = image.to(dtype) - warped_previous.to(dtype);
  return (c.to(dtype) * difference.square()).mean({1, 2, 3});
}

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
