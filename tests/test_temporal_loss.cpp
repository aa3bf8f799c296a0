// The temporal consistency term (TemporalTerm, stylize/core/objective.hpp) and
// its long-term masks (stylize/core/temporal_loss.hpp).
#include <gtest/gtest.h>

#include "stylize/core/objective.hpp"
#include "stylize/core/temporal_loss.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

// TemporalTerm prepared for images of height x width with one previous frame.
TemporalTerm prepared_term(double weight, const torch::Tensor& warped, const torch::Tensor& mask) {
  TemporalTerm term(weight);
  TargetInputs inputs;
  inputs.content = torch::zeros({1, 3, warped.size(2), warped.size(3)});
  inputs.temporal.warped = {warped};
  inputs.temporal.masks = {mask};
  term.prepare(inputs);
  return term;
}

torch::Tensor term_loss(const TemporalTerm& term, const torch::Tensor& image) {
  return term.loss(term.statistics(Piece(image, Features())));
}

// The gradient the optimizer follows is the closed form of
// weight * (512 / longest side)^2 * sum c (x - w)^2: 2 weight factor c (x - w),
// per member; unreliable pixels get none.
TEST(TemporalTerm, GradientIsTheClosedForm) {
  torch::manual_seed(11);
  const torch::Tensor x0 = torch::rand({2, 3, 4, 5});
  const torch::Tensor warped = torch::rand({1, 3, 4, 5});
  const torch::Tensor mask = (torch::rand({4, 5}) > 0.3).to(torch::kFloat32) * 0.8;
  const torch::Tensor weights = torch::tensor({0.7f, 1.3f});  // members weighted differently
  const TemporalTerm term = prepared_term(3.0, warped, mask);

  const torch::Tensor x = x0.clone().requires_grad_(true);
  const torch::Tensor loss = term_loss(term, x);
  ASSERT_EQ(loss.sizes(), (std::vector<int64_t>{2}));
  EXPECT_EQ(loss.scalar_type(), torch::kFloat32);
  (loss * weights).sum().backward();
  const torch::Tensor analytic = x.grad();
  const double factor = (512.0 / 5) * (512.0 / 5);
  const torch::Tensor closed = 2 * 3.0 * factor * mask.view({1, 1, 4, 5}) * (x0 - warped) * weights.view({2, 1, 1, 1});
  EXPECT_LT((analytic - closed).abs().max().item<double>(), 1e-5 * closed.abs().max().item<double>());
  EXPECT_EQ(analytic.masked_select((mask == 0).view({1, 1, 4, 5}).expand_as(analytic)).abs().max().item<double>(), 0.0);
}

// Each member of a batch has its own loss, as it would alone.
TEST(TemporalTerm, IsPerBatchMember) {
  const torch::Tensor images = torch::rand({2, 3, 6, 7});
  const TemporalTerm term =
      prepared_term(1.0, torch::rand({1, 3, 6, 7}), (torch::rand({6, 7}) > 0.5).to(torch::kFloat32));
  const torch::Tensor both = term_loss(term, images);
  ASSERT_EQ(both.sizes(), (std::vector<int64_t>{2}));
  EXPECT_FLOAT_EQ(both[0].item<float>(), term_loss(term, images.narrow(0, 0, 1)).item<float>());
  EXPECT_FLOAT_EQ(both[1].item<float>(), term_loss(term, images.narrow(0, 1, 1)).item<float>());
  EXPECT_GT(both[0].item<float>(), 0.f);
}

TEST(LongTermMasks, EachPixelIsHeldToTheNearestFrameWhereItWasVisible) {
  // Three previous frames; pixel k (of 5) is visible in these of them:
  //   c1 (i-1): 1 0 0 1 0
  //   c2 (i-2): 1 1 0 0 0
  //   c3 (i-3): 1 1 1 0 0
  const torch::Tensor c1 = torch::tensor({1.f, 0.f, 0.f, 1.f, 0.f}).view({1, 5});
  const torch::Tensor c2 = torch::tensor({1.f, 1.f, 0.f, 0.f, 0.f}).view({1, 5});
  const torch::Tensor c3 = torch::tensor({1.f, 1.f, 1.f, 0.f, 0.f}).view({1, 5});
  const std::vector<torch::Tensor> masks = long_term_masks({c1, c2, c3});
  ASSERT_EQ(masks.size(), 3u);
  EXPECT_TRUE(torch::equal(masks[0], c1));
  EXPECT_TRUE(torch::equal(masks[1], torch::tensor({0.f, 1.f, 0.f, 0.f, 0.f}).view({1, 5})));
  EXPECT_TRUE(torch::equal(masks[2], torch::tensor({0.f, 0.f, 1.f, 0.f, 0.f}).view({1, 5})));
  // The input masks are left as they were.
  EXPECT_TRUE(torch::equal(c2, torch::tensor({1.f, 1.f, 0.f, 0.f, 0.f}).view({1, 5})));
}

TEST(LongTermMasks, SubtractsSoftWeightsAndNeverGoesNegative) {
  const torch::Tensor c1 = torch::full({2, 2}, 0.25f), c2 = torch::full({2, 2}, 0.5f), c3 = torch::full({2, 2}, 1.f);
  const std::vector<torch::Tensor> masks = long_term_masks({c1, c2, c3});
  EXPECT_TRUE(torch::allclose(masks[1], torch::full({2, 2}, 0.25f)));  // 0.5 - 0.25
  EXPECT_TRUE(torch::allclose(masks[2], torch::full({2, 2}, 0.25f)));  // 1 - 0.75
  const std::vector<torch::Tensor> clipped = long_term_masks({c3, c2});
  EXPECT_TRUE(torch::equal(clipped[1], torch::zeros({2, 2})));  // max(0.5 - 1, 0)
  EXPECT_TRUE(long_term_masks({}).empty());
}

}  // namespace
}  // namespace stylize
