#include <gtest/gtest.h>

#include "stylize/errors.hpp"
#include "stylize/vgg.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

const VggWeights& tiny_weights() {
  static const VggWeights weights = load_vgg19_weights(test::fixture("vgg19_tiny.safetensors"));
  return weights;
}

TEST(Vgg19, LayerNames) {
  const auto& names = vgg19_layer_names();
  ASSERT_EQ(names.size(), 37u);  // 16 convs, 16 relus, 5 pools
  EXPECT_EQ(names.front(), "conv1_1");
  EXPECT_EQ(names[1], "relu1_1");
  EXPECT_EQ(names[4], "pool1");
  EXPECT_EQ(names.back(), "pool5");
  EXPECT_EQ(vgg19_layer_index("relu4_2"), 22);  // torchvision's features[22]
  EXPECT_EQ(vgg19_layer_index("relu6_1"), -1);
  EXPECT_EQ(vgg19_layer_index("22"), -1);
}

TEST(Vgg19, ConvolutionsNeeded) {
  EXPECT_EQ(convs_needed({"relu1_1"}), 1);
  EXPECT_EQ(convs_needed({"relu1_1", "relu4_1"}), 9);
  EXPECT_EQ(convs_needed({"relu5_2", "relu1_1"}), 14);
  EXPECT_EQ(convs_needed({"pool5"}), 16);
  EXPECT_THROW(convs_needed({"relu9_9"}), OptionError);
}

TEST(Vgg19, ForwardShapesFollowTheWeights) {
  Vgg19Features net(tiny_weights(), {"relu1_1", "relu2_1", "relu5_2", "pool5", "conv3_1"});
  const auto features = net.forward(test::pattern_image(32, 32, 0.5));
  ASSERT_EQ(features.size(), 5u);
  EXPECT_EQ(features[0].sizes(), (std::vector<int64_t>{1, 4, 32, 32}));
  EXPECT_EQ(features[1].sizes(), (std::vector<int64_t>{1, 6, 16, 16}));
  EXPECT_EQ(features[2].sizes(), (std::vector<int64_t>{1, 8, 2, 2}));
  EXPECT_EQ(features[3].sizes(), (std::vector<int64_t>{1, 8, 1, 1}));
  EXPECT_EQ(features[4].sizes(), (std::vector<int64_t>{1, 8, 8, 8}));
  EXPECT_GE(features[0].min().item<float>(), 0.f);  // after a ReLU
  EXPECT_LT(features[4].min().item<float>(), 0.f);  // a conv output, before its ReLU
  EXPECT_EQ(net.min_input_side(), 32);
}

TEST(Vgg19, IsTruncatedAfterTheDeepestLayerAndFrozen) {
  Vgg19Features net(tiny_weights(), {"relu3_1", "relu1_1"});
  EXPECT_EQ(net.widths(), (std::vector<int64_t>{4, 4, 6, 6, 8}));
  EXPECT_EQ(net.deepest_layer(), "relu3_1");
  EXPECT_EQ(net.min_input_side(), 4);
  for (const auto& parameter : net.parameters()) EXPECT_FALSE(parameter.requires_grad());
  EXPECT_FALSE(net.is_training());
}

TEST(Vgg19, RepeatedLayersShareOneComputation) {
  Vgg19Features net(tiny_weights(), {"relu2_1", "relu2_1"});
  const auto features = net.forward(test::pattern_image(8, 8, 0.5));
  EXPECT_TRUE(features[0].is_same(features[1]));
}

TEST(Vgg19, Bf16ChannelsLastMatchesFp32) {
  Vgg19Features reference(tiny_weights(), {"relu3_1", "relu5_1"});
  Vgg19Features fast(tiny_weights(), {"relu3_1", "relu5_1"});
  fast.configure(torch::kCPU, torch::kBFloat16, /*channels_last=*/true);
  const torch::Tensor image = test::pattern_image(32, 32, 1.1);
  const auto expected = reference.forward(image);
  const auto actual = fast.forward(image);
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(actual[i].scalar_type(), torch::kBFloat16);
    const float scale = expected[i].abs().max().item<float>();
    EXPECT_LT((actual[i].to(torch::kFloat32) - expected[i]).abs().max().item<float>(), 0.05f * scale) << i;
  }
}

TEST(Vgg19, GradientsReachTheImage) {
  Vgg19Features net(tiny_weights(), {"relu4_1"});
  const torch::Tensor image = test::pattern_image(16, 16, 0.2).requires_grad_(true);
  net.forward(image)[0].sum().backward();
  EXPECT_GT(image.grad().abs().sum().item<float>(), 0.f);
}

TEST(Vgg19, RefusesTooFewWeights) {
  VggWeights weights = tiny_weights();
  weights.convs.resize(5);
  EXPECT_THROW(Vgg19Features(weights, {"relu4_1"}), WeightsError);
}

}  // namespace
}  // namespace stylize
