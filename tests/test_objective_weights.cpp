// The weights of the objective through Objective::evaluate: blend weights of
// several styles (order-sensitive, normalized) and per-layer weights, checked
// against values computed by hand from the plain loss functions; and the loss
// functions' gradients against finite differences. Each comparison is between
// runs of the same objective, so it holds whatever global loss units the
// terms use.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "stylize/core/objective.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

// A stand-in for the network: relu1_1 at stride 1 and relu2_1 at stride 2.
Features network(const torch::Tensor& image) {
  return Features({"relu1_1", "relu2_1"}, {image * 2.0 + 0.1, torch::avg_pool2d(image * image, {2, 2}, {2, 2})});
}

const torch::Tensor& style_a() {
  static const torch::Tensor image = test::pattern_image(12, 12, 1.3);
  return image;
}
const torch::Tensor& style_b() {  // a darker, different palette: its Gram matrices are far from A's
  static const torch::Tensor image = test::pattern_image(12, 12, 2.9) * 0.4;
  return image;
}
const torch::Tensor& image() {
  static const torch::Tensor x = test::pattern_image(10, 12, 0.4);
  return x;
}

// The style column of evaluate() for `layers`, styles and blend weights.
double style_value(const std::vector<LayerWeight>& layers, const std::vector<torch::Tensor>& styles,
                   const std::vector<double>& blend) {
  StylizeOptions options;
  options.content_layers = {{"relu1_1", 1.0}};
  options.style_layers = layers;
  Objective objective = make_objective(options, 1.0);
  TargetInputs inputs;
  inputs.content = image();
  inputs.content_source = image();
  inputs.size = 12;
  inputs.styles = {styles};
  inputs.blend = blend;
  inputs.features = network;
  objective.prepare(inputs);
  return objective.evaluate(image(), network)[0][1].item<double>();
}

double plain_style_loss(const std::string& layer, const torch::Tensor& target_gram) {
  return style_loss(network(image())[layer], target_gram).item<double>();
}

torch::Tensor gram_of(const torch::Tensor& style, const std::string& layer) {
  return gram_matrix(network(style)[layer]);
}

// Guards against: blend weights swapped, ignored (equal), applied to the losses
// instead of the Gram matrices, or not normalized.
TEST(ObjectiveWeights, BlendIsTheWeightedSumOfGramMatricesInOrder) {
  const std::vector<LayerWeight> layers = {{"relu1_1", 1.0}};
  // The term's units: its value for style A alone over the plain loss against A.
  const double unit = style_value(layers, {style_a()}, {}) / plain_style_loss("relu1_1", gram_of(style_a(), "relu1_1"));
  const torch::Tensor blended = 0.7 * gram_of(style_a(), "relu1_1") + 0.3 * gram_of(style_b(), "relu1_1");
  const double expected = unit * plain_style_loss("relu1_1", blended);
  EXPECT_NEAR(style_value(layers, {style_a(), style_b()}, {0.7, 0.3}), expected, 1e-5 * expected);
  EXPECT_NEAR(style_value(layers, {style_a(), style_b()}, {1.4, 0.6}), expected, 1e-5 * expected)
      << "blend weights are normalized";
  // The test can tell the orders and the mixing rule apart.
  const double swapped = style_value(layers, {style_a(), style_b()}, {0.3, 0.7});
  EXPECT_GT(std::abs(swapped - expected), 0.05 * expected);
  const double mixed_losses = 0.7 * style_value(layers, {style_a()}, {}) + 0.3 * style_value(layers, {style_b()}, {});
  EXPECT_GT(std::abs(mixed_losses - expected), 0.05 * expected);
}

// Guards against: per-layer weights ignored, swapped between layers, or not normalized.
TEST(ObjectiveWeights, PerLayerWeightsWeighEachLayersLoss) {
  const double first = style_value({{"relu1_1", 1.0}}, {style_a()}, {});
  const double second = style_value({{"relu2_1", 1.0}}, {style_a()}, {});
  ASSERT_GT(std::abs(first - second), 0.2 * std::max(first, second)) << "the layers must differ for this test";
  const double expected = (2 * first + second) / 3;  // relu1_1:2,relu2_1 normalized to 2/3 and 1/3
  EXPECT_NEAR(style_value({{"relu1_1", 2.0}, {"relu2_1", 1.0}}, {style_a()}, {}), expected, 1e-5 * expected);
  EXPECT_NEAR(style_value({{"relu2_1", 1.0}, {"relu1_1", 2.0}}, {style_a()}, {}), expected, 1e-5 * expected)
      << "a weight belongs to its layer, not to a position";
  EXPECT_NEAR(style_value({{"relu1_1", 1.0}, {"relu2_1", 0.5}}, {style_a()}, {}), expected, 1e-5 * expected)
      << "layer weights are normalized";
}

