#include <gtest/gtest.h>

#include <torch/nn/functional/upsampling.h>
#include <torch/torch.h>

#include "stylize/core/pyramid_adam.hpp"

namespace stylize {
namespace {

namespace F = torch::nn::functional;

torch::Tensor upsampled(const torch::Tensor& level, int64_t height, int64_t width) {
  return F::interpolate(level, F::InterpolateFuncOptions()
                                   .size(std::vector<int64_t>{height, width})
                                   .mode(torch::kBilinear)
                                   .align_corners(false));
}

TEST(PyramidAdam, WithoutLevelsItIsAdam) {
  torch::manual_seed(1);
  torch::Tensor x = torch::rand({1, 3, 9, 7}), y = x.clone();
  Adam adam(AdamSettings{}, x);
  PyramidAdam pyramid(AdamSettings{}, y, 0);
  for (int t = 0; t < 3; ++t) {
    const torch::Tensor g = torch::randn({1, 3, 9, 7});
    adam.step(x, g);
    pyramid.step(y, g);
  }
  EXPECT_TRUE(torch::equal(x, y));
  EXPECT_EQ(pyramid.levels(), 0);
}

// An independent pyramid: the image is x = p + sum_k up(z_k), each z_k a
// leaf that autograd differentiates through torch's bilinear interpolate, each
// stepped by a plain Adam from zero. PyramidAdam keeps only x and must move it
// exactly as far.
TEST(PyramidAdam, StepsAsAdamOnEachLevelOfAnUpsampledSum) {
  torch::manual_seed(2);
  const int64_t h = 13, w = 11;
  AdamSettings settings;
  settings.lr = 0.05;
  settings.beta1 = 0.9;
  torch::Tensor p = torch::rand({2, 3, h, w});
  torch::Tensor x = p.clone();
  PyramidAdam pyramid(settings, x, 2);
  Adam pixels(settings, p);
  std::vector<torch::Tensor> z{torch::zeros({2, 3, 7, 6}), torch::zeros({2, 3, 4, 3})};
  std::vector<Adam> levels{Adam(settings, z[0]), Adam(settings, z[1])};
  for (int t = 0; t < 4; ++t) {
    // The gradient of a loss <x, g> with respect to each z_k, by autograd.
    const torch::Tensor g = torch::randn({2, 3, h, w});
    std::vector<torch::Tensor> leaves;
    torch::Tensor sum = p.clone();
    for (const torch::Tensor& level : z) {
      leaves.push_back(level.detach().requires_grad_(true));
      sum = sum + upsampled(leaves.back(), h, w);
    }
    (sum * g).sum().backward();
    for (size_t k = 0; k < z.size(); ++k) levels[k].step(z[k], leaves[k].grad());
    pixels.step(p, g);
    pyramid.step(x, g);
  }
  torch::Tensor expected = p.clone();
  for (const torch::Tensor& level : z) expected += upsampled(level, h, w);
  EXPECT_LT((x - expected).abs().max().item<double>(), 1e-6);
  EXPECT_GT((x - p).abs().max().item<double>(), 1e-2) << "the coarse levels moved the image";
  EXPECT_TRUE(torch::allclose(pyramid.level(1).first_moment(), levels[0].first_moment(), 1e-5, 1e-7));
  EXPECT_TRUE(torch::allclose(pyramid.level(2).second_moment(), levels[1].second_moment(), 1e-5, 1e-9));
}

TEST(PyramidAdam, LevelsHoldTheirShareOfTheSizeAcrossScales) {
  PyramidAdam pyramid(AdamSettings{}, torch::zeros({1, 3, 13, 11}), 3);
  ASSERT_EQ(pyramid.levels(), 3);
  EXPECT_EQ(pyramid.level(0).first_moment().sizes(), (std::vector<int64_t>{1, 3, 13, 11}));
  EXPECT_EQ(pyramid.level(1).first_moment().sizes(), (std::vector<int64_t>{1, 3, 7, 6}));
  EXPECT_EQ(pyramid.level(3).first_moment().sizes(), (std::vector<int64_t>{1, 3, 2, 2}));
  pyramid.resize(26, 22, 0.25);
  EXPECT_EQ(pyramid.level(0).second_moment().sizes(), (std::vector<int64_t>{1, 3, 26, 22}));
  EXPECT_EQ(pyramid.level(2).second_moment().sizes(), (std::vector<int64_t>{1, 3, 7, 6}));
  pyramid.set_eps(0.025);
  for (int k = 0; k <= 3; ++k) EXPECT_EQ(pyramid.level(k).eps(), 0.025) << k;
  torch::Tensor x = torch::zeros({1, 3, 26, 22});
  pyramid.step(x, torch::ones({1, 3, 26, 22}));
  EXPECT_TRUE(torch::isfinite(x).all().item<bool>());
}

// At a new scale the pixels' moments and step count go on; the coarse
// levels' start again (their grid is a different band of the new image).
TEST(PyramidAdam, ANewScaleCarriesThePixelsAndRestartsTheLevels) {
  torch::manual_seed(5);
  PyramidAdam pyramid(AdamSettings{}, torch::zeros({1, 3, 8, 8}), 2);
  torch::Tensor x = torch::rand({1, 3, 8, 8});
  for (int t = 0; t < 3; ++t) pyramid.step(x, torch::randn({1, 3, 8, 8}));
  ASSERT_GT(pyramid.level(1).first_moment().abs().max().item<double>(), 0.0);
  pyramid.resize(16, 16, 0.25);
  EXPECT_EQ(pyramid.level(0).steps(), 3);
  EXPECT_GT(pyramid.level(0).first_moment().abs().max().item<double>(), 0.0);
  for (int k = 1; k <= 2; ++k) {
    EXPECT_EQ(pyramid.level(k).steps(), 0) << k;
    EXPECT_EQ(pyramid.level(k).first_moment().abs().max().item<double>(), 0.0) << k;
    EXPECT_EQ(pyramid.level(k).second_moment().abs().max().item<double>(), 0.0) << k;
  }
  EXPECT_EQ(pyramid.level(2).first_moment().sizes(), (std::vector<int64_t>{1, 3, 4, 4}));
}

TEST(PyramidAdam, BatchMembersAreIndependent) {
  torch::manual_seed(3);
  torch::Tensor both = torch::rand({2, 3, 10, 9});
  torch::Tensor first = both.slice(0, 0, 1).clone(), second = both.slice(0, 1, 2).clone();
  PyramidAdam together(AdamSettings{}, both, 2), alone_first(AdamSettings{}, first, 2),
      alone_second(AdamSettings{}, second, 2);
  for (int t = 0; t < 3; ++t) {
    const torch::Tensor g = torch::randn({2, 3, 10, 9});
    together.step(both, g);
    alone_first.step(first, g.slice(0, 0, 1));
    alone_second.step(second, g.slice(0, 1, 2));
  }
  EXPECT_LT((both.slice(0, 0, 1) - first).abs().max().item<double>(), 1e-6);
  EXPECT_LT((both.slice(0, 1, 2) - second).abs().max().item<double>(), 1e-6);
}

// The reason for the levels: a smooth pull (toward a constant target) under
// a strong fine-grained back-and-forth (a checkerboard that flips every step,
// as the style terms' gradients do). Per-pixel Adam divides the pull by the
// checkerboard's size; a coarse level's gradient sums a patch, where the
// checkerboard cancels, so it follows the pull at Adam's full step.
TEST(PyramidAdam, FollowsASmoothPullThatFineNoiseHidesFromAdam) {
  const int64_t side = 32;
  const torch::Tensor rows = torch::arange(side).view({side, 1}), cols = torch::arange(side).view({1, side});
  const torch::Tensor checker = ((rows + cols) % 2 * 2 - 1).to(torch::kFloat32).view({1, 1, side, side});
  const auto run = [&](int levels) {
    torch::Tensor x = torch::zeros({1, 1, side, side});
    PyramidAdam adam(AdamSettings{}, x, levels);
    for (int t = 0; t < 50; ++t) {
      const torch::Tensor pull = x - 0.5;  // of 0.5 * |x - 0.5|^2
      adam.step(x, pull + (t % 2 ? 20.0 : -20.0) * checker);
    }
    return (x.mean() - 0.5).abs().item<double>();
  };
  const double pixels_only = run(0), with_levels = run(3);
  EXPECT_GT(pixels_only, 0.45) << "Adam alone hardly moves toward the target";
  EXPECT_LT(with_levels, 0.5 * pixels_only) << "the levels follow the smooth pull";
}

}  // namespace
}  // namespace stylize
