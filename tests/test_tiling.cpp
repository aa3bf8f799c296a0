// Exact tiled evaluation (core/tiling.hpp, --tile) against the whole image's:
// tiles partition the image on the deepest layer's grid, the losses and the
// gradient summed over tiles equal the whole image's, and so do the runs made
// of them; with the tiny fixture VGG19 (the real layout, 4 to 8 channels per
// layer) on images of about 192x160 pixels.
#include <gtest/gtest.h>

#include <array>
#include <fstream>
#include <memory>

#include <torch/autograd.h>
#include <nlohmann/json.hpp>

#include "cli_test_util.hpp"
#include "stylize/core/engine.hpp"
#include "stylize/core/tiling.hpp"
#include "stylize/core/vgg19.hpp"
#include "stylize/errors.hpp"
#include "stylize/io/image_io.hpp"
#include "stylize/weights/weights.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

float relative_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max()).item<float>();
}

// How two images of runs agree: the mean absolute difference, and the share
// of values more than 1e-3 apart. Adam divides each pixel's step by the root
// of its squared gradients, so where a gradient is near zero a difference of
// float rounding (the tiled gradient is within 1e-6 of the whole image's)
// turns into a step of up to --lr in either direction: a few pixels of two
// exact runs part by a step or two, the others stay within rounding.
struct Agreement {
  double mean = 0, beyond = 0;
};
Agreement agreement(const torch::Tensor& a, const torch::Tensor& b) {
  const torch::Tensor d = (a - b).abs();
  return {d.mean().item<double>(), (d > 1e-3).to(torch::kFloat64).mean().item<double>()};
}
std::ostream& operator<<(std::ostream& out, const Agreement& a) {
  return out << "mean difference " << a.mean << ", share beyond 1e-3 " << a.beyond;
}

// Two runs agree as closely as exact runs can: no further apart than the
// whole image's run is from itself started 1e-6 away (float rounding's
// size), give or take 3x, and (absolutely) within `mean` on average.
void expect_agreement(const torch::Tensor& got, const torch::Tensor& expected, const torch::Tensor& control,
                      double mean) {
  const Agreement a = agreement(got, expected), c = agreement(control, expected);
  EXPECT_LE(a.mean, 3 * c.mean + 1e-7) << "tiled: " << a << "; whole from 1e-6 away: " << c;
  EXPECT_LE(a.beyond, 3 * c.beyond + 1e-4) << "tiled: " << a << "; whole from 1e-6 away: " << c;
  EXPECT_LT(a.mean, mean) << a;
}

torch::Tensor nudged(const torch::Tensor& image) {
  torch::manual_seed(11);
  return (image + 1e-6 * torch::randn_like(image)).clamp(0, 1);
}

TEST(Tiling, GeometryFollowsTheDeepestLayer) {
  // relu3_1 (stride 4) reads 10 px beyond its region on each side: 4 convolutions
  // widen by 1, 1, 2, 4 px, the right side also 1 and 2 by the pools, minus the stride.
  const TileGeometry shallow = tile_geometry({"relu3_1", "relu1_1"});
  EXPECT_EQ(shallow.stride, 4);
  EXPECT_EQ(shallow.halo, 12) << "10 rounded up to the stride";
  EXPECT_EQ(tile_geometry({"relu1_1"}).halo, 1);
  EXPECT_EQ(tile_geometry({"relu2_1"}).halo, 4);
  EXPECT_EQ(tile_geometry({"relu5_1"}).halo, 80) << "70 rounded up to the stride 16";
  EXPECT_EQ(tile_geometry({"relu5_2"}).halo, 96) << "86: half of relu5_2's 188 px receptive field";
  EXPECT_EQ(tile_geometry({}).halo, 1) << "total variation reads one neighbour";
  EXPECT_THROW(tile_geometry({"relu9_1"}), OptionError);
}

