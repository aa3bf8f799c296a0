#include <gtest/gtest.h>

#include <cmath>

#include "core/pooling.hpp"
#include "stylize/core/vgg19.hpp"
#include "stylize/errors.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

using test::tiny_weights;

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

TEST(Vgg19, TheLayerTableHasBlocksWidthsAndConvolutions) {
  const auto& layers = vgg19_layers();
  ASSERT_EQ(layers.size(), 37u);
  EXPECT_EQ(vgg19_conv_names().size(), 16u);
  EXPECT_EQ(vgg19_conv_names()[8], "conv4_1");
  EXPECT_EQ(layers[vgg19_layer_index("relu4_2")].kind, LayerKind::Relu);
  EXPECT_EQ(layers[vgg19_layer_index("relu4_2")].block, 4);
  EXPECT_EQ(layers[vgg19_layer_index("relu4_2")].conv, 9);  // conv4_2, the tenth convolution
  EXPECT_EQ(layers[vgg19_layer_index("pool3")].kind, LayerKind::Pool);
  EXPECT_EQ(layers[vgg19_layer_index("conv1_2")].width, 64);
  EXPECT_EQ(layers[vgg19_layer_index("conv3_4")].width, 256);
  EXPECT_EQ(layers[vgg19_layer_index("pool5")].width, 512);
  // torchvision's features Sequential has the same order: its conv keys are the table's indices.
  EXPECT_EQ(vgg19_layer_index("conv5_4"), 34);
  EXPECT_EQ(vgg19_layer_index("conv3_1"), 10);
}

TEST(Vgg19, ReceptiveFieldsAndStrides) {
  // A 3x3 conv adds 2 locations of its input to the field, a 2x2 pool 1, and
  // each pool doubles the stride. (The same rule gives VGG16's published
  // 196 pixels for conv5_3 and 212 for pool5; VGG19 has one more conv in each
  // of blocks 3 to 5.)
  EXPECT_EQ(receptive_field(vgg19_layer_index("conv1_1")).size(), 3);
  EXPECT_EQ(receptive_field(vgg19_layer_index("relu1_2")).size(), 5);
  EXPECT_EQ(receptive_field(vgg19_layer_index("pool1")).size(), 6);
  EXPECT_EQ(receptive_field(vgg19_layer_index("pool1")).stride, 2);
  // pool1's location j reads relu1_2 at 2j and 2j + 1, which read [2j - 2, 2j + 3].
  EXPECT_EQ(receptive_field(vgg19_layer_index("pool1")).left, 2);
  EXPECT_EQ(receptive_field(vgg19_layer_index("pool1")).right, 3);
  EXPECT_EQ(receptive_field(vgg19_layer_index("relu2_1")).size(), 10);
  EXPECT_EQ(receptive_field(vgg19_layer_index("pool3")).size(), 52);  // 16 + 4 convs x 2 x 4
  EXPECT_EQ(receptive_field(vgg19_layer_index("relu5_1")).size(), 156);
  EXPECT_EQ(receptive_field(vgg19_layer_index("relu5_1")).stride, 16);
  EXPECT_EQ(receptive_field(vgg19_layer_index("pool5")).size(), 268);
  EXPECT_EQ(receptive_field(vgg19_layer_index("pool5")).stride, 32);
  // Changing one pixel changes no more locations of the layer than its field covers.
  Vgg19Features net(tiny_weights(), {"relu3_1"});
  const ReceptiveField field = receptive_field(vgg19_layer_index("relu3_1"));
  EXPECT_EQ(field.size(), 24);
  EXPECT_EQ(field.stride, 4);
  torch::NoGradGuard no_grad;
  const torch::Tensor image = test::pattern_image(64, 64, 0.3);
  const torch::Tensor base = net.forward(image)[0];
  torch::Tensor changed = image.clone();
  changed.index_put_({0, torch::indexing::Slice(), 32, 40}, 0.0);
  const torch::Tensor moved = (net.forward(changed)[0] - base).abs().sum(torch::IntArrayRef{0, 1}).nonzero();
  ASSERT_GT(moved.size(0), 0);
  for (const int dim : {0, 1}) {
    const int64_t span = moved.select(1, dim).max().item<int64_t>() - moved.select(1, dim).min().item<int64_t>() + 1;
    EXPECT_LE(span, field.size() / field.stride + 1) << "dimension " << dim;
  }
}

