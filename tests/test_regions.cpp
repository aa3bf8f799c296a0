// Regional styles (Gatys et al. 2017): the guided Gram matrices of the style
// term under content and style masks (core/objective.hpp), and the
// --content-mask, --style-mask and --default-style flags (cli/inputs.hpp).
#include <gtest/gtest.h>

#include <filesystem>

#include "cli/inputs.hpp"
#include "cli_test_util.hpp"
#include "codec_oracle.hpp"
#include "stylize/core/engine.hpp"
#include "stylize/core/objective.hpp"
#include "stylize/core/vgg19.hpp"
#include "stylize/errors.hpp"
#include "stylize/io/image_io.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

namespace fs = std::filesystem;

// Left (columns < width / 2) and right halves as (H, W) masks.
torch::Tensor half_mask(int64_t h, int64_t w, bool left) {
  torch::Tensor mask = torch::zeros({h, w});
  mask.narrow(1, left ? 0 : w / 2, w / 2).fill_(1.0);
  return mask;
}

torch::Tensor flat(double r, double g, double b, int64_t h, int64_t w) {
  return torch::tensor({r, g, b}, torch::kFloat32).view({1, 3, 1, 1}).expand({1, 3, h, w}).contiguous();
}

TEST(RegionalStyle, AnAllWhiteMaskIsTheUnmaskedTerm) {
  StylizeOptions options = test::tiny_options();
  Stylizer stylizer(options, test::tiny_weights());
  const torch::Tensor content = test::pattern_image(32, 40, 0.2), style = test::pattern_image(24, 24, 1.3);
  const torch::Tensor image = test::pattern_image(32, 40, 0.7);
  const LossValues plain = stylizer.evaluate(image, content, {style});
  Guides guides;
  guides.regions.content = {torch::ones({32, 40})};
  const LossValues masked = stylizer.evaluate(image, content, {style}, guides);
  ASSERT_GT(plain["style"], 0.0);
  EXPECT_NEAR(masked["style"], plain["style"], 1e-6 * plain["style"]);
  EXPECT_NEAR(masked.total, plain.total, 1e-6 * plain.total);
  // A whole-image style mask too; and a run of a few Adam steps lands on the same image.
  guides.regions.style = {torch::ones({24, 24})};
  EXPECT_NEAR(stylizer.evaluate(image, content, {style}, guides)["style"], plain["style"], 1e-6 * plain["style"]);
  options.iterations = 5;
  Stylizer a(options, test::tiny_weights()), b(options, test::tiny_weights());
  const torch::Tensor x = a.run(content, {style}).image, y = b.run(content, {style}, {}, {}, {}, guides).image;
  EXPECT_LT((x - y).abs().max().item<double>(), 1e-5);
}

// A grey mask is a blend: a uniform grey c applies c times the style (the
// product with the mask, Gatys et al.'s, applied c^2), and complementary
// uniform masks with one style are the unmasked term.
TEST(RegionalStyle, AGreyMaskAppliesItsShareOfTheStyle) {
  Stylizer stylizer(test::tiny_options(), test::tiny_weights());
  const torch::Tensor content = test::pattern_image(32, 40, 0.2), style = test::pattern_image(24, 24, 1.3);
  const torch::Tensor image = test::pattern_image(32, 40, 0.7);
  const double plain = stylizer.evaluate(image, content, {style})["style"];
  ASSERT_GT(plain, 0.0);
  Guides guides;
  guides.regions.content = {torch::full({32, 40}, 0.5)};
  EXPECT_NEAR(stylizer.evaluate(image, content, {style}, guides)["style"], 0.5 * plain, 1e-5 * plain);
  guides.regions.content = {torch::full({32, 40}, 0.3), torch::full({32, 40}, 0.7)};
  EXPECT_NEAR(stylizer.evaluate(image, content, {style, style}, guides)["style"], plain, 1e-5 * plain);
  // A grey style mask takes the style's statistics as a white one does.
  guides.regions.content = {torch::ones({32, 40})};
  guides.regions.style = {torch::full({24, 24}, 0.25)};
  EXPECT_NEAR(stylizer.evaluate(image, content, {style}, guides)["style"], plain, 1e-5 * plain);
}