// The loss between style_loss(f, T) and a target T that is not f's own Gram
// matrix, by hand: guards against a style loss that compares anything else.
TEST(ObjectiveWeights, StyleLossAgainstAnotherGramByHand) {
  // Two channels on a 2x2 grid: [[1, 2], [3, 4]] and [[0, 1], [1, 0]]; G = [[7.5, 1.25], [1.25, 0.5]].
  const torch::Tensor features = torch::tensor({1.f, 2.f, 3.f, 4.f, 0.f, 1.f, 1.f, 0.f}).view({1, 2, 2, 2});
  const torch::Tensor target = torch::tensor({7.f, 2.f, 1.f, 0.f}).view({1, 2, 2});
  // Differences 0.5, -0.75, 0.25, 0.5: squares 0.25 + 0.5625 + 0.0625 + 0.25 = 1.125, mean over 4.
  EXPECT_FLOAT_EQ(style_loss(features, target).item<float>(), 1.125f / 4);
}

// d/dt f(x + t v) at 0 by central differences, accumulated in double, against
// the autograd gradient's <grad, v>. The losses are float32 functions, so the
// step is large enough for float32 rounding (1e-7) to stay far below the
// tolerance, and small enough for the polynomial losses' curvature.
void expect_gradient_matches_finite_differences(const std::function<torch::Tensor(const torch::Tensor&)>& f,
                                                const torch::Tensor& x0, const std::string& what) {
  torch::manual_seed(3);
  torch::Tensor x = x0.clone().requires_grad_(true);
  f(x).sum().backward();
  const torch::Tensor gradient = x.grad().to(torch::kFloat64);
  for (int k = 0; k < 3; ++k) {
    const torch::Tensor v = torch::randn(x0.sizes(), torch::kFloat64);
    const double h = 1e-3;
    torch::NoGradGuard no_grad;
    const double plus = f((x0.to(torch::kFloat64) + h * v).to(torch::kFloat32)).sum().item<double>();
    const double minus = f((x0.to(torch::kFloat64) - h * v).to(torch::kFloat32)).sum().item<double>();
    const double numeric = (plus - minus) / (2 * h);
    const double analytic = (gradient * v).sum().item<double>();
    EXPECT_NEAR(analytic, numeric, 2e-3 * std::abs(numeric) + 1e-6) << what << ", direction " << k;
  }
}

// Guards against a wrong gradient that is still non-zero (a missing factor of
// two in the Gram backward, a transposed product, a sign).
TEST(ObjectiveWeights, LossGradientsMatchFiniteDifferences) {
  const torch::Tensor x = test::pattern_image(6, 7, 0.9);
  const torch::Tensor content_target = test::pattern_image(6, 7, 2.1);
  const torch::Tensor style_target = gram_matrix(test::pattern_image(5, 5, 2.5)) * 0.5;
  expect_gradient_matches_finite_differences([&](const torch::Tensor& t) { return content_loss(t, content_target); }, x,
                                             "content");
  expect_gradient_matches_finite_differences([&](const torch::Tensor& t) { return style_loss(t, style_target); }, x,
                                             "style");
  expect_gradient_matches_finite_differences(
      [&](const torch::Tensor& t) { return style_loss(t.contiguous(torch::MemoryFormat::ChannelsLast), style_target); },
      x, "style, channels last");
  expect_gradient_matches_finite_differences([](const torch::Tensor& t) { return total_variation(t, TvNorm::L2); }, x,
                                             "tv L2");
  // L1 is smooth where no two neighbours are equal: a ramp steeper than the steps.
  const torch::Tensor ramp = (torch::arange(42, torch::kFloat32).view({1, 1, 6, 7}) * 0.05).expand({1, 3, 6, 7});
  expect_gradient_matches_finite_differences([](const torch::Tensor& t) { return total_variation(t, TvNorm::L1); },
                                             ramp.contiguous(), "tv L1");
}

}  // namespace
}  // namespace stylize