TEST(Vgg19, ConvolutionsNeeded) {
  EXPECT_EQ(convs_needed({"relu1_1"}), 1);
  EXPECT_EQ(convs_needed({"relu1_1", "relu4_1"}), 9);
  EXPECT_EQ(convs_needed({"relu5_2", "relu1_1"}), 14);
  EXPECT_EQ(deepest_layer_index({"relu5_2", "relu1_1"}), vgg19_layer_index("relu5_2"));
  EXPECT_THROW(deepest_layer_index({}), OptionError);
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

// A ReLU whose input is not wanted runs in place (through oneDNN in bf16 on
// the CPU); one whose convolution is also asked for runs as torch::relu. The
// two give the same features and the same image gradient, bit for bit.
// A network's first two outputs, flattened into one tensor, and the image's
// gradient of their sums weighted by w1 and w2.
std::pair<torch::Tensor, torch::Tensor> weighted_features_and_gradient(Vgg19Features& net, const torch::Tensor& image,
                                                                       const torch::Tensor& w1,
                                                                       const torch::Tensor& w2) {
  const torch::Tensor x = image.clone().requires_grad_(true);
  const auto maps = net.forward(x);
  ((maps[0].to(torch::kFloat32) * w1).sum() + (maps[1].to(torch::kFloat32) * w2).sum()).backward();
  return {torch::cat({maps[0].flatten(), maps[1].flatten()}), x.grad()};
}

TEST(Vgg19, InPlaceReluGivesTorchsReluAndItsGradient) {
  for (const bool channels_last : {true, false}) {
    Vgg19Features in_place(tiny_weights(), {"relu1_2", "relu2_1"});
    Vgg19Features out_of_place(tiny_weights(), {"relu1_2", "relu2_1", "conv1_1", "conv1_2", "conv2_1"});
    in_place.configure(torch::kCPU, torch::kBFloat16, channels_last);
    out_of_place.configure(torch::kCPU, torch::kBFloat16, channels_last);
    const torch::Tensor image = test::pattern_image(24, 20, 0.7);
    std::vector<torch::Tensor> probe;
    {
      torch::NoGradGuard no_grad;
      probe = in_place.forward(image);
    }
    torch::manual_seed(4);
    const torch::Tensor w1 = torch::randn(probe[0].sizes()), w2 = torch::randn(probe[1].sizes());
    std::vector<torch::Tensor> features, gradients;
    for (Vgg19Features* net : {&in_place, &out_of_place}) {
      const auto [maps, gradient] = weighted_features_and_gradient(*net, image, w1, w2);
      features.push_back(maps);
      gradients.push_back(gradient);
    }
    EXPECT_GT(features[0].eq(0).sum().item<int64_t>(), 0) << "no ReLU cut anything";
    EXPECT_TRUE(torch::equal(features[0], features[1])) << "channels last " << channels_last;
    EXPECT_TRUE(torch::equal(gradients[0], gradients[1])) << "channels last " << channels_last;
  }
}

// In bf16 the first convolution sees the float32 input: its output is the
// float32 one rounded once to bf16 (at most half a bf16 step, 2^-8 of the
// value), up to the split's error (the image and weights each as two bf16
// parts: about 2^-16 of the value; Vgg19Features::split_first_conv). Rounding
// the Caffe-range input (steps of 0.5-1 grey level) or conv1_1's weights to
// bf16 alone misses that bound by two orders of magnitude where the sum nearly
// cancels, and rounding its bias alone by more than twice.
TEST(Vgg19, Bf16FirstConvolutionSeesTheFloat32Image) {
  Vgg19Features reference(tiny_weights(), {"conv1_1", "relu1_2"});
  Vgg19Features fast(tiny_weights(), {"conv1_1", "relu1_2"});
  fast.configure(torch::kCPU, torch::kBFloat16, /*channels_last=*/true);
  torch::manual_seed(3);
  const torch::Tensor image = torch::rand({1, 3, 32, 32});
  const torch::Tensor expected = reference.forward(image)[0];
  const torch::Tensor actual = fast.forward(image)[0];
  ASSERT_EQ(actual.scalar_type(), torch::kBFloat16);
  const torch::Tensor bound =
      expected.abs() * (std::ldexp(1.0, -8) + std::ldexp(1.0, -13)) + 1e-5 * expected.abs().max();
  const torch::Tensor excess = (actual.to(torch::kFloat32) - expected).abs() / bound;
  EXPECT_LE(excess.max().item<double>(), 1.0);
  // The gradient reaches the image in float32 through it.
  const torch::Tensor x = image.clone().requires_grad_(true);
  fast.forward(x)[1].to(torch::kFloat32).sum().backward();
  EXPECT_EQ(x.grad().scalar_type(), torch::kFloat32);
  EXPECT_GT(x.grad().abs().sum().item<double>(), 0.0);
  // The image gradient of a linear function of conv1_1's output (the
  // transposed convolution of its weights, no ReLU kinks) is the float32
  // one's to a few bf16 roundings (2^-9 each).
  const torch::Tensor w = torch::randn(expected.sizes());
  const torch::Tensor x_ref = image.clone().requires_grad_(true), x_fast = image.clone().requires_grad_(true);
  (reference.forward(x_ref)[0] * w).sum().backward();
  (fast.forward(x_fast)[0].to(torch::kFloat32) * w).sum().backward();
  const torch::Tensor g = x_ref.grad();
  const torch::Tensor gradient_excess =
      (x_fast.grad() - g).abs() / (g.abs() * std::ldexp(1.0, -6) + std::ldexp(1.0, -9) * g.abs().max());
  EXPECT_LE(gradient_excess.max().item<double>(), 1.0);
}

// The image gradient against central finite differences: guards against a
// gradient cut (a detached input normalization) or a wrong one (a pooling or
// ReLU backward that passes the wrong locations). The network runs in double;
// its input normalization runs in float32, so the image and the steps are
// chosen exactly representable in float32 and the step is small (2^-16) to
// cross few ReLU kinks; what is left is the normalization's float32 rounding
// (about 2e-3 of a step), well below the 1e-2 tolerance.
TEST(Vgg19, ImageGradientMatchesFiniteDifferences) {
  for (const Pooling pooling : {Pooling::Max, Pooling::Avg}) {
    Vgg19Features net(tiny_weights(), {"relu2_1", "relu3_1"}, pooling);
    net.configure(torch::kCPU, torch::kFloat64, /*channels_last=*/false);
    torch::manual_seed(5);
    const torch::Tensor x0 = (test::pattern_image(12, 12, 0.2).to(torch::kFloat64) * 256).round() / 256;
    const auto probe = net.forward(x0);
    const torch::Tensor w1 = torch::randn(probe[0].sizes(), torch::kFloat64);
    const torch::Tensor w2 = torch::randn(probe[1].sizes(), torch::kFloat64);
    const auto f = [&](const torch::Tensor& x) {
      const auto features = net.forward(x);
      return (features[0] * w1).sum() + (features[1] * w2).sum();
    };
    torch::Tensor x = x0.clone().requires_grad_(true);
    f(x).backward();
    for (int k = 0; k < 3; ++k) {
      const torch::Tensor v = (torch::randn(x0.sizes(), torch::kFloat64) * 8).round() / 8;
      const double h = 1.0 / 65536;
      torch::NoGradGuard no_grad;
      const double numeric = (f(x0 + h * v) - f(x0 - h * v)).item<double>() / (2 * h);
      const double analytic = (x.grad() * v).sum().item<double>();
      EXPECT_NEAR(analytic, numeric, 1e-2 * std::abs(numeric) + 1e-9)
          << (pooling == Pooling::Max ? "max" : "avg") << " pooling, direction " << k;
    }
  }
}

// --pooling avg: each pool layer is avg_pool2d (2x2, stride 2) of the layer
// before it, max pooling is max_pool2d, and the choice reaches deeper layers.
TEST(Vgg19, PoolingIsAvgPool2dOrMaxPool2dOfTheLayerBefore) {
  const std::vector<std::string> layers = {"relu1_2", "pool1", "relu2_2", "pool2", "relu3_1"};
  Vgg19Features avg(tiny_weights(), layers, Pooling::Avg);
  Vgg19Features max(tiny_weights(), layers, Pooling::Max);
  const torch::Tensor image = test::pattern_image(32, 32, 0.8);
  const auto a = avg.forward(image);
  const auto m = max.forward(image);
  EXPECT_TRUE(torch::equal(a[0], m[0])) << "relu1_2 comes before any pooling";
  for (const size_t pool : {size_t{1}, size_t{3}}) {
    EXPECT_TRUE(torch::allclose(a[pool], torch::avg_pool2d(a[pool - 1], {2, 2}, {2, 2}), 1e-6, 1e-7)) << layers[pool];
    EXPECT_TRUE(torch::allclose(m[pool], torch::max_pool2d(m[pool - 1], {2, 2}, {2, 2}), 1e-6, 1e-7)) << layers[pool];
  }
  EXPECT_GT((a[4] - m[4]).abs().max().item<float>(), 1e-3f) << "relu3_1 must depend on the pooling";
}

// Where a ReLU's own output is not wanted, max pooling runs before it
// (Vgg19Features::pools_before_relu). The features and the image's gradient
// must be exactly those of ReLU then pooling, as a network that wants the
// ReLUs' outputs (so keeps the order) computes them; also where a window's
// maximum is tied (flat patches of the image) or not positive.
TEST(Vgg19, PoolingBeforeTheReluChangesNeitherFeaturesNorGradient) {
  // The right half in flat 8x8 patches of two greys: equal activations inside each.
  using torch::indexing::None;
  using torch::indexing::Slice;
  torch::Tensor image = test::pattern_image(40, 32, 0.2);
  const torch::Tensor grid = (torch::arange(5).view({5, 1}) + torch::arange(2).view({1, 2})).remainder(2) * 0.6 + 0.2;
  const torch::Tensor patches = grid.repeat_interleave(8, 0).repeat_interleave(8, 1).to(torch::kFloat32);
  image.index_put_({Slice(), Slice(), Slice(), Slice(16, None)}, patches.expand({1, 3, 40, 16}));
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    for (const bool channels_last : {true, false}) {
      Vgg19Features pooled_first(tiny_weights(), {"relu2_1", "relu3_1"});
      Vgg19Features relu_first(tiny_weights(), {"relu2_1", "relu3_1", "relu1_2", "relu2_2"});
      pooled_first.configure(torch::kCPU, dtype, channels_last);
      relu_first.configure(torch::kCPU, dtype, channels_last);
      std::vector<torch::Tensor> probe;
      {
        torch::NoGradGuard no_grad;
        probe = relu_first.forward(image);
      }
      // The test means something only if windows of relu1_2 have tied positive maxima and all-zero ones.
      const torch::Tensor windows = probe[2].to(torch::kFloat32).unfold(2, 2, 2).unfold(3, 2, 2).flatten(-2);
      const torch::Tensor maxima = std::get<0>(windows.max(-1, true));
      const torch::Tensor ties = windows.eq(maxima).sum(-1).gt(1).logical_and(maxima.squeeze(-1).gt(0));
      EXPECT_GT(ties.sum().item<int64_t>(), 0) << "no window with a tied positive maximum";
      EXPECT_GT(maxima.eq(0).sum().item<int64_t>(), 0) << "no window cut to zero by the ReLU";

      torch::manual_seed(5);
      const torch::Tensor w1 = torch::randn(probe[0].sizes()), w2 = torch::randn(probe[1].sizes());
      std::vector<torch::Tensor> features, gradients;
      for (Vgg19Features* net : {&pooled_first, &relu_first}) {
        const auto [maps, gradient] = weighted_features_and_gradient(*net, image, w1, w2);
        features.push_back(maps);
        gradients.push_back(gradient);
      }
      const std::string where = std::string(dtype == torch::kFloat32 ? "fp32" : "bf16") +
                                (channels_last ? ", channels last" : ", contiguous");
      EXPECT_TRUE(torch::equal(features[0], features[1])) << where;
      EXPECT_TRUE(torch::equal(gradients[0], gradients[1]))
          << where << ": " << (gradients[0] - gradients[1]).abs().max().item<float>();
    }
  }
}