// The weights of the tiny fixture with conv1_1 passing colour through:
// channel c of relu1_1 is input channel c (normalized) plus 3, channel 3 is 0.
VggWeights colour_weights() {
  VggWeights weights = test::tiny_weights();
  ConvWeights& conv = weights.convs.front();
  std::fill(conv.weight.begin(), conv.weight.end(), 0.0f);
  std::fill(conv.bias.begin(), conv.bias.end(), 0.0f);
  for (int64_t c = 0; c < 3; ++c) {
    conv.weight[static_cast<size_t>(((c * conv.in_channels + c) * 3 + 1) * 3 + 1)] = 1.0f;  // centre tap
    conv.bias[static_cast<size_t>(c)] = 3.0f;
  }
  return weights;
}

StylizeOptions colour_options(int iterations) {
  StylizeOptions options = test::tiny_options();
  options.style_layers = {{"relu1_1", 1.0}};
  options.content_layers = {{"relu1_1", 1.0}};
  options.content_weight = 0;
  options.tv_weight = 0;
  options.lr = 0.01;
  options.eps = 1e-4;  // steps of about lr from the start, whatever the gradients' scale
  options.iterations = iterations;
  return options;
}

// Two complementary masks, a red "painting" for the left half and a blue one
// for the right: each half moves toward its own colour and away from the other's.
TEST(RegionalStyle, EachHalfMovesTowardItsOwnStyle) {
  const int64_t h = 16, w = 24;
  Stylizer stylizer(colour_options(60), colour_weights());
  const torch::Tensor content = flat(0.5, 0.5, 0.5, h, w);
  Guides guides;
  guides.regions.content = {half_mask(h, w, true), half_mask(h, w, false)};
  const torch::Tensor result =
      stylizer.run(content, {flat(0.9, 0.1, 0.1, 8, 8), flat(0.1, 0.1, 0.9, 8, 8)}, {}, {}, {}, guides).image;
  const auto mean = [&](bool left, int64_t channel) {
    return result.select(1, channel).narrow(2, left ? 0 : w / 2, w / 2).mean().item<double>();
  };
  EXPECT_GT(mean(true, 0), 0.6);   // left: redder
  EXPECT_LT(mean(true, 2), 0.4);   // and less blue
  EXPECT_GT(mean(false, 2), 0.6);  // right: bluer
  EXPECT_LT(mean(false, 0), 0.4);  // and less red
}

// The bug of a popular fork (neural-style-pt #46): the second region got no
// gradient. Here every region's pixels are pulled, and only by their own style.
TEST(RegionalStyle, EveryRegionReceivesAGradient) {
  const int64_t h = 16, w = 24;
  const StylizeOptions options = colour_options(1);
  Objective objective = make_objective(options, LossUnits::Tutorial);
  Vgg19Features net(colour_weights(), objective.layers());
  const FeatureExtractor features = [&](const torch::Tensor& x) {
    return Features(objective.layers(), net.forward(x));
  };
  const auto gradient = [&](const std::vector<torch::Tensor>& masks, const std::vector<torch::Tensor>& styles) {
    TargetInputs inputs;
    inputs.content = flat(0.5, 0.5, 0.5, h, w);
    inputs.content_source = inputs.content;
    inputs.size = static_cast<int>(w);
    inputs.styles = {styles};
    inputs.features = features;
    inputs.regions.content = masks;
    objective.prepare(inputs);
    const torch::Tensor x = test::pattern_image(h, w, 0.4).requires_grad_(true);
    objective.evaluate(x, features).select(1, 0).sum().backward();
    return x.grad();
  };
  const torch::Tensor red = flat(0.9, 0.1, 0.1, 8, 8), blue = flat(0.1, 0.1, 0.9, 8, 8);
  const torch::Tensor both = gradient({half_mask(h, w, true), half_mask(h, w, false)}, {red, blue});
  // Away from the boundary column, which the layer's 3x3 window sees from both sides.
  const double left = both.narrow(3, 0, w / 2 - 2).abs().sum().item<double>();
  const double right = both.narrow(3, w / 2 + 2, w / 2 - 2).abs().sum().item<double>();
  EXPECT_GT(left, 0.0);
  EXPECT_GT(right, 0.0);
  EXPECT_LT(std::max(left, right) / std::min(left, right), 20.0);
  // The right half's gradient is its own style's: the same with another left style.
  const torch::Tensor other = gradient({half_mask(h, w, true), half_mask(h, w, false)}, {blue, blue});
  EXPECT_TRUE(torch::allclose(both.narrow(3, w / 2 + 2, w / 2 - 2), other.narrow(3, w / 2 + 2, w / 2 - 2)));
}

