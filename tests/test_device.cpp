// Process-wide settings of the core (core/device.hpp): glibc keeping freed
// memory for reuse, and giving it back.
#include <gtest/gtest.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>

#include <torch/torch.h>

#include "stylize/core/device.hpp"
#include "stylize/core/engine.hpp"
#include "stylize/errors.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

// 64 MiB: above glibc's largest automatic mmap threshold (32 MiB), so without
// keep_freed_cpu_memory() every such block is mapped and unmapped again.
constexpr int64_t kLargeFloats = int64_t{16} << 20;

double resident_mib() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) / (1 << 20);
}

#if defined(__SANITIZE_ADDRESS__)
#define STYLIZE_GLIBC_MALLOC 0  // AddressSanitizer replaces glibc's malloc
#else
#define STYLIZE_GLIBC_MALLOC 1
#endif

TEST(CpuMemory, FreedBlocksStayWithTheProcessForReuse) {
  // Guards against keep_freed_cpu_memory() not reaching glibc: by default a
  // 64 MiB block is mapped on its own and unmapped when freed, so every
  // iteration would fault all of its pages in again.
  if (!STYLIZE_GLIBC_MALLOC) GTEST_SKIP() << "AddressSanitizer's allocator replaces glibc's malloc in this build";
  keep_freed_cpu_memory();
  const struct mallinfo2 before = mallinfo2();
  {
    torch::Tensor t = torch::full({kLargeFloats}, 1.0f);
    const struct mallinfo2 during = mallinfo2();
    EXPECT_LT(during.hblkhd, before.hblkhd + kLargeFloats) << "the block was mapped on its own";
  }
  const struct mallinfo2 after = mallinfo2();
  EXPECT_GE(after.fordblks, before.fordblks + static_cast<size_t>(kLargeFloats) * 4 - (1 << 20))
      << "the freed block went back to the system instead of staying free for reuse";
}

TEST(CpuMemory, ReleaseGivesTheKeptMemoryBack) {
  if (!STYLIZE_GLIBC_MALLOC) GTEST_SKIP() << "AddressSanitizer's allocator replaces glibc's malloc in this build";
  keep_freed_cpu_memory();
  { torch::Tensor t = torch::full({kLargeFloats}, 1.0f); }
  const double kept = resident_mib();
  release_freed_cpu_memory();
  EXPECT_LT(resident_mib(), kept - 32) << "64 MiB were freed and kept; releasing returns them";
}

// README: a run that does not fit is refused with the largest size that does.
// The limit lies between the estimates for 192 and 224 px, above the runtime's
// fixed share, so the advice must name 192: guards against advice that is
// missing, off by a step, or computed for another batch or dtype.
TEST(MemoryRefusal, NamesTheLargestSizeThatFits) {
  StylizeOptions options = test::tiny_options();
  const VggWeights weights = load_vgg19_weights(test::fixture("vgg19_tiny.safetensors"));
  Stylizer stylizer(options, weights);
  const auto estimate = [&](int64_t side) {
    return estimate_memory_bytes(stylizer.network(), side, side, torch::kFloat32, 1);
  };
  const double limit = (estimate(192) + estimate(224)) / 2;
  ASSERT_LT(estimate(192), limit);
  test::ScopedEnv cap("STYLIZE_MEMORY_LIMIT_MB", std::to_string(limit / (1 << 20)));
  EXPECT_NO_THROW(stylizer.check_memory(192, 192));
  try {
    stylizer.check_memory(256, 256);
    FAIL() << "expected a ResourceError";
  } catch (const ResourceError& e) {
    EXPECT_NE(std::string(e.what()).find("the largest size that fits is about --size 192"), std::string::npos)
        << e.what();
  }
}

