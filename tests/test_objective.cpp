#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "core/onednn.hpp"
#include "stylize/core/objective.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

// Two channels on a 2x2 grid: [[1, 2], [3, 4]] and [[0, 1], [1, 0]].
torch::Tensor two_channel_features() {
  return torch::tensor({1.f, 2.f, 3.f, 4.f, 0.f, 1.f, 1.f, 0.f}).view({1, 2, 2, 2});
}

TEST(Losses, GramMatrixIsNormalizedByLocations) {
  const torch::Tensor gram = gram_matrix(two_channel_features());
  ASSERT_EQ(gram.sizes(), (std::vector<int64_t>{1, 2, 2}));
  // G[i][j] = sum over the 4 locations of f_i * f_j, divided by 4.
  EXPECT_FLOAT_EQ(gram[0][0][0].item<float>(), 30.f / 4);
  EXPECT_FLOAT_EQ(gram[0][0][1].item<float>(), 5.f / 4);
  EXPECT_FLOAT_EQ(gram[0][1][0].item<float>(), 5.f / 4);
  EXPECT_FLOAT_EQ(gram[0][1][1].item<float>(), 2.f / 4);
}

TEST(Losses, GramMatrixIsTheSameForChannelsLastAndReducedPrecision) {
  const torch::Tensor features = torch::rand({2, 5, 7, 3});
  const torch::Tensor expected = gram_matrix(features);
  const torch::Tensor channels_last = gram_matrix(features.contiguous(torch::MemoryFormat::ChannelsLast));
  EXPECT_TRUE(torch::allclose(channels_last, expected, 1e-5, 1e-6));
  const torch::Tensor bf16 = gram_matrix(features.to(torch::kBFloat16));
  EXPECT_EQ(bf16.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::allclose(bf16, expected, 2e-2, 1e-2));
}

TEST(Losses, GramMatrixOfBf16FeaturesIsComputedInFloat32) {
  // bf16 features are exact in float32; their Gram matrix must be their exact
  // product up to float32 rounding (1e-6), not rounded to bf16 (4e-3).
  for (const bool channels_last : {false, true}) {
    torch::Tensor features = torch::rand({2, 64, 24, 20}).to(torch::kBFloat16);
    if (channels_last) features = features.contiguous(torch::MemoryFormat::ChannelsLast);
    const torch::Tensor m = features.to(torch::kFloat64).reshape({2, 64, 480});
    const torch::Tensor exact = torch::bmm(m, m.transpose(1, 2)) / 480.0;
    const torch::Tensor gram = gram_matrix(features);
    EXPECT_EQ(gram.scalar_type(), torch::kFloat32);
    const double error = ((gram.to(torch::kFloat64) - exact).abs().max() / exact.abs().max()).item<double>();
    EXPECT_LT(error, 1e-5) << "channels_last " << channels_last;
  }
}

TEST(Losses, OneDnnProductMatchesTorchOnStridedViews) {
  if (!cpu_bmm_available()) STYLIZE_SKIP_UNLESS_REQUIRED("built without oneDNN (STYLIZE_WITH_DNNL)");
  const torch::Tensor x = torch::randn({3, 40, 24});
  // oneDNN runs bf16 products on AVX512 CPUs only; on others (an AVX2 EPYC)
  // cpu_bmm declines them and the Gram matrix falls back to torch::bmm on
  // float32 copies (GramMatrixOfBf16FeaturesIsComputedInFloat32 checks that result).
  const bool bf16_kernels = __builtin_cpu_supports("avx512bw") != 0;
  for (const torch::Dtype dtype : {torch::kFloat32, torch::kBFloat16}) {
    const torch::Tensor a = x.to(dtype);
    const torch::Tensor expected = torch::bmm(a.to(torch::kFloat32).transpose(1, 2), a.to(torch::kFloat32));
    const torch::Tensor product = cpu_bmm(a.transpose(1, 2), a, torch::kFloat32);  // (3, 24, 24)
    if (dtype == torch::kBFloat16 && !bf16_kernels) {
      EXPECT_FALSE(product.defined()) << "oneDNN took a bf16 product on a CPU without AVX512";
      continue;
    }
    ASSERT_TRUE(product.defined()) << "dtype " << dtype;
    EXPECT_EQ(product.scalar_type(), torch::kFloat32);
    EXPECT_TRUE(torch::allclose(product, expected, 1e-5, 1e-4));
    const torch::Tensor same_dtype = cpu_bmm(a, a.transpose(1, 2), dtype);  // (3, 40, 40)
    EXPECT_EQ(same_dtype.scalar_type(), dtype);
    EXPECT_TRUE(torch::allclose(same_dtype.to(torch::kFloat32),
                                torch::bmm(a.to(torch::kFloat32), a.to(torch::kFloat32).transpose(1, 2)), 1e-2, 1e-1));
  }
  // What oneDNN does not take is left to torch::bmm.
  EXPECT_FALSE(cpu_bmm(x.to(torch::kFloat64), x.to(torch::kFloat64).transpose(1, 2), torch::kFloat64).defined());
  EXPECT_FALSE(cpu_bmm(x, x, torch::kFloat32).defined());  // shapes do not chain
}

