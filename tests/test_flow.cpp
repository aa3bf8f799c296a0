// Optical flow, warping and the reliability mask (stylize/io/flow.hpp).
#include <gtest/gtest.h>

#include <ostream>

#include <torch/nn/functional/vision.h>

#include "clip.hpp"
#include "stylize/io/flow.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

constexpr int64_t kWidth = 64, kHeight = 48;

torch::Tensor texture(int64_t h, int64_t w, uint64_t seed = 7) { return clip::texture(h, w, seed); }

// Frame t of a texture moving by (dx, dy) pixels per frame under a still
// camera: frame_t(x, y) = texture(x - t dx + margin, y - t dy + margin),
// bilinear (grid_sample, independent of the cv::remap under test).
torch::Tensor moving_frame(const torch::Tensor& big, double t, double dx, double dy, int64_t margin = 16) {
  const int64_t big_h = big.size(2), big_w = big.size(3);
  const torch::Tensor xs = torch::arange(kWidth, torch::kFloat64) - t * dx + margin;
  const torch::Tensor ys = torch::arange(kHeight, torch::kFloat64) - t * dy + margin;
  // Normalized coordinates for align_corners=true: -1 is pixel 0, 1 the last pixel.
  const torch::Tensor gx = (xs / (big_w - 1) * 2 - 1).view({1, kWidth}).expand({kHeight, kWidth});
  const torch::Tensor gy = (ys / (big_h - 1) * 2 - 1).view({kHeight, 1}).expand({kHeight, kWidth});
  const torch::Tensor grid = torch::stack({gx, gy}, 2).unsqueeze(0).to(torch::kFloat32);
  namespace F = torch::nn::functional;
  return F::grid_sample(big, grid, F::GridSampleFuncOptions().mode(torch::kBilinear).align_corners(true));
}

// Pixels at least `margin` away from every border.
torch::Tensor interior(const torch::Tensor& map, int64_t margin) {
  return map.narrow(0, margin, map.size(0) - 2 * margin).narrow(1, margin, map.size(1) - 2 * margin);
}

// The same flow (u, v) at every pixel.
torch::Tensor constant_flow(int64_t h, int64_t w, double u, double v) {
  torch::Tensor flow = torch::empty({h, w, 2});
  flow.select(2, 0).fill_(u);
  flow.select(2, 1).fill_(v);
  return flow;
}

struct Shift {
  double dx, dy;
  const char* name;
};

std::ostream& operator<<(std::ostream& out, const Shift& shift) {
  return out << "(" << shift.dx << ", " << shift.dy << ") px per frame";
}

class FlowOfTranslation : public ::testing::TestWithParam<Shift> {};

TEST_P(FlowOfTranslation, DisRecoversTheShiftAwayFromTheBorders) {
  const auto [dx, dy, name] = GetParam();
  const torch::Tensor big = texture(kHeight + 32, kWidth + 32);
  for (int t = 0; t < 3; ++t) {
    const torch::Tensor a = moving_frame(big, t, dx, dy), b = moving_frame(big, t + 1, dx, dy);
    const torch::Tensor forward = optical_flow(a, b);
    ASSERT_EQ(forward.sizes(), (std::vector<int64_t>{kHeight, kWidth, 2}));
    const torch::Tensor expected = torch::tensor({static_cast<float>(dx), static_cast<float>(dy)});
    const torch::Tensor error = (interior(forward, 8) - expected).norm(2, 2);
    EXPECT_LT(error.max().item<double>(), 0.5) << "frame " << t << ", mean error " << error.mean().item<double>();
    // The backward flow is the opposite shift.
    const torch::Tensor back_error = (interior(optical_flow(b, a), 8) + expected).norm(2, 2);
    EXPECT_LT(back_error.max().item<double>(), 0.5) << "frame " << t;
  }
}

