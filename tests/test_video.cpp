// Video: the temporal loss term in the objective, the temporal guide and
// start image (stylize/core/temporal_loss.hpp), and `stylize video` end to end.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <thread>

#include "cli/video_command.hpp"
#include "cli_test_util.hpp"
#include "clip.hpp"
#include "stylize/core/engine.hpp"
#include "stylize/core/objective.hpp"
#include "stylize/core/temporal_loss.hpp"
#include "stylize/errors.hpp"
#include "stylize/io/flow.hpp"
#include "stylize/io/image_io.hpp"
#include "stylize/io/video_io.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kWidth = 64, kHeight = 48;

// A camera panning over a texture: the content moves 2 px left and 1 px up per frame.
std::vector<torch::Tensor> panning_clip(int frames) {
  clip::Motion motion;
  motion.pan_x = 2;
  motion.pan_y = 1;
  return clip::render(clip::texture(96, 128, 9), motion, frames, kWidth, kHeight);
}

StylizeOptions quick_options(double temporal_weight, int iterations) {
  StylizeOptions o;
  o.device = DeviceKind::Cpu;
  o.precision = Precision::Fp32;
  o.iterations = iterations;
  o.temporal_weight = temporal_weight;
  return o;
}

TEST(TemporalTerm, JoinsTheObjectiveOnlyWithAWeight) {
  EXPECT_EQ(make_objective(quick_options(0, 1), LossUnits::Tutorial).term_names(),
            (std::vector<std::string>{"style", "content", "tv"}));
  EXPECT_EQ(make_objective(quick_options(5, 1), LossUnits::Tutorial).term_names(),
            (std::vector<std::string>{"style", "content", "tv", "temporal"}));
}

// weight * (512 / longest side)^2 * sum c (x - w)^2 over pixels and channels,
// summed over the previous frames; zero for the first frame (no guide).
TEST(TemporalTerm, IsTheWeightedMaskedSumOfSquaresAtTheScalesSize) {
  TemporalTerm term(3.0);
  TargetInputs inputs;
  inputs.content = torch::zeros({1, 3, 4, 8});
  term.prepare(inputs);
  const torch::Tensor image = torch::full({1, 3, 4, 8}, 0.5);
  EXPECT_EQ(term.loss(term.statistics(Piece(image, Features()))).item<double>(), 0.0);

  TemporalGuide guide;
  guide.warped = {torch::zeros({1, 3, 4, 8}), torch::ones({1, 3, 4, 8})};
  torch::Tensor near = torch::zeros({4, 8}), far = torch::zeros({4, 8});
  near[0][0] = 1.0;  // one pixel held to the nearest frame
  far[1][1] = 0.5;   // one, half trusted, to the frame before it
  guide.masks = {near, far};
  inputs.temporal = guide;
  term.prepare(inputs);
  const double factor = (512.0 / 8) * (512.0 / 8);
  const double expected = 3.0 * factor * (1.0 * 3 * 0.25 + 0.5 * 3 * 0.25);
  EXPECT_NEAR(term.loss(term.statistics(Piece(image, Features()))).item<double>(), expected, 1e-6 * expected);

  // Tiles that partition the image add up to the whole.
  double tiled = 0;
  for (int64_t left : {0, 4}) {
    const Window owned{0, left, 4, 4};
    const Piece piece(image.narrow(3, left, 4), Features(), owned, owned, 4, 8);
    tiled += term.statistics(piece).front().item<double>();
  }
  EXPECT_NEAR(3.0 * factor * tiled, expected, 1e-6 * expected);
}

TEST(TemporalTerm, RefusesAGuideWithoutAMaskPerFrame) {
  TemporalTerm term(1.0);
  TargetInputs inputs;
  inputs.content = torch::zeros({1, 3, 4, 4});
  inputs.temporal.warped = {torch::zeros({1, 3, 4, 4})};
  EXPECT_THROW(term.prepare(inputs), OptionError);
}

// The frames of a video share their style targets: the network sees the styles
// once, not once per frame (unless colour preservation ties them to the frame).
TEST(StyleTerm, ComputesTheTargetsOnceForTheSameStyles) {
  StyleTerm term({{"relu1_1", 1.0}}, 1.0);
  int calls = 0;
  const torch::Tensor style = test::pattern_image(8, 8, 0.4);
  TargetInputs inputs;
  inputs.content = test::pattern_image(8, 8, 0.1);
  inputs.size = 8;
  inputs.styles = {{style}};
  inputs.style_sources = {{style}};
  inputs.features = [&calls](const torch::Tensor& x) {
    ++calls;
    return Features({"relu1_1"}, {x * 2});
  };
  term.prepare(inputs);
  term.prepare(inputs);
  EXPECT_EQ(calls, 1);
  inputs.size = 4;  // another scale
  term.prepare(inputs);
  EXPECT_EQ(calls, 2);
  inputs.style_sources = {{style.clone()}};  // other tensors
  term.prepare(inputs);
  EXPECT_EQ(calls, 3);
  inputs.style_sources.clear();  // no key: always computed
  term.prepare(inputs);
  EXPECT_EQ(calls, 4);
}

// The cached targets are those of the blend asked for: the same style tensors
// with other blend weights give the value of a term prepared afresh.
TEST(StyleTerm, AnotherBlendOfTheSameStylesRecomputesTheTargets) {
  const torch::Tensor a = test::pattern_image(8, 8, 0.4), b = test::pattern_image(8, 8, 2.3) * 0.5;
  const torch::Tensor x = test::pattern_image(8, 8, 1.7);
  const FeatureExtractor features = [](const torch::Tensor& t) { return Features({"relu1_1"}, {t * 2}); };
  const auto inputs_for = [&](const std::vector<double>& blend) {
    TargetInputs inputs;
    inputs.content = test::pattern_image(8, 8, 0.1);
    inputs.size = 8;
    inputs.styles = {{a, b}};
    inputs.style_sources = {{a, b}};
    inputs.blend = blend;
    inputs.features = features;
    return inputs;
  };
  const auto value = [&](const StyleTerm& term) {
    return term.loss(term.statistics(Piece(x, features(x)))).item<double>();
  };
  StyleTerm cached({{"relu1_1", 1.0}}, 1.0);
  cached.prepare(inputs_for({0.9, 0.1}));
  const double first = value(cached);
  cached.prepare(inputs_for({0.1, 0.9}));
  StyleTerm fresh({{"relu1_1", 1.0}}, 1.0);
  fresh.prepare(inputs_for({0.1, 0.9}));
  ASSERT_GT(std::abs(value(fresh) - first), 0.05 * first) << "the blends must differ for this test";
  EXPECT_NEAR(value(cached), value(fresh), 1e-6 * value(fresh));
}