// A tile's owned part of a channels-last map is a channels-last copy, and its
// gradient comes back channels-last: an NCHW gradient for a channels-last
// network is converted layer by layer, which made a tile's backward pass 1.5x
// slower per pixel than the whole image's (scripts/bench.sh tiles).
TEST(Tiling, OwnedPartKeepsTheMapsLayoutBothWays) {
  const Window cut{16, 32, 40, 48}, owned{28, 44, 16, 24};
  const Piece piece(torch::zeros({1, 3, 40, 48}), Features(), cut, owned, 80, 96);
  // Not a leaf: autograd would hand a leaf's .grad over in the leaf's own
  // layout, whatever layout the gradient had.
  const torch::Tensor map =
      torch::randn({2, 5, 10, 12}).contiguous(torch::MemoryFormat::ChannelsLast).requires_grad_(true) * 1.0;
  const torch::Tensor part = piece.owned(map, 4);  // stride 4: rows 3..6, columns 3..8
  ASSERT_EQ(part.sizes(), (std::vector<int64_t>{2, 5, 4, 6}));
  EXPECT_TRUE(part.is_contiguous(torch::MemoryFormat::ChannelsLast));
  EXPECT_TRUE(torch::equal(part, map.narrow(2, 3, 4).narrow(3, 3, 6)));
  const torch::Tensor weights = torch::randn(part.sizes()).contiguous(torch::MemoryFormat::ChannelsLast);
  const torch::Tensor gradient = torch::autograd::grad({(part * weights).sum()}, {map})[0];
  EXPECT_TRUE(gradient.is_contiguous(torch::MemoryFormat::ChannelsLast));
  torch::Tensor expected = torch::zeros(map.sizes());
  expected.narrow(2, 3, 4).narrow(3, 3, 6).copy_(weights);
  EXPECT_TRUE(torch::equal(gradient, expected));
}

TEST(Tiling, TilesPartitionTheImageOnTheDeepestGrid) {
  const TileGeometry geometry = tile_geometry({"relu3_1"});
  for (const auto& [height, width, tile] :
       std::vector<std::array<int64_t, 3>>{{190, 161, 64}, {66, 64, 32}, {40, 40, 1000}, {50, 37, 7}}) {
    SCOPED_TRACE(std::to_string(height) + "x" + std::to_string(width) + " in tiles of " + std::to_string(tile));
    const std::vector<Tile> tiles = plan_tiles(height, width, tile, geometry);
    torch::Tensor owners = torch::zeros({height, width}, torch::kInt32);
    for (const Tile& t : tiles) {
      owners.narrow(0, t.owned.top, t.owned.height).narrow(1, t.owned.left, t.owned.width).add_(1);
      EXPECT_EQ(t.owned.top % 4, 0);
      EXPECT_EQ(t.owned.left % 4, 0);
      EXPECT_GE(t.owned.height, 4) << "every tile owns a location of relu3_1";
      EXPECT_GE(t.owned.width, 4);
      EXPECT_EQ(t.cut.top, std::max<int64_t>(0, t.owned.top - 12));
      EXPECT_EQ(t.cut.left, std::max<int64_t>(0, t.owned.left - 12));
      EXPECT_EQ(t.cut.top + t.cut.height, std::min(height, t.owned.top + t.owned.height + 12));
      EXPECT_EQ(t.cut.left + t.cut.width, std::min(width, t.owned.left + t.owned.width + 12));
    }
    EXPECT_TRUE(torch::equal(owners, torch::ones_like(owners))) << "every pixel has exactly one owner";
  }
  EXPECT_EQ(plan_tiles(190, 161, 64, geometry).size(), 9u);
  const std::vector<Tile> remainder = plan_tiles(66, 64, 32, geometry);
  ASSERT_EQ(remainder.size(), 4u) << "the 2 rows left over join the last row of tiles";
  EXPECT_EQ(remainder.back().owned.height, 34);
  EXPECT_THROW(plan_tiles(10, 10, 0, geometry), OptionError);
}