TEST_P(FlowOfTranslation, MaskMarksTheRevealedStripAndTrustsTheInterior) {
  const auto [dx, dy, name] = GetParam();
  const torch::Tensor big = texture(kHeight + 32, kWidth + 32);
  const torch::Tensor previous = moving_frame(big, 1, dx, dy), next = moving_frame(big, 2, dx, dy);
  const FrameMotion motion = frame_motion(next, previous);
  ASSERT_EQ(motion.reliable.sizes(), (std::vector<int64_t>{kHeight, kWidth}));
  // The content moves right by dx and down by dy: the leftmost dx columns
  // (and topmost dy rows) of the next frame were outside the previous one.
  const torch::Tensor reliable = motion.reliable;
  for (int64_t x = 0; x < static_cast<int64_t>(std::floor(dx)); ++x) {
    EXPECT_EQ(reliable.select(1, x).sum().item<double>(), 0.0) << "revealed column " << x;
  }
  for (int64_t y = 0; y < static_cast<int64_t>(std::floor(dy)); ++y) {
    EXPECT_EQ(reliable.select(0, y).sum().item<double>(), 0.0) << "revealed row " << y;
  }
  for (int64_t x = static_cast<int64_t>(std::floor(-dx)); x > 0; --x) {  // moving left: revealed on the right
    EXPECT_EQ(reliable.select(1, kWidth - x).sum().item<double>(), 0.0) << "revealed column " << kWidth - x;
  }
  EXPECT_EQ(interior(reliable, 6).min().item<double>(), 1.0)
      << "interior pixels marked unreliable: " << (1 - interior(reliable, 6)).sum().item<double>();

  // Warping the previous frame by the backward flow gives the next frame where
  // the mask trusts it: as well as warping by the exact flow does (which, for
  // a sub-pixel shift, blurs this fine texture by interpolating it twice).
  const auto mean_error_in_mask = [&](const torch::Tensor& warped) {
    EXPECT_EQ(warped.sizes(), next.sizes());
    return (warped - next).abs().mean(1).squeeze(0).masked_select(reliable > 0.5).mean().item<double>();
  };
  const double with_flow = mean_error_in_mask(warp(previous, motion.backward));
  const double with_exact_flow = mean_error_in_mask(warp(previous, constant_flow(kHeight, kWidth, -dx, -dy)));
  const double unwarped = (previous - next).abs().mean().item<double>();
  EXPECT_GT(reliable.sum().item<double>(), kWidth * kHeight / 2);
  EXPECT_LT(with_flow, with_exact_flow + 0.003) << "exact flow: " << with_exact_flow;
  EXPECT_LT(with_flow, 0.25 * unwarped) << "unwarped: " << unwarped;
  if (dx == std::floor(dx) && dy == std::floor(dy)) {
    EXPECT_LT(with_flow, 0.005);
  }
}

INSTANTIATE_TEST_SUITE_P(Shifts, FlowOfTranslation,
                         ::testing::Values(Shift{2, 1, "right2_down1"}, Shift{3, 0, "right3"},
                                           Shift{-2, 2, "left2_down2"}, Shift{1.5, 0.5, "right1p5_down0p5"}),
                         [](const ::testing::TestParamInfo<Shift>& info) { return std::string(info.param.name); });

// An object moving over a still background uncovers background it hid: no
// previous pixel corresponds to it, and the strip is unreliable (the flows
// disagree there, and DIS's flow bends there: a motion boundary); the still
// background elsewhere and the object itself are trusted. (Measured: 0.075 of
// the strip trusted, 0.98 of the background, 0.85 of the object.)
TEST(FlowReliability, AnObjectMovingOverAStillBackgroundUncoversAnUnreliableStrip) {
  using torch::indexing::Slice;
  const torch::Tensor background = texture(kHeight, kWidth, 3), object = texture(16, 16, 9) * 0.5 + 0.5;
  const auto frame = [&](int64_t left) {
    torch::Tensor f = background.clone();
    f.index_put_({Slice(), Slice(), Slice(16, 32), Slice(left, left + 16)}, object);
    return f;
  };
  const FrameMotion motion = frame_motion(frame(26), frame(20));  // 6 px to the right
  const auto mean = [&](int64_t top, int64_t bottom, int64_t left, int64_t right) {
    return motion.reliable.index({Slice(top, bottom), Slice(left, right)}).mean().item<double>();
  };
  EXPECT_LT(mean(19, 29, 21, 25), 0.25) << "the uncovered strip";
  EXPECT_GT(mean(4, 12, 4, 60), 0.95) << "still background";
  EXPECT_GT(mean(19, 29, 30, 40), 0.75) << "the object";
}