// A style image far larger than the content sets the run's peak: its
// targets' pass (forward only, but over every one of its pixels) comes before
// the iterations. The plan counts it, and the refusal names the --style-size
// that fits (the limit lies between the style pass at 1024 and 1056 px) and
// not a --size, which would not help. Tiled, the style is cut into the same
// tiles: nothing apart to count.
TEST(MemoryRefusal, CountsTheStylePassAndNamesTheStyleSizeThatFits) {
  StylizeOptions options = test::tiny_options();
  const VggWeights weights = load_vgg19_weights(test::fixture("vgg19_tiny.safetensors"));
  Stylizer stylizer(options, weights);
  const auto style_pass = [&](int64_t height, int64_t width) {
    return estimate_style_pass_bytes(stylizer.network(), height, width, torch::kFloat32);
  };
  const torch::Tensor style = torch::rand({1, 3, 1536, 2048});
  const double run = estimate_memory_bytes(stylizer.network(), 64, 64, torch::kFloat32, 1);
  ASSERT_GT(style_pass(1536, 2048), run) << "the style must set the peak";
  ASSERT_GT(style_pass(768, 1024), run);
  ASSERT_LT(style_pass(768, 1024), style_pass(792, 1056));

  const TilePlan plan = stylizer.plan_tiling(64, 64, 1, {style});
  EXPECT_EQ(plan.style_bytes, style_pass(1536, 2048));
  EXPECT_EQ(plan.bytes, plan.style_bytes);
  EXPECT_EQ(stylizer.plan_tiling(64, 64).bytes, run) << "without styles, the run alone";
  EXPECT_EQ(stylizer.plan_tiling(64, 64, 1, {torch::rand({1, 3, 8, 8})}).bytes, run) << "a small style: the run's";

  const double limit = (style_pass(768, 1024) + style_pass(792, 1056)) / 2;
  test::ScopedEnv cap("STYLIZE_MEMORY_LIMIT_MB", std::to_string(limit / (1 << 20)));
  EXPECT_NO_THROW(stylizer.check_memory(64, 64));
  EXPECT_NO_THROW(stylizer.check_memory(64, 64, 1, {torch::rand({1, 3, 768, 1024})}));
  try {
    stylizer.check_memory(64, 64, 1, {torch::rand({1, 3, 8, 8}), style});
    FAIL() << "expected a ResourceError";
  } catch (const ResourceError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("(to compute the targets of its 2048x1536 style image)"), std::string::npos) << message;
    EXPECT_NE(message.find("the largest style size that fits is about --style-size 1024"), std::string::npos)
        << message;
    EXPECT_EQ(message.find("--size"), std::string::npos) << "the content fits: " << message;
  }
  // The run checks it before computing anything.
  const torch::Tensor content = torch::rand({1, 3, 64, 64});
  EXPECT_THROW(stylizer.run(content, {style}), ResourceError);

  options.tile = 32;
  Stylizer tiled(options, weights);
  const TilePlan tiles = tiled.plan_tiling(64, 64, 1, {style});
  EXPECT_GT(tiles.tile, 0);
  EXPECT_EQ(tiles.style_bytes, 0.0);
  EXPECT_GT(tiles.bytes, tiled.plan_tiling(64, 64).bytes) << "the style image's own buffers stay whole";
}

// A style image whose targets' pass alone does not fit whole, beside an image
// that does: the pass is cut into tiles of its own (the image stays whole,
// and is not slowed at every iteration by tiles), and the targets are those
// of the whole pass, under a style mask too.
TEST(MemoryRefusal, TilesAStylePassThatDoesNotFitWholeAndKeepsItsTargets) {
  // Full-width layers (a style pass costs what it does with real weights),
  // the network cut after conv2_1 (quick).
  StylizeOptions options = test::tiny_options();
  options.content_layers = {{"relu2_1", 1.0}};
  options.style_layers = {{"relu1_1", 1.0}, {"relu2_1", 1.0}};
  Stylizer stylizer(options, test::full_size_random());
  torch::manual_seed(3);
  const torch::Tensor content = torch::rand({1, 3, 64, 64}), image = torch::rand({1, 3, 64, 64});
  const torch::Tensor style = torch::rand({1, 3, 384, 512});
  Guides left_half;
  left_half.regions.content = {torch::ones({64, 64})};
  left_half.regions.style = {torch::zeros({384, 512})};
  left_half.regions.style[0].narrow(1, 0, 256).fill_(1.0);
  const TilePlan whole = stylizer.plan_tiling(64, 64, 1, {style});
  ASSERT_EQ(whole.style_tile, 0);
  ASSERT_EQ(whole.bytes, whole.style_bytes) << "the style must set the peak";
  const double plain = stylizer.evaluate(image, content, {style})["style"];
  const double masked = stylizer.evaluate(image, content, {style}, left_half)["style"];

  const double limit = 0.85 * whole.style_bytes;
  test::ScopedEnv cap("STYLIZE_MEMORY_LIMIT_MB", std::to_string(limit / (1 << 20)));
  const TilePlan tiled = stylizer.plan_tiling(64, 64, 1, {style});
  EXPECT_EQ(tiled.tile, 0) << "the image stays whole";
  EXPECT_GT(tiled.style_tile, 0);
  EXPECT_GT(tiled.style_tiles, 1);
  EXPECT_LE(tiled.bytes, limit);
  EXPECT_EQ(tiled.bytes, tiled.style_bytes);
  EXPECT_NO_THROW(stylizer.check_memory(64, 64, 1, {style}));
  EXPECT_NEAR(stylizer.evaluate(image, content, {style})["style"], plain, 1e-5 * plain);
  EXPECT_NEAR(stylizer.evaluate(image, content, {style}, left_half)["style"], masked, 1e-5 * masked);
  EXPECT_GT(std::abs(masked - plain), 1e-3 * plain) << "the mask must matter";
}