// The masked Gram loss against central finite differences, in float64, on an
// 8x8 input with soft content and style masks (the hand-written Gram backward
// carries the mask's product rule).
TEST(RegionalStyle, GuidedGramGradientMatchesFiniteDifferences) {
  StyleTerm term({{"relu1_1", 1.0}}, 2.0);
  torch::manual_seed(5);
  const torch::Tensor style = torch::rand({1, 4, 6, 6}, torch::kFloat64);
  TargetInputs inputs;
  inputs.content = torch::zeros({1, 4, 8, 8}, torch::kFloat64);
  inputs.size = 8;
  inputs.styles = {{style, style * 0.5}};
  inputs.features = [](const torch::Tensor& x) { return Features({"relu1_1"}, {x}); };
  inputs.regions.content = {torch::rand({8, 8}), torch::rand({8, 8})};
  inputs.regions.style = {torch::rand({6, 6}) + 0.1, torch::Tensor()};
  term.prepare(inputs);
  const auto loss = [&](const torch::Tensor& x) {
    return term.loss(term.statistics(Piece(x, Features({"relu1_1"}, {x})))).sum();
  };
  const torch::Tensor x0 = torch::rand({1, 4, 8, 8}, torch::kFloat64);
  const torch::Tensor x = x0.clone().requires_grad_(true);
  const torch::Tensor value = loss(x);
  ASSERT_EQ(value.scalar_type(), torch::kFloat64);
  value.backward();
  const double eps = 1e-6;
  double worst = 0;
  for (int64_t i = 0; i < x0.numel(); i += 3) {
    torch::Tensor plus = x0.clone(), minus = x0.clone();
    plus.view(-1)[i] += eps;
    minus.view(-1)[i] -= eps;
    const double numeric = (loss(plus).item<double>() - loss(minus).item<double>()) / (2 * eps);
    worst = std::max(worst, std::abs(numeric - x.grad().view(-1)[i].item<double>()));
  }
  EXPECT_LT(worst, 1e-6 * std::max(1.0, x.grad().abs().max().item<double>()));
  EXPECT_GT(x.grad().abs().max().item<double>(), 0.0);

  // Tiles that partition the image add up to the whole image's guided Grams.
  const std::vector<torch::Tensor> whole = term.statistics(Piece(x0, Features({"relu1_1"}, {x0})));
  torch::Tensor sum;
  for (int64_t top : {0, 4}) {
    const Window owned{top, 0, 4, 8};
    const torch::Tensor part = x0.narrow(2, top, 4);
    const torch::Tensor s = term.statistics(Piece(part, Features({"relu1_1"}, {part}), owned, owned, 8, 8)).front();
    sum = sum.defined() ? sum + s : s;
  }
  EXPECT_TRUE(torch::allclose(sum, whole.front(), 1e-10, 1e-12));
}