// cpu_relu_ (the network's ReLUs in bf16) is torch::relu on every element,
// in either memory format, and declines what it does not take, untouched.
TEST(Losses, OneDnnReluIsTorchsReluInBfloat16) {
  if (!cpu_bmm_available()) STYLIZE_SKIP_UNLESS_REQUIRED("built without oneDNN (STYLIZE_WITH_DNNL)");
  torch::manual_seed(9);
  torch::Tensor x = torch::randn({2, 32, 9, 7}).to(torch::kBFloat16);
  x.index_put_({0, 0, 0, 0}, -0.0);
  x.index_put_({0, 0, 0, 1}, 1e-30);  // a bf16 subnormal stays
  x.index_put_({0, 0, 0, 2}, -1e-30);
  for (const auto format : {torch::MemoryFormat::Contiguous, torch::MemoryFormat::ChannelsLast}) {
    torch::Tensor y = x.contiguous(format).clone(format);
    if (!cpu_relu_(y)) {
      // oneDNN 2.x has bf16 kernels on AVX512 CPUs only; elsewhere it declines.
      EXPECT_EQ(__builtin_cpu_supports("avx512bw"), 0) << "oneDNN declined a bf16 ReLU on an AVX512 CPU";
      EXPECT_TRUE(torch::equal(y, x));
      continue;
    }
    EXPECT_TRUE(torch::equal(y, torch::relu(x))) << "memory format " << format;
    EXPECT_TRUE(y.is_contiguous(format));
    EXPECT_EQ(y.index({0, 0, 0, 1}).item<float>(), x.index({0, 0, 0, 1}).item<float>());
  }
  for (torch::Tensor declined : {x.to(torch::kFloat32), x.to(torch::kFloat64), x.transpose(2, 3)}) {
    const torch::Tensor before = declined.clone();
    EXPECT_FALSE(cpu_relu_(declined)) << declined.scalar_type();
    EXPECT_TRUE(torch::equal(declined, before));
  }
}

TEST(Losses, GramGradientMatchesAutograd) {
  // The hand-written backward against autograd through the plain formula.
  for (const bool channels_last : {false, true}) {
    torch::Tensor features = torch::randn({2, 4, 5, 3});
    if (channels_last) features = features.contiguous(torch::MemoryFormat::ChannelsLast);
    const torch::Tensor weights = torch::randn({2, 4, 4});
    const torch::Tensor a = features.clone().requires_grad_(true);
    (gram_matrix(a) * weights).sum().backward();
    const torch::Tensor b = features.clone().requires_grad_(true);
    const torch::Tensor m = b.reshape({2, 4, 15});
    (torch::bmm(m, m.transpose(1, 2)) / 15.0 * weights).sum().backward();
    EXPECT_TRUE(torch::allclose(a.grad(), b.grad(), 1e-5, 1e-6)) << "channels_last " << channels_last;
    EXPECT_EQ(a.grad().sizes(), features.sizes());
  }
}

