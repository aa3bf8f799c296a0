#include <gtest/gtest.h>

#include <cmath>

#include "stylize/core/loss_units.hpp"
#include "stylize/core/objective.hpp"
#include "stylize/core/vgg19.hpp"
#include "stylize/errors.hpp"
#include "stylize/weights/weights.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

const std::vector<std::string> kContent = {"relu5_2"};
const std::vector<std::string> kStyle = {"relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"};

// The loss terms of `image` (content layer, then style layers), each its
// tutorial-unit term times its normalizer: what the Objective's terms compute.
std::vector<double> terms(const VggWeights& weights, const torch::Tensor& content, const torch::Tensor& style,
                          const torch::Tensor& image, LossUnits units) {
  std::vector<std::string> layers = kContent;
  layers.insert(layers.end(), kStyle.begin(), kStyle.end());
  Vgg19Features net(weights, layers);
  torch::NoGradGuard no_grad;
  const auto targets = net.forward(content), styles = net.forward(style), features = net.forward(image);
  std::vector<double> result;
  for (size_t i = 0; i < layers.size(); ++i) {
    if (i < kContent.size()) {
      const torch::Tensor n = content_normalizer(targets[i], layers[i], units);
      result.push_back((content_loss(features[i], targets[i]) * n).item<double>());
    } else {
      const torch::Tensor gram = gram_matrix(styles[i]);
      result.push_back((style_loss(features[i], gram) * style_normalizer(gram, layers[i], units)).item<double>());
    }
  }
  return result;
}

double worst_relative(const std::vector<double>& a, const std::vector<double>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]) / std::abs(a[i]));
  return worst;
}

// Filters of layer l times a_l in [0.3, 3], biases times a_1...a_l: every
// feature map of layer l is then a_1...a_l times the original (ReLU, max
// pooling and zero padding are positively homogeneous).
VggWeights rescaled(VggWeights weights) {
  const double factors[16] = {0.3, 2.7, 1.4, 0.55, 3.0, 0.8, 1.9, 0.35, 2.2, 0.6, 1.1, 2.9, 0.45, 1.7, 0.9, 2.4};
  double product = 1;
  for (size_t l = 0; l < weights.convs.size(); ++l) {
    product *= factors[l];
    for (float& w : weights.convs[l].weight) w = static_cast<float>(w * factors[l]);
    for (float& b : weights.convs[l].bias) b = static_cast<float>(b * product);
  }
  return weights;
}

TEST(LossUnits, WordsAndDefaults) {
  EXPECT_EQ(parse<LossUnits>("tutorial"), LossUnits::Tutorial);
  EXPECT_EQ(parse<LossUnits>("normalized"), LossUnits::Normalized);
  EXPECT_FALSE(parse<LossUnits>("normalised").has_value());
  EXPECT_EQ(to_string(LossUnits::Normalized), "normalized");
  EXPECT_EQ(default_loss_units("caffe"), LossUnits::Tutorial);  // the Keras file: exactly the tutorial
  EXPECT_EQ(default_loss_units("torchvision"), LossUnits::Normalized);
  EXPECT_EQ(resolve_loss_units(LossUnits::Auto, "caffe"), LossUnits::Tutorial);
  EXPECT_EQ(resolve_loss_units(LossUnits::Auto, "torchvision"), LossUnits::Normalized);
  EXPECT_EQ(resolve_loss_units(LossUnits::Normalized, "caffe"), LossUnits::Normalized);
  EXPECT_EQ(resolve_loss_units(LossUnits::Tutorial, "torchvision"), LossUnits::Tutorial);
}

TEST(LossUnits, ReferenceMagnitudesAreTheKerasNetworksPerBlock) {
  // From neural-style's published first iteration (see loss_units.cpp):
  // relu1_1's style loss 30021.29 = 100 * mean(A^2) / 64^2, relu4_2's content
  // loss 2091178.6 = 5 * mean(P^2).
  EXPECT_NEAR(reference_magnitudes("relu1_1").gram_mean_square, 30021.292114 * 64 * 64 / 100, 1e2);
  EXPECT_NEAR(reference_magnitudes("relu4_2").feature_mean_square, 2091178.59375 / 5, 50);
  EXPECT_EQ(reference_magnitudes("conv4_3").gram_mean_square, reference_magnitudes("relu4_1").gram_mean_square);
  EXPECT_EQ(reference_magnitudes("pool4").feature_mean_square, reference_magnitudes("relu4_2").feature_mean_square);
  EXPECT_LT(reference_magnitudes("relu5_1").gram_mean_square, 1e-3 * reference_magnitudes("relu4_1").gram_mean_square);
  EXPECT_THROW(reference_magnitudes("relu6_1"), OptionError);
  EXPECT_THROW(reference_magnitudes("relu1_3"), OptionError);
}