// The style term of two regions (left and right halves) with styles A and B,
// evaluated at a fixed image, for the given blend weights (--style-weights).
double regional_style_value(const std::vector<double>& blend) {
  StyleTerm term({{"relu1_1", 1.0}}, 1.0, LossUnits::Tutorial);
  torch::manual_seed(7);
  const torch::Tensor a = torch::rand({1, 4, 6, 6}, torch::kFloat64),
                      b = torch::rand({1, 4, 6, 6}, torch::kFloat64) * 3;
  const torch::Tensor x = torch::rand({1, 4, 8, 8}, torch::kFloat64);
  TargetInputs inputs;
  inputs.content = torch::zeros({1, 4, 8, 8}, torch::kFloat64);
  inputs.size = 8;
  inputs.styles = {{a, b}};
  inputs.blend = blend;
  inputs.features = [](const torch::Tensor& t) { return Features({"relu1_1"}, {t}); };
  inputs.regions.content = {half_mask(8, 8, true), half_mask(8, 8, false)};
  term.prepare(inputs);
  return term.loss(term.statistics(Piece(x, Features({"relu1_1"}, {x})))).item<double>();
}

// Blend weights with regions weigh each region's loss relative to the others:
// scaling them all changes nothing, and region r counts w_r / mean(w) times
// its unit-weight value (a weight of 0 leaves the other region at twice its
// share). Guards against weights taken as absolute (not divided by their mean).
TEST(RegionalStyle, BlendWeightsWeighTheRegionsRelativeToEachOther) {
  const double plain = regional_style_value({});
  ASSERT_GT(plain, 0.0);
  EXPECT_NEAR(regional_style_value({1.0, 1.0}), plain, 1e-6 * plain);
  EXPECT_NEAR(regional_style_value({3.0, 3.0}), plain, 1e-6 * plain) << "blend weights are relative";
  // Each region alone, at weight 1 (mean 1/2: twice its unit-weight value).
  const double only_a = regional_style_value({1.0, 0.0}) / 2, only_b = regional_style_value({0.0, 1.0}) / 2;
  ASSERT_GT(std::abs(only_a - only_b), 0.1 * plain) << "the regions must differ for this test";
  EXPECT_NEAR(only_a + only_b, plain, 1e-6 * plain);
  const double expected = (2.0 * only_a + 1.0 * only_b) / 1.5;  // mean of {2, 1} is 1.5
  EXPECT_NEAR(regional_style_value({2.0, 1.0}), expected, 1e-6 * expected);
  EXPECT_NEAR(regional_style_value({4.0, 2.0}), expected, 1e-6 * expected);
}

// The style term at relu2_1 (stride 2; the stand-in network averages 2x2
// blocks) of one region under `content_mask`, for an 8x8 image.
double stride_two_region_value(const torch::Tensor& content_mask, const torch::Tensor& style_mask) {
  StyleTerm term({{"relu2_1", 1.0}}, 1.0, LossUnits::Tutorial);
  torch::manual_seed(9);
  const torch::Tensor style = torch::rand({1, 4, 8, 8}, torch::kFloat64);
  const int64_t h = content_mask.size(0), w = content_mask.size(1);
  const torch::Tensor x = torch::rand({1, 4, h, w}, torch::kFloat64);
  const FeatureExtractor features = [](const torch::Tensor& t) {
    return Features({"relu2_1"}, {torch::avg_pool2d(t, {2, 2}, {2, 2})});
  };
  TargetInputs inputs;
  inputs.content = torch::zeros({1, 4, h, w}, torch::kFloat64);
  inputs.size = std::max(h, w);
  inputs.styles = {{style}};
  inputs.features = features;
  inputs.regions.content = {content_mask};
  if (style_mask.defined()) inputs.regions.style = {style_mask};
  term.prepare(inputs);
  return term.loss(term.statistics(Piece(x, features(x)))).item<double>();
}

