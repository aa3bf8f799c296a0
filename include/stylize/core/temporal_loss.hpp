// The temporal consistency term of Ruder, Dosovitskiy and Brox, "Artistic
// style transfer for videos" (GCPR 2016): a stylized frame should agree with
// the previous stylized frame(s) warped onto it by optical flow, wherever the
// flow is reliable (see stylize/io/flow.hpp for the flows and masks).
#pragma once

#include <vector>

#include <torch/types.h>

#include "stylize/core/objective.hpp"

namespace stylize {

// The masks of the long-term temporal loss (Ruder et al., Sec. 3.3): given the
// reliability masks c_j of the previous frames i - j warped onto frame i,
// nearest first (j = 1, 2, ..., K), returns
//   c_long_j = max(c_j - sum_{k < j} c_k, 0),
// so each pixel is held to the nearest previous frame where it was visible and
// the terms never count a pixel twice. TemporalTerm (core/objective.hpp) sums
// c_long_j (x - w_j)^2 over the previous frames j.
std::vector<torch::Tensor> long_term_masks(const std::vector<torch::Tensor>& masks_nearest_first);

// What holds frame i of a video to the frames before it: for each previous
// output frame (nearest first, K of them), the optical flow from frame i to
// that output's input frame (io/flow.hpp: DIS, forward and backward), the
// output warped along it, and its reliability mask made long-term
// (long_term_masks). `previous_frames` and `previous_outputs` are (1, 3, H, W)
// float32 in [0, 1], nearest first, of frame i's size. Throws OptionError for
// mismatched lists or sizes.
TemporalGuide temporal_guide(const torch::Tensor& frame, const std::vector<torch::Tensor>& previous_frames,
                             const std::vector<torch::Tensor>& previous_outputs);

// The start image of frame i (Ruder et al., Sec. 3.1): the nearest previous
// output warped onto it where the flow is reliable, blended into the frame
// itself by the mask where it is not (a revealed strip, a disocclusion), so
// no pixel starts from what the flow smeared there. An empty guide gives the frame.
torch::Tensor temporal_start(const torch::Tensor& frame, const TemporalGuide& guide);

}  // namespace stylize