TEST(LossUnits, NormalizersAreRelativeToTheFrozenTarget) {
  // Member 0's target has mean square 4, member 1's 1/4.
  const torch::Tensor targets = torch::stack({torch::full({3, 2, 2}, 2.0f), torch::full({3, 2, 2}, 0.5f)});
  const double reference = reference_magnitudes("relu3_1").feature_mean_square;
  const torch::Tensor n = content_normalizer(targets, "relu3_1", LossUnits::Normalized);
  ASSERT_EQ(n.sizes(), (std::vector<int64_t>{2}));
  EXPECT_NEAR(n[0].item<double>(), reference / 4, 1e-6 * reference);
  EXPECT_NEAR(n[1].item<double>(), reference * 4, 1e-6 * reference);
  EXPECT_TRUE(torch::equal(content_normalizer(targets, "relu3_1", LossUnits::Tutorial), torch::ones({2})));
  const torch::Tensor grams = torch::full({1, 3, 3}, 3.0f);
  EXPECT_NEAR(style_normalizer(grams, "relu2_1", LossUnits::Normalized).item<double>(),
              reference_magnitudes("relu2_1").gram_mean_square / 9, 1e-3);
}

TEST(LossUnits, AnAllZeroTargetIsRefused) {
  EXPECT_THROW(content_normalizer(torch::zeros({1, 4, 2, 2}), "relu5_2", LossUnits::Normalized), ImageError);
  EXPECT_THROW(style_normalizer(torch::zeros({1, 4, 4}), "relu1_1", LossUnits::Normalized), ImageError);
  EXPECT_NO_THROW(style_normalizer(torch::zeros({1, 4, 4}), "relu1_1", LossUnits::Tutorial));
}

TEST(LossUnits, NormalizedTermsIgnorePerLayerRescalingOfTheTinyNetwork) {
  const VggWeights original = load_vgg19_weights(test::fixture("vgg19_tiny.safetensors"));
  const VggWeights scaled = load_vgg19_weights(test::fixture("vgg19_tiny_rescaled.safetensors"));
  const torch::Tensor content = test::pattern_image(32, 32, 0.1), style = test::pattern_image(32, 32, 2.0);
  const torch::Tensor image = (0.6 * content + 0.4 * test::pattern_image(32, 32, 1.0)).clamp(0, 1);
  EXPECT_LT(worst_relative(terms(original, content, style, image, LossUnits::Normalized),
                           terms(scaled, content, style, image, LossUnits::Normalized)),
            1e-5);
  // Tutorial units see the rescaling (so the comparison above can fail).
  EXPECT_GT(worst_relative(terms(original, content, style, image, LossUnits::Tutorial),
                           terms(scaled, content, style, image, LossUnits::Tutorial)),
            0.1);
  // The in-memory rescaling agrees with the fixture's.
  EXPECT_LT(worst_relative(terms(rescaled(original), content, style, image, LossUnits::Normalized),
                           terms(original, content, style, image, LossUnits::Normalized)),
            1e-5);
}

TEST(LossUnits, NormalizedTermsIgnorePerLayerRescalingOfAFullSizeNetwork) {
  const VggWeights original = test::full_size_random();
  const torch::Tensor content = test::pattern_image(32, 48, 0.1), style = test::pattern_image(40, 32, 2.0);
  const torch::Tensor image = (0.6 * content + 0.4 * test::pattern_image(32, 48, 1.0)).clamp(0, 1);
  EXPECT_LT(worst_relative(terms(original, content, style, image, LossUnits::Normalized),
                           terms(rescaled(original), content, style, image, LossUnits::Normalized)),
            1e-5);
}

TEST(LossUnits, NormalizedTermsIgnoreTheInputConventionFoldedIntoConv1) {
  // The Keras fixture (Caffe convention) and the same network with Caffe's
  // preprocessing folded into conv1_1, tagged torchvision: the same features
  // but at the zero-padded border. At 128 px relu5_1's 8x8 maps are all within
  // reach of the border and its term moves by 1.1e-3; at 256 px every term by < 1e-3.
  const VggWeights caffe = load_vgg19_weights(test::fixture("keras_vgg19_notop_tiny.h5"));
  const VggWeights folded = load_vgg19_weights(test::fixture("keras_vgg19_tiny_folded_torchvision.safetensors"));
  ASSERT_EQ(caffe.convention.name, "caffe");
  ASSERT_EQ(folded.convention.name, "torchvision");
  const torch::Tensor content = test::pattern_image(256, 256, 0.1), style = test::pattern_image(256, 256, 2.0);
  const torch::Tensor image = (0.6 * content + 0.4 * test::pattern_image(256, 256, 1.0)).clamp(0, 1);
  EXPECT_LT(worst_relative(terms(caffe, content, style, image, LossUnits::Normalized),
                           terms(folded, content, style, image, LossUnits::Normalized)),
            1e-3);
}