// A mask reaches a deeper layer averaged over each location's pixels: stripes
// one pixel wide are a uniform half at stride 2, whichever pixels a sampling
// of the mask would pick (all white, or all black). Content and style masks alike.
TEST(RegionalStyle, MasksAreAveragedOverEachLayersLocations) {
  const torch::Tensor stripes =
      (torch::arange(8) % 2 == 0).to(torch::kFloat32).view({1, 8}).expand({8, 8}).contiguous();
  const torch::Tensor half = torch::full({8, 8}, 0.5f);
  const double expected = stride_two_region_value(half, {});
  ASSERT_GT(expected, 0.0);
  EXPECT_NEAR(stride_two_region_value(stripes, {}), expected, 1e-6 * expected);
  EXPECT_NEAR(stride_two_region_value(1 - stripes, {}), expected, 1e-6 * expected);
  // A style mask of stripes weighs every location of the style's map by one half:
  // as a uniform grey mask, the style's own statistics (RegionalStyle.AGreyMaskAppliesItsShareOfTheStyle).
  const double white = stride_two_region_value(torch::ones({8, 8}), {});
  EXPECT_NEAR(stride_two_region_value(torch::ones({8, 8}), 1 - stripes), white, 1e-6 * white);
}

// Of an odd-sized image the poolings leave the last row and column out: no
// location stands for them, and the mask there counts nowhere. A mask white
// over the seen pixels is the all-white mask (area averaging over the whole
// mask spread its black last row and column over every location), and what
// the unseen row and column hold changes nothing.
TEST(RegionalStyle, MasksAreAveragedOverThePixelsTheLocationsSee) {
  using torch::indexing::Slice;
  torch::Tensor seen = torch::zeros({7, 9});
  seen.index_put_({Slice(0, 6), Slice(0, 8)}, 1.0);
  const double white = stride_two_region_value(torch::ones({7, 9}), {});
  ASSERT_GT(white, 0.0);
  EXPECT_NEAR(stride_two_region_value(seen, {}), white, 1e-9 * white);
  // Rows 4-5, the third row of locations, whatever the unseen row and column hold.
  torch::Tensor stripe = torch::zeros({7, 9});
  stripe.index_put_({Slice(4, 6), Slice()}, 1.0);
  torch::Tensor stripe_and_edges = stripe.clone();
  stripe_and_edges.index_put_({6, Slice()}, 1.0);
  stripe_and_edges.index_put_({Slice(), 8}, 1.0);
  const double expected = stride_two_region_value(stripe, {});
  ASSERT_GT(expected, 0.0);
  EXPECT_NEAR(stride_two_region_value(stripe_and_edges, {}), expected, 1e-9 * expected);
}

