// Flags checked by their effect on the images the CLI writes, not by its exit
// code: the library on the same decoded images, --save-every, --init style,
// blend weights, --preserve-colors, --pooling, --tv-norm, --style-size,
// presets, resuming from a saved image, what a failed run leaves behind, and
// the second Ctrl-C.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli_test_util.hpp"
#include "stylize/core/engine.hpp"
#include "stylize/io/image.hpp"
#include "stylize/io/image_io.hpp"
#include "stylize/weights/weights.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

namespace fs = std::filesystem;
using test::run_stylize;
using test::RunResult;

class CliEffects : public test::Cli {
 protected:
  torch::Tensor image(const std::string& name) const { return load_image(dir.file(name), name); }
  // A -q run of quick(extra) into dir/name (without quick()'s style when `own_styles`,
  // as --style accumulates); fails the test when it fails.
  torch::Tensor run_into(const std::string& name, const std::string& extra, bool own_styles = false) {
    std::string flags = quick("-q -o " + dir.file(name) + " " + extra);
    if (own_styles) flags.replace(flags.find("--style " + style + " "), 9 + style.size(), "");
    const RunResult r = run_stylize(flags);
    EXPECT_EQ(r.exit_code, 0) << extra << "\n" << r.output;
    return fs::exists(dir.file(name)) ? image(name) : torch::zeros({1, 3, 1, 1});
  }
  // The resume tests' run, 12 iterations (without -o); `extra` is added.
  std::string resume_flags(const std::string& extra = "") const {
    return " --style " + style + " --content " + content + " --weights " + test::fixture("vgg19_tiny.safetensors") +
           " --size 48 --threads 1 --device cpu --iterations 12 --lr 0.05 " + extra;
  }
  // That run into `output` with --save-every 4; returns its newest snapshot, out_0008.png.
  std::string run_with_snapshots(const std::string& flags) {
    EXPECT_EQ(run_stylize("-q -o " + output + " --save-every 4" + flags).exit_code, 0);
    const std::string saved = dir.file("out_0008.png");
    EXPECT_TRUE(fs::exists(saved + ".adam"));
    return saved;
  }
};

float max_difference(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.sizes() != b.sizes()) return 1e9f;
  return (a - b).abs().max().item<float>();
}

constexpr float kOneLevel = 1.01f / 255;  // one 8-bit level, with float slack

// The CLI adds decoding, resizing and encoding to Stylizer::run and nothing
// else: guards against the CLI passing other options, sizes or images.
TEST_F(CliEffects, OutputEqualsTheLibraryOnTheSameDecodedImages) {
  const torch::Tensor cli = run_into("cli.png", "--precision fp32 --iterations 3");
  StylizeOptions options;
  options.device = DeviceKind::Cpu;
  options.precision = Precision::Fp32;
  options.iterations = 3;
  const VggWeights weights = load_vgg19_weights(test::fixture("vgg19_tiny.safetensors"));
  Stylizer stylizer(options, weights);
  const Result library = stylizer.run(load_image(content, "content", 48), {load_image(style, "style", 48)});
  EXPECT_LE(max_difference(cli, library.image), kOneLevel);
  EXPECT_GT(max_difference(cli, load_image(content, "content", 48)), 4 * kOneLevel) << "the run must move the image";
}

// Guards against --save-every saving another iteration's image (or the final one).
TEST_F(CliEffects, SaveEveryImageIsTheImageOfThatIteration) {
  const torch::Tensor final4 = run_into("out.png", "--save-every 2");
  const torch::Tensor two = run_into("two.png", "--iterations 2");
  ASSERT_TRUE(fs::exists(dir.file("out_0002.png")));
  EXPECT_LE(max_difference(image("out_0002.png"), two), kOneLevel);
  EXPECT_GT(max_difference(image("out_0002.png"), final4), 2 * kOneLevel);
}