TEST(SizeFactor, IsExactlyOneAtTheTutorialsSizeForAnyAspectRatio) {
  for (const auto& [h, w] : std::vector<std::pair<int64_t, int64_t>>{{512, 512}, {384, 512}, {512, 384}, {512, 7}}) {
    EXPECT_EQ(size_factor(h, w), 1.0) << h << "x" << w;
  }
  EXPECT_EQ(size_factor(768, 1024), 0.25);
  EXPECT_EQ(size_factor(128, 96), 16.0);  // the first scale of --scales 3 at 512 px
  EXPECT_DOUBLE_EQ(size_factor(300, 200), (512.0 / 300) * (512.0 / 300));
}

// Mean |gradient| per pixel of the size-normalized total variation over that
// of the content and style terms, for the same scene rendered at `size` with
// pixel-level grain as photos have (L1 TV's gradient is +-2 or 0 per pixel
// there; on a perfectly smooth image it lives only on the extrema lines).
double tv_pull(int64_t size) {
  const VggWeights weights = load_vgg19_weights(test::fixture("vgg19_tiny.safetensors"));
  Vgg19Features net(weights, {"relu3_1", "relu1_1", "relu2_1"});
  const torch::Tensor content = test::pattern_image(size * 3 / 4, size, 0.1);
  const torch::Tensor style = test::pattern_image(size * 3 / 4, size, 2.0);
  std::vector<torch::Tensor> targets, grams;
  {
    torch::NoGradGuard no_grad;
    targets = net.forward(content);
    for (const auto& f : net.forward(style)) grams.push_back(gram_matrix(f));
  }
  torch::manual_seed(5);
  const torch::Tensor grain = 0.05 * (torch::rand_like(content) - 0.5);
  const torch::Tensor image = (0.7 * content + 0.3 * style + grain).clamp(0, 1).requires_grad_(true);
  const auto features = net.forward(image);
  const torch::Tensor content_style = content_loss(features[0], targets[0]).sum() * 1e2 +
                                      style_loss(features[1], grams[1]).sum() + style_loss(features[2], grams[2]).sum();
  const torch::Tensor tv = total_variation(image).sum() * size_factor(image.size(2), image.size(3));
  const torch::Tensor g_cs = torch::autograd::grad({content_style}, {image})[0];
  const torch::Tensor g_tv = torch::autograd::grad({tv}, {image})[0];
  return g_tv.abs().mean().item<double>() / g_cs.abs().mean().item<double>();
}

TEST(SizeFactor, KeepsTotalVariationsPullTheSameAtEverySize) {
  // Content and style gradients per pixel fall as 1/pixels; so must TV's.
  const double at256 = tv_pull(256), at512 = tv_pull(512);
  EXPECT_NEAR(at512 / at256, 1.0, 0.1) << at256 << " " << at512;
}

TEST(LayerStatistics, AveragesEachImagesStatistics) {
  // Image 1: channels [1, 0] and [2, 2] over two positions: mean 1.25, mean
  // square 2.25, one zero in four, G = F F^T / 2 = [[0.5, 1], [1, 4]] with
  // mean square (0.25 + 1 + 1 + 16) / 4 = 4.5625. Image 2: all 3 (mean 3,
  // mean square 9, no zero, G all 9, mean square 81).
  LayerStatisticsAccumulator stats;
  stats.add("relu1_1", torch::tensor({1.0f, 0.0f, 2.0f, 2.0f}).view({1, 2, 1, 2}));
  stats.add("relu1_1", torch::full({1, 2, 1, 2}, 3.0f));
  stats.add("relu5_1", torch::full({2, 2, 1, 2}, 1.0f));
  const auto results = stats.results();
  ASSERT_EQ(results.size(), 2u);
  const LayerStatistics& s = results[0];
  EXPECT_EQ(s.layer, "relu1_1");
  EXPECT_EQ(s.images, 2);
  EXPECT_DOUBLE_EQ(s.mean, (1.25 + 3) / 2);
  EXPECT_DOUBLE_EQ(s.mean_square, (2.25 + 9) / 2);
  EXPECT_DOUBLE_EQ(s.zero_fraction, 0.25 / 2);
  EXPECT_DOUBLE_EQ(s.gram_mean_square, (4.5625 + 81) / 2);
  EXPECT_DOUBLE_EQ(s.style_ratio(), s.gram_mean_square / reference_magnitudes("relu1_1").gram_mean_square);
  EXPECT_EQ(results[1].images, 2);
  EXPECT_DOUBLE_EQ(results[1].content_ratio(), 1.0 / reference_magnitudes("relu5_1").feature_mean_square);
  EXPECT_THROW(stats.add("fc6", torch::ones({1, 1, 1, 1})), OptionError);
}

}  // namespace
}  // namespace stylize