// A stop request (a signal) while a style's targets are computed in tiles is
// answered between those tiles, not after the pass and an iteration: the run
// ends where it started, or where its last scale ended, with no iteration lost.
TEST(MemoryRefusal, AStopWhileTheStyleTargetsAreComputedInTilesEndsTheRunThere) {
  StylizeOptions options = test::tiny_options();
  options.content_layers = {{"relu2_1", 1.0}};
  options.style_layers = {{"relu1_1", 1.0}, {"relu2_1", 1.0}};
  options.iterations = 3;
  const VggWeights weights = test::full_size_random();
  torch::manual_seed(3);
  const torch::Tensor content = torch::rand({1, 3, 64, 64});
  const torch::Tensor style = torch::rand({1, 3, 384, 512});
  const double whole = Stylizer(options, weights).plan_tiling(64, 64, 1, {style}).style_bytes;
  test::ScopedEnv cap("STYLIZE_MEMORY_LIMIT_MB", std::to_string(0.85 * whole / (1 << 20)));
  {
    Stylizer stylizer(options, weights);
    ASSERT_GT(stylizer.plan_tiling(64, 64, 1, {style}).style_tiles, 2);
    int asked = 0;
    stylizer.set_stop_check([&asked] { return ++asked >= 2; });
    const Result result = stylizer.run(content, {style});
    EXPECT_EQ(result.stop_reason, StopReason::Interrupted);
    EXPECT_EQ(result.iterations_done, 0);
    EXPECT_EQ(result.scales_done, 0);
    EXPECT_EQ(asked, 2) << "asked between the style's tiles until it said stop";
  }
  // Coarse to fine: stopped in the second scale's style pass, the run ends
  // with the first scale's result, all its iterations done.
  options.scales = 2;
  options.min_size = 32;
  Stylizer stylizer(options, weights);
  bool first_done = false;
  stylizer.set_stop_check([&first_done] { return first_done; });
  const Result result = stylizer.run(content, {style}, [&first_done](const Progress& p) {
    first_done = first_done || (p.scale == 1 && p.iteration == p.iterations);
    return true;
  });
  EXPECT_EQ(result.stop_reason, StopReason::Interrupted);
  EXPECT_EQ(result.scales_done, 0);
  EXPECT_EQ(result.iterations_done, 3);
  EXPECT_EQ(result.image.size(-1), 32) << "the first scale's image";
  EXPECT_FALSE(result.adam_state.moments.empty()) << "with Adam's state, to resume the second scale from";
}

