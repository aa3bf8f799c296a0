// Optical flow between video frames, warping by a flow, and the reliability
// mask of Ruder, Dosovitskiy and Brox, "Artistic style transfer for videos"
// (GCPR 2016), Sec. 3.2: what `stylize video` needs to carry the previous
// stylized frame over to the next one.
//
// Images are (1, 3, H, W) float32 tensors in [0, 1] (as everywhere in stylize);
// a flow is an (H, W, 2) float32 tensor of (dx, dy) in pixels; a mask is an
// (H, W) float32 tensor of 0 and 1. Everything is on the CPU (OpenCV).
#pragma once

#include <torch/types.h>

namespace stylize {

// The dense optical flow from `from` to `to`, both (1, 3, H, W) of the same
// size: (H, W, 2) with from(x, y) ~ to(x + dx, y + dy). Computed by OpenCV's
// DIS (Kroeger et al. 2016) on the luminance with the MEDIUM preset (see
// flow.cpp for the measurement behind that choice). Deterministic: the same
// frames give the same flow bit for bit. Throws OptionError for images of
// different sizes.
torch::Tensor optical_flow(const torch::Tensor& from, const torch::Tensor& to);

// The image resampled along a flow: out(x, y) = image(x + dx, y + dy),
// bilinear, with the border pixels repeated where the flow points outside the
// image. `image` is (1, C, H, W) (any C), `flow` (H, W, 2) of the same size.
// To bring frame i-1 over to frame i, pass the flow from frame i to frame i-1.
torch::Tensor warp(const torch::Tensor& image, const torch::Tensor& flow);

// Where the flow from frame i to an earlier frame j can be trusted: (H, W),
// 1 for reliable pixels of frame i, 0 for unreliable ones. `backward` is the
// flow from frame i to frame j, `forward` the flow from frame j to frame i.
// A pixel is unreliable where
//  - its backward flow points outside frame j (the strip a pan reveals),
//  - the forward and backward flows disagree (a disocclusion):
//      |w~ + w^|^2 > 0.01 (|w~|^2 + |w^|^2) + 0.5,
//    with w^ the backward flow at x and w~ = w(x + w^(x)) the forward flow
//    where the backward flow leads (bilinear),
//  - or it lies on a motion boundary: |grad u^|^2 + |grad v^|^2 > 0.01 |w^|^2 + 0.002
//    (central differences), as in Ruder et al.
torch::Tensor flow_reliability(const torch::Tensor& backward, const torch::Tensor& forward);

// The motion from an earlier frame j to frame i, all in frame i's pixels.
struct FrameMotion {
  torch::Tensor backward;  // (H, W, 2): flow from frame i to frame j; warp(output_j, backward) lines frame j up with i
  torch::Tensor reliable;  // (H, W): flow_reliability(backward, forward)
};

// Both flows between two frames and the reliability mask.
FrameMotion frame_motion(const torch::Tensor& frame_i, const torch::Tensor& frame_j);

// The flicker between two consecutive outputs: the mean absolute difference
// between output i and output j warped onto it by the motion of the input
// frames, over the reliable pixels (all channels; values in [0, 1]). This is
// the "mean warped difference" that `stylize video`'s benchmark reports; 0
// when no pixel is reliable.
double warped_difference(const torch::Tensor& output_i, const torch::Tensor& output_j, const FrameMotion& motion);

}  // namespace stylize