// The fused pooling and ReLU (core/pooling.hpp) give LibTorch's
// relu(max_pool2d(x)) and its gradient bit for bit: ties (the values take 7
// levels, so most windows have some), windows all negative or zero, odd sizes
// (a last row and column in no window), a batch, both dtypes.
TEST(Vgg19, FusedPoolingAndReluAreLibTorchsExactly) {
  torch::manual_seed(11);
  // The vectorized kernels (where the CPU has AVX-512) and the plain loops.
  for (const bool vectors : {true, false}) {
    for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
      // 37 channels: two vectors of 16 and 5 by the plain loop.
      for (const std::vector<int64_t>& shape :
           {std::vector<int64_t>{2, 5, 7, 9}, {1, 64, 10, 12}, {1, 3, 2, 3}, {2, 37, 9, 6}}) {
        const std::string where = std::string(vectors ? "vectors " : "plain ") +
                                  (dtype == torch::kFloat32 ? "fp32 " : "bf16 ") + c10::str(c10::IntArrayRef(shape));
        const torch::Tensor x = (torch::randint(-3, 4, shape) * 0.75)
                                    .to(dtype)
                                    .contiguous(torch::MemoryFormat::ChannelsLast)
                                    .requires_grad_();
        const torch::Tensor grad = torch::randn({shape[0], shape[1], shape[2] / 2, shape[3] / 2}).to(dtype);
        const torch::Tensor fused = cpu_max_pool_relu(x, vectors);
        ASSERT_TRUE(fused.defined()) << where;
        const torch::Tensor reference = torch::relu(torch::max_pool2d(x, {2, 2}, {2, 2}));
        EXPECT_TRUE(torch::equal(fused, reference)) << where;
        EXPECT_TRUE(fused.is_contiguous(torch::MemoryFormat::ChannelsLast)) << where;
        const torch::Tensor fused_gradient = torch::autograd::grad({fused}, {x}, {grad})[0];
        const torch::Tensor reference_gradient = torch::autograd::grad({reference}, {x}, {grad})[0];
        EXPECT_TRUE(torch::equal(fused_gradient, reference_gradient))
            << where << ": " << (fused_gradient - reference_gradient).abs().max().item<float>();
        EXPECT_GT(fused_gradient.ne(0).sum().item<int64_t>(), 0) << where;
      }
      // A NaN stays NaN (the run's check sees it), wherever it is in its window.
      torch::Tensor nan = torch::full({1, 32, 4, 4}, -1.0, dtype).contiguous(torch::MemoryFormat::ChannelsLast);
      nan.index_put_({0, 17, 1, 2}, std::nanf(""));
      nan.index_put_({0, 3, 3, 3}, std::nanf(""));
      const torch::Tensor pooled = cpu_max_pool_relu(nan, vectors);
      EXPECT_EQ(pooled.isnan().sum().item<int64_t>(), 2);
      EXPECT_TRUE(pooled.index({0, 17, 0, 1}).isnan().item<bool>());
      EXPECT_TRUE(pooled.index({0, 3, 1, 1}).isnan().item<bool>());
    }
  }
  // What it does not take is left to LibTorch: another layout, too small, another dtype.
  EXPECT_FALSE(cpu_max_pool_relu(torch::rand({1, 4, 6, 6})).defined());
  EXPECT_FALSE(cpu_max_pool_relu(torch::rand({1, 4, 1, 6}).contiguous(torch::MemoryFormat::ChannelsLast)).defined());
  EXPECT_FALSE(
      cpu_max_pool_relu(torch::rand({1, 4, 6, 6}, torch::kFloat64).contiguous(torch::MemoryFormat::ChannelsLast))
          .defined());
}

TEST(Vgg19, RefusesTooFewWeights) {
  VggWeights weights = tiny_weights();
  weights.convs.resize(5);
  EXPECT_THROW(Vgg19Features(weights, {"relu4_1"}), WeightsError);
}

}  // namespace
}  // namespace stylize