// The objective of the test (style relu1_1..relu3_1, content relu2_1,
// total variation), or the default one (up to relu5_2: a 96 px halo).
class TiledObjective : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    StylizeOptions options;
    if (!GetParam()) {
      options.style_layers = {{"relu1_1", 1.0}, {"relu2_1", 1.0}, {"relu3_1", 1.0}};
      options.content_layers = {{"relu2_1", 1.0}};
    }
    objective = make_objective(options, LossUnits::Normalized);
    net = std::make_shared<Vgg19Features>(test::tiny_weights(), objective.layers());
    network = [this](const torch::Tensor& x) { return Features(net->outputs(), net->forward(x)); };
    TargetInputs inputs;
    inputs.content = test::pattern_image(160, 192, 0.4);
    inputs.content_source = inputs.content;
    inputs.size = 192;
    inputs.styles = {{test::pattern_image(96, 96, 1.3)}, {test::pattern_image(64, 80, 2.1)}};
    inputs.features = network;
    objective.prepare(inputs);
    torch::manual_seed(7);
    image = (torch::cat({inputs.content, test::pattern_image(160, 192, 2.5)}) + 0.1 * torch::randn({2, 3, 160, 192}))
                .clamp(0, 1);
  }

  Objective objective;
  std::shared_ptr<Vgg19Features> net;
  FeatureExtractor network;
  torch::Tensor image;  // two batch members, one per style
};

TEST_P(TiledObjective, LossesAndGradientEqualTheWholeImages) {
  torch::Tensor whole = image.clone().requires_grad_(true);
  const torch::Tensor expected_losses = objective.evaluate(whole, network);
  expected_losses.select(1, 0).sum().backward();
  const torch::Tensor expected = whole.grad();
  ASSERT_GT(expected.abs().max().item<float>(), 0);

  for (const int64_t tile : {64, 48, 200}) {
    SCOPED_TRACE("tiles of " + std::to_string(tile) + " pixels");
    const TiledEvaluation tiled = evaluate_tiled(objective, image, network, tile);
    EXPECT_TRUE(torch::allclose(tiled.losses, expected_losses.detach(), 1e-5, 0)) << tiled.losses << expected_losses;
    EXPECT_TRUE(torch::allclose(tiled_losses(objective, image, network, tile), expected_losses.detach(), 1e-5, 0));
    ASSERT_EQ(tiled.gradient.sizes(), expected.sizes());
    EXPECT_LT(relative_difference(tiled.gradient, expected), 1e-4)
        << "largest difference relative to the largest gradient";
    const TiledEvaluation scaled = evaluate_tiled(objective, image, network, tile, 256.0);
    EXPECT_LT(relative_difference(scaled.gradient / 256.0, expected), 1e-4) << "the loss scale multiplies it";
  }
}

INSTANTIATE_TEST_SUITE_P(ShallowAndDefaultLayers, TiledObjective, ::testing::Values(false, true));

// Whole runs: the targets computed in tiles too, Adam's and L-BFGS's steps.
class TiledRun : public ::testing::Test {
 protected:
  static StylizeOptions options(int tile) {
    StylizeOptions o = test::tiny_options();
    o.style_layers = {{"relu1_1", 1.0}, {"relu2_1", 1.0}, {"relu3_1", 1.0}};
    o.content_layers = {{"relu2_1", 1.0}};
    o.iterations = 10;
    o.tile = tile;
    return o;
  }
  // Runs `tiled`, and the same options whole (from the content and from 1e-6
  // away), and expects the tiled run to agree with the whole one.
  void expect_like_whole(const StylizeOptions& tiled, double mean) const {
    StylizeOptions whole = tiled;
    whole.tile = 0;
    Stylizer whole_run(whole, test::tiny_weights());
    const torch::Tensor expected = whole_run.run(content, styles).image;
    const torch::Tensor control = whole_run.run(nudged(content), styles).image;
    expect_agreement(Stylizer(tiled, test::tiny_weights()).run(content, styles).image, expected, control, mean);
  }