TEST(RegionalStyle, MasksAreCheckedWhenRead) {
  const test::TempDir dir;
  save_image(torch::zeros({1, 3, 8, 8}), dir.file("black.png"));
  save_image(torch::ones({1, 3, 8, 16}), dir.file("wide.png"));
  save_image(flat(1, 1, 1, 16, 16), dir.file("white.png"));
  EXPECT_THROW(cli::read_mask(dir.file("black.png"), "content mask 1", 8, 8), ImageError);
  try {
    cli::read_mask(dir.file("wide.png"), "content mask 2", 8, 8);
    FAIL() << "a mask of another shape was taken";
  } catch (const ImageError& e) {
    // The masked image's shape, not its size at this run's --size: resizing the mask to that was wrong advice.
    EXPECT_NE(std::string(e.what()).find("16x8 px, 2.00 times as wide as high, but the image it masks is 1.00 times as "
                                         "wide as high (8x8 px at this run's size): a mask must have that image's "
                                         "shape (draw it over the image; any size of that shape will do)"),
              std::string::npos)
        << e.what();
  }
  // The masked image's rounding to whole pixels is no other shape: a mask of
  // 1000x23 px for the 1000x23 image at 720x17 px (43.48 and 42.35 times as
  // wide as high) was refused.
  save_image(torch::ones({1, 3, 23, 1000}), dir.file("strip.png"));
  EXPECT_EQ(cli::read_mask(dir.file("strip.png"), "content mask", 17, 720).sizes(), (std::vector<int64_t>{17, 720}));
  EXPECT_THROW(cli::read_mask(dir.file("strip.png"), "content mask", 20, 720), ImageError) << "another shape";
  const torch::Tensor mask = cli::read_mask(dir.file("white.png"), "content mask", 8, 8);
  EXPECT_EQ(mask.sizes(), (std::vector<int64_t>{8, 8}));
  EXPECT_NEAR(mask.min().item<double>(), 1.0, 1e-6);
  // A selection saved as transparency: white everywhere, the right half
  // transparent (and half of a column's worth semi-transparent), is a mask of
  // its opaque part; flattened over white it was white everywhere.
  test::RawImage selection;
  selection.width = 8;
  selection.height = 4;
  selection.channels = 4;
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 8; ++x) {
      selection.samples.insert(selection.samples.end(), {255, 255, 255, static_cast<uint16_t>(x < 4 ? 255 : 0)});
    }
  }
  selection.samples[4 * 3 + 3] = 51;  // (3, 0): 20% opaque
  test::write_file(dir.file("selection.png"), test::png_encode(selection));
  const torch::Tensor selected = cli::read_mask(dir.file("selection.png"), "content mask", 4, 8);
  EXPECT_NEAR(selected.narrow(1, 0, 3).min().item<double>(), 1.0, 1e-6);
  EXPECT_NEAR(selected.narrow(1, 4, 4).max().item<double>(), 0.0, 1e-6);
  EXPECT_NEAR(selected[0][3].item<double>(), 0.2, 1e-3);
  EXPECT_NEAR(selected[1][3].item<double>(), 1.0, 1e-6);
}

// --- the flags, end to end ---------------------------------------------------

class RegionsCli : public test::Cli {
 protected:
  void SetUp() override {
    test::Cli::SetUp();  // content: 40 wide, 48 tall
    left = dir.file("left.png");
    right = dir.file("right.png");
    torch::Tensor l = torch::zeros({1, 3, 48, 40});
    l.narrow(3, 0, 20).fill_(1.0);
    save_image(l, left);
    save_image(1 - l, right);
    second = dir.file("second.png");
    save_image(test::pattern_image(32, 32, 2.9), second);
  }
  std::string left, right, second;
};

TEST_F(RegionsCli, TwoRegionsRunAndNameEveryInputInTheSheet) {
  const std::string sheet = dir.file("sheet.png");
  const test::RunResult r = test::run_stylize(
      quick("--style " + second + " --content-mask " + left + " --content-mask " + right + " --sheet " + sheet));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(output));
  EXPECT_TRUE(fs::exists(sheet));
}

TEST_F(RegionsCli, UncoveredPixelsKeepTheContentOrGetTheDefaultStyle) {
  const test::RunResult kept = test::run_stylize(quick("--content-mask " + left));
  ASSERT_EQ(kept.exit_code, 0) << kept.output;
  EXPECT_NE(kept.output.find("50% of the content is covered by no --content-mask"), std::string::npos) << kept.output;
  const test::RunResult styled = test::run_stylize(quick("--content-mask " + left + " --default-style " + second));
  ASSERT_EQ(styled.exit_code, 0) << styled.output;
  EXPECT_NE(styled.output.find("covers 50% of the content"), std::string::npos) << styled.output;
}