// A tiled image's style targets are computed whole, or in tiles larger than
// the image's, where that fits: the pass runs once, and the image's small
// tiles made it slow (--tile 64 with a 3000 px style: 315 s, whole 12 s). The
// targets are the same.
TEST(MemoryRefusal, ATiledImagesStylePassRunsWholeOrInLargerTilesWhereTheyFit) {
  StylizeOptions options = test::tiny_options();
  options.content_layers = {{"relu2_1", 1.0}};
  options.style_layers = {{"relu1_1", 1.0}, {"relu2_1", 1.0}};
  const VggWeights weights = test::full_size_random();
  torch::manual_seed(3);
  const torch::Tensor content = torch::rand({1, 3, 96, 96}), image = torch::rand({1, 3, 96, 96});
  const torch::Tensor style = torch::rand({1, 3, 384, 512});
  const double whole_image = Stylizer(options, weights).evaluate(image, content, {style})["style"];
  options.tile = 32;
  Stylizer tiled(options, weights);
  const TilePlan roomy = tiled.plan_tiling(96, 96, 1, {style});
  ASSERT_GT(roomy.tiles, 1) << "the image is tiled";
  EXPECT_EQ(roomy.style_tiles, 1) << "the style whole";
  EXPECT_GE(roomy.style_tile, 512);
  EXPECT_NEAR(tiled.evaluate(image, content, {style})["style"], whole_image, 1e-5 * whole_image);

  const double limit = 0.85 * roomy.style_bytes;
  test::ScopedEnv cap("STYLIZE_MEMORY_LIMIT_MB", std::to_string(limit / (1 << 20)));
  const TilePlan tight = tiled.plan_tiling(96, 96, 1, {style});
  EXPECT_EQ(tight.tile, roomy.tile);
  EXPECT_GT(tight.style_tiles, 1);
  EXPECT_GT(tight.style_tile, tight.tile) << "larger than the image's tiles";
  EXPECT_LE(tight.bytes, limit);
  EXPECT_NEAR(tiled.evaluate(image, content, {style})["style"], whole_image, 1e-5 * whole_image);
}

// The tiles of a style pass own at least twice the halo: smaller ones would
// make that pass dozens of times slower (32 px tiles in a 96 px halo: 49
// times) where a smaller --style-size costs nothing. Below, the run is refused.
TEST(MemoryRefusal, StylePassTilesOwnAtLeastTwiceTheHalo) {
  StylizeOptions options = test::tiny_options();
  const VggWeights weights = test::full_size_random();
  Stylizer stylizer(options, weights);
  options.tile = 256;
  const int64_t halo = Stylizer(options, weights).plan_tiling(1024, 1024).halo;
  ASSERT_GT(halo, 32);
  const torch::Tensor style = torch::zeros({1, 3, 1536, 2048});  // planned for, never evaluated
  int64_t smallest = 0;
  bool refused = false;
  for (double limit = stylizer.plan_tiling(64, 64, 1, {style}).bytes; !refused && limit > (256 << 20); limit *= 0.97) {
    test::ScopedEnv cap("STYLIZE_MEMORY_LIMIT_MB", std::to_string(limit / (1 << 20)));
    const TilePlan plan = stylizer.plan_tiling(64, 64, 1, {style});
    if (plan.style_tile > 0) smallest = plan.style_tile;
    if (plan.bytes <= limit) continue;
    refused = true;
    try {
      stylizer.check_memory(64, 64, 1, {style});
      ADD_FAILURE() << "expected a ResourceError under " << limit << " bytes";
    } catch (const ResourceError& e) {
      EXPECT_NE(std::string(e.what()).find("--style-size"), std::string::npos) << e.what();
    }
  }
  EXPECT_TRUE(refused);
  EXPECT_GE(smallest, 2 * halo);
  EXPECT_LT(smallest, 2 * halo + 128) << "the tiles shrink down to about that";
}

// ulimit -v (RLIMIT_AS) bounds what a run may allocate however much memory
// the machine has free: the memory check counts what it leaves.
TEST(MemoryRefusal, CountsWhatUlimitVLeaves) {
  rlimit before{};
  ASSERT_EQ(::getrlimit(RLIMIT_AS, &before), 0);
  std::ifstream statm("/proc/self/statm");
  double pages = 0;
  ASSERT_TRUE(statm >> pages);
  const double mapped = pages * static_cast<double>(::sysconf(_SC_PAGESIZE));
  constexpr double kLeft = 512.0 * (1 << 20);
  rlimit lowered = before;
  lowered.rlim_cur = static_cast<rlim_t>(mapped + kLeft);
  if (before.rlim_max != RLIM_INFINITY) {
    ASSERT_LE(lowered.rlim_cur, before.rlim_max);
  }
  ASSERT_EQ(::setrlimit(RLIMIT_AS, &lowered), 0);
  const double available = available_memory_bytes(torch::kCPU);
  ASSERT_EQ(::setrlimit(RLIMIT_AS, &before), 0);
  EXPECT_LE(available, kLeft);
  EXPECT_GT(available, kLeft - 64.0 * (1 << 20)) << "the mappings made between the two readings are few";
}

}  // namespace
}  // namespace stylize
