// Optical flow with OpenCV's DIS, warping with cv::remap, and Ruder et al.'s
// reliability mask.
//
// DIS preset: MEDIUM (patch 12, stride 3, finest pyramid scale 1, 25 gradient
// descent and 5 variational refinement iterations). Measured on 6-frame pans
// (4, 1.5 px per frame) and zooms (1% per frame with a 6 px pan) over
// tubingen.jpg and lake_sherburne.jpg at 512x288, against the exact flow, 1/16
// of the width away from the borders, on a quiet moment of this 2-core host:
//   FAST, ULTRAFAST     0.14-0.47 px mean error, 2-40% of pixels > 0.5 px off,  2-5 ms per flow
//   MEDIUM              0.05-0.11 px,            at most 0.03%,                 27-42 ms
//   MEDIUM, finest 0    0.02-0.06 px,            at most 0.01%,                 160-220 ms
// FAST's errors smear the warped previous frame. Finest scale 0 halves
// MEDIUM's error for 5x the time: on the CPU that is still small next to a
// frame's optimization (0.3-0.4 s per iteration at 512 px), but on a GPU,
// where a frame is optimized many times faster, the flows (two per previous
// frame used) would become a large share of the time, for an error already
// below what bilinear warping blurs. At 256x144 MEDIUM measured 0.10-0.14 px
// in 5-30 ms per flow. DIS gives the same flow bit for bit whatever OpenCV's
// thread count (1, 2, 4 and 8 tried).
#include "stylize/io/flow.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/video/tracking.hpp>