TEST(TemporalStart, IsTheWarpedOutputWhereReliableAndTheFrameElsewhere) {
  const std::vector<torch::Tensor> frames = panning_clip(2);
  const torch::Tensor previous_output = torch::rand({1, 3, kHeight, kWidth});
  const TemporalGuide guide = temporal_guide(frames[1], {frames[0]}, {previous_output});
  ASSERT_EQ(guide.warped.size(), 1u);
  const torch::Tensor start = temporal_start(frames[1], guide);
  const torch::Tensor reliable = guide.masks[0] > 0.5;
  ASSERT_GT(reliable.sum().item<int64_t>(), kWidth * kHeight / 2);
  ASSERT_GT((~reliable).sum().item<int64_t>(), 0);  // the strip the pan reveals
  const auto at = [](const torch::Tensor& image, const torch::Tensor& mask) {
    return image.squeeze(0).masked_select(mask.unsqueeze(0).expand({3, -1, -1}));
  };
  EXPECT_TRUE(torch::allclose(at(start, reliable), at(guide.warped[0], reliable)));
  EXPECT_TRUE(torch::allclose(at(start, ~reliable), at(frames[1], ~reliable)));
  EXPECT_TRUE(temporal_start(frames[1], TemporalGuide()).equal(frames[1]));
}

// Ruder et al.'s claim, on the tiny network: frames held to the previous
// output flicker at least 3x less (mean warped difference over the reliable
// pixels) than frames stylized independently with as many iterations each.
// The tiny network's 4-channel features pull harder than VGG19's, so the
// temporal weight is 10x the default here (measured with `stylize video` on
// this clip: 30 iterations, weight 1e3 / 1e4 / 1e5: 1.7x / 6.0x / 17x less
// flicker; the default's 3.7x on full-size weights is in README, "Video").
TEST(VideoConsistency, TheTemporalTermCutsFlickerAtLeastThreefold) {
  const std::vector<torch::Tensor> frames = panning_clip(4);
  const torch::Tensor style = clip::texture(48, 48, 21).flip({1});  // other colours, other texture
  const auto stylize_clip = [&](bool temporal) {
    Stylizer stylizer(quick_options(temporal ? 1e4 : 0.0, 30), test::tiny_weights());
    std::vector<torch::Tensor> outputs;
    for (size_t i = 0; i < frames.size(); ++i) {
      TemporalGuide guide;
      if (temporal && i > 0) guide = temporal_guide(frames[i], {frames[i - 1]}, {outputs.back()});
      const torch::Tensor start = guide.warped.empty() ? torch::Tensor() : temporal_start(frames[i], guide);
      outputs.push_back(stylizer.run(frames[i], {style}, {}, {}, start, Guides{{}, guide}).image);
    }
    double flicker = 0;
    for (size_t i = 1; i < frames.size(); ++i) {
      flicker += warped_difference(outputs[i], outputs[i - 1], frame_motion(frames[i], frames[i - 1]));
    }
    return flicker / static_cast<double>(frames.size() - 1);
  };
  const double independent = stylize_clip(false), temporal = stylize_clip(true);
  EXPECT_GT(independent, 0.0);
  EXPECT_LT(temporal * 3, independent) << "temporal " << temporal << ", independent " << independent;
}

// --- stylize video, end to end -------------------------------------------------

class VideoCli : public test::Cli {
 protected:
  void SetUp() override {
    test::Cli::SetUp();
    input = dir.file("in");
    fs::create_directories(input);
    const std::vector<torch::Tensor> frames = panning_clip(4);
    for (size_t i = 0; i < frames.size(); ++i) save_image(frames[i], input + "/f" + std::to_string(i + 1) + ".png");
  }
  // The fixture's command line; `iterations` is "" for a run whose iterations
  // come from a preset (explicit flags beat it).
  std::string video(const std::string& out, const std::string& extra = "",
                    const std::string& iterations = "-n 6 --frame-iterations 3") const {
    return "video --content " + input + " --style " + style + " -o " + out + " --weights " +
           test::fixture("vgg19_tiny.safetensors") + " --size 64 " + iterations + " --threads 1 --device cpu " + extra;
  }
  // Runs stylize with `args`, sends SIGINT once its output shows `line`, and
  // returns all it said; it must exit with 128 + SIGINT. A failure (callers
  // stop on it) where it does not start or never shows the line.
  std::string interrupted_at(const std::vector<std::string>& args, const std::string& line) const {
    test::Child child = test::spawn(args);
    if (child.pid <= 0) {
      ADD_FAILURE() << "could not start stylize";
      return "";
    }
    const std::string before = test::read_until(child, line, "", 120);
    if (before.find(line) == std::string::npos) {
      ::kill(child.pid, SIGKILL);
      test::wait_child(child, 120);
      ADD_FAILURE() << "never said '" << line << "':\n" << before;
      return before;
    }
    ::kill(child.pid, SIGINT);
    const std::string after = test::read_all(child, before);
    EXPECT_EQ(test::wait_child(child, 120).code, 128 + SIGINT) << after;
    return after;
  }
  // Why this OpenCV cannot write the AVI (MJPG) file `out`, or "".
  static std::string cannot_write_avi(const std::string& out) {
    try {
      check_video_output(out);
    } catch (const OutputError& e) {
      return std::string("this OpenCV cannot write AVI (MJPG): ") + e.what();
    }
    return "";
  }
  std::string input;
};

