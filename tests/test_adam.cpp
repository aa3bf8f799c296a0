#include <gtest/gtest.h>

#include <cmath>

#include "stylize/core/adam.hpp"

namespace stylize {
namespace {

// Three TF/Keras Adam steps on a scalar, lr 0.02, beta1 0.99, beta2 0.999,
// eps 0.1 (the tutorial's), from x = 0.5 with gradients 0.05, -0.02, 0.1,
// computed by hand (float64):
//   m_t = 0.99 m + 0.01 g          v_t = 0.999 v + 0.001 g^2
//   lr_t = 0.02 sqrt(1 - 0.999^t) / (1 - 0.99^t)
//   x -= lr_t m_t / (sqrt(v_t) + 0.1)
// t = 1: m = 5.0e-4,    v = 2.5e-6,        lr_t = 0.0632455532, update 3.113055924e-4
// t = 2: m = 2.95e-4,   v = 2.8975e-6,     lr_t = 0.0449348521, update 1.303391744e-4
// t = 3: m = 1.29205e-3, v = 1.28946025e-5, lr_t = 0.0368639924, update 4.597905688e-4
// PyTorch's placement (eps added to sqrt(v / (1 - 0.999^t))) would move x by
// 6.67e-3, 2.15e-3 and 5.25e-3 instead: 21x, 16x and 11x as far.
constexpr double kGradients[3] = {0.05, -0.02, 0.1};
constexpr double kTensorFlowX[3] = {0.49968869440758507, 0.4995583552332014, 0.4990985646644088};
constexpr double kPyTorchX[3] = {0.49333333333333335, 0.49118602988979154, 0.48593196943589484};

torch::Tensor scalar(double value) { return torch::full({1}, value, torch::kFloat32); }

std::vector<double> three_steps(AdamEpsilon placement, bool nesterov = false) {
  AdamSettings settings;
  settings.epsilon = placement;
  settings.nesterov = nesterov;
  torch::Tensor x = scalar(0.5);
  Adam adam(settings, x);
  std::vector<double> xs;
  for (double g : kGradients) {
    adam.step(x, scalar(g));
    xs.push_back(x.item<double>());
  }
  return xs;
}

TEST(Adam, ThreeStepsMatchHandComputedTensorFlowUpdates) {
  const std::vector<double> xs = three_steps(AdamEpsilon::TensorFlow);
  for (int t = 0; t < 3; ++t) EXPECT_NEAR(xs[t], kTensorFlowX[t], 1e-7) << "after step " << t + 1;
}

// The same three steps with Nesterov's look-ahead (NAdam), by hand: the step
// follows b1 m_t / (1 - b1^(t+1)) + (1 - b1) g_t / (1 - b1^t) instead of
// m_t / (1 - b1^t), with m_t and v_t as above:
// t = 1: 0.99 * 5.0e-4 / 0.0199 + 0.01 * 0.05 / 0.01 = 0.0748744 (Adam: 0.05),
//        x -= 0.02 sqrt(0.001) * 0.0748744 / (sqrt(2.5e-6) + 0.1) = 4.661762e-4
// t = 2: -2.17249e-4 (the gradient turned: Adam still follows +0.0148)
// t = 3: 0.0661308
constexpr double kNesterovX[3] = {0.4995338237862329, 0.4995357339201366, 0.49883676836701835};

TEST(Adam, NesterovStepsMatchHandComputedNAdamUpdates) {
  const std::vector<double> xs = three_steps(AdamEpsilon::TensorFlow, true);
  for (int t = 0; t < 3; ++t) EXPECT_NEAR(xs[t], kNesterovX[t], 1e-7) << "after step " << t + 1;
  EXPECT_GT(std::abs(xs[1] - kTensorFlowX[1]), 1e-5) << "Nesterov's steps are not Adam's";
}

TEST(Adam, NesterovWithoutMomentumIsAdam) {
  // beta1 = 0: both follow the gradient itself, so the steps are the same to the bit.
  AdamSettings settings;
  settings.beta1 = 0.0;
  torch::Tensor plain = torch::tensor({0.5f, 0.25f}), nesterov = plain.clone();
  Adam adam(settings, plain);
  settings.nesterov = true;
  Adam nadam(settings, nesterov);
  for (const double g : kGradients) {
    const torch::Tensor grad = torch::tensor({static_cast<float>(g), static_cast<float>(-2 * g)});
    adam.step(plain, grad);
    nadam.step(nesterov, grad);
  }
  EXPECT_TRUE(torch::equal(plain, nesterov));
  EXPECT_NE(plain[0].item<float>(), 0.5f);
}

TEST(Adam, DefaultsAreTheTutorialsWithTensorFlowsEpsilon) {
  const AdamSettings settings;
  EXPECT_EQ(settings.epsilon, AdamEpsilon::TensorFlow);
  EXPECT_EQ(settings.lr, 0.02);
  EXPECT_EQ(settings.beta1, 0.99);
  EXPECT_EQ(settings.beta2, 0.999);
  EXPECT_EQ(settings.eps, 0.1);
  EXPECT_FALSE(settings.nesterov);
}

TEST(Adam, PyTorchsEpsilonPlacementIsNamedAndDiffers) {
  const std::vector<double> xs = three_steps(AdamEpsilon::PyTorch);
  // The TF expectations fail for PyTorch's placement: its first step is 21x longer.
  EXPECT_GT(std::abs(xs[0] - kTensorFlowX[0]), 6e-3);
  for (int t = 0; t < 3; ++t) EXPECT_NEAR(xs[t], kPyTorchX[t], 1e-7) << "after step " << t + 1;
}

TEST(Adam, BatchMembersAreIndependent) {
  // Two members stepped together get exactly the updates each gets alone.
  torch::Tensor both = torch::tensor({0.5f, 0.25f});
  Adam together(AdamSettings{}, both);
  torch::Tensor first = scalar(0.5), second = scalar(0.25);
  Adam alone_first(AdamSettings{}, first), alone_second(AdamSettings{}, second);
  const double g2[3] = {-0.3, 0.7, 0.001};
  for (int t = 0; t < 3; ++t) {
    together.step(both, torch::tensor({static_cast<float>(kGradients[t]), static_cast<float>(g2[t])}));
    alone_first.step(first, scalar(kGradients[t]));
    alone_second.step(second, scalar(g2[t]));
  }
  EXPECT_EQ(both[0].item<float>(), first.item<float>());
  EXPECT_EQ(both[1].item<float>(), second.item<float>());
  EXPECT_NEAR(both[0].item<double>(), kTensorFlowX[2], 1e-7);
}

TEST(Adam, StateIsFloat32WhateverTheGradientDtype) {
  torch::Tensor x = torch::full({2, 2}, 0.5f);
  Adam adam(AdamSettings{}, x);
  adam.step(x, torch::full({2, 2}, 0.05, torch::kBFloat16));
  EXPECT_EQ(adam.first_moment().scalar_type(), torch::kFloat32);
  EXPECT_EQ(adam.second_moment().scalar_type(), torch::kFloat32);
  EXPECT_EQ(adam.steps(), 1);
}

TEST(Adam, ResizeCarriesTheMomentsToTheNextScale) {
  // (1, 1, 1, 2) moments [0, 1] resized to width 4 (align_corners false):
  // bilinear gives [0, 1/4, 3/4, 1]; Keys bicubic (A = -0.75) overshoots at
  // the ends: the outer samples sit at source -1/4 and 5/4, where the cubic
  // weights give -27/256 and 1 + 27/256.
  torch::Tensor x = torch::zeros({1, 1, 1, 2});
  Adam adam(AdamSettings{}, x);
  const torch::Tensor g = torch::tensor({0.0f, 1.0f}).view({1, 1, 1, 2});
  adam.step(x, g);  // m = 0.01 g, v = 0.001 g^2
  adam.resize(1, 4);
  const torch::Tensor m = adam.first_moment().view({4}) / 0.01;
  const torch::Tensor v = adam.second_moment().view({4}) / 0.001;
  const double bicubic[4] = {-27.0 / 256, 0.2265625, 0.7734375, 1 + 27.0 / 256};
  const double bilinear[4] = {0.0, 0.25, 0.75, 1.0};
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(m[i].item<double>(), bicubic[i], 1e-5) << i;
    EXPECT_NEAR(v[i].item<double>(), bilinear[i], 1e-5) << i;
  }
  EXPECT_EQ(adam.steps(), 1);  // the bias correction continues from the step count
  EXPECT_EQ(adam.first_moment().sizes(), (std::vector<int64_t>{1, 1, 1, 4}));
}

// The next scale's gradients are smaller per pixel (1/4 when the side
// doubles): the moments follow, so m / sqrt(v), the step, keeps its size.
TEST(Adam, ResizeScalesTheMomentsToTheNextScalesGradients) {
  torch::Tensor x = torch::zeros({1, 1, 2, 2});
  Adam adam(AdamSettings{}, x);
  adam.step(x, torch::full({1, 1, 2, 2}, 2.0f));  // m = 0.01 * 2, v = 0.001 * 4
  adam.resize(4, 4, 0.25);
  EXPECT_TRUE(torch::allclose(adam.first_moment(), torch::full({1, 1, 4, 4}, 0.02f * 0.25f)));
  EXPECT_TRUE(torch::allclose(adam.second_moment(), torch::full({1, 1, 4, 4}, 0.004f * 0.0625f)));
}

TEST(Adam, ResizedSecondMomentIsNeverNegative) {
  // A spike resized: the bicubic first moment rings below zero, the
  // second moment (bilinear, clamped) stays >= 0, so sqrt(v) stays real.
  torch::Tensor x = torch::zeros({2, 3, 8, 8});
  Adam adam(AdamSettings{}, x);
  torch::Tensor g = torch::zeros({2, 3, 8, 8});
  g.index_put_({torch::indexing::Slice(), torch::indexing::Slice(), 4, 4}, 1.0);
  adam.step(x, g);
  adam.resize(13, 11);
  EXPECT_LT(adam.first_moment().min().item<double>(), 0.0);
  EXPECT_GE(adam.second_moment().min().item<double>(), 0.0);
  EXPECT_EQ(adam.second_moment().sizes(), (std::vector<int64_t>{2, 3, 13, 11}));
  torch::Tensor y = torch::zeros({2, 3, 13, 11});
  adam.step(y, torch::zeros({2, 3, 13, 11}));
  EXPECT_TRUE(torch::isfinite(y).all().item<bool>());
}

}  // namespace
}  // namespace stylize