TEST(Flow, IsDeterministic) {
  const torch::Tensor big = texture(kHeight + 32, kWidth + 32, 3);
  const torch::Tensor a = moving_frame(big, 0, 1.5, -1), b = moving_frame(big, 1, 1.5, -1);
  EXPECT_TRUE(torch::equal(optical_flow(a, b), optical_flow(a, b)));
}

TEST(Flow, OfIdenticalFramesIsZero) {
  const torch::Tensor a = texture(kHeight, kWidth);
  EXPECT_LT(optical_flow(a, a).abs().max().item<double>(), 0.05);
}

TEST(Flow, HandlesFramesSmallerThanDisPatches) {
  // DIS itself crashes on these sizes (less than 12 px, or less than 16 high and 50 wide).
  for (const auto& [h, w] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {2, 3}, {11, 11}, {12, 100}, {15, 500}}) {
    const torch::Tensor a = texture(h, w, 2);
    const FrameMotion motion = frame_motion(a, a);
    EXPECT_EQ(motion.backward.sizes(), (std::vector<int64_t>{h, w, 2}));
    EXPECT_LT(motion.backward.abs().max().item<double>(), 0.05) << h << "x" << w;
  }
}

TEST(Flow, RefusesFramesOfDifferentSizes) {
  EXPECT_THROW(optical_flow(torch::rand({1, 3, 48, 64}), torch::rand({1, 3, 48, 60})), std::invalid_argument);
  EXPECT_THROW(warp(torch::rand({1, 3, 48, 64}), torch::zeros({48, 60, 2})), std::invalid_argument);
}

TEST(Warp, ByAConstantIntegerFlowShiftsTheImage) {
  const torch::Tensor image = texture(20, 30);
  torch::Tensor flow = torch::zeros({20, 30, 2});
  flow.select(2, 0).fill_(3);  // out(x, y) = image(x + 3, y - 2)
  flow.select(2, 1).fill_(-2);
  const torch::Tensor out = warp(image, flow);
  EXPECT_TRUE(torch::allclose(out.narrow(3, 0, 27).narrow(2, 2, 18), image.narrow(3, 3, 27).narrow(2, 0, 18), 0, 1e-6));
  // Where the flow points outside, the border pixels are repeated.
  EXPECT_TRUE(torch::allclose(out.select(3, 29).narrow(2, 2, 18), image.select(3, 29).narrow(2, 0, 18), 0, 1e-6));
}

TEST(Warp, InterpolatesBilinearlyAndKeepsAnyChannelCount) {
  const torch::Tensor image = torch::rand({1, 5, 8, 9});
  torch::Tensor flow = torch::zeros({8, 9, 2});
  flow.select(2, 0).fill_(0.25);
  const torch::Tensor out = warp(image, flow);
  ASSERT_EQ(out.sizes(), image.sizes());
  const torch::Tensor expected = image.narrow(3, 0, 8) * 0.75 + image.narrow(3, 1, 8) * 0.25;
  // cv::remap interpolates with 5-bit fixed-point weights (1/32): exact for 1/4.
  EXPECT_TRUE(torch::allclose(out.narrow(3, 0, 8), expected, 0, 1e-5));
}

TEST(FlowReliability, ConsistentFlowsAreReliableExceptWhereTheyLeaveTheFrame) {
  const torch::Tensor mask = flow_reliability(constant_flow(10, 12, -2, 0), constant_flow(10, 12, 2, 0));
  EXPECT_EQ(mask.narrow(1, 0, 2).sum().item<double>(), 0.0);  // came from outside frame i-1
  EXPECT_EQ(mask.narrow(1, 2, 10).min().item<double>(), 1.0);
}

TEST(FlowReliability, DisagreeingFlowsMarkADisocclusion) {
  // Backward says pixels came from 3 px to the left; forward says nothing moved.
  torch::Tensor forward = constant_flow(10, 12, 3, 0);
  forward.narrow(0, 4, 3).narrow(1, 4, 4).zero_();  // inconsistent where the backward flow lands, x = 4..7
  const torch::Tensor mask = flow_reliability(constant_flow(10, 12, -3, 0), forward);
  EXPECT_EQ(mask.narrow(0, 4, 3).narrow(1, 7, 4).sum().item<double>(), 0.0);  // x - 3 in 4..7
  EXPECT_EQ(mask.narrow(0, 0, 4).narrow(1, 3, 9).min().item<double>(), 1.0);
  // |w~ + w^|^2 = 9 against 0.01 * 9 + 0.5: a 0.7 px disagreement is tolerated.
  const torch::Tensor small = flow_reliability(constant_flow(10, 12, -3, 0), constant_flow(10, 12, 2.3, 0));
  EXPECT_EQ(small.narrow(1, 3, 9).min().item<double>(), 1.0);
}