  torch::Tensor content = test::pattern_image(160, 192, 0.4);
  // Larger than a tile: its Gram matrices are summed over tiles as well.
  std::vector<torch::Tensor> styles = {test::pattern_image(120, 150, 1.3)};
};

TEST_F(TiledRun, EvaluatesTheTargetsInTilesExactly) {
  const torch::Tensor image = test::pattern_image(160, 192, 2.0);
  Stylizer whole(options(0), test::tiny_weights());
  Stylizer tiled(options(64), test::tiny_weights());
  const TilePlan plan = tiled.plan_tiling(160, 192);
  EXPECT_EQ(plan.tile, 64);
  EXPECT_EQ(plan.halo, 12);
  EXPECT_EQ(plan.tiles, 9);
  EXPECT_EQ(whole.plan_tiling(160, 192).tile, 0);
  const LossValues expected = whole.evaluate(image, content, styles);
  const LossValues got = tiled.evaluate(image, content, styles);
  for (size_t k = 0; k < expected.terms.size(); ++k) {
    EXPECT_NEAR(got.terms[k].second, expected.terms[k].second, 1e-5 * std::abs(expected.terms[k].second))
        << expected.terms[k].first;
  }
}

TEST_F(TiledRun, TenAdamStepsGiveTheWholeImagesRun) {
  const Result expected = Stylizer(options(0), test::tiny_weights()).run(content, styles);
  int reported = 0;
  const Result got = Stylizer(options(64), test::tiny_weights()).run(content, styles, [&](const Progress&) {
    ++reported;
    return true;
  });
  EXPECT_EQ(reported, 10);
  EXPECT_EQ(got.iterations_done, 10);
  const Result control = Stylizer(options(0), test::tiny_weights()).run(nudged(content), styles);
  expect_agreement(got.image, expected.image, control.image, 1e-4);
  EXPECT_GT((got.image - content).abs().max().item<float>(), 1e-2) << "the run changed the image";
  EXPECT_NEAR(got.losses.total, expected.losses.total, 1e-4 * expected.losses.total);
}

// A stop request (Stylizer::set_stop_check) is seen between tiles: the
// iteration in progress is abandoned and the run ends with the last completed
// iterate, with Adam and L-BFGS. An untiled run asks only its callback.
TEST_F(TiledRun, AStopRequestEndsTheIterationBetweenTiles) {
  for (const OptimizerKind optimizer : {OptimizerKind::Adam, OptimizerKind::Lbfgs}) {
    StylizeOptions o = options(64);  // 9 tiles: 17 checks an iteration (9 in pass 1, 8 in pass 2)
    o.optimizer = optimizer;
    Stylizer stylizer(o, test::tiny_weights());
    int reported = 0, asked = 0, asked_after_two = 0;
    stylizer.set_stop_check([&] {
      ++asked;
      if (reported >= 2) ++asked_after_two;
      return asked_after_two >= 4;  // the third iteration's fourth tile
    });
    const Result r = stylizer.run(content, styles, [&](const Progress&) {
      ++reported;
      return true;
    });
    const char* name = optimizer == OptimizerKind::Adam ? "adam" : "lbfgs";
    EXPECT_EQ(r.stop_reason, StopReason::Interrupted) << name;
    EXPECT_EQ(reported, 2) << name;
    EXPECT_EQ(r.iterations_done, 2) << name;
    EXPECT_EQ(asked_after_two, 4) << name;
    EXPECT_GE(asked, 2 * 9) << name << ": asked before every tile";
    if (optimizer == OptimizerKind::Adam) {
      StylizeOptions two = o;
      two.iterations = 2;
      const torch::Tensor expected = Stylizer(two, test::tiny_weights()).run(content, styles).image;
      EXPECT_TRUE(torch::allclose(r.image, expected, 0, 1e-6)) << "the second iteration's image";
    } else {
      EXPECT_TRUE(torch::isfinite(r.image).all().item<bool>());
      EXPECT_GE(r.image.min().item<float>(), 0.0f);
      EXPECT_LE(r.image.max().item<float>(), 1.0f);
    }
  }
  StylizeOptions whole = options(0);
  whole.iterations = 3;
  Stylizer untiled(whole, test::tiny_weights());
  untiled.set_stop_check([] { return true; });
  EXPECT_EQ(untiled.run(content, styles).iterations_done, 3);
}

