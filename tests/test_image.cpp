#include <gtest/gtest.h>

#include "stylize/core/engine.hpp"
#include "stylize/io/image.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

TEST(Color, YCbCrRoundTrip) {
  const torch::Tensor rgb = test::pattern_image(16, 16, 0.4);
  EXPECT_LT((ycbcr_to_rgb(rgb_to_ycbcr(rgb)) - rgb).abs().max().item<float>(), 1e-5f);
  // Pure white has full luminance and neutral chroma.
  const torch::Tensor white = rgb_to_ycbcr(torch::ones({1, 3, 1, 1}));
  EXPECT_NEAR(white[0][0][0][0].item<float>(), 1.0f, 1e-5f);
  EXPECT_NEAR(white[0][1][0][0].item<float>(), 0.5f, 1e-5f);
  EXPECT_NEAR(white[0][2][0][0].item<float>(), 0.5f, 1e-5f);
}

// Channel order Y, Cb, Cr with BT.601 full-range coefficients, by hand: guards
// against Cb and Cr swapped (which the round trip and gray colours cannot see).
TEST(Color, YCbCrOfPrimariesByHand) {
  const torch::Tensor rgb =
      torch::tensor({1.f, 0.f, 0.f, 0.f, 0.f, 1.f, 0.f, 0.f, 0.f, 0.f, 1.f, 0.f}).view({1, 3, 2, 2});
  // Pixels: red (1, 0, 0), green (0, 1, 0), blue (0, 0, 1), black.
  const torch::Tensor ycbcr = rgb_to_ycbcr(rgb).view({3, 4});
  const float expected[3][4] = {{0.299f, 0.587f, 0.114f, 0.f},
                                {0.5f - 0.168736f, 0.5f - 0.331264f, 1.0f, 0.5f},
                                {1.0f, 0.5f - 0.418688f, 0.5f - 0.081312f, 0.5f}};
  for (int c = 0; c < 3; ++c) {
    for (int p = 0; p < 4; ++p) EXPECT_NEAR(ycbcr[c][p].item<float>(), expected[c][p], 1e-4f) << c << "," << p;
  }
}

TEST(Color, HistogramMatchingMovesMeanAndCovariance) {
  torch::Tensor style = test::pattern_image(40, 40, 1.9) * 0.5 + 0.2;
  style = style * torch::tensor({1.0f, 0.6f, 0.3f}).view({1, 3, 1, 1});  // a warm palette
  const torch::Tensor content = test::pattern_image(32, 48, 0.3) * 0.6 + 0.15;
  const torch::Tensor matched = match_color_statistics(style, content);
  EXPECT_EQ(matched.sizes(), style.sizes());
  const auto [mean_c, cov_c] = color_statistics(content);
  const auto [mean_m, cov_m] = color_statistics(matched);
  const auto [mean_s, cov_s] = color_statistics(style);
  EXPECT_TRUE(torch::allclose(mean_m, mean_c, 0, 2e-3)) << mean_m << mean_c;
  EXPECT_TRUE(torch::allclose(cov_m, cov_c, 0, 2e-3)) << cov_m << cov_c;
  EXPECT_FALSE(torch::allclose(mean_s, mean_c, 0, 2e-2)) << "the test needs different palettes";
}

TEST(Color, LuminanceTransferKeepsTheContentsChroma) {
  StylizeOptions options = test::tiny_options();
  options.preserve_colors = PreserveColors::Luminance;
  options.style_weight = 1.0;
  options.iterations = 20;
  const VggWeights weights = load_vgg19_weights(test::fixture("vgg19_tiny.safetensors"));
  Stylizer stylizer(options, weights);
  const torch::Tensor content = test::pattern_image(32, 32, 0.3) * 0.6 + 0.2;  // away from clipping
  const torch::Tensor style = test::pattern_image(32, 32, 1.9);
  const Result result = stylizer.run(content, {style});
  const torch::Tensor out = rgb_to_ycbcr(result.image), in = rgb_to_ycbcr(content);
  const float chroma_change = (out.narrow(1, 1, 2) - in.narrow(1, 1, 2)).abs().mean().item<float>();
  const float luma_change = (out.narrow(1, 0, 1) - in.narrow(1, 0, 1)).abs().mean().item<float>();
  EXPECT_LT(chroma_change, 0.01f);
  EXPECT_GT(luma_change, 5 * chroma_change) << "the luminance must have been stylized";

  // Without colour preservation the chroma does change.
  options.preserve_colors = PreserveColors::None;
  Stylizer plain(options, weights);
  const torch::Tensor free = rgb_to_ycbcr(plain.run(content, {style}).image);
  EXPECT_GT((free.narrow(1, 1, 2) - in.narrow(1, 1, 2)).abs().mean().item<float>(), 2 * chroma_change);
}

// Shrinking averages what is finer than the new pixels (a style image resized
// for a coarse scale keeps its mean colour and no moire): a one-pixel
// checkerboard shrunk three times is an even grey, where sampling it (bilinear
// without antialiasing lands on single pixels at this ratio) gives black and white.
TEST(Resize, ShrinkingAveragesDetailFinerThanTheNewPixels) {
  const torch::Tensor i = torch::arange(48);
  const torch::Tensor checkerboard =
      ((i.view({48, 1}) + i.view({1, 48})) % 2).to(torch::kFloat32).view({1, 1, 48, 48}).expand({1, 3, 48, 48});
  const torch::Tensor small = resize_to(checkerboard.contiguous(), 16, 16);
  ASSERT_EQ(small.sizes(), (std::vector<int64_t>{1, 3, 16, 16}));
  EXPECT_LT((small - 0.5).abs().max().item<float>(), 0.05f);
  EXPECT_LT((resize_longest_side(checkerboard.contiguous(), 16) - 0.5).abs().max().item<float>(), 0.05f);
}

}  // namespace
}  // namespace stylize