TEST(Losses, ContentLossIsTheMeanSquaredError) {
  EXPECT_FLOAT_EQ(content_loss(torch::ones({1, 2, 3, 3}), torch::zeros({1, 2, 3, 3})).item<float>(), 1.f);
  const torch::Tensor a = torch::tensor({1.f, 2.f, 3.f}).view({1, 3, 1, 1});
  const torch::Tensor b = torch::tensor({1.f, 0.f, 0.f}).view({1, 3, 1, 1});
  EXPECT_FLOAT_EQ(content_loss(a, b).item<float>(), 13.f / 3);
}

TEST(Losses, StyleLossComparesGramMatrices) {
  const torch::Tensor features = two_channel_features();
  // Against a zero target: mean of the squared Gram entries.
  const float expected = (7.5f * 7.5f + 2 * 1.25f * 1.25f + 0.5f * 0.5f) / 4;
  EXPECT_FLOAT_EQ(style_loss(features, torch::zeros({1, 2, 2})).item<float>(), expected);
}

TEST(Losses, TotalVariation) {
  // [[0, 1, 3], [2, 2, 2]]: vertical differences 2, 1, -1; horizontal 1, 2, 0, 0.
  const torch::Tensor image = torch::tensor({0.f, 1.f, 3.f, 2.f, 2.f, 2.f}).view({1, 1, 2, 3});
  EXPECT_FLOAT_EQ(total_variation(image, TvNorm::L1).item<float>(), 7.f);
  EXPECT_FLOAT_EQ(total_variation(image, TvNorm::L2).item<float>(), 11.f);
  EXPECT_FLOAT_EQ(total_variation(torch::full({1, 3, 4, 4}, 0.3f)).item<float>(), 0.f);
}

TEST(Losses, AreGivenPerBatchMember) {
  const torch::Tensor a = torch::rand({1, 4, 6, 5}), b = torch::rand({1, 4, 6, 5}) * 2;
  const torch::Tensor batch = torch::cat({a, b});
  const torch::Tensor target = torch::rand({1, 4, 6, 5});
  const torch::Tensor grams = torch::cat({gram_matrix(b), gram_matrix(a)});  // one target per member
  const torch::Tensor content = content_loss(batch, target);
  const torch::Tensor style = style_loss(batch, grams);
  const torch::Tensor tv = total_variation(batch);
  ASSERT_EQ(content.sizes(), (std::vector<int64_t>{2}));
  ASSERT_EQ(style.sizes(), (std::vector<int64_t>{2}));
  ASSERT_EQ(tv.sizes(), (std::vector<int64_t>{2}));
  EXPECT_FLOAT_EQ(content[0].item<float>(), content_loss(a, target).item<float>());
  EXPECT_FLOAT_EQ(content[1].item<float>(), content_loss(b, target).item<float>());
  EXPECT_FLOAT_EQ(style[0].item<float>(), style_loss(a, gram_matrix(b)).item<float>());
  EXPECT_FLOAT_EQ(style[1].item<float>(), style_loss(b, gram_matrix(a)).item<float>());
  EXPECT_FLOAT_EQ(tv[1].item<float>(), total_variation(b).item<float>());
}

// ---------------------------------------------------------------------------
// The objective: terms, their layers, and evaluation in pieces.

// A stand-in for the network: relu1_1 at stride 1 and relu2_1 at stride 2,
// both smooth functions of the pixels, so gradients reach the image.
Features fake_features(const torch::Tensor& image) {
  const torch::Tensor relu1_1 = image * 2.0 + 0.1;
  const torch::Tensor relu2_1 = torch::avg_pool2d(image * image, {2, 2}, {2, 2});
  return Features({"relu1_1", "relu2_1"}, {relu1_1, relu2_1});
}

Objective small_objective(TvNorm norm) {
  StylizeOptions options;
  options.content_layers = {{"relu1_1", 1.0}};
  options.style_layers = {{"relu1_1", 1.0}, {"relu2_1", 3.0}};
  options.tv_norm = norm;
  Objective objective = make_objective(options, LossUnits::Tutorial);
  TargetInputs inputs;
  inputs.content = test::pattern_image(10, 12, 0.4);
  inputs.content_source = inputs.content;
  inputs.size = 12;
  inputs.styles = {{test::pattern_image(8, 8, 1.3)}};
  inputs.features = fake_features;
  objective.prepare(inputs);
  return objective;
}