namespace stylize {

namespace {

void check_image(const torch::Tensor& image, const char* what) {
  if (image.dim() != 4 || image.size(0) != 1 || image.size(2) < 1 || image.size(3) < 1) {
    throw std::invalid_argument(std::string(what) + ": expected a (1, C, H, W) image tensor");
  }
}

void check_flow(const torch::Tensor& flow, int64_t height, int64_t width, const char* what) {
  if (flow.dim() != 3 || flow.size(0) != height || flow.size(1) != width || flow.size(2) != 2) {
    throw std::invalid_argument(std::string(what) + ": expected an (" + std::to_string(height) + ", " +
                                std::to_string(width) + ", 2) flow tensor");
  }
}

// A Mat header over a contiguous CPU float32 tensor of shape (H, W) or (H, W, C).
cv::Mat as_mat(const torch::Tensor& t) {
  const int channels = t.dim() == 3 ? static_cast<int>(t.size(2)) : 1;
  return cv::Mat(static_cast<int>(t.size(0)), static_cast<int>(t.size(1)), CV_32FC(channels), t.data_ptr<float>());
}

torch::Tensor cpu_float(const torch::Tensor& t) { return t.detach().to(torch::kCPU, torch::kFloat32).contiguous(); }

// Luminance (Rec. 601 weights) in 8 bits: what DIS takes.
cv::Mat luminance8(const torch::Tensor& image) {
  const torch::Tensor rgb = cpu_float(image)[0].clamp(0.0, 1.0);
  const torch::Tensor y = (rgb[0] * 0.299 + rgb[1] * 0.587 + rgb[2] * 0.114).mul(255.0).round().to(torch::kUInt8);
  const torch::Tensor contiguous = y.contiguous();
  return cv::Mat(static_cast<int>(y.size(0)), static_cast<int>(y.size(1)), CV_8UC1, contiguous.data_ptr()).clone();
}

// The absolute sampling positions x + flow(x) for cv::remap, (H, W, 2).
torch::Tensor sampling_map(const torch::Tensor& flow) {
  const int64_t h = flow.size(0), w = flow.size(1);
  const torch::Tensor xs = torch::arange(w, torch::kFloat32).view({1, w}).expand({h, w});
  const torch::Tensor ys = torch::arange(h, torch::kFloat32).view({h, 1}).expand({h, w});
  return (cpu_float(flow) + torch::stack({xs, ys}, 2)).contiguous();
}

torch::Tensor squared_norm(const torch::Tensor& flow) { return flow.square().sum(2); }

}  // namespace

torch::Tensor optical_flow(const torch::Tensor& from, const torch::Tensor& to) {
  check_image(from, "optical_flow");
  check_image(to, "optical_flow");
  if (from.size(2) != to.size(2) || from.size(3) != to.size(3)) {
    throw std::invalid_argument("optical_flow: the two frames differ in size");
  }
  cv::Mat a = luminance8(from), b = luminance8(to);
  const int height = a.rows, width = a.cols;
  // DIS crashes (reads out of bounds) on frames less than 12 pixels on a side,
  // or less than 16 high and 50 or more wide: pad small frames by repeating
  // their borders, and crop the flow.
  constexpr int kMinSide = 32;
  if (height < kMinSide || width < kMinSide) {
    const int bottom = std::max(kMinSide - height, 0), right = std::max(kMinSide - width, 0);
    cv::copyMakeBorder(a, a, 0, bottom, 0, right, cv::BORDER_REPLICATE);
    cv::copyMakeBorder(b, b, 0, bottom, 0, right, cv::BORDER_REPLICATE);
  }
  cv::Mat result;
  const cv::Ptr<cv::DISOpticalFlow> dis = cv::DISOpticalFlow::create(cv::DISOpticalFlow::PRESET_MEDIUM);
  dis->calc(a, b, result);
  torch::Tensor flow = torch::empty({height, width, 2}, torch::kFloat32);
  cv::Mat target = as_mat(flow);
  result(cv::Rect(0, 0, width, height)).copyTo(target);
  return flow;
}

torch::Tensor warp(const torch::Tensor& image, const torch::Tensor& flow) {
  check_image(image, "warp");
  const int64_t channels = image.size(1), h = image.size(2), w = image.size(3);
  check_flow(flow, h, w, "warp");
  const torch::Tensor source = cpu_float(image);
  const torch::Tensor positions = sampling_map(flow);  // must outlive the Mat header below
  const cv::Mat map = as_mat(positions);
  torch::Tensor out = torch::empty({1, channels, h, w}, torch::kFloat32);
  for (int64_t c = 0; c < channels; ++c) {
    const cv::Mat src = as_mat(source[0][c]);
    cv::Mat dst = as_mat(out[0][c]);
    cv::remap(src, dst, map, cv::noArray(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  }
  return out.to(image.device(), image.scalar_type());
}

torch::Tensor flow_reliability(const torch::Tensor& backward, const torch::Tensor& forward) {
  if (backward.dim() != 3) throw std::invalid_argument("flow_reliability: expected an (H, W, 2) flow tensor");
  const int64_t h = backward.size(0), w = backward.size(1);
  check_flow(backward, h, w, "flow_reliability");
  check_flow(forward, h, w, "flow_reliability");
  const torch::Tensor back = cpu_float(backward);
  const torch::Tensor map = sampling_map(back);

  // The forward flow where the backward flow leads: w~(x) = w(x + w^(x)).
  torch::Tensor carried = torch::empty({h, w, 2}, torch::kFloat32);
  cv::Mat carried_mat = as_mat(carried);
  cv::remap(as_mat(cpu_float(forward)), carried_mat, as_mat(map), cv::noArray(), cv::INTER_LINEAR,
            cv::BORDER_REPLICATE);
  const torch::Tensor mx = map.select(2, 0), my = map.select(2, 1);
  const torch::Tensor outside = (mx < 0) | (mx > w - 1) | (my < 0) | (my > h - 1);
  const torch::Tensor disoccluded =
      squared_norm(carried + back) > 0.01 * (squared_norm(carried) + squared_norm(back)) + 0.5;

  // Motion boundaries from central differences of the backward flow.
  torch::Tensor dx = torch::empty({h, w, 2}, torch::kFloat32), dy = torch::empty({h, w, 2}, torch::kFloat32);
  cv::Mat dx_mat = as_mat(dx), dy_mat = as_mat(dy);
  cv::Sobel(as_mat(back), dx_mat, CV_32F, 1, 0, 1, 0.5, 0.0, cv::BORDER_REPLICATE);
  cv::Sobel(as_mat(back), dy_mat, CV_32F, 0, 1, 1, 0.5, 0.0, cv::BORDER_REPLICATE);
  const torch::Tensor boundary = squared_norm(dx) + squared_norm(dy) > 0.01 * squared_norm(back) + 0.002;

  return (~(outside | disoccluded | boundary)).to(torch::kFloat32);
}

FrameMotion frame_motion(const torch::Tensor& frame_i, const torch::Tensor& frame_j) {
  FrameMotion motion;
  motion.backward = optical_flow(frame_i, frame_j);
  motion.reliable = flow_reliability(motion.backward, optical_flow(frame_j, frame_i));
  return motion;
}

double warped_difference(const torch::Tensor& output_i, const torch::Tensor& output_j, const FrameMotion& motion) {
  const torch::Tensor difference = (cpu_float(output_i) - warp(output_j, motion.backward)).abs().mean(1)[0];  // (H, W)
  const torch::Tensor weight = cpu_float(motion.reliable);
  const double total = weight.sum().item<double>();
  return total > 0 ? (difference * weight).sum().item<double>() / total : 0.0;
}

}  // namespace stylize