TEST_F(TiledRun, LbfgsAndScalesWorkInTiles) {
  StylizeOptions lbfgs = options(64);
  lbfgs.optimizer = OptimizerKind::Lbfgs;
  expect_like_whole(lbfgs, 1e-4);
  // Two scales: the first (96 px) fits in one tile and runs whole.
  StylizeOptions scales = options(64);
  scales.scales = 2;
  expect_like_whole(scales, 1e-4);
}

TEST_F(TiledRun, Bf16TilesAgreeToItsRounding) {
  // bf16 keeps 8 bits of mantissa (a relative step of 2^-8 = 0.4%): a tile's
  // convolutions run on other shapes than the whole image's and round
  // differently: 10 steps agree as closely as two whole-image bf16 runs
  // started 1e-6 apart do (a mean difference of 0.0036 measured), not to fp32's 1e-5.
  StylizeOptions bf16 = options(64);
  bf16.precision = Precision::Bf16;
  expect_like_whole(bf16, 1e-2);
}

TEST_F(TiledRun, NoSeamsOnAFlatContent) {
  // A flat grey content with a periodic style, tiles of 64 px: the mean
  // absolute difference of neighbouring columns (and rows) across a tile
  // boundary is no larger than between neighbours inside the tiles.
  const torch::Tensor flat = torch::full({1, 3, 192, 192}, 0.5);
  const torch::Tensor stripes = test::pattern_image(96, 96, 0.0);
  StylizeOptions o = options(64);
  o.iterations = 30;
  o.lr = 0.05;
  const torch::Tensor image = Stylizer(o, test::tiny_weights()).run(flat, {stripes}).image;
  ASSERT_GT((image - flat).abs().mean().item<float>(), 1e-3) << "the style drew something";
  for (int axis : {2, 3}) {
    const torch::Tensor steps = (image.narrow(axis, 1, 191) - image.narrow(axis, 0, 191)).abs();
    // steps[i] is between pixels i and i + 1: boundaries after 63 and 127.
    const torch::Tensor per_line =
        steps.mean(axis == 2 ? std::vector<int64_t>{0, 1, 3} : std::vector<int64_t>{0, 1, 2});
    const double across = (per_line[63] + per_line[127]).item<double>() / 2;
    const double inside = ((per_line.sum() - per_line[63] - per_line[127]) / 189).item<double>();
    EXPECT_LE(across, 1.25 * inside) << "axis " << axis << ": across " << across << ", inside " << inside;
  }
}