TEST(Objective, AsksForTheLayersOfItsTermsAndSumsThem) {
  const Objective objective = small_objective(TvNorm::L1);
  EXPECT_EQ(objective.term_names(), (std::vector<std::string>{"style", "content", "tv"}));
  EXPECT_EQ(objective.layers(), (std::vector<std::string>{"relu1_1", "relu2_1"})) << "each layer once";
  const torch::Tensor image = torch::cat({test::pattern_image(10, 12, 0.1), test::pattern_image(10, 12, 2.2)});
  const torch::Tensor losses = objective.evaluate(image, fake_features);
  ASSERT_EQ(losses.sizes(), (std::vector<int64_t>{2, 4}));
  for (int64_t b = 0; b < 2; ++b) {
    EXPECT_NEAR(losses[b][0].item<double>(), (losses[b][1] + losses[b][2] + losses[b][3]).item<double>(),
                1e-6 * losses[b][0].item<double>());
  }
  // Total variation is a sum: times (512 / 12)^2 for the 10x12 content, as if it were 512 px.
  EXPECT_FLOAT_EQ(losses[1][3].item<float>(),
                  30 * (512.0 / 12) * (512.0 / 12) * total_variation(image.narrow(0, 1, 1)).item<float>());
  const torch::Tensor one = objective.evaluate(image.narrow(0, 1, 1), fake_features);
  EXPECT_TRUE(torch::allclose(one[0], losses[1])) << "batch members are evaluated independently";
}

// Rows [top, top + height) of a 10x12 image as a tile, cut with two rows of halo
// (the stand-in network needs none; the halo is what the TV term reads).
Piece tile(const torch::Tensor& image, int64_t top, int64_t height) {
  const int64_t cut_top = std::max<int64_t>(0, top - 2), cut_end = std::min<int64_t>(10, top + height + 2);
  const torch::Tensor cut = image.narrow(2, cut_top, cut_end - cut_top);
  return Piece(cut, fake_features(cut), {cut_top, 0, cut_end - cut_top, 12}, {top, 0, height, 12}, 10, 12);
}

TEST(Objective, StatisticsOfTilesAddUpToTheWholeImages) {
  for (const TvNorm norm : {TvNorm::L1, TvNorm::L2}) {
    const Objective objective = small_objective(norm);
    const torch::Tensor image = test::pattern_image(10, 12, 0.7);
    const Piece whole(image, fake_features(image));
    // Rows 0-3, 4-7 and 8-9: aligned to relu2_1's stride 2, the last one at the border.
    const std::vector<Piece> tiles = {tile(image, 0, 4), tile(image, 4, 4), tile(image, 8, 2)};
    for (const auto& term : objective.terms()) {
      const std::vector<torch::Tensor> expected = term->statistics(whole);
      std::vector<torch::Tensor> summed;
      for (const Piece& piece : tiles) {
        const std::vector<torch::Tensor> part = term->statistics(piece);
        if (summed.empty()) {
          summed = part;
        } else {
          for (size_t k = 0; k < part.size(); ++k) summed[k] = summed[k] + part[k];
        }
      }
      ASSERT_EQ(summed.size(), expected.size()) << term->name();
      for (size_t k = 0; k < expected.size(); ++k) {
        EXPECT_TRUE(torch::allclose(summed[k], expected[k], 1e-5, 1e-6)) << term->name() << " statistic " << k;
      }
      EXPECT_NEAR(term->loss(summed).item<double>(), term->loss(expected).item<double>(),
                  1e-5 * std::abs(term->loss(expected).item<double>()))
          << term->name();
    }
  }
}