// --estimate times the run the same flags would start: the masks, the
// default style and its --style-weights weight included.
TEST_F(RegionsCli, EstimateTimesTheRunWithItsRegions) {
  const test::RunResult r = test::run_stylize(
      quick("--estimate --content-mask " + left + " --default-style " + second + " --style-weights 0.7,0.3"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("covers 50% of the content"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(" s per iteration at this size"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(output)) << "--estimate writes nothing";
}

// With coarse to fine (the masks are resized to every scale) and with the
// luminance-only transfer (the masks apply to what the network sees).
TEST_F(RegionsCli, WorkWithScalesAndColourPreservation) {
  const std::string masks = " --style " + second + " --content-mask " + left + " --content-mask " + right;
  const test::RunResult scales = test::run_stylize(quick(masks + " --scales 2 --min-size 24"));
  ASSERT_EQ(scales.exit_code, 0) << scales.output;
  const test::RunResult colours = test::run_stylize(quick(masks + " --preserve-colors luminance"));
  ASSERT_EQ(colours.exit_code, 0) << colours.output;
  const test::RunResult histogram = test::run_stylize(quick(masks + " --preserve-colors histogram"));
  ASSERT_EQ(histogram.exit_code, 0) << histogram.output;
}

// A mask drawn in colours (red for one region, blue for another) is read by
// brightness: said, not silent. White-on-black masks say nothing.
TEST_F(RegionsCli, AColourMaskIsSaidToBeReadByBrightness) {
  const test::RunResult gray = test::run_stylize(quick("--content-mask " + left));
  ASSERT_EQ(gray.exit_code, 0) << gray.output;
  EXPECT_EQ(gray.output.find("is in colour"), std::string::npos) << gray.output;
  const std::string red = dir.file("red.png");
  torch::Tensor r = torch::zeros({1, 3, 48, 40});
  r.select(1, 0).narrow(2, 0, 20).fill_(1.0);
  save_image(r, red);
  const test::RunResult coloured = test::run_stylize(quick("--content-mask " + red));
  ASSERT_EQ(coloured.exit_code, 0) << coloured.output;
  EXPECT_NE(coloured.output.find("content mask 1 '" + red + "' is in colour: it is read by brightness alone"),
            std::string::npos)
      << coloured.output;
}

TEST_F(RegionsCli, BadMasksAreClearErrors) {
  const std::string black = dir.file("black.png");
  save_image(torch::zeros({1, 3, 48, 40}), black);
  expect_failure(test::run_stylize(quick("--content-mask " + black)), 3,
                 "content mask 1 '" + black + "' is black everywhere: no pixel would get its style");
  const std::string black_square = dir.file("black_square.png");  // the style's shape
  save_image(torch::zeros({1, 3, 32, 32}), black_square);
  expect_failure(test::run_stylize(quick("--content-mask " + left + " --style-mask " + black_square)), 3,
                 "style mask 1 '" + black_square + "' is black everywhere: no part of its style image would be used");
  const std::string wide = dir.file("wide.png");
  save_image(torch::ones({1, 3, 20, 60}), wide);
  expect_failure(test::run_stylize(quick("--content-mask " + wide)), 3, "a mask must have that image's shape");
  expect_failure(test::run_stylize(quick("--style " + second + " --content-mask " + left)), 2,
                 "one mask per --style, in the same order (2 styles, 1 content mask)");
  expect_failure(test::run_stylize(quick("--content-mask " + left + " --style-mask " + left + " --style-mask all")), 2,
                 "--style-mask: give one per --style, in the same order, 'all' for a whole image (1 style, 2 style "
                 "masks)");
  expect_failure(test::run_stylize(quick("--content-mask " + left + " --each-style")), 2, "--each-style");
  expect_failure(test::run_stylize(quick("--style-mask " + left)), 2,
                 "--style-mask belongs to regional styles, which start with --content-mask");
  expect_failure(test::run_stylize(quick("--default-style " + second)), 2,
                 "--default-style belongs to regional styles");
}

}  // namespace
}  // namespace stylize