TEST(TiledMemory, EstimateBoundsTheNetworkByOneTile) {
  StylizeOptions o = test::tiny_options();
  Stylizer whole(o, test::tiny_weights());
  o.tile = 256;
  Stylizer tiled(o, test::tiny_weights());
  const TilePlan plan = tiled.plan_tiling(2048, 2048);
  EXPECT_EQ(plan.tiles, 64);
  EXPECT_EQ(plan.halo, 96);
  EXPECT_LT(plan.bytes, whole.plan_tiling(2048, 2048).bytes);
  // Automatic: whole while it fits, else the largest tile that does.
  o.tile = kAutoTile;
  Stylizer automatic(o, test::tiny_weights());
  EXPECT_EQ(automatic.plan_tiling(2048, 2048).tile, 0);
  const double limit_mb = (plan.bytes + whole.plan_tiling(2048, 2048).bytes) / 2 / (1 << 20);
  test::ScopedEnv limit("STYLIZE_MEMORY_LIMIT_MB", std::to_string(static_cast<int64_t>(limit_mb)));
  const TilePlan chosen = automatic.plan_tiling(2048, 2048);
  EXPECT_GE(chosen.tile, 256);
  EXPECT_LE(chosen.bytes, limit_mb * (1 << 20));
  try {
    whole.check_memory(2048, 2048);
    ADD_FAILURE() << "the whole image does not fit";
  } catch (const ResourceError& e) {
    EXPECT_NE(std::string(e.what()).find("--tile "), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(tiled.check_memory(2048, 2048));
}

// Where nothing fits at this size, --tile auto advises the size at which it
// would run, whole or in tiles: never smaller than without tiles (it advised
// the size at which its smallest tiles fit, whose halos cost more than a
// smaller whole image: --size 128 where 256 runs whole). A cap that is not a
// number is refused, not ignored.
TEST(TiledMemory, AutoTilesAdviseTheSizeThatRuns) {
  // Full-width layers, whose activations (not the image's own state) make
  // the memory, as with real weights.
  const VggWeights weights = test::full_size_random();
  StylizeOptions o = test::tiny_options();
  const Stylizer whole(o, weights);
  o.tile = 32;
  const double smallest_tiles = Stylizer(o, weights).plan_tiling(384, 512).bytes;
  o.tile = kAutoTile;
  const Stylizer automatic(o, weights);
  test::ScopedEnv limit("STYLIZE_MEMORY_LIMIT_MB",
                        std::to_string(static_cast<int64_t>(0.9 * smallest_tiles / (1 << 20))));
  const auto advised = [](const Stylizer& stylizer) {
    try {
      stylizer.check_memory(384, 512);
    } catch (const ResourceError& e) {
      const std::string message = e.what(), key = "the largest size that fits is about --size ";
      const size_t at = message.find(key);
      return at == std::string::npos ? -1 : std::stoi(message.substr(at + key.size()));
    }
    return -2;  // it fitted
  };
  const int without_tiles = advised(whole), with_auto = advised(automatic);
  ASSERT_GT(without_tiles, 0);
  EXPECT_GE(with_auto, without_tiles);
  test::ScopedEnv bad("STYLIZE_MEMORY_LIMIT_MB", "abc");
  try {
    automatic.check_memory(64, 64);
    ADD_FAILURE() << "STYLIZE_MEMORY_LIMIT_MB=abc was taken";
  } catch (const OptionError& e) {
    EXPECT_NE(std::string(e.what()).find("STYLIZE_MEMORY_LIMIT_MB must be a number of MiB above 0, got 'abc'"),
              std::string::npos)
        << e.what();
  }
}

TEST(TiledOptions, TilesTooSmallAreRefused) {
  StylizeOptions o = test::tiny_options();
  for (int tile : {8, -2, 16385}) {
    o.tile = tile;
    try {
      Stylizer stylizer(o, test::tiny_weights());
      ADD_FAILURE() << "--tile " << tile << " was accepted";
    } catch (const OptionError& e) {
      EXPECT_NE(std::string(e.what()).find("--tile must be 'auto' or between 32 and 16384 pixels"), std::string::npos)
          << e.what();
      // Each bound with its own reason (a tile too large was called too small).
      EXPECT_NE(std::string(e.what()).find(tile > 16384 ? "the largest --size" : "that small"), std::string::npos)
          << e.what();
    }
  }
  for (int tile : {0, kAutoTile, 32, 16384}) {
    o.tile = tile;
    EXPECT_NO_THROW(Stylizer(o, test::tiny_weights())) << tile;
  }
}

// The CLI end to end: refused under a memory limit without --tile (exit 8,
// the message says which tile fits), done with it, and the process's own peak
// (getrusage, the report's peak_memory_mib) stays under the limit.
TEST(TiledCli, ARunRefusedForMemoryCompletesInTilesUnderTheLimit) {
  test::TempDir dir;
  const std::string content = dir.file("content.png"), style = dir.file("style.png"), output = dir.file("out.png");
  save_image(test::pattern_image(1536, 2048, 0.3), content);
  save_image(test::pattern_image(256, 256, 1.7), style);
  // Measured here: whole, estimated 859 MiB and peaked at 1097 MiB; in tiles of
  // 512 px, estimated 751 MiB and peaked at 620 MiB.
  constexpr int kLimitMb = 800;
  const std::string limit = "env STYLIZE_MEMORY_LIMIT_MB=" + std::to_string(kLimitMb);
  const std::string run = "--content " + content + " --style " + style + " -o " + output + " --weights " +
                          test::fixture("vgg19_tiny.safetensors") +
                          " --size 2048 --style-size 256 --iterations 2 --threads 2 --device cpu --precision fp32";
  const test::RunResult refused = test::run_stylize(run, limit);
  EXPECT_EQ(refused.exit_code, 8) << refused.output;
  EXPECT_NE(refused.output.find("--tile "), std::string::npos) << refused.output;
  EXPECT_FALSE(std::filesystem::exists(output));

  const test::RunResult tiled = test::run_stylize(run + " --tile 512 --report " + dir.file("r.json"), limit);
  ASSERT_EQ(tiled.exit_code, 0) << tiled.output;
  EXPECT_NE(tiled.output.find("2048x1536 px in 12 tiles owning 512 px each, plus a 96 px halo"), std::string::npos)
      << tiled.output;
  EXPECT_EQ(load_image(output, "output").sizes(), (std::vector<int64_t>{1, 3, 1536, 2048}));
  std::ifstream report(dir.file("r.json"));
  const nlohmann::json json = nlohmann::json::parse(report);
  EXPECT_EQ(json.at("tiling").at("tiles").get<int>(), 12);
  EXPECT_EQ(json.at("tiling").at("tile").get<int>(), 512);
  EXPECT_EQ(json.at("tiling").at("halo").get<int>(), 96);
  EXPECT_LT(json.at("tiling").at("estimated_peak_mib").get<double>(), kLimitMb);
#if !defined(__SANITIZE_ADDRESS__)
  // (AddressSanitizer's shadow memory and quarantine add to the RSS of its
  // builds: the bound is the release build's.)
  EXPECT_LT(json.at("peak_memory_mib").get<double>(), kLimitMb) << "the process's peak RSS";
#else
  EXPECT_GT(json.at("peak_memory_mib").get<double>(), 0.0);
#endif

  const test::RunResult automatic = test::run_stylize(run + " --tile auto -o " + dir.file("auto.png"), limit);
  EXPECT_EQ(automatic.exit_code, 0) << automatic.output;
  EXPECT_NE(automatic.output.find(" tiles owning "), std::string::npos) << automatic.output;
  EXPECT_EQ(tiled.output.find("tiles save little memory"), std::string::npos) << tiled.output;

  // Tiles whose halo covers the image only cost time: said.
  const test::RunResult small = test::run_stylize(
      "--content " + content + " --style " + style + " -o " + dir.file("small.png") + " --weights " +
      test::fixture("vgg19_tiny.safetensors") + " --size 96 --tile 32 --iterations 1 --threads 2 --device cpu");
  EXPECT_EQ(small.exit_code, 0) << small.output;
  EXPECT_NE(small.output.find("--tile 32: a tile with its 96 px halo covers half the image or more, so tiles save "
                              "little memory"),
            std::string::npos)
      << small.output;
}

}  // namespace
}  // namespace stylize