// Guards against --init style being ignored (starting from the content).
TEST_F(CliEffects, InitStyleStartsFromTheStyleImage) {
  // A flat style: resized to any shape it stays the same colour.
  save_image(torch::tensor({0.9f, 0.2f, 0.1f}).view({1, 3, 1, 1}).expand({1, 3, 32, 32}).contiguous(), style);
  const torch::Tensor out = run_into("out.png", "--init style --iterations 1 --lr 1e-4");
  const torch::Tensor flat = torch::tensor({0.9f, 0.2f, 0.1f}).view({1, 3, 1, 1}).expand_as(out);
  EXPECT_LE(max_difference(out, flat), 2 * kOneLevel);
}

// --init style with --preserve-colors histogram starts from the style
// recoloured to the content's palette (its targets' style), not from the
// painting's own colours, which would stay in the output.
TEST_F(CliEffects, InitStyleWithPreservedColoursStartsFromTheRecolouredStyle) {
  save_image(test::pattern_image(32, 32, 1.7) * 0.3, style);  // a dark style
  const torch::Tensor out = run_into("out.png", "--init style --preserve-colors histogram --iterations 1 --lr 1e-4");
  const torch::Tensor content_mean = load_image(content, "content", 48).mean({0, 2, 3});
  const torch::Tensor style_mean = load_image(style, "style").mean({0, 2, 3});
  ASSERT_GT((content_mean - style_mean).abs().max().item<float>(), 0.2f);
  EXPECT_LT((out.mean({0, 2, 3}) - content_mean).abs().max().item<float>(), 0.03f)
      << "output " << out.mean({0, 2, 3}) << ", content " << content_mean << ", style " << style_mean;
}

// Guards against blend weights swapped, ignored or not normalized between the CLI and the engine.
TEST_F(CliEffects, BlendWeightsFollowTheirStylesAndAreNormalized) {
  const std::string other = dir.file("other.png");
  save_image(test::pattern_image(32, 32, 2.9) * 0.4, other);
  const std::string ab = "--iterations 6 --lr 0.1 --style-weight 1 --style " + style + " --style " + other;
  const torch::Tensor a73 = run_into("a73.png", ab + " --style-weights 0.7,0.3", true);
  const torch::Tensor ba37 = run_into(
      "ba37.png",
      "--iterations 6 --lr 0.1 --style-weight 1 --style " + other + " --style " + style + " --style-weights 0.3,0.7",
      true);
  const torch::Tensor a37 = run_into("a37.png", ab + " --style-weights 0.3,0.7", true);
  const torch::Tensor a73x10 = run_into("a73x10.png", ab + " --style-weights 7,3", true);
  EXPECT_LE(max_difference(a73, ba37), kOneLevel) << "a weight belongs to its style";
  EXPECT_LE(max_difference(a73, a73x10), kOneLevel) << "weights are normalized";
  EXPECT_GT(max_difference(a73, a37), 4 * kOneLevel) << "the weights must matter";
}

// Guards against --preserve-colors luminance not keeping the content's chroma.
TEST_F(CliEffects, PreserveColorsLuminanceKeepsTheContentsChroma) {
  const std::string extra = "--iterations 6 --lr 0.1 --style-weight 1";
  const torch::Tensor kept = rgb_to_ycbcr(run_into("kept.png", extra + " --preserve-colors luminance"));
  const torch::Tensor free_rgb = run_into("free.png", extra);
  const torch::Tensor free = rgb_to_ycbcr(free_rgb);
  const torch::Tensor in = rgb_to_ycbcr(load_image(content, "content", 48));
  const auto chroma_change = [&](const torch::Tensor& out) {
    return (out.narrow(1, 1, 2) - in.narrow(1, 1, 2)).abs().mean().item<float>();
  };
  const auto luma_change = [&](const torch::Tensor& out) {
    return (out.narrow(1, 0, 1) - in.narrow(1, 0, 1)).abs().mean().item<float>();
  };
  EXPECT_LT(chroma_change(kept), 0.5f * chroma_change(free));
  EXPECT_GT(luma_change(kept), 2 * chroma_change(kept)) << "the luminance must have been stylized";
  const torch::Tensor histogram = run_into("histogram.png", extra + " --preserve-colors histogram");
  EXPECT_GT(max_difference(histogram, free_rgb), 4 * kOneLevel) << "histogram mode must change the run";
}