TEST_F(VideoCli, WritesOneFrameImagePerInputFrame) {
  const std::string out = dir.file("out") + "/frame_%03d.png";
  const test::RunResult r = test::run_stylize(video(out));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const FramePattern pattern(out);
  for (int k = 1; k <= 4; ++k) {
    const torch::Tensor frame = load_image(pattern.path(k), "frame");
    EXPECT_EQ(frame.sizes(), (std::vector<int64_t>{1, 3, kHeight, kWidth})) << k;
  }
  EXPECT_FALSE(fs::exists(pattern.path(5)));
  EXPECT_NE(r.output.find("frame 4/4 done"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("temporal"), std::string::npos) << r.output;
  // In a pipe the progress lines are all there is: each names its frame.
  EXPECT_NE(r.output.find(" s/it  frame 4/4\n"), std::string::npos) << r.output;
}

// Coarse to fine is for the first frame, which starts from itself; the later
// ones start from the previous output warped onto them, at full size, and run
// one scale (at two, the tutorial's Adam left them twice the flicker and 1.5-1.9x
// the loss on a 5-frame clip at 256 px: README, Video).
TEST_F(VideoCli, LaterFramesFromThePreviousOutputRunOneScale) {
  const test::RunResult r = test::run_stylize(video(dir.file("scales"), "--scales 2 --initial-iterations 4 -v"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("frame 1/4: 2 scales, 6 iterations (4 at the first)"), std::string::npos) << r.output;
  for (const std::string frame : {"frame 2/4", "frame 3/4", "frame 4/4"}) {
    EXPECT_NE(r.output.find(frame + ": 1 scale, 3 iterations"), std::string::npos) << frame << "\n" << r.output;
  }
  // Independent frames start from themselves: every one goes coarse to fine,
  // with the first frame's iterations (with --frame-iterations' fewer, frame 1
  // stood out of every independent video).
  const test::RunResult independent =
      test::run_stylize(video(dir.file("independent"), "--scales 2 --temporal-weight 0 -v"));
  ASSERT_EQ(independent.exit_code, 0) << independent.output;
  EXPECT_NE(independent.output.find("frame 4/4: 2 scales, 6 iterations"), std::string::npos) << independent.output;
  EXPECT_NE(independent.output.find("--frame-iterations has no effect with --temporal-weight 0"), std::string::npos)
      << independent.output;
  // --preset fast: its first frame coarse to fine, 100 iterations per later frame.
  const test::RunResult fast = test::run_stylize(video(dir.file("fast"), "--preset fast -v", ""));
  ASSERT_EQ(fast.exit_code, 0) << fast.output;
  EXPECT_NE(fast.output.find("frame 1/4: 2 scales, 160 iterations (60 at the first)"), std::string::npos)
      << fast.output;
  EXPECT_NE(fast.output.find("frame 2/4: 1 scale, 100 iterations"), std::string::npos) << fast.output;
  // Sizes that fall together into one are one scale, of --iterations (as a
  // still's run; its unfinished frame's record holds that count).
  const test::RunResult merged =
      test::run_stylize(video(dir.file("merged"), "--scales 2 --min-size 64 --initial-iterations 4 -v"));
  ASSERT_EQ(merged.exit_code, 0) << merged.output;
  EXPECT_NE(merged.output.find("frame 1/4: 1 scale, 6 iterations\n"), std::string::npos) << merged.output;
}

// The time left after the first frame: it ran --iterations coarse to fine,
// the later frames run --frame-iterations, at full size when they start from
// the previous output. (Taking the first frame's time for every later one
// said "about 23:29 left" for a video that took 3 minutes more.)
TEST(VideoEta, LaterFramesAreEstimatedByTheirOwnIterations) {
  // The first frame: 8 s for 2 scales of 150 iterations, 0.04 s each at the last.
  const cli::FrameTiming first{8.0, 0.04, 2, 150, true, false};
  // From the previous output: 100 iterations at the last scale's 0.04 s each.
  EXPECT_DOUBLE_EQ(cli::later_frame_seconds(first, 100, true), 4.0);
  // Independent frames repeat the first frame's schedule.
  EXPECT_DOUBLE_EQ(cli::later_frame_seconds(first, 100, false), 8.0);
  // A later frame made whole took what the next ones will.
  EXPECT_DOUBLE_EQ(cli::later_frame_seconds({4.4, 0.04, 1, 100, false, false}, 100, true), 4.4);
}

// A frame resumed from an interrupted run was made in part: its seconds are
// not a frame's. (Taken as one, the ETA after a frame resumed 5 iterations
// before its end said a tenth of the time left.)
TEST(VideoEta, AResumedFrameIsEstimatedByItsIterationsNotItsPart) {
  // The last 10 of a later frame's 100 iterations, 0.04 s each.
  EXPECT_DOUBLE_EQ(cli::later_frame_seconds({0.4, 0.04, 1, 100, false, true}, 100, true), 4.0);
  // The end of the first frame, of a video whose later frames go on from it.
  EXPECT_DOUBLE_EQ(cli::later_frame_seconds({0.4, 0.04, 2, 150, true, true}, 100, true), 4.0);
  // Independent frames at one scale: this frame's 150 iterations.
  EXPECT_DOUBLE_EQ(cli::later_frame_seconds({0.4, 0.04, 1, 150, false, true}, 100, false), 6.0);
  // Independent coarse-to-fine frames: a part of one does not tell (no ETA said).
  EXPECT_DOUBLE_EQ(cli::later_frame_seconds({0.4, 0.04, 2, 150, false, true}, 100, false), 0.0);
}

// --preset gatys's content weight follows the frames' size, as an image's
// follows the content's (README, presets).
TEST_F(VideoCli, GatysPresetBalancesForTheFramesSize) {
  const test::RunResult r =
      test::run_stylize(video(dir.file("gatys"), "--preset gatys --loss-units tutorial", "-n 2 --frame-iterations 1"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("--preset gatys: content weight "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(the paper's alpha/beta = 1e-3 at 64x48 px)"), std::string::npos) << r.output;
}

// An interrupted run leaves the finished frames; --resume makes the rest, bit
// for bit as an uninterrupted run does (frames are held to the previous
// output as written, which is what a resumed run reads back).
TEST_F(VideoCli, ResumeMakesTheSameFramesAsAnUninterruptedRun) {
  const std::string folder = dir.file("whole");
  ASSERT_EQ(test::run_stylize(video(folder)).exit_code, 0);
  const std::string interrupted = dir.file("part");
  ASSERT_EQ(test::run_stylize(video(interrupted)).exit_code, 0);
  // What Ctrl-C during frame 3 leaves: frames 1 and 2.
  fs::remove(interrupted + "/frame_00003.png");
  fs::remove(interrupted + "/frame_00004.png");
  const test::RunResult r = test::run_stylize(video(interrupted, "--resume"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("resuming after frame 2"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("frame 2/4 done"), std::string::npos) << r.output;
  for (int k = 1; k <= 4; ++k) {
    const std::string name = "/frame_0000" + std::to_string(k) + ".png";
    EXPECT_TRUE(load_image(folder + name, "a").equal(load_image(interrupted + name, "b"))) << name;
  }
}

// A resumed run reads back only the frames the next one is held to (the last
// --temporal-frames on disk), not every earlier output: frame 1 is not read here.
TEST_F(VideoCli, AResumeReadsBackOnlyTheFramesTheNextIsHeldTo) {
  const std::string folder = dir.file("long");
  ASSERT_EQ(test::run_stylize(video(folder)).exit_code, 0);
  fs::remove(folder + "/frame_00004.png");
  test::write_file(folder + "/frame_00001.png", "not read");
  const test::RunResult r = test::run_stylize(video(folder, "--resume"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("resuming after frame 3"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(folder + "/frame_00004.png"));
}

// Ctrl-C within a frame saves the frame where its run got to (beside the
// frames, with its record and Adam's state); --resume goes on with that frame
// from there (its remaining iterations only) and makes the frames of an
// uninterrupted run. (Before, the frame was made again from the beginning: a
// first frame's --iterations, minutes, lost.)
TEST_F(VideoCli, AnInterruptedFrameGoesOnFromWhereItStopped) {
  const std::string iterations = "-n 6 --frame-iterations 300";
  const std::string whole = dir.file("whole");
  const test::RunResult uninterrupted = test::run_stylize(video(whole, "--print-every 0", iterations));
  ASSERT_EQ(uninterrupted.exit_code, 0) << uninterrupted.output;

  const std::string folder = dir.file("stopped");
  std::vector<std::string> arguments = {"video",   "--content", input,
                                        "--style", style,       "-o",
                                        folder,    "--weights", test::fixture("vgg19_tiny.safetensors")};
  for (const char* flag : {"--size", "64", "-n", "6", "--frame-iterations", "300", "--print-every", "10", "--threads",
                           "1", "--device", "cpu"}) {
    arguments.push_back(flag);
  }
  test::Child child = test::spawn(arguments);
  ASSERT_GT(child.pid, 0);
  // SIGINT after frame 2's first progress line (iteration 10): its other 290
  // iterations (about 2 s here, longer under the sanitizers) are the margin.
  std::string before = test::read_until(child, "frame 1/4 done", "", 120);
  before = test::read_until(child, " frame 2/4\n", before, 120);
  ASSERT_NE(before.find(" frame 2/4\n"), std::string::npos) << before;
  ::kill(child.pid, SIGINT);
  const std::string after = test::read_all(child, before);
  ASSERT_EQ(test::wait_child(child, 120).code, 128 + SIGINT) << after;
  const size_t said = after.find("interrupted in frame 2 at iteration ");
  ASSERT_NE(said, std::string::npos) << after;
  const int stopped_at = std::stoi(after.substr(said + 36));
  EXPECT_GE(stopped_at, 10) << after;
  EXPECT_LT(stopped_at, 300) << after;
  EXPECT_NE(after.find(", saved to go on from there; frame 1 is in " + folder), std::string::npos) << after;
  const std::string partial = folder + "/.frame_%05d.png.partial.png";
  EXPECT_TRUE(fs::exists(partial) && fs::exists(partial + ".json") && fs::exists(partial + ".adam")) << after;
  EXPECT_FALSE(fs::exists(folder + "/frame_00002.png"));
  // Without --resume a run says it would make the frame again (here it then
  // stops at weights that are missing, so that nothing changes).
  std::vector<std::string> missing_weights = arguments;
  missing_weights[8] = dir.file("missing.safetensors");
  test::Child again = test::spawn(missing_weights);
  ASSERT_GT(again.pid, 0);
  const std::string warned = test::read_all(again);
  EXPECT_EQ(test::wait_child(again, 120).code, 4) << warned;
  EXPECT_NE(warned.find(partial + " holds a frame an earlier run was stopped in; this run makes it again (--resume "
                                  "goes on with it)"),
            std::string::npos)
      << warned;
  ASSERT_TRUE(fs::exists(partial + ".json"));
  // A saved frame --resume cannot go on with is made from the beginning, said why:
  // frames on disk that go on past it (stopped again at missing weights), or
  // a point beyond this run's --frame-iterations.
  const std::string past = dir.file("past"), beyond = dir.file("beyond");
  fs::copy(folder, past);
  fs::copy(folder, beyond);
  fs::copy_file(whole + "/frame_00002.png", past + "/frame_00002.png");
  missing_weights[6] = past;
  missing_weights.push_back("--resume");
  test::Child later = test::spawn(missing_weights);
  const std::string later_said = test::read_all(later);
  EXPECT_EQ(test::wait_child(later, 120).code, 4) << later_said;
  EXPECT_NE(later_said.find("holds frame 2 unfinished, but the frames on disk go on with frame 3: that one starts "
                            "from the beginning"),
            std::string::npos)
      << later_said;
  const test::RunResult fewer = test::run_stylize(video(beyond, "--resume", "-n 6 --frame-iterations 5"));
  EXPECT_EQ(fewer.exit_code, 0) << fewer.output;
  EXPECT_NE(fewer.output.find("frame 2/4 was interrupted at iteration " + std::to_string(stopped_at) +
                              ", not within this run's 5 iterations: it starts again"),
            std::string::npos)
      << fewer.output;
  // ... or saved by a coarse-to-fine run (as its record says), where this run makes the frame at one scale.
  const std::string scales = dir.file("scales");
  fs::copy(folder, scales);
  test::write_file(scales + "/.frame_%05d.png.partial.png.json",
                   R"({"frame": 2, "scale": 1, "scales": 2, "iteration": 3})");
  const test::RunResult other = test::run_stylize(video(scales, "--resume", "-n 6 --frame-iterations 5"));
  EXPECT_EQ(other.exit_code, 0) << other.output;
  EXPECT_NE(other.output.find("frame 2/4 was interrupted at iteration 3 of scale 1/2, and this run makes it at 1 "
                              "scale(s): it starts again"),
            std::string::npos)
      << other.output;

  const test::RunResult resumed = test::run_stylize(video(folder, "--resume --print-every 10", iterations));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming frame 2/4 from iteration " + std::to_string(stopped_at) + "\n"),
            std::string::npos)
      << resumed.output;
  // Frame 2's progress goes on from there: no line of its earlier iterations.
  const size_t frame2 = resumed.output.find("resuming frame 2/4");
  EXPECT_EQ(resumed.output.find(" 10/300 ", frame2),
            resumed.output.find(" 10/300 ", resumed.output.find("frame 2/4 done")))
      << resumed.output;
  EXPECT_FALSE(fs::exists(partial) || fs::exists(partial + ".json") || fs::exists(partial + ".adam"))
      << "a finished frame needs none";
  for (int k = 1; k <= 4; ++k) {
    const std::string name = "/frame_0000" + std::to_string(k) + ".png";
    const torch::Tensor a = load_image(whole + name, "a"), b = load_image(folder + name, "b");
    const float difference = (a - b).abs().max().item<float>();
    EXPECT_LE(difference, 1.5 / 255) << name;
  }
}

// A run without --resume over an earlier run's frames makes them again, and
// removes the earlier ones after its first frame: a run stopped later leaves
// only its own frames for --resume to go on from (it went on after the
// earlier run's last frame, mixing the two runs into one video). The stop
// names the frame it came at and the frames kept, then the cause.
TEST_F(VideoCli, ANewRunLeavesNoFrameOfTheEarlierRunAfterItsOwn) {
  const std::string folder = dir.file("again");
  ASSERT_EQ(test::run_stylize(video(folder)).exit_code, 0);
  const std::string frame3 = input + "/f3.png", intact = test::read_file(frame3);
  test::write_file(frame3, intact.substr(0, intact.size() / 2));
  const test::RunResult r = test::run_stylize(video(folder));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("4 frame(s) of an earlier run in " + folder + " are made again"), std::string::npos)
      << r.output;
  const size_t stopped = r.output.find("stopped at frame 3 by the error below; frames 1-2 are in " + folder);
  EXPECT_NE(stopped, std::string::npos) << r.output;
  EXPECT_NE(r.output.find("frame 3", stopped + 20), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(folder + "/frame_00002.png"));
  EXPECT_FALSE(fs::exists(folder + "/frame_00003.png")) << "the earlier run's";
  EXPECT_FALSE(fs::exists(folder + "/frame_00004.png")) << "the earlier run's";
  test::write_file(frame3, intact);
  const test::RunResult resumed = test::run_stylize(video(folder, "--resume"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming after frame 2"), std::string::npos) << resumed.output;
}

// Frames named as stylize names them, in a folder of the user's, are the
// user's: a run refuses them rather than replacing them or removing them as an
// earlier run's. A run's own frames have a record beside them, which --resume
// compares with its settings.
TEST_F(VideoCli, NeverReplacesFramesItDidNotMake) {
  const std::string folder = dir.file("mine");
  fs::create_directories(folder);
  std::vector<std::string> bytes;
  for (int k = 1; k <= 6; ++k) {
    const std::string path = folder + "/frame_0000" + std::to_string(k) + ".png";
    save_image(test::pattern_image(40, 30, 0.1 * k), path);
    bytes.push_back(test::read_file(path));
  }
  for (const std::string extra : {"", "--resume"}) {
    const test::RunResult r = test::run_stylize(video(folder, extra));
    EXPECT_EQ(r.exit_code, 6) << extra << "\n" << r.output;
    EXPECT_NE(r.output.find(folder + " holds 6 images named like 'frame_%05d.png'"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("that no stylize video run made"), std::string::npos) << r.output;
  }
  for (int k = 1; k <= 6; ++k) {
    EXPECT_EQ(test::read_file(folder + "/frame_0000" + std::to_string(k) + ".png"), bytes[k - 1]) << k;
  }
  // Not only from frame 1 on: one numbered 3 would be overwritten by frame 3.
  const std::string later = dir.file("later");
  fs::create_directories(later);
  save_image(test::pattern_image(40, 30, 0.5), later + "/frame_00003.png");
  const std::string kept = test::read_file(later + "/frame_00003.png");
  const test::RunResult gap = test::run_stylize(video(later));
  EXPECT_EQ(gap.exit_code, 6) << gap.output;
  EXPECT_NE(gap.output.find(later + " holds 1 image named like 'frame_%05d.png'"), std::string::npos) << gap.output;
  EXPECT_EQ(test::read_file(later + "/frame_00003.png"), kept);
  const std::string made = dir.file("made");
  const test::RunResult first = test::run_stylize(video(made));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_TRUE(fs::exists(made + "/.frame_%05d.png.json"));
  const std::string other = dir.file("other.png");
  save_image(test::pattern_image(32, 32, 2.5), other);
  std::string command = video(made, "--resume");
  command.replace(command.find(" --style " + style), 9 + style.size(), " --style " + other);
  const test::RunResult resumed = test::run_stylize(command);
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("the frames on disk were made with style images"), std::string::npos) << resumed.output;
}

TEST_F(VideoCli, SigintKeepsTheFinishedFramesAndSaysHowToGoOn) {
  const std::string folder = dir.file("stopped");
  const std::string after = interrupted_at({"video", "--content", input, "--style", style, "-o", folder, "--weights",
                                            test::fixture("vgg19_tiny.safetensors"), "--size", "64", "-n", "6",
                                            "--frame-iterations", "100000", "--threads", "1", "--device", "cpu"},
                                           "frame 1/4 done");
  if (HasFailure()) return;
  // Between frames or within frame 2: either way frame 1 is kept and said so.
  EXPECT_NE(after.find("frame 1 is in " + folder), std::string::npos) << after;
  EXPECT_NE(after.find("--resume"), std::string::npos) << after;
  EXPECT_TRUE(fs::exists(folder + "/frame_00001.png"));
  EXPECT_FALSE(fs::exists(folder + "/frame_00002.png"));  // unfinished: not written
}

// Ctrl-C in frame 1 of a run over an earlier run's frames (another --size
// here): this run keeps nothing and the earlier frames stay; the advice must
// not be --resume, which would go on after them.
TEST_F(VideoCli, SigintInTheFirstFrameOverAnEarlierRunsFramesSaysTheyStay) {
  const std::string folder = dir.file("rerun");
  ASSERT_EQ(test::run_stylize(video(folder, "", "-n 2 --frame-iterations 1")).exit_code, 0);
  const std::string frame1 = test::read_file(folder + "/frame_00001.png");
  const std::string after = interrupted_at({"video", "--content", input, "--style", style, "-o", folder, "--weights",
                                            test::fixture("vgg19_tiny.safetensors"), "--size", "48", "-n", "100000",
                                            "--print-every", "1", "--threads", "1", "--device", "cpu"},
                                           "s/it  frame 1/4");
  if (HasFailure()) return;
  EXPECT_NE(after.find("interrupted in frame 1; no frame of this run was kept, and the earlier run's frames 1-4 are "
                       "in " +
                       folder +
                       ", as they were (run the same command to start over; with --resume it would go on "
                       "after them)"),
            std::string::npos)
      << after;
  EXPECT_EQ(after.find("go on with the same command and --resume"), std::string::npos) << after;
  EXPECT_EQ(test::read_file(folder + "/frame_00001.png"), frame1);
  EXPECT_TRUE(fs::exists(folder + "/frame_00004.png"));
}

// The frames' record holds the video's own settings too: --resume warns where
// --temporal-weight, --temporal-frames or --frame-iterations differ (the
// frames it makes are held to the earlier ones differently).
TEST_F(VideoCli, AResumeWithOtherVideoSettingsIsWarnedOf) {
  const std::string folder = dir.file("settings");
  ASSERT_EQ(test::run_stylize(video(folder)).exit_code, 0);
  fs::remove(folder + "/frame_00004.png");
  const test::RunResult other =
      test::run_stylize(video(folder, "--resume --temporal-weight 5 --temporal-frames 2 --frame-iterations 2"));
  ASSERT_EQ(other.exit_code, 0) << other.output;
  const size_t at = other.output.find("the frames on disk were made with other video settings: ");
  ASSERT_NE(at, std::string::npos) << other.output;
  for (const std::string& change :
       {std::string("--temporal-weight 1000.0 (this run: 5.0)"), std::string("--temporal-frames 1 (this run: 2)"),
        std::string("--frame-iterations 3 (this run: 2)")}) {
    EXPECT_NE(other.output.find(change, at), std::string::npos) << change << "\n" << other.output;
  }
  fs::remove(folder + "/frame_00004.png");
  const test::RunResult same = test::run_stylize(video(folder,
                                                       "--resume --temporal-weight 5 --temporal-frames 2 "
                                                       "--frame-iterations 2"));
  ASSERT_EQ(same.exit_code, 0) << same.output;
  EXPECT_EQ(same.output.find("other video settings"), std::string::npos) << same.output;
}

// A signal before the run starts (here while a style is being read; in use,
// while the weights download) stops the command at once, and the output
// folders it made for the run go with it.
TEST_F(VideoCli, ASignalBeforeTheRunLeavesNoFolderItMade) {
  const std::string fifo = dir.file("style_pipe.png");  // blocks the reader until written to
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string folder = dir.file("new");
  test::Child child =
      test::spawn({"video", "--content", input, "--style", fifo, "-o", folder + "/deeper/out.mp4", "--weights",
                   test::fixture("vgg19_tiny.safetensors"), "--size", "64", "--threads", "1", "--device", "cpu"});
  ASSERT_GT(child.pid, 0);
  const int writer = test::writer_once_read(fifo);
  ASSERT_GE(writer, 0) << "the command never read its style";
  ASSERT_TRUE(fs::exists(folder + "/deeper"));
  ::kill(child.pid, SIGTERM);
  const std::string output = test::read_all(child, "");
  const test::ChildExit exit = test::wait_child(child, 60);
  EXPECT_FALSE(exit.exited) << output;
  EXPECT_EQ(exit.code, 128 + SIGTERM) << output;
  EXPECT_FALSE(fs::exists(folder)) << output;
  ::close(writer);
}

// The same as a container's first process (PID 1 of its PID namespace, as
// Kubernetes and docker run start stylize), whose default actions the kernel
// ignores: the signal still stops the command at once.
TEST_F(VideoCli, ASignalBeforeTheRunStopsAContainersFirstProcess) {
  if (test::run_command("unshare --fork --pid --mount-proc true").exit_code != 0) {
    GTEST_SKIP() << "this machine gives no new PID namespace (unshare --fork --pid needs root or user namespaces)";
  }
  const std::string fifo = dir.file("style_pipe.png");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string folder = dir.file("new");
  test::Child child = test::spawn(
      "/usr/bin/unshare", {"--fork", "--pid", "--mount-proc", STYLIZE_BINARY, "video", "--content", input, "--style",
                           fifo, "-o", folder + "/deeper/out.mp4", "--weights", test::fixture("vgg19_tiny.safetensors"),
                           "--size", "64", "--threads", "1", "--device", "cpu"});
  ASSERT_GT(child.pid, 0);
  const int writer = test::writer_once_read(fifo);
  ASSERT_GE(writer, 0) << "the command never read its style";
  // stylize is unshare's child, PID 1 inside; signalled from outside, as by a container runtime.
  const std::string children =
      test::read_file("/proc/" + std::to_string(child.pid) + "/task/" + std::to_string(child.pid) + "/children");
  const pid_t stylize_pid = static_cast<pid_t>(std::atol(children.c_str()));
  ASSERT_GT(stylize_pid, 0) << children;
  ::kill(stylize_pid, SIGTERM);
  const std::string output = test::read_all(child, "");
  const test::ChildExit exit = test::wait_child(child, 60);
  EXPECT_EQ(exit.code, 128 + SIGTERM) << output;
  EXPECT_FALSE(fs::exists(folder)) << output;
  ::close(writer);
}

TEST_F(VideoCli, EncodesAVideoFileFromTheFrames) {
  const std::string out = dir.file("styled.avi");
  if (const std::string why = cannot_write_avi(out); !why.empty()) STYLIZE_SKIP_UNLESS_REQUIRED(why);
  const test::RunResult r = test::run_stylize(video(out, "--fps 10"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto source = open_frame_source(out);
  EXPECT_NEAR(source->info().fps, 10.0, 0.01);
  int frames = 0;
  while (const auto frame = source->next()) {
    EXPECT_EQ(frame->sizes(), (std::vector<int64_t>{1, 3, kHeight, kWidth}));
    ++frames;
  }
  EXPECT_EQ(frames, 4);
  EXPECT_FALSE(fs::exists(out + ".frames")) << "the frame images are removed once encoded";
  // Nothing to go on from: a finished video is not made again under --resume.
  const std::string finished = test::read_file(out);
  const test::RunResult again = test::run_stylize(video(out, "--fps 10 --resume"));
  EXPECT_EQ(again.exit_code, 2) << again.output;
  EXPECT_NE(again.output.find("--resume: " + out + " is finished"), std::string::npos) << again.output;
  EXPECT_EQ(test::read_file(out), finished);
  // Only what stylize wrote there goes: a file of the user's among kept
  // frames stays, with its folder (said).
  ASSERT_EQ(test::run_stylize(video(out, "--fps 10 --keep-frames")).exit_code, 0);
  ASSERT_TRUE(fs::exists(out + ".frames/frame_00004.png"));
  test::write_file(out + ".frames/notes.txt", "mine");
  const test::RunResult mine = test::run_stylize(video(out, "--fps 10"));
  ASSERT_EQ(mine.exit_code, 0) << mine.output;
  EXPECT_EQ(test::read_file(out + ".frames/notes.txt"), "mine");
  EXPECT_FALSE(fs::exists(out + ".frames/frame_00001.png"));
  EXPECT_FALSE(fs::exists(out + ".frames/.frame_%05d.png.json"));
  EXPECT_NE(mine.output.find("kept " + out + ".frames: it holds files stylize did not write"), std::string::npos)
      << mine.output;
}

// A frame that cannot be written (a full disk: here /dev/full behind frame
// 3's name) goes to the temporary folder; the error says where, and which
// frames are in place. Moved where it belongs, --resume goes on after it.
TEST_F(VideoCli, AFrameThatCannotBeWrittenGoesToTheTemporaryFolder) {
  const std::string out = dir.file("full.avi");
  if (const std::string why = cannot_write_avi(out); !why.empty()) STYLIZE_SKIP_UNLESS_REQUIRED(why);
  const std::string frames = out + ".frames";
  const std::string third = frames + "/frame_00003.png";
  fs::create_directories(frames);
  fs::create_symlink("/dev/full", third);
  const std::string tmp = dir.file("tmp");
  fs::create_directories(tmp);
  const test::RunResult r = test::run_stylize(video(out), "env TMPDIR='" + tmp + "'");
  EXPECT_EQ(r.exit_code, 6) << r.output;
  EXPECT_NE(r.output.find("stopped at frame 3 by the error below; frames 1-2 are in " + frames), std::string::npos)
      << r.output;
  const fs::path rescued = test::rescued_image(r, third, tmp);
  ASSERT_FALSE(rescued.empty());
  EXPECT_EQ(load_image(rescued.string(), "rescued").sizes(), (std::vector<int64_t>{1, 3, kHeight, kWidth}));

  fs::remove(third);
  fs::rename(rescued, third);
  const test::RunResult resumed = test::run_stylize(video(out, "--resume"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming after frame 3 (frames 1-3 are on disk)"), std::string::npos)
      << resumed.output;
  EXPECT_EQ(resumed.output.find("frame 3/4 done"), std::string::npos) << resumed.output;
  EXPECT_NE(resumed.output.find("frame 4/4 done"), std::string::npos) << resumed.output;
  EXPECT_TRUE(fs::exists(out));
}

// Regions in a video: --style-weights holds one weight per style and the
// default style's last, as for a still; also when the masks cover the whole
// frame and the default style is not used (its weight then is not either).
TEST_F(VideoCli, RegionalStylesTakeTheDefaultStylesWeight) {
  const std::string half = dir.file("half.png"), whole = dir.file("whole.png"), other = dir.file("other.png");
  torch::Tensor left = torch::zeros({1, 3, kHeight, kWidth});
  left.index_put_({0, torch::indexing::Slice(), torch::indexing::Slice(), torch::indexing::Slice(0, kWidth / 2)}, 1.0);
  save_image(left, half);
  save_image(torch::ones({1, 3, kHeight, kWidth}), whole);
  save_image(test::pattern_image(32, 32, 2.9), other);
  for (const std::string& mask : {half, whole}) {
    const std::string out = dir.file(mask == half ? "half_out" : "whole_out") + "/";
    const test::RunResult r =
        test::run_stylize(video(out, "--content-mask " + mask + " --default-style " + other + " --style-weights 1,2",
                                "-n 2 --frame-iterations 1"));
    ASSERT_EQ(r.exit_code, 0) << mask << "\n" << r.output;
    EXPECT_TRUE(fs::exists(out + "frame_00004.png")) << r.output;
    if (mask == whole) {
      EXPECT_NE(r.output.find("is not used"), std::string::npos) << r.output;
    }
  }
}

TEST_F(VideoCli, ExplainsUnusableArguments) {
  const test::RunResult image = test::run_stylize(video(dir.file("out.png")));
  EXPECT_EQ(image.exit_code, 6) << image.output;
  EXPECT_NE(image.output.find("frame pattern"), std::string::npos) << image.output;
  // A pattern without an image extension is said to need one (it was taken for a folder named with a '%').
  const test::RunResult no_type = test::run_stylize(video("'" + dir.file("pat/f_%05d") + "'"));
  EXPECT_EQ(no_type.exit_code, 6) << no_type.output;
  EXPECT_NE(no_type.output.find("a frame pattern names an image type by its extension, as in out/frame_%05d.png"),
            std::string::npos)
      << no_type.output;
  // A '%' in a video's or folder's name is refused as such, before the run (it
  // was taken for a bad conversion, and its "%%" advice then misplaced the frames).
  for (const std::string name : {"50%.mp4", "50%%.mp4", "take 50%/", "take 50%%", "a%b/frame_%03d.png"}) {
    const test::RunResult percent = test::run_stylize(video("'" + dir.file(name) + "'"));
    EXPECT_EQ(percent.exit_code, 6) << name << "\n" << percent.output;
    EXPECT_NE(percent.output.find("stylize video takes no '%' in the name of"), std::string::npos) << name << "\n"
                                                                                                   << percent.output;
    EXPECT_EQ(percent.output.find("iter "), std::string::npos) << percent.output;
  }
  const test::RunResult iterations = test::run_stylize(video(dir.file("o"), "--frame-iterations 0"));
  EXPECT_EQ(iterations.exit_code, 2) << iterations.output;
  EXPECT_NE(iterations.output.find("--frame-iterations"), std::string::npos) << iterations.output;
  const test::RunResult into_input = test::run_stylize(video(input));
  EXPECT_EQ(into_input.exit_code, 6) << into_input.output;
  EXPECT_NE(into_input.output.find("folder of the input frames"), std::string::npos) << into_input.output;
  // A pattern input, and an output pattern in its folder: the frames would be overwritten as they are read.
  std::string pattern_in = video(input + "/out_%02d.png");
  pattern_in.replace(pattern_in.find(input), input.size(), input + "/f%d.png");
  const test::RunResult over_input = test::run_stylize(pattern_in);
  EXPECT_EQ(over_input.exit_code, 6) << over_input.output;
  EXPECT_NE(over_input.output.find("folder of the input frames"), std::string::npos) << over_input.output;
  EXPECT_TRUE(fs::exists(input + "/f1.png"));
  std::string arguments = video(dir.file("o2"));
  arguments.replace(arguments.find(input), input.size(), dir.file("nope"));
  const test::RunResult missing = test::run_stylize(arguments);
  EXPECT_EQ(missing.exit_code, 3) << missing.output;
  EXPECT_NE(missing.output.find(dir.file("nope")), std::string::npos) << missing.output;
  EXPECT_FALSE(fs::exists(dir.file("o2"))) << "the output folder made for the run is removed again";
  // Not a video: said in stylize's words alone, without FFmpeg's own line.
  test::write_file(dir.file("bad.mp4"), "garbage, not a video");
  arguments = video(dir.file("o3"));
  arguments.replace(arguments.find(input), input.size(), dir.file("bad.mp4"));
  const test::RunResult garbage = test::run_stylize(arguments);
  EXPECT_EQ(garbage.exit_code, 3) << garbage.output;
  EXPECT_NE(garbage.output.find("not a video file FFmpeg can decode"), std::string::npos) << garbage.output;
  EXPECT_EQ(garbage.output.find("moov atom"), std::string::npos) << garbage.output;
}

// A gap in a frame pattern's numbers ends the sequence (as FFmpeg reads
// one); the files after it are said to be left out.
TEST_F(VideoCli, FramesPastAGapInThePatternAreSaidToBeLeftOut) {
  fs::remove(input + "/f2.png");
  std::string run = video(dir.file("gap"), "", "-n 1 --frame-iterations 1");
  run.replace(run.find(input), input.size(), input + "/f%d.png");
  const test::RunResult r = test::run_stylize(run);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(input + "/f%d.png: its numbers stop after frame 1; 2 files matching it after the gap are "
                                  "left out"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(dir.file("gap/frame_00002.png")));
}

// A video file cut short decodes like one that ends; its header's frame
// count tells, and the run says so (its frames are made and kept).
TEST_F(VideoCli, AVideoCutShortIsSaidToHaveEndedEarly) {
  const std::string clip = dir.file("clip.avi");
  try {
    VideoFileWriter writer(clip, 10, kWidth, kHeight);
    for (const auto& frame : panning_clip(8)) writer.write(frame);
    writer.finish();
  } catch (const OutputError& e) {
    STYLIZE_SKIP_UNLESS_REQUIRED(std::string("this OpenCV cannot write AVI (MJPG): ") + e.what());
  }
  const std::string whole_run = video(dir.file("whole"), "", "-n 2 --frame-iterations 1");
  std::string whole = whole_run;
  whole.replace(whole.find(input), input.size(), clip);
  const test::RunResult complete = test::run_stylize(whole);
  ASSERT_EQ(complete.exit_code, 0) << complete.output;
  EXPECT_EQ(complete.output.find("ended after frame"), std::string::npos) << complete.output;

  const std::string bytes = test::read_file(clip);
  const std::string cut = dir.file("cut.avi");
  test::write_file(cut, bytes.substr(0, bytes.size() * 6 / 10));
  std::string run = video(dir.file("cut_frames"), "", "-n 2 --frame-iterations 1");
  run.replace(run.find(input), input.size(), cut);
  const test::RunResult r = test::run_stylize(run);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const size_t at = r.output.find(" ended after frame ");
  ASSERT_NE(at, std::string::npos) << r.output;
  EXPECT_NE(r.output.find(" of the 8 its header gives: the file may be truncated or damaged", at), std::string::npos)
      << r.output;
}

TEST_F(VideoCli, NeverWritesOverItsInputs) {
  // A style image where the output frames go.
  const std::string frames = dir.file("frames");
  fs::create_directories(frames);
  fs::copy_file(style, frames + "/frame_00001.png");
  const std::string style_bytes = test::read_file(style);
  std::string over_style = video(frames);
  over_style.replace(over_style.find(" --style " + style), 9 + style.size(), " --style " + frames + "/frame_00001.png");
  const test::RunResult r = test::run_stylize(over_style);
  EXPECT_EQ(r.exit_code, 6) << r.output;
  EXPECT_NE(r.output.find("would be written over a style image"), std::string::npos) << r.output;
  EXPECT_EQ(test::read_file(frames + "/frame_00001.png"), style_bytes);
  // The video over the input video.
  const std::string clip = dir.file("clip.avi");
  try {
    VideoFileWriter writer(clip, 10, kWidth, kHeight);
    for (const auto& frame : panning_clip(2)) writer.write(frame);
    writer.finish();
  } catch (const OutputError& e) {
    STYLIZE_SKIP_UNLESS_REQUIRED(std::string("this OpenCV cannot write AVI (MJPG): ") + e.what());
  }
  const std::string clip_bytes = test::read_file(clip);
  std::string over_clip = video(clip);
  over_clip.replace(over_clip.find(input), input.size(), clip);
  const test::RunResult v = test::run_stylize(over_clip);
  EXPECT_EQ(v.exit_code, 6) << v.output;
  EXPECT_NE(v.output.find("-o '" + clip + "' is also an input (the input video)"), std::string::npos) << v.output;
  EXPECT_EQ(test::read_file(clip), clip_bytes);
}

}  // namespace
}  // namespace stylize
