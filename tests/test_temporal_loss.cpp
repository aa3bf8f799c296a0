// The temporal consistency term (stylize/core/temporal_loss.hpp).
#include <gtest/gtest.h>

#include "stylize/core/temporal_loss.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

TEST(TemporalLoss, IsTheMaskWeightedMeanSquaredDifference) {
  // One channel value differs by 0.5 at a reliable pixel, one by 1 at an
  // unreliable pixel, one by 0.2 at a half-trusted pixel.
  const torch::Tensor image = torch::zeros({1, 3, 2, 2});
  torch::Tensor warped = torch::zeros({1, 3, 2, 2});
  warped[0][1][0][0] = 0.5;
  warped[0][2][1][1] = 1.0;
  warped[0][0][0][1] = 0.2;
  const torch::Tensor mask = torch::tensor({1.f, 0.5f, 1.f, 0.f}).view({2, 2});
  const torch::Tensor loss = temporal_loss(image, warped, mask);
  ASSERT_EQ(loss.sizes(), (std::vector<int64_t>{1}));
  EXPECT_EQ(loss.scalar_type(), torch::kFloat32);
  // (1/D) sum c (x - w)^2 with D = 3 * 2 * 2 values.
  EXPECT_NEAR(loss.item<double>(), (1.0 * 0.25 + 0.0 * 1.0 + 0.5 * 0.04) / 12.0, 1e-7);
}

TEST(TemporalLoss, GradientMatchesFiniteDifferencesInDoublePrecision) {
  torch::manual_seed(11);
  const torch::Tensor x0 = torch::rand({2, 3, 4, 5}, torch::kFloat64);
  const torch::Tensor warped = torch::rand({1, 3, 4, 5}, torch::kFloat64);
  const torch::Tensor mask = (torch::rand({4, 5}, torch::kFloat64) > 0.3).to(torch::kFloat64) * 0.8;
  const torch::Tensor weights = torch::tensor({0.7, 1.3}, torch::kFloat64);  // members weighted differently

  const torch::Tensor x = x0.clone().requires_grad_(true);
  const torch::Tensor loss = temporal_loss(x, warped, mask);
  ASSERT_EQ(loss.scalar_type(), torch::kFloat64);
  (loss * weights).sum().backward();
  const torch::Tensor analytic = x.grad();

  const double eps = 1e-6;
  torch::Tensor numeric = torch::zeros_like(x0);
  const auto objective = [&](const torch::Tensor& input) {
    return (temporal_loss(input, warped, mask) * weights).sum().item<double>();
  };
  for (int64_t i = 0; i < x0.numel(); ++i) {
    torch::Tensor plus = x0.clone(), minus = x0.clone();
    plus.view(-1)[i] += eps;
    minus.view(-1)[i] -= eps;
    numeric.view(-1)[i] = (objective(plus) - objective(minus)) / (2 * eps);
  }
  EXPECT_LT((analytic - numeric).abs().max().item<double>(), 1e-8);
  // And both equal the closed form 2 c (x - w) / D per member.
  const torch::Tensor closed = 2 * mask.view({1, 1, 4, 5}) * (x0 - warped) / 60.0 * weights.view({2, 1, 1, 1});
  EXPECT_LT((analytic - closed).abs().max().item<double>(), 1e-12);
  // Unreliable pixels get no gradient.
  EXPECT_EQ(analytic.masked_select((mask == 0).view({1, 1, 4, 5}).expand_as(analytic)).abs().max().item<double>(), 0.0);
}

TEST(TemporalLoss, IsPerBatchMemberAndAcceptsEitherMaskShape) {
  const torch::Tensor images = torch::rand({2, 3, 6, 7});
  const torch::Tensor warped = torch::rand({1, 3, 6, 7});
  const torch::Tensor mask = (torch::rand({6, 7}) > 0.5).to(torch::kFloat32);
  const torch::Tensor both = temporal_loss(images, warped, mask);
  ASSERT_EQ(both.sizes(), (std::vector<int64_t>{2}));
  EXPECT_FLOAT_EQ(both[0].item<float>(), temporal_loss(images.narrow(0, 0, 1), warped, mask).item<float>());
  EXPECT_FLOAT_EQ(both[1].item<float>(), temporal_loss(images.narrow(0, 1, 1), warped, mask).item<float>());
  EXPECT_TRUE(torch::allclose(temporal_loss(images, warped, mask.view({1, 1, 6, 7})), both));
  EXPECT_GT(both[0].item<float>(), 0.f);
}

TEST(TemporalLoss, RefusesMismatchedShapes) {
  const torch::Tensor image = torch::rand({1, 3, 6, 7});
  EXPECT_THROW(temporal_loss(image, torch::rand({1, 3, 6, 8}), torch::ones({6, 7})), std::invalid_argument);
  EXPECT_THROW(temporal_loss(image, torch::rand({1, 3, 6, 7}), torch::ones({6, 8})), std::invalid_argument);
  EXPECT_THROW(temporal_loss(image, torch::rand({1, 3, 6, 7}), torch::ones({1, 3, 6, 7})), std::invalid_argument);
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