TEST(FlowReliability, MarksMotionBoundaries) {
  // Left half still, right half moving right by 4 px: forward and backward agree
  // everywhere except at the edge of the moving part.
  torch::Tensor backward = torch::zeros({8, 16, 2}), forward = torch::zeros({8, 16, 2});
  backward.narrow(1, 8, 8).select(2, 0).fill_(-0.5);
  forward.narrow(1, 7, 9).select(2, 0).fill_(0.5);
  const torch::Tensor mask = flow_reliability(backward, forward);
  // Central differences see the step at columns 7 and 8.
  EXPECT_EQ(mask.narrow(1, 7, 2).sum().item<double>(), 0.0);
  EXPECT_EQ(mask.narrow(1, 0, 7).min().item<double>(), 1.0);
  EXPECT_EQ(mask.narrow(1, 9, 7).min().item<double>(), 1.0);
}

TEST(WarpedDifference, IsSmallForOutputsThatFollowTheMotionOnly) {
  const torch::Tensor big = texture(kHeight + 32, kWidth + 32, 5);
  const torch::Tensor previous = moving_frame(big, 0, 2, 1), next = moving_frame(big, 1, 2, 1);
  const FrameMotion motion = frame_motion(next, previous);
  // Outputs that move with the content: only interpolation error remains.
  const double following = warped_difference(next, previous, motion);
  EXPECT_LT(following, 0.01);
  // Outputs that change where the content did not (flicker) score higher.
  const torch::Tensor flickering = (next + 0.1 * torch::randn_like(next)).clamp(0, 1);
  EXPECT_GT(warped_difference(flickering, previous, motion), 5 * following);
  // Only reliable pixels count: changing the revealed strip changes nothing.
  torch::Tensor strip_changed = next.clone();
  strip_changed.narrow(3, 0, 2).fill_(1.0);
  EXPECT_DOUBLE_EQ(warped_difference(strip_changed, previous, motion), following);
  FrameMotion none = motion;
  none.reliable = torch::zeros_like(motion.reliable);
  EXPECT_EQ(warped_difference(flickering, previous, none), 0.0);
}

TEST(Clip, PanMovesTheContentTheOtherWay) {
  clip::Motion motion;
  motion.pan_x = 2;
  motion.pan_y = -1;
  const std::vector<torch::Tensor> frames = clip::render(texture(96, 128), motion, 3, kWidth, kHeight);
  ASSERT_EQ(frames.size(), 3u);
  ASSERT_EQ(frames[0].sizes(), (std::vector<int64_t>{1, 3, kHeight, kWidth}));
  // frame_{t+1}(x, y) = frame_t(x + 2, y - 1)
  EXPECT_TRUE(torch::allclose(frames[1].narrow(3, 0, kWidth - 2).narrow(2, 1, kHeight - 1),
                              frames[0].narrow(3, 2, kWidth - 2).narrow(2, 0, kHeight - 1), 0, 1e-4));
  EXPECT_GT((frames[1] - frames[0]).abs().mean().item<double>(), 0.03);
}

TEST(Clip, ZoomMagnifiesAboutTheCentre) {
  clip::Motion motion;
  motion.zoom = 1.05;
  const std::vector<torch::Tensor> frames = clip::render(texture(96, 128), motion, 2, kWidth, kHeight);
  // The flow from frame 0 to frame 1 points away from the centre, 5% of the distance.
  const torch::Tensor flow = optical_flow(frames[0], frames[1]);
  const double right = flow[24][56][0].item<double>(), left = flow[24][8][0].item<double>();
  EXPECT_NEAR(right, 0.05 * (56 - 31.5), 0.5);
  EXPECT_NEAR(left, 0.05 * (8 - 31.5), 0.5);
}

}  // namespace
}  // namespace stylize