// Guards against --pooling, --tv-norm, --style-size and --precision being parsed but not used.
TEST_F(CliEffects, NetworkAndLossFlagsChangeTheResult) {
  const torch::Tensor plain = run_into("plain.png", "");
  EXPECT_GT(max_difference(run_into("avg.png", "--pooling avg"), plain), 2 * kOneLevel) << "--pooling avg";
  EXPECT_GT(max_difference(run_into("l2.png", "--tv-norm l2 --tv-weight 3000"), run_into("l1.png", "--tv-weight 3000")),
            2 * kOneLevel)
      << "--tv-norm l2";
  EXPECT_GT(max_difference(run_into("ss.png", "--style-size 64"), plain), 2 * kOneLevel) << "--style-size";
  // --style-size wins over --style-scale (README).
  EXPECT_LE(max_difference(run_into("ss2.png", "--style-size 64 --style-scale 0.5"), image("ss.png")), kOneLevel);
}

// Every numeric flag and every preset reaches the options the report records.
TEST_F(CliEffects, NumericFlagsAndPresetsReachTheReportsOptions) {
  const RunResult r =
      run_stylize(quick("-q --iterations 2 --content-weight 11 --style-weight 0.5 --tv-weight 7 --lr 0.03 --beta1 0.8 "
                        "--beta2 0.95 --eps 0.2 --scales 2 --min-size 20 --seed 9 --style-size 40 --style-scale 0.9 "
                        "--tolerance 0.5 --average 0.7 "
                        "--report " +
                        dir.file("r.json")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json o = nlohmann::json::parse(test::read_file(dir.file("r.json")))["options"];
  const std::vector<std::pair<std::string, double>> expected = {
      {"iterations", 2},    {"content_weight", 11}, {"style_weight", 0.5}, {"tv_weight", 7},
      {"lr", 0.03},         {"beta1", 0.8},         {"beta2", 0.95},       {"eps", 0.2},
      {"scales", 2},        {"min_size", 20},       {"seed", 9},           {"style_size", 40},
      {"style_scale", 0.9}, {"size", 48},           {"tolerance", 0.5},    {"average", 0.7}};
  for (const auto& [key, value] : expected) EXPECT_DOUBLE_EQ(o[key].get<double>(), value) << key;

  const auto preset = [&](const std::string& name) {
    const RunResult p =
        run_stylize(quick("-q --iterations 1 --preset " + name + " --report " + dir.file(name + ".json")));
    EXPECT_EQ(p.exit_code, 0) << p.output;
    return nlohmann::json::parse(test::read_file(dir.file(name + ".json")))["options"];
  };
  const nlohmann::json tutorial = preset("tutorial");  // the defaults (README)
  EXPECT_EQ(tutorial["optimizer"], "adam");
  EXPECT_EQ(tutorial["content_layers"][0]["layer"], "relu5_2");
  EXPECT_EQ(tutorial["style_layers"].size(), 5u);
  EXPECT_DOUBLE_EQ(tutorial["lr"].get<double>(), 0.02);
  EXPECT_DOUBLE_EQ(tutorial["tv_weight"].get<double>(), 30);
  EXPECT_EQ(tutorial["pooling"], "max");
  EXPECT_EQ(tutorial["scales"], 1);
  const nlohmann::json fast = preset("fast");  // 2 scales; explicit -n overrides its 160
  EXPECT_EQ(fast["scales"], 2);
  EXPECT_EQ(fast["iterations"], 1);
  EXPECT_EQ(fast["nesterov"], true);
  EXPECT_EQ(tutorial["nesterov"], false);
  const nlohmann::json gatys = preset("gatys");
  EXPECT_DOUBLE_EQ(gatys["tv_weight"].get<double>(), 0);
  EXPECT_EQ(gatys["style_layers"].size(), 5u);
}

// --resume continues from the saved image, not from the content: guards against dropping the resume init.
TEST_F(CliEffects, ResumeContinuesFromTheSavedImage) {
  ASSERT_EQ(run_stylize(quick("-q --save-every 2 --iterations 4 --lr 0.1")).exit_code, 0);
  const std::string saved = dir.file("out_0002.png");
  ASSERT_TRUE(fs::exists(saved + ".json")) << "every --save-every image has its checkpoint record";
  const torch::Tensor checkpoint = image("out_0002.png");
  ASSERT_GT(max_difference(checkpoint, load_image(content, "content", 48)), 4 * kOneLevel);
  // A tiny learning rate: the result stays at its start image.
  const RunResult r = run_stylize("--resume " + saved + " --content " + content + " --style " + style + " --weights " +
                                  test::fixture("vgg19_tiny.safetensors") +
                                  " --size 48 --threads 1 --device cpu --print-every 1 --iterations 3 --lr 1e-6 -o " +
                                  dir.file("resumed.png"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // The first line reports the losses of the image it starts from: the content term is not zero.
  const size_t line = r.output.find("iter 3/3");
  ASSERT_NE(line, std::string::npos) << r.output;
  const size_t at = r.output.find("content ", line);
  ASSERT_NE(at, std::string::npos) << r.output;
  EXPECT_GT(std::stod(r.output.substr(at + 8)), 0.0) << r.output;
  EXPECT_LE(max_difference(image("resumed.png"), checkpoint), kOneLevel);
}

// --save-every (and an interrupted run) save Adam's moments and the last
// iterate beside the image (out_0008.png.adam; only the newest --save-every
// image keeps them): a run resumed from it ends at the uninterrupted run's
// image (to float rounding, under one 8-bit level, though the image it
// resumes from was rounded to 8 bits), far nearer than one whose moments
// start again.
TEST_F(CliEffects, ResumeGoesOnWithAdamsMoments) {
  const std::string flags = resume_flags();
  const std::string saved = run_with_snapshots(flags);
  EXPECT_FALSE(fs::exists(dir.file("out_0004.png.adam"))) << "only the newest image keeps its moments";
  EXPECT_FALSE(fs::exists(output + ".adam")) << "a finished image needs none";

  const RunResult with = run_stylize("--resume " + saved + " -o " + dir.file("with.png") + flags);
  ASSERT_EQ(with.exit_code, 0) << with.output;
  EXPECT_EQ(with.output.find("start again"), std::string::npos) << with.output;
  test::write_file(saved + ".adam", "not moments");
  const RunResult garbled = run_stylize("--resume " + saved + " -o " + dir.file("garbled.png") + flags);
  ASSERT_EQ(garbled.exit_code, 0) << garbled.output;
  EXPECT_NE(garbled.output.find(saved + ".adam is not a file of Adam's moments stylize can read"), std::string::npos)
      << garbled.output;
  fs::remove(saved + ".adam");
  const RunResult without = run_stylize("--resume " + saved + " -o " + dir.file("without.png") + flags);
  ASSERT_EQ(without.exit_code, 0) << without.output;
  EXPECT_NE(without.output.find("no Adam moments were saved with " + saved), std::string::npos) << without.output;

  const torch::Tensor whole = image("out.png");
  const double near = (image("with.png") - whole).abs().mean().item<double>();
  const double restarted = (image("without.png") - whole).abs().mean().item<double>();
  EXPECT_LT(near, restarted / 4) << "with moments " << near << ", restarted " << restarted;
  EXPECT_LE(max_difference(image("with.png"), whole), kOneLevel);
}

// With --tolerance the moments file holds the scale's recent losses too: the
// resumed run stops on the plateau where the uninterrupted one did (it looked
// afresh, and ran 30 iterations more).
TEST_F(CliEffects, AResumedRunStopsOnThePlateauWhereTheUninterruptedOneDid) {
  const std::string flags = quick("--iterations 200 --tolerance 0.99 --print-every 0");
  const RunResult whole = run_stylize(flags + " --save-every 20");
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  ASSERT_NE(whole.output.find("the loss levelled off (--tolerance 0.99) after 50 of 200 iterations"), std::string::npos)
      << whole.output;
  const std::string saved = dir.file("out_0040.png");
  ASSERT_TRUE(fs::exists(saved + ".adam")) << whole.output;
  const RunResult resumed = run_stylize(flags + " --resume " + saved + " -o " + dir.file("resumed.png"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("the loss levelled off (--tolerance 0.99) after 50 of 200 iterations"),
            std::string::npos)
      << resumed.output;
  EXPECT_LE(max_difference(image("resumed.png"), image("out.png")), kOneLevel);
}

// With --average (as --preset fast) the image saved is the average of the
// iterates: the moments file also holds the last iterate and the average's
// sum, and a resumed run goes on from them, so that it ends where the
// uninterrupted run does (to float rounding, under one 8-bit level), though
// the image it resumes from was rounded to 8 bits.
TEST_F(CliEffects, ResumeWithAnAverageEndsAtTheUninterruptedRunsImage) {
  const std::string flags = resume_flags("--average 0.9");
  const std::string saved = run_with_snapshots(flags);
  const RunResult with = run_stylize("--resume " + saved + " -o " + dir.file("with.png") + flags);
  ASSERT_EQ(with.exit_code, 0) << with.output;
  EXPECT_EQ(with.output.find("start again"), std::string::npos) << with.output;
  EXPECT_LE(max_difference(image("with.png"), image("out.png")), kOneLevel);
}

// README: a failed run writes nothing: no image, no report, no sheet, no checkpoint record.
TEST_F(CliEffects, AFailedRunWritesNoReportSheetOrRecord) {
  const RunResult r =
      run_stylize(quick("--style-layers relu1_1 --report " + dir.file("r.json") + " --sheet " + dir.file("s.png") +
                        " --plot " + dir.file("p.png") + " --content " + dir.file("missing.png")));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  for (const std::string name : {"r.json", "s.png", "p.png", "out.png", "out.png.json"}) {
    EXPECT_FALSE(fs::exists(dir.file(name))) << name;
  }
}

// README's exit codes: 5 for fp16 on the CPU, 6 for an output that is also the style.
TEST_F(CliEffects, Fp16OnTheCpuAndOutputOverTheStyleAreRefused) {
  expect_failure(run_stylize(quick("--precision fp16")), 5, "fp16");
  const RunResult r = run_stylize(quick("-o " + style));
  EXPECT_EQ(r.exit_code, 6) << r.output;
  EXPECT_NE(r.output.find("also an input"), std::string::npos) << r.output;
}

// README: "a second Ctrl-C quits at once": without saving, killed by the
// signal. Guards against a handler that ignores the second signal.
// The first Ctrl-C must land inside an iteration, not in the progress callback
// that printed "iter 2" (it returns the stop flag, and the run would save at
// once): the test waits 50 ms after the line, then sends the second signal as
// soon as the kernel has delivered the first (two pending SIGINTs would merge
// into one), within the rest of that iteration (about 0.3 s or more here).
TEST_F(CliEffects, ASecondCtrlCQuitsAtOnce) {
  const test::Child child = test::spawn({"--content",
                                         content,
                                         "--style",
                                         style,
                                         "-o",
                                         output,
                                         "--weights",
                                         test::fixture("vgg19_tiny.safetensors"),
                                         "--size",
                                         "1536",
                                         "--iterations",
                                         "100000",
                                         "--print-every",
                                         "1",
                                         "--threads",
                                         "1",
                                         "--device",
                                         "cpu",
                                         "--precision",
                                         "fp32"});
  ASSERT_GT(child.pid, 0);
  const std::string before = test::read_until(child, "iter 2/");
  ASSERT_NE(before.find("iter 2/"), std::string::npos) << before;
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ::kill(child.pid, SIGINT);
  ASSERT_TRUE(test::wait_signal_delivered(child.pid, SIGINT)) << "the first SIGINT stayed pending";
  ::kill(child.pid, SIGINT);
  const std::string after = test::read_until(child, "\x04never", before);
  int status = 0;
  ASSERT_EQ(::waitpid(child.pid, &status, 0), child.pid);
  ::close(child.fd);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT) << "status " << status << "\n" << after;
  EXPECT_EQ(after.find("saved the current image"), std::string::npos) << after;
  EXPECT_FALSE(fs::exists(output));
}

}  // namespace
}  // namespace stylize