TEST(Objective, TiledBackwardWithFixedStatisticGradientsEqualsTheWholeImages) {
  // The procedure objective.hpp describes: statistics summed over tiles
  // without gradient, dL/dS from them, then each tile's backward of sum(s * dL/dS).
  const Objective objective = small_objective(TvNorm::L2);
  const torch::Tensor pixels = test::pattern_image(10, 12, 1.1);
  torch::Tensor image = pixels.clone().requires_grad_(true);
  objective.evaluate(image, fake_features).select(1, 0).sum().backward();
  const torch::Tensor expected = image.grad().clone();

  const auto tiles_of = [](const torch::Tensor& x) {
    return std::vector<Piece>{tile(x, 0, 4), tile(x, 4, 4), tile(x, 8, 2)};
  };
  torch::Tensor tiled = pixels.clone().requires_grad_(true);
  for (const auto& term : objective.terms()) {
    std::vector<torch::Tensor> sums;
    {
      torch::NoGradGuard no_grad;
      for (const Piece& piece : tiles_of(tiled)) {
        const auto part = term->statistics(piece);
        if (sums.empty()) {
          sums = part;
        } else {
          for (size_t k = 0; k < part.size(); ++k) sums[k] = sums[k] + part[k];
        }
      }
    }
    for (auto& s : sums) s.requires_grad_(true);
    term->loss(sums).sum().backward();
    for (const Piece& piece : tiles_of(tiled)) {
      const auto part = term->statistics(piece);
      torch::Tensor surrogate = torch::zeros({});
      for (size_t k = 0; k < part.size(); ++k) surrogate = surrogate + (part[k] * sums[k].grad()).sum();
      surrogate.backward();
    }
  }
  EXPECT_TRUE(torch::allclose(tiled.grad(), expected, 1e-4, 1e-6))
      << (tiled.grad() - expected).abs().max().item<float>();
}

// ---------------------------------------------------------------------------
// The weights of the objective through Objective::evaluate: blend weights of
// several styles (order-sensitive, normalized) and per-layer weights, checked
// against values computed by hand from the plain loss functions; and the loss
// functions' gradients against finite differences. Each comparison is between
// runs of the same objective, so it holds whatever global loss units the
// terms use.

const torch::Tensor& style_a() {
  static const torch::Tensor image = test::pattern_image(12, 12, 1.3);
  return image;
}
const torch::Tensor& style_b() {  // a darker, different palette: its Gram matrices are far from A's
  static const torch::Tensor image = test::pattern_image(12, 12, 2.9) * 0.4;
  return image;
}
const torch::Tensor& evaluated_image() {
  static const torch::Tensor x = test::pattern_image(10, 12, 0.4);
  return x;
}

// The style column of evaluate() for `layers`, styles and blend weights.
double style_value(const std::vector<LayerWeight>& layers, const std::vector<torch::Tensor>& styles,
                   const std::vector<double>& blend) {
  StylizeOptions options;
  options.content_layers = {{"relu1_1", 1.0}};
  options.style_layers = layers;
  Objective objective = make_objective(options, LossUnits::Tutorial);
  TargetInputs inputs;
  inputs.content = evaluated_image();
  inputs.content_source = evaluated_image();
  inputs.size = 12;
  inputs.styles = {styles};
  inputs.blend = blend;
  inputs.features = fake_features;
  objective.prepare(inputs);
  return objective.evaluate(evaluated_image(), fake_features)[0][1].item<double>();
}

double plain_style_loss(const std::string& layer, const torch::Tensor& target_gram) {
  return style_loss(fake_features(evaluated_image())[layer], target_gram).item<double>();
}

torch::Tensor gram_of(const torch::Tensor& style, const std::string& layer) {
  return gram_matrix(fake_features(style)[layer]);
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
                                                const torch::Tensor& x0, const std::string& what, double h = 1e-3) {
  torch::manual_seed(3);
  torch::Tensor x = x0.clone().requires_grad_(true);
  f(x).sum().backward();
  const torch::Tensor gradient = x.grad().to(torch::kFloat64);
  for (int k = 0; k < 3; ++k) {
    const torch::Tensor v = torch::randn(x0.sizes(), torch::kFloat64);
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
  // L1 is linear where no two neighbours are equal: a ramp (steps of 0.2 and
  // 1.4) far steeper than the perturbations, with a larger step for float32.
  const torch::Tensor ramp = (torch::arange(42, torch::kFloat32).view({1, 1, 6, 7}) * 0.2).expand({1, 3, 6, 7});
  expect_gradient_matches_finite_differences([](const torch::Tensor& t) { return total_variation(t, TvNorm::L1); },
                                             ramp.contiguous(), "tv L1", 1e-2);
}

}  // namespace
}  // namespace stylize
