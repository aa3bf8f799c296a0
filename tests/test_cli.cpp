// End-to-end tests of the stylize executable: what needs a process (exit
// codes, messages, files written or not, signals). Flag parsing and checks
// are tested in-process in tests/test_cli_args.cpp. Over 400 lines: one case
// per row of README's bad-input table and per documented behaviour of a run
// (outputs, batches, reports, signals, resume), which share one fixture.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>

#include <nlohmann/json.hpp>

#include "cli_test_util.hpp"
#include "stylize/io/image_io.hpp"
#include "stylize/weights/safetensors.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

namespace fs = std::filesystem;
using test::Cli;
using test::run_stylize;
using test::RunResult;
using test::TempDir;

TEST_F(Cli, StylizesTinyImages) {
  const RunResult r = run_stylize(quick("--print-every 2"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(fs::exists(output));
  EXPECT_EQ(load_image(output, "output").sizes(), (std::vector<int64_t>{1, 3, 48, 40}));
  // Progress lines in the documented, parseable shape.
  EXPECT_NE(r.output.find("iter 2/4  total "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("iter 4/4  total "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(" s/it\n"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("iter 1/4"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(": 4 iterations -> " + output + "\n"), std::string::npos) << r.output;
  // Coarse to fine, the run says how many iterations it makes in all.
  const RunResult scales = run_stylize(quick("--scales 2 --initial-iterations 3"));
  ASSERT_EQ(scales.exit_code, 0) << scales.output;
  EXPECT_NE(scales.output.find(": 7 iterations over 2 scales (3 + 4 at 24, 48 px) -> " + output + "\n"),
            std::string::npos)
      << scales.output;
  EXPECT_EQ(scales.output.find("is raised to"), std::string::npos) << scales.output;
  // A first scale too small for the layers is raised, and three scales that
  // fall together into two say so.
  const RunResult raised = run_stylize(quick("--scales 3 --min-size 4 --initial-iterations 3"));
  ASSERT_EQ(raised.exit_code, 0) << raised.output;
  EXPECT_NE(raised.output.find("--min-size 4 is raised to 20 px: the smallest size at which the content and every "
                               "style still reach the deepest layer"),
            std::string::npos)
      << raised.output;
  // ... also the automatic first size (it was raised without a word).
  const RunResult automatic = run_stylize(quick("--scales 3 --initial-iterations 1 -n 1"));
  ASSERT_EQ(automatic.exit_code, 0) << automatic.output;
  EXPECT_NE(automatic.output.find("the first scale is 20 px, not 12 (--size / 2^2): the smallest size at which the "
                                  "content and every style still reach the deepest layer"),
            std::string::npos)
      << automatic.output;
  const RunResult merged = run_stylize(quick("--scales 8 --min-size 44 --initial-iterations 1 -n 1"));
  ASSERT_EQ(merged.exit_code, 0) << merged.output;
  EXPECT_NE(merged.output.find("--scales 8 gives 5 different sizes from 44 to 48 px"), std::string::npos)
      << merged.output;
}

// --scales whose sizes fall together into one: a run at one scale, of
// --iterations, said, recorded and resumed as such (it was counted as the
// first of two, of --initial-iterations: "iteration 4 of 3 (scale 1 of 2)"
// refused its own checkpoint, and a NaN was "at iteration 1/3 of scale 1/2").
TEST_F(Cli, ScalesWhoseSizesFallTogetherRunAndResumeAsOne) {
  const std::string merged = "--scales 2 --min-size 48 --initial-iterations 3 -n 6 ";
  const RunResult saved = run_stylize(quick(merged + "--save-every 2"));
  ASSERT_EQ(saved.exit_code, 0) << saved.output;
  EXPECT_NE(saved.output.find(": 6 iterations -> " + output + "\n"), std::string::npos) << saved.output;
  EXPECT_NE(saved.output.find("--scales 2 gives one size, 48 px"), std::string::npos) << saved.output;
  const std::string snapshot = dir.file("out_0004.png");
  ASSERT_TRUE(fs::exists(snapshot)) << saved.output;
  const nlohmann::json record = nlohmann::json::parse(test::read_file(snapshot + ".json"));
  EXPECT_EQ(record["scale"], 1);
  EXPECT_EQ(record["scales"], 1);
  EXPECT_EQ(record["settings"]["scales"], 2) << "the setting is --scales as given";
  const RunResult resumed = run_stylize(quick(merged + "--print-every 1 --resume " + snapshot));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("iter 6/6"), std::string::npos) << resumed.output;
  EXPECT_EQ(resumed.output.find("iter 4/6"), std::string::npos) << resumed.output;
  EXPECT_EQ(resumed.output.find("other settings"), std::string::npos) << resumed.output;
  // Another --scales is still another run.
  const RunResult other = run_stylize(quick("--scales 3 --min-size 48 -n 6 --resume " + snapshot));
  EXPECT_EQ(other.exit_code, 2) << other.output;
  EXPECT_NE(other.output.find("a run with --scales 2, and this run has 3"), std::string::npos) << other.output;
  fs::remove(output + ".json");
  const RunResult failed = run_stylize(quick(merged + "--content-weight 3e38"));
  EXPECT_EQ(failed.exit_code, 7) << failed.output;
  EXPECT_NE(failed.output.find("NaN or infinite at iteration 1/6;"), std::string::npos) << failed.output;
}

// An image too small for the layers at this --size names a size that is
// enough (from the side rounded to whole pixels it named 889 px for a
// 1000x17 image, which is 889x15 there; 941 is needed).
TEST_F(Cli, AContentTooSmallNamesASizeThatIsEnough) {
  const std::string strip = dir.file("strip.png");
  save_image(test::pattern_image(17, 1000, 0.3), strip);
  const std::string flags = "--content " + strip + " --style " + style + " -o " + output + " --weights " +
                            test::fixture("vgg19_tiny.safetensors") +
                            " --iterations 1 --threads 1 --device cpu --size ";
  const RunResult small = run_stylize(flags + "500");
  ASSERT_EQ(small.exit_code, 3) << small.output;
  std::smatch named;
  ASSERT_TRUE(std::regex_search(small.output, named, std::regex("a longest side of about (\\d+) for this shape")))
      << small.output;
  const RunResult enough = run_stylize(flags + named[1].str());
  EXPECT_EQ(enough.exit_code, 0) << enough.output;
}

// A style too small for the layers is named by its file before any job runs
// (a batch of a folder's styles named the fourth "style image 2 of 2", and
// lost the batch's other style).
TEST_F(Cli, AStyleTooSmallIsNamedBeforeAnyJobRuns) {
  const std::string styles = dir.file("styles");
  fs::create_directory(styles);
  for (const std::string name : {"a", "b", "c"})
    save_image(test::pattern_image(32, 32, 0.5), styles + "/" + name + ".png");
  save_image(test::pattern_image(10, 200, 0.5), styles + "/d.png");
  const RunResult r = run_stylize(
      quick("--iterations 1 --style " + styles + " --batch 2 --output-template " + dir.file("out/{style}.png")));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("style image '" + styles + "/d.png' is 48x2 pixels"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("iter "), std::string::npos) << "refused before any work\n" << r.output;
}

// The peak memory (MiB) an --estimate run prints, or -1.
double estimated_mib(const std::string& output) {
  const std::string key = "peak memory: ";
  const size_t at = output.find(key);
  return at == std::string::npos ? -1.0 : std::stod(output.substr(at + key.size()));
}

TEST_F(Cli, EstimatePrintsMemoryAndTimeAndWritesNothing) {
  const RunResult small = run_stylize(quick("--estimate --size 48 --precision fp32"));
  ASSERT_EQ(small.exit_code, 0) << small.output;
  EXPECT_NE(small.output.find("for 40x48 px in fp32 on cpu (sbatch --mem=1G"), std::string::npos) << small.output;
  EXPECT_NE(small.output.find(" s per iteration at this size, measured here with 1 thread(s): about "),
            std::string::npos)
      << small.output;
  EXPECT_FALSE(fs::exists(output)) << "--estimate writes nothing";
  // Coarse to fine: every scale is timed, and the total counts each scale's own iterations.
  const RunResult scales = run_stylize(quick("--estimate --precision fp32 --scales 2 --initial-iterations 3 -v"));
  ASSERT_EQ(scales.exit_code, 0) << scales.output;
  EXPECT_NE(scales.output.find("scale 1/2 (24 px): "), std::string::npos) << scales.output;
  EXPECT_NE(scales.output.find("scale 2/2 (48 px): "), std::string::npos) << scales.output;
  EXPECT_NE(scales.output.find(" s for 7 iterations over 2 scales (3 + 4 at 24, 48 px)\n"), std::string::npos)
      << scales.output;
  EXPECT_FALSE(fs::exists(output)) << "--estimate writes nothing";
  const RunResult large = run_stylize(quick("--estimate --size 96 --precision fp32"));
  ASSERT_EQ(large.exit_code, 0) << large.output;
  EXPECT_GT(estimated_mib(large.output), estimated_mib(small.output)) << small.output << large.output;
  EXPECT_GT(estimated_mib(small.output), 0) << small.output;
  // A style image far larger than the content: its targets' pass sets the peak, and is said to.
  const std::string sets_peak = "the peak is in computing the largest style image's targets";
  EXPECT_EQ(small.output.find(sets_peak), std::string::npos) << small.output;
  const RunResult large_style = run_stylize(quick("--estimate --size 48 --precision fp32 --style-size 2048"));
  ASSERT_EQ(large_style.exit_code, 0) << large_style.output;
  EXPECT_GT(estimated_mib(large_style.output), estimated_mib(small.output) + 50) << large_style.output;
  EXPECT_NE(large_style.output.find(sets_peak), std::string::npos) << large_style.output;
  // A run that starts from an image is timed from it (a start image of
  // another size is stretched, as in the run).
  const RunResult init = run_stylize(quick("--estimate --init " + style));
  ASSERT_EQ(init.exit_code, 0) << init.output;
  EXPECT_NE(init.output.find("it is stretched to the content's size"), std::string::npos) << init.output;
  EXPECT_NE(init.output.find(" s per iteration at this size"), std::string::npos) << init.output;
  // Beyond the memory there is (a login node sizing a cluster job): the
  // estimate, and no time, without failing (it exited 8 after the estimate).
  const RunResult too_big = run_stylize(quick("--estimate"), "env STYLIZE_MEMORY_LIMIT_MB=50");
  EXPECT_EQ(too_big.exit_code, 0) << too_big.output;
  EXPECT_NE(too_big.output.find("peak memory: "), std::string::npos) << too_big.output;
  EXPECT_NE(too_big.output.find("warning: the time is not measured: "), std::string::npos) << too_big.output;
  EXPECT_EQ(too_big.output.find("time: "), std::string::npos) << too_big.output;
}

// A progress line at every --print-every and at the last iteration, also
// when --tolerance ends the run early (it printed none for iteration 50).
TEST_F(Cli, ProgressEndsWithTheLastIterationOfAnEarlyStop) {
  const RunResult r = run_stylize(quick("--iterations 200 --print-every 7 --tolerance 0.99"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("iter 49/200"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("iter 50/200"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("iter 51/200"), std::string::npos) << r.output;
  const RunResult one = run_stylize(quick("--iterations 1"));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  EXPECT_NE(one.output.find(": 1 iteration -> " + output), std::string::npos) << one.output;
}

// --preset gatys sets its content weight from the content's size (in tutorial
// units), and says so; normalized units keep 4e3 (CliArgs tests the formula).
TEST_F(Cli, GatysPresetBalancesForTheContentsSize) {
  const RunResult tutorial = run_stylize(quick("--preset gatys --loss-units tutorial -n 2"));
  ASSERT_EQ(tutorial.exit_code, 0) << tutorial.output;
  EXPECT_NE(tutorial.output.find("--preset gatys: content weight "), std::string::npos) << tutorial.output;
  EXPECT_NE(tutorial.output.find("(the paper's alpha/beta = 1e-3 at 40x48 px)"), std::string::npos) << tutorial.output;
  const RunResult normalized = run_stylize(quick("--preset gatys --loss-units normalized -n 2"));
  ASSERT_EQ(normalized.exit_code, 0) << normalized.output;
  EXPECT_EQ(normalized.output.find("--preset gatys: content weight"), std::string::npos) << normalized.output;
}

TEST_F(Cli, ResizesToSizeAndKeepsAspect) {
  const RunResult r = run_stylize(quick("--size 36 -q"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(load_image(output, "output").sizes(), (std::vector<int64_t>{1, 3, 36, 30}));
  EXPECT_EQ(r.output, "") << "--quiet prints nothing on success";
}

TEST_F(Cli, RealImagesWhenPresent) {
  const std::string tiny = std::string(STYLIZE_SHARED_IMAGES_DIR) + "/tiny/";
  if (!fs::exists(tiny + "content_48x64.png")) GTEST_SKIP() << "shared images not present";
  const RunResult r =
      run_stylize("--content " + tiny + "content_48x64.png --style " + tiny + "style_32x32.png -o " + output +
                  " --weights " + test::fixture("vgg19_tiny.safetensors") + " --size 64 --iterations 3 -q");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(load_image(output, "output").sizes(), (std::vector<int64_t>{1, 3, 64, 48}));
}

TEST_F(Cli, MissingImagesSayWhatToGive) {
  expect_failure(run_stylize(""), 2, "usage: stylize --content PHOTO --style PAINTING");
  expect_failure(run_stylize("--content " + content), 2, "no style image: give a painting with --style FILE");
  expect_failure(run_stylize("--style " + style), 2, "no content image: give the photo to stylize with --content FILE");
}

TEST_F(Cli, MissingContentFile) {
  expect_failure(run_stylize(quick("--content " + dir.file("nope.jpg"))), 3,
                 "cannot read content image '" + dir.file("nope.jpg") + "': file not found");
}

// What is wrong with the inputs or the settings is said before the weights
// are looked for (and perhaps downloaded): here they are missing, and each
// run must fail on its own mistake instead.
TEST_F(Cli, InputsAndSettingsAreCheckedBeforeTheWeights) {
  const std::string no_weights = " --weights " + dir.file("absent.safetensors");
  test::write_file(dir.file("garbage.jpg"), "definitely not a jpeg");
  test::write_file(dir.file("empty.png"), "");
  const std::string nope = dir.file("nope.png");
  expect_failure(run_stylize(quick("--content " + nope + no_weights)), 3,
                 "cannot read content image '" + nope + "': file not found");
  expect_failure(
      run_stylize(quick("--style " + style + " --style " + dir.file("garbage.jpg") + no_weights)), 3,
      "cannot read style image '" + dir.file("garbage.jpg") + "': not an image in a format OpenCV can decode");
  expect_failure(run_stylize(quick("--init " + dir.file("empty.png") + no_weights)), 3,
                 "cannot read init image '" + dir.file("empty.png") + "': the file is empty");
  expect_failure(run_stylize(quick("--content-mask " + nope + no_weights)), 3,
                 "cannot read content mask 1 '" + nope + "': file not found");
  expect_failure(run_stylize(quick("--content-mask " + content + " --style-mask " + dir.path().string() + no_weights)),
                 3, "cannot read style mask 1 '" + dir.path().string() + "': it is a directory");
  expect_failure(run_stylize(quick("--content-mask " + content + " --default-style " + nope + no_weights)), 3,
                 "cannot read default style '" + nope + "'");
  expect_failure(run_stylize(quick("--iterations 0" + no_weights)), 2, "--iterations must be at least 1, got 0");
  expect_failure(run_stylize(quick("--beta1 1" + no_weights)), 2, "--beta1 must be at least 0 and below 1");
  // With good inputs the missing weights are what is said.
  expect_failure(run_stylize(quick(no_weights)), 4, "absent.safetensors");
}

TEST_F(Cli, UnreadableStyleImage) {
  test::write_file(dir.file("garbage.jpg"), "definitely not a jpeg");
  expect_failure(run_stylize(quick("--style " + dir.file("garbage.jpg"))), 3, "style image");
}

TEST_F(Cli, WrongWeightsFile) {
  test::write_file(dir.file("bad.safetensors"), "not weights");
  expect_failure(run_stylize(quick("--weights " + dir.file("bad.safetensors"))), 4, "bad.safetensors");
  expect_failure(run_stylize(quick("--weights " + dir.file("absent.safetensors"))), 4, "file not found");
}

TEST_F(Cli, NoWeightsAnywhereSaysHowToGetThem) {
  const std::string flags = "--content " + content + " --style " + style + " -o " + output + " --iterations 1";
  // Offline, with an empty cache and every installed weights file hidden: nothing may be downloaded in a test.
  const RunResult r = test::run_command(test::isolated_environment(dir.path().string(), dir.file("cache")) +
                                        " STYLIZE_OFFLINE=1 " + STYLIZE_ISOLATED_BINARY + " " + flags);
  expect_failure(r, 4, "download_models.sh");
  EXPECT_NE(r.output.find("offline mode"), std::string::npos) << r.output;
  // The command that gets them, which an installed copy has too (the script is in the source folder only).
  EXPECT_NE(r.output.find("To get them: run `stylize weights download` where there is a network"), std::string::npos)
      << r.output;
}

TEST_F(Cli, BadFlagsExitWithTheUsageCodeAndWriteNothing) {
  // One of each path to exit code 2: the engine's check, the front end's, a
  // layer list, a word, an unknown flag.
  expect_failure(run_stylize(quick("--style-weight -1")), 2, "--style-weight must be a finite number >= 0, got -1");
  expect_failure(run_stylize(quick("--size 0")), 2, "--size must be at least 16 pixels, got 0");
  expect_failure(run_stylize(quick("--style-layers relu1_1,relu9_9")), 2, "relu9_9");
  expect_failure(run_stylize(quick("--device gpu")), 2, "--device");
  expect_failure(run_stylize(quick("--bogus-flag")), 2, "bogus");
  EXPECT_EQ(run_stylize("--version").exit_code, 0);
}

TEST_F(Cli, BadOutputPaths) {
  expect_failure(run_stylize(quick("-o " + dir.file("missing/out.png"))), 6,
                 "directory '" + dir.file("missing") + "' does not exist; create it first");
  // A file on the way: said so (it said the directory does not exist).
  test::write_file(dir.file("afile"), "x");
  expect_failure(run_stylize(quick("-o " + dir.file("afile/sub/out.png"))), 6,
                 "'" + dir.file("afile") + "' is a file, not a directory; give a path in a directory");
  expect_failure(run_stylize(quick("--report " + dir.file("afile/r.json"))), 6, "is a file, not a directory");
  expect_failure(run_stylize(quick("-o " + dir.file("out.gif"))), 6, "extension");
  // A directory: a file in it is what to give (it said the name has no image extension).
  fs::create_directory(dir.file("folder"));
  expect_failure(run_stylize(quick("-o " + dir.file("folder"))), 6,
                 "cannot write output '" + dir.file("folder") +
                     "': it is a directory; give a file name inside it, such as " + dir.file("folder/out.png"));
  EXPECT_TRUE(fs::is_empty(dir.file("folder")));
  const RunResult r = run_stylize(quick("-o " + content));
  EXPECT_EQ(r.exit_code, 6) << r.output;
  EXPECT_NE(r.output.find("also an input"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace stylize

// ---------------------------------------------------------------------------
// Artist's controls and batch work.

namespace stylize {
namespace {

using test::TempDir;

class CliFeatures : public Cli {};

TEST_F(CliFeatures, EachStyleEqualsSeparateRunsAndNamesByTemplate) {
  const std::string style2 = dir.file("style2.png");
  save_image(test::pattern_image(32, 32, 2.9), style2);
  const std::string base = "--content " + content + " --weights " + test::fixture("vgg19_tiny.safetensors") +
                           " --size 48 --iterations 3 --threads 1 -q ";
  // --batch 1: one style after the other, so bit-identical to separate runs.
  const RunResult each = run_stylize(base + "--style " + style + " --style " + style2 + " --each-style --batch 1" +
                                     " --output-template " + dir.file("{content}-{style}-{n}.png"));
  ASSERT_EQ(each.exit_code, 0) << each.output;
  const std::string first = dir.file("content-style-1.png"), second = dir.file("content-style2-2.png");
  ASSERT_TRUE(fs::exists(first));
  ASSERT_TRUE(fs::exists(second));
  ASSERT_EQ(run_stylize(base + "--style " + style2 + " -o " + dir.file("alone.png")).exit_code, 0);
  EXPECT_EQ(test::read_file(second), test::read_file(dir.file("alone.png")))
      << "each-style runs must equal single runs";
}

TEST_F(CliFeatures, BatchedStylesEqualSeparateRuns) {
  const std::string style2 = dir.file("style2.png"), style3 = dir.file("style3.png");
  save_image(test::pattern_image(32, 32, 2.9), style2);
  save_image(test::pattern_image(40, 32, 1.3), style3);
  const std::string base = "--content " + content + " --weights " + test::fixture("vgg19_tiny.safetensors") +
                           " --size 48 --iterations 3 --threads 1 --print-every 3 ";
  const RunResult batch = run_stylize(base + "--style " + style + " --style " + style2 + " --style " + style3 +
                                      " --each-style --batch 3 --output-template " + dir.file("b_{style}.png"));
  ASSERT_EQ(batch.exit_code, 0) << batch.output;
  EXPECT_NE(batch.output.find("these 3 styles as one batch"), std::string::npos) << batch.output;
  // One progress line per member, ending with its output's name.
  EXPECT_NE(batch.output.find(" s/it  b_style3.png"), std::string::npos) << batch.output;
  for (const std::string& s : {style, style2, style3}) {
    ASSERT_EQ(run_stylize(base + "-q --style " + s + " -o " + dir.file("alone.png")).exit_code, 0);
    const torch::Tensor batched = load_image(dir.file("b_" + fs::path(s).stem().string() + ".png"), "batched");
    const torch::Tensor alone = load_image(dir.file("alone.png"), "alone");
    // Batched convolutions round differently; at most one 8-bit level apart.
    EXPECT_LE((batched - alone).abs().max().item<float>(), 1.01f / 255) << s;
  }
}

// --tolerance ends each run on its own loss's plateau: with --each-style each
// style runs alone (in a batch all would end on their summed loss's), so each
// output is its run alone, plateau included.
TEST_F(CliFeatures, WithToleranceEachStyleEndsOnItsOwnPlateau) {
  const std::string flat = dir.file("flat.png");  // a flat style levels off long before the patterned one
  save_image(torch::full({1, 3, 32, 32}, 0.6f), flat);
  const std::string base = "--content " + content + " --weights " + test::fixture("vgg19_tiny.safetensors") +
                           " --size 48 --iterations 300 --tolerance 0.003 --threads 1 --print-every 300 ";
  const RunResult each = run_stylize(base + "--style " + style + " --style " + flat +
                                     " --each-style --batch 2 --output-template " + dir.file("b_{style}.png"));
  ASSERT_EQ(each.exit_code, 0) << each.output;
  EXPECT_NE(each.output.find("--batch 2: with --tolerance each style runs alone"), std::string::npos) << each.output;
  EXPECT_EQ(each.output.find("as one batch"), std::string::npos) << each.output;
  std::vector<std::string> ends;
  for (const std::string& s : {style, flat}) {
    const RunResult alone = run_stylize(base + "--style " + s + " -o " + dir.file("alone.png"));
    ASSERT_EQ(alone.exit_code, 0) << alone.output;
    // "after 150 of 300 iterations; wrote X", or (no plateau) "wrote X (".
    std::smatch end;
    const bool levelled = std::regex_search(alone.output, end, std::regex("after \\d+ of 300 iterations; wrote "));
    ends.push_back(levelled ? end[0].str() : "wrote ");
    const std::string output = dir.file("b_" + fs::path(s).stem().string() + ".png");
    EXPECT_NE(each.output.find(ends.back() + output + (levelled ? "" : " (")), std::string::npos) << ends.back() << "\n"
                                                                                                  << each.output;
    EXPECT_EQ(test::read_file(output), test::read_file(dir.file("alone.png"))) << s;
  }
  EXPECT_NE(ends[0], ends[1]) << "the styles must level off at different iterations for the test to tell";
}

TEST_F(CliFeatures, ResumeWithSeveralStylesContinuesEachOutputFromItsOwnRecord) {
  const std::string style2 = dir.file("style2.png"), style3 = dir.file("style3.png");
  save_image(test::pattern_image(32, 32, 2.9), style2);
  save_image(test::pattern_image(40, 32, 1.3), style3);
  const std::string base = "--content " + content + " --weights " + test::fixture("vgg19_tiny.safetensors") +
                           " --size 48 --iterations 4 --threads 1 --device cpu --batch 1 --each-style" +
                           " --output-template " + dir.file("o_{style}.png") + " ";
  ASSERT_EQ(run_stylize(base + "-q --style " + style + " --style " + style2).exit_code, 0);
  // o_style.png as if interrupted at iteration 2, o_style2.png finished, o_style3.png never started.
  const std::string first = dir.file("o_style.png"), second = dir.file("o_style2.png"),
                    third = dir.file("o_style3.png");
  test::write_file(first + ".json", "{\"iteration\": 2}");
  fs::copy_file(first, dir.file("alone.png"));
  fs::copy_file(first + ".json", dir.file("alone.png.json"));
  const std::string second_bytes = test::read_file(second);

  const RunResult r =
      run_stylize(base + "--style " + style + " --style " + style2 + " --style " + style3 + " --resume " + second);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("resuming " + first + " from iteration 2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(second + " is finished"), std::string::npos) << r.output;
  EXPECT_EQ(test::read_file(second), second_bytes) << "a finished output is kept";
  EXPECT_TRUE(fs::exists(third));
  EXPECT_FALSE(fs::exists(first + ".json")) << "the finished output's record is removed";
  // The first output continued from its own image, as a single-style resume of it does.
  ASSERT_EQ(run_stylize("--content " + content + " --style " + style + " --weights " +
                        test::fixture("vgg19_tiny.safetensors") +
                        " --size 48 --iterations 4 --threads 1 --device cpu -q --resume " + dir.file("alone.png"))
                .exit_code,
            0);
  EXPECT_EQ(test::read_file(first), test::read_file(dir.file("alone.png")));

  const RunResult other = run_stylize(base + "--style " + style + " --style " + style2 + " --resume " + content);
  EXPECT_EQ(other.exit_code, 2) << other.output;
  EXPECT_NE(other.output.find("is not one of this run's outputs"), std::string::npos) << other.output;
}

TEST_F(CliFeatures, StyleFolderGivesOneOutputPerStyle) {
  const std::string styles = dir.file("styles");
  fs::create_directory(styles);
  save_image(test::pattern_image(32, 32, 0.5), styles + "/a.png");
  save_image(test::pattern_image(32, 32, 1.5), styles + "/b.jpg");
  test::write_file(styles + "/notes.txt", "not an image");
  test::write_file(styles + "/._a.png", "a macOS companion file, hidden: not an image");
  const std::string run = "--content " + content + " --style " + styles + " --weights " +
                          test::fixture("vgg19_tiny.safetensors") + " --size 48 -n 2 -q --output-template ";
  const RunResult r = run_stylize(run + dir.file("out/{content}/{style}.png"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // The template's folders are created, as stylize batch does (README's example).
  EXPECT_TRUE(fs::exists(dir.file("out/content/a.png")));
  EXPECT_TRUE(fs::exists(dir.file("out/content/b.png")));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.file("out/content")), fs::directory_iterator()), 2);
  // The template is read as stylize batch reads it: a misspelt placeholder is
  // an error, not part of a file name.
  const RunResult typo = run_stylize(run + dir.file("out/{stlye}.png"));
  EXPECT_EQ(typo.exit_code, 2) << typo.output;
  EXPECT_NE(typo.output.find("unknown placeholder '{stlye}'"), std::string::npos) << typo.output;
  EXPECT_FALSE(fs::exists(dir.file("out/{stlye}.png")));
  // Outputs written among the styles would be styles of the next run over the
  // folder (the second run of the same command failed: an output was an input).
  for (const std::string& inside : {styles + "/out_{style}.png", styles + "/./{style}_{n}.png"}) {
    const RunResult among = run_stylize(run + inside);
    EXPECT_EQ(among.exit_code, 6) << among.output;
    EXPECT_NE(among.output.find("into the style folder '" + styles + "'"), std::string::npos) << among.output;
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(styles), fs::directory_iterator()), 4) << "nothing was written there";
}

TEST_F(CliFeatures, ReportHoldsEveryIteration) {
  const RunResult r = run_stylize(quick("--iterations 5 --report " + dir.file("run.json") + " --plot " +
                                        dir.file("losses.png") + " --sheet " + dir.file("sheet.png")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json report = nlohmann::json::parse(test::read_file(dir.file("run.json")));
  ASSERT_EQ(report["runs"].size(), 1u);
  const auto& iterations = report["runs"][0]["iterations"];
  ASSERT_EQ(iterations.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(iterations[i]["iteration"], i + 1);
    EXPECT_GT(iterations[i]["total"].get<double>(), 0.0);
    // Every term by name, adding up to the total.
    const double sum = iterations[i]["style"].get<double>() + iterations[i]["content"].get<double>() +
                       iterations[i]["tv"].get<double>();
    EXPECT_NEAR(sum, iterations[i]["total"].get<double>(), 1e-5 * sum);
  }
  // The losses of the image written: one evaluation after the last step, whose
  // input's losses the last iteration holds.
  const auto& losses = report["runs"][0]["losses"];
  ASSERT_TRUE(losses.is_object()) << report["runs"][0].dump();
  EXPECT_NEAR(losses["style"].get<double>() + losses["content"].get<double>() + losses["tv"].get<double>(),
              losses["total"].get<double>(), 1e-5 * losses["total"].get<double>());
  EXPECT_NE(losses["total"].get<double>(), iterations[4]["total"].get<double>());
  EXPECT_EQ(report["options"]["iterations"], 5);
  EXPECT_FALSE(report["precision"].get<std::string>().empty());
  EXPECT_GT(report["peak_memory_mib"].get<double>(), 0.0);
  EXPECT_EQ(report["weights"]["input_convention"], "torchvision");
  EXPECT_EQ(load_image(dir.file("losses.png"), "plot").size(2), 540) << "one panel";
  EXPECT_GT(load_image(dir.file("sheet.png"), "sheet").size(3), 40 * 3);
  // Several outputs: a panel each (it drew the last one's alone).
  const std::string style2 = dir.file("style2.png");
  save_image(test::pattern_image(32, 32, 0.6), style2);
  const RunResult each = run_stylize(quick("--iterations 3 --each-style --style " + style2 + " --output-template " +
                                           dir.file("e_{style}.png") + " --report " + dir.file("each.json") +
                                           " --plot " + dir.file("each.png")));
  ASSERT_EQ(each.exit_code, 0) << each.output;
  const nlohmann::json each_report = nlohmann::json::parse(test::read_file(dir.file("each.json")));
  EXPECT_EQ(each_report["runs"].size(), 2u);
  EXPECT_EQ(each_report["runs"][1]["output"], dir.file("e_style2.png"));
  // The options name the template, not -o's default (out.png), which this run never writes.
  EXPECT_EQ(each_report["options"]["output_template"], dir.file("e_{style}.png"));
  EXPECT_FALSE(each_report["options"].contains("output")) << each_report["options"];
  EXPECT_EQ(load_image(dir.file("each.png"), "plot").size(2), 2 * 540);
}

// An L-BFGS run that converges before -n prints its last iteration's line,
// as README says every run does, whatever --print-every.
TEST_F(CliFeatures, AnLbfgsRunThatConvergesEarlyPrintsItsLastLine) {
  const auto r =
      test::run_stylize(quick("--optimizer lbfgs --iterations 300 --print-every 50 --style-weight 0 --tv-weight 0"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("L-BFGS converged after 1 of 300 iterations"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("iter 1/300"), std::string::npos) << r.output;
}

TEST_F(CliFeatures, NoiseInitIsReproducibleWithASeed) {
  const auto run_seed = [&](int seed, const std::string& out) {
    return run_stylize(quick("--init noise --seed " + std::to_string(seed) + " -q -o " + dir.file(out))).exit_code;
  };
  ASSERT_EQ(run_seed(7, "a.png"), 0);
  ASSERT_EQ(run_seed(7, "b.png"), 0);
  ASSERT_EQ(run_seed(8, "c.png"), 0);
  EXPECT_EQ(test::read_file(dir.file("a.png")), test::read_file(dir.file("b.png")));
  EXPECT_NE(test::read_file(dir.file("a.png")), test::read_file(dir.file("c.png")));
}

// --save-every, --init style, blend weights, --preserve-colors and resuming are
// checked by their effect in tests/test_cli_effects.cpp.
TEST_F(CliFeatures, InitFromAMissingFile) {
  const RunResult missing = run_stylize(quick("--init " + dir.file("nope.png")));
  EXPECT_EQ(missing.exit_code, 3) << missing.output;
  EXPECT_NE(missing.output.find("init image"), std::string::npos) << missing.output;
  // A misspelt start is named as one, not as a missing image.
  const RunResult misspelt = run_stylize(quick("--init nois"));
  EXPECT_EQ(misspelt.exit_code, 2) << misspelt.output;
  EXPECT_NE(misspelt.output.find("--init 'nois' is neither a start the run knows (content, noise or style) nor an "
                                 "image file"),
            std::string::npos)
      << misspelt.output;
}

TEST_F(CliFeatures, APresetRunsAndShowsInTheReport) {
  const RunResult r = run_stylize(quick("--preset gatys --iterations 3 --report " + dir.file("g.json")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json report = nlohmann::json::parse(test::read_file(dir.file("g.json")));
  EXPECT_EQ(report["options"]["optimizer"], "lbfgs");
  EXPECT_EQ(report["options"]["init"], "noise");
  EXPECT_EQ(report["options"]["pooling"], "avg");
  EXPECT_EQ(report["options"]["content_layers"][0]["layer"], "relu4_2");
  EXPECT_EQ(report["options"]["iterations"], 3);
  EXPECT_EQ(report["options"]["preset"], "gatys");
}

TEST_F(CliFeatures, StyleScaleResizesTheStyle) {
  // 48 px output, style at a quarter: 12 px, too small for relu5_1.
  const RunResult r = run_stylize(quick("--style-scale 0.25"));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("style image"), std::string::npos) << r.output;
  EXPECT_EQ(run_stylize(quick("--style-scale 2 -q")).exit_code, 0);
}

TEST_F(CliFeatures, BlendWeightsNeedOnePerStyle) {
  EXPECT_EQ(run_stylize(quick("--style-weights 0.7,0.3")).exit_code, 2);  // one style, two weights
}

}  // namespace
}  // namespace stylize

// ---------------------------------------------------------------------------
// Robustness: the bad-input matrix of README, interruption, numeric failure.

namespace stylize {
namespace {

class CliRobustness : public Cli {};

TEST_F(CliRobustness, BadImages) {
  test::write_file(dir.file("empty.png"), "");
  expect_failure(run_stylize(quick("--content " + dir.file("empty.png"))), 3, "empty");
  const std::string png = test::read_file(content);
  test::write_file(dir.file("half.png"), png.substr(0, png.size() / 2));
  expect_failure(run_stylize(quick("--style " + dir.file("half.png"))), 3, "half.png");
  save_image(test::pattern_image(10, 20, 0.1), dir.file("thin.png"));  // 20 wide, 10 tall
  const RunResult thin = run_stylize(quick("--content " + dir.file("thin.png") + " --size 20"));
  expect_failure(thin, 3, "at least 16 pixels");
  EXPECT_EQ(thin.output.find("stylizing"), std::string::npos) << "refused before the run announces itself\n"
                                                              << thin.output;
  // A folder or a video: the command for it (it said only "not an image").
  fs::create_directory(dir.file("frames"));
  expect_failure(
      run_stylize(quick("--content " + dir.file("frames"))), 3,
      "is a folder: stylize repaints one image. For every image in it use stylize batch -c " + dir.file("frames"));
  test::write_file(dir.file("clip.MP4"), "not decoded");
  expect_failure(run_stylize(quick("--content " + dir.file("clip.MP4"))), 3,
                 "is a video (.mp4): stylize repaints one image; stylize video -c " + dir.file("clip.MP4"));
}

TEST_F(CliRobustness, UnwritableOutputDirectory) {
  std::string target;
  if (::geteuid() == 0) {
    target = "/proc/stylize-out.png";  // root may write anywhere but here
  } else {
    fs::create_directory(dir.file("locked"));
    fs::permissions(dir.file("locked"), fs::perms::owner_read | fs::perms::owner_exec);
    target = dir.file("locked/out.png");
  }
  const RunResult r = run_stylize(quick("-o " + target));
  EXPECT_EQ(r.exit_code, 6) << r.output;
  EXPECT_NE(r.output.find("not writable"), std::string::npos) << r.output;
}

TEST_F(CliRobustness, BadWeightsFiles) {
  const std::string good = test::read_file(test::fixture("vgg19_tiny.safetensors"));
  test::write_file(dir.file("truncated.safetensors"), good.substr(0, good.size() - 1000));
  expect_failure(run_stylize(quick("--weights " + dir.file("truncated.safetensors"))), 4, "truncated");
  // Swap two layers' shapes in the header: same bytes, wrong chain.
  std::string swapped = good;
  const auto at = swapped.find("[6,4,3,3]");
  ASSERT_NE(at, std::string::npos);
  swapped.replace(at, 9, "[4,6,3,3]");
  test::write_file(dir.file("shapes.safetensors"), swapped);
  expect_failure(run_stylize(quick("--weights " + dir.file("shapes.safetensors"))), 4, "shapes");
  // NaN in the last bias (the data section ends with the classifier's bias: corrupt the conv before it).
  const auto reader = SafetensorsReader::open(test::fixture("vgg19_tiny.safetensors"));
  uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = (header << 8) | static_cast<unsigned char>(good[i]);
  std::string nan_file = good;
  nan_file.replace(8 + header + reader.tensors().at("features.34.bias").begin, 4, std::string("\x00\x00\xc0\x7f", 4));
  test::write_file(dir.file("nan.safetensors"), nan_file);
  const RunResult r = run_stylize(quick("--weights " + dir.file("nan.safetensors") + " --style-layers relu1_1,pool5"));
  expect_failure(r, 4, "NaN");
}

TEST_F(CliRobustness, CudaWithoutCuda) {
  const RunResult r = run_stylize(quick("--device cuda"));
  if (r.exit_code == 0) GTEST_SKIP() << "this machine has CUDA";
  expect_failure(r, 5, "--device cuda");
}

TEST_F(CliRobustness, RefusesRunsThatDoNotFitInMemory) {
  const RunResult r = run_stylize(quick(), "env STYLIZE_MEMORY_LIMIT_MB=50");
  expect_failure(r, 8, "needs about");
  // Where the limit comes from, when it is the variable's.
  EXPECT_NE(r.output.find(" is available (STYLIZE_MEMORY_LIMIT_MB=50)"), std::string::npos) << r.output;
  // Its style image's targets alone do not fit: the style's size is what to change.
  const std::string limit = "env STYLIZE_MEMORY_LIMIT_MB=380";
  ASSERT_EQ(run_stylize(quick("--precision fp32 --estimate"), limit).output.find("warning"), std::string::npos);
  const RunResult style = run_stylize(quick("--precision fp32 --style-size 4096"), limit);
  expect_failure(style, 8,
                 "style image) but only 0.4 GiB is available (STYLIZE_MEMORY_LIMIT_MB=380); the largest style size "
                 "that fits is about --style-size ");
  // So does --tile auto (it cut the image into its smallest tiles, then
  // advised ever smaller --size, which leaves the style's memory as it is).
  const RunResult automatic = run_stylize(quick("--precision fp32 --style-size 4096 --tile auto"), limit);
  expect_failure(automatic, 8, "; the largest style size that fits is about --style-size ");
  EXPECT_EQ(automatic.output.find("--size"), std::string::npos) << automatic.output;
  EXPECT_EQ(automatic.output.find(" tiles of "), std::string::npos) << automatic.output;
  // Figures that round alike get more digits (it said "0.5 GiB ... but only 0.5 GiB").
  const RunResult close = run_stylize(quick("--precision fp32 --style-size 2048"), "env STYLIZE_MEMORY_LIMIT_MB=480");
  expect_failure(close, 8, "needs about 0.");
  EXPECT_EQ(close.output.find("0.5 GiB of memory"), std::string::npos) << close.output;
  EXPECT_NE(
      close.output.find(" GiB of memory (to compute the targets of its 2048x2048 style image) but only 0.469 GiB"),
      std::string::npos)
      << close.output;
}

TEST_F(CliRobustness, NumericFailureSavesTheLastGoodImage) {
  // 1e38 is a finite double but overflows the float32 loss.
  const RunResult r = run_stylize(quick("--style-weight 1e38"));
  EXPECT_EQ(r.exit_code, 7) << r.output;
  EXPECT_NE(r.output.find("NaN or infinite"), std::string::npos) << r.output;
  ASSERT_TRUE(fs::exists(output));
  EXPECT_EQ(load_image(output, "output").sizes(), (std::vector<int64_t>{1, 3, 48, 40}));
  // Not finished: its checkpoint record says so (a batch resumes it instead of skipping it).
  EXPECT_TRUE(fs::exists(output + ".json")) << r.output;
  // Stopped at a coarser scale: the image saved is that scale's, and said so;
  // the advice names the weight that overflowed too.
  fs::remove(output + ".json");
  const RunResult coarse = run_stylize(quick("--content-weight 3e38 --scales 2 --min-size 24"));
  EXPECT_EQ(coarse.exit_code, 7) << coarse.output;
  EXPECT_NE(coarse.output.find("saved the last good image to " + output + " at 20x24, the size of the scale it was on"),
            std::string::npos)
      << coarse.output;
  EXPECT_NE(coarse.output.find("lower weights (--style-weight, --content-weight, --tv-weight)"), std::string::npos)
      << coarse.output;
  // Where it stopped, and a record to say so, as for one scale.
  EXPECT_NE(coarse.output.find("NaN or infinite at iteration 1/4 of scale 1/2;"), std::string::npos) << coarse.output;
  EXPECT_TRUE(fs::exists(output + ".json")) << coarse.output;
  // A run in float32 is not told to run in float32.
  fs::remove(output + ".json");
  const RunResult fp32 = run_stylize(quick("--style-weight 1e38 --precision fp32"));
  EXPECT_EQ(fp32.exit_code, 7) << fp32.output;
  EXPECT_EQ(fp32.output.find("--precision fp32"), std::string::npos) << fp32.output;
  EXPECT_NE(r.output.find("or --precision fp32"), std::string::npos) << r.output;
}

using test::Child;
using test::read_until;
using test::spawn;
using test::wait_exit_code;

// `said`, when given, receives what the run printed after the signal.
void interrupt_and_check(Cli& cli, int signal, int expected_code, std::string* said = nullptr) {
  const Child child = spawn({"--content", cli.content, "--style", cli.style, "-o", cli.output, "--weights",
                             test::fixture("vgg19_tiny.safetensors"), "--size", "48", "--iterations", "100000",
                             "--print-every", "1", "--threads", "1"});
  ASSERT_GT(child.pid, 0);
  const std::string before = read_until(child, "iter 3/");
  ASSERT_NE(before.find("iter 3/"), std::string::npos) << before;
  ::kill(child.pid, signal);
  const std::string after = read_until(child, "\x04never", before);  // read to the end
  if (said != nullptr) *said = after;
  EXPECT_EQ(wait_exit_code(child), expected_code) << after;
  EXPECT_NE(after.find("saved the current image to " + cli.output), std::string::npos) << after;
  ASSERT_TRUE(fs::exists(cli.output));
  EXPECT_EQ(load_image(cli.output, "output").sizes(), (std::vector<int64_t>{1, 3, 48, 40}));
  ASSERT_TRUE(fs::exists(cli.output + ".json")) << "the checkpoint record for --resume";
  for (const auto& entry : fs::directory_iterator(cli.dir.path())) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
  }
}

TEST_F(CliRobustness, InterruptSavesTheImageAndResumeContinues) {
  interrupt_and_check(*this, SIGINT, 130);
  const nlohmann::json record = nlohmann::json::parse(test::read_file(output + ".json"));
  const int done = record["iteration"];
  EXPECT_GE(done, 3);
  EXPECT_TRUE(fs::exists(output + ".adam")) << "Adam's moments are saved with the image";
  const RunResult resumed =
      run_stylize("--resume " + output + " --content " + content + " --style " + style + " --weights " +
                  test::fixture("vgg19_tiny.safetensors") + " --size 48 --threads 1 --print-every 1 --iterations " +
                  std::to_string(done + 2));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("iter " + std::to_string(done + 1) + "/" + std::to_string(done + 2)), std::string::npos)
      << resumed.output;
  EXPECT_EQ(resumed.output.find("iter 1/"), std::string::npos) << resumed.output;
  EXPECT_EQ(resumed.output.find("moments start again"), std::string::npos) << resumed.output;
  EXPECT_FALSE(fs::exists(output + ".json")) << "a finished run removes its checkpoint record";
  EXPECT_FALSE(fs::exists(output + ".adam")) << "and its moments";
}

// A disk with room for the image but not for Adam's moments (here: they go to
// /dev/full through a link): the interrupted run still saves the image and its
// record, says the moments were not, and a resumed run goes on without them.
// (The moments were written first, and their failure lost the image: exit 6.)
TEST_F(CliRobustness, InterruptSavesTheImageWhenItsMomentsCannotBeWritten) {
  fs::create_symlink("/dev/full", output + ".adam");
  std::string said;
  interrupt_and_check(*this, SIGINT, 130, &said);
  EXPECT_NE(said.find("cannot write Adam's moments '" + output +
                      ".adam': No space left on device; a run resumed from " + output + " starts Adam's moments again"),
            std::string::npos)
      << said;
  EXPECT_FALSE(fs::exists(fs::symlink_status(output + ".adam"))) << "no moments of another iteration stay";
  const RunResult resumed =
      run_stylize("--resume " + output + " --content " + content + " --style " + style + " --weights " +
                  test::fixture("vgg19_tiny.safetensors") + " --size 48 --threads 1 --print-every 1 --iterations " +
                  std::to_string(nlohmann::json::parse(test::read_file(output + ".json"))["iteration"].get<int>() + 1));
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("or a disk too full for them): Adam's moments start again"), std::string::npos)
      << resumed.output;
}

// Ctrl-C while --estimate times the run: no time (it printed 0 s, exit 0).
TEST_F(CliRobustness, InterruptedEstimateGivesNoTime) {
  const Child child =
      spawn({"--content", content, "--style", style, "--weights", test::fixture("vgg19_tiny.safetensors"), "--size",
             "1024", "--precision", "fp32", "--threads", "1", "--estimate"});
  ASSERT_GT(child.pid, 0);
  const std::string before = read_until(child, "peak memory: ");
  ASSERT_NE(before.find("peak memory: "), std::string::npos) << before;
  ::kill(child.pid, SIGINT);
  const std::string after = read_until(child, "\x04never", before);
  EXPECT_EQ(wait_exit_code(child), 130) << after;
  EXPECT_NE(after.find("interrupted before the time was measured"), std::string::npos) << after;
  EXPECT_EQ(after.find("time: "), std::string::npos) << after;
}

TEST_F(CliRobustness, TermSavesTheImageToo) { interrupt_and_check(*this, SIGTERM, 143); }

TEST_F(CliRobustness, ResumeNeedsACheckpoint) {
  save_image(test::pattern_image(48, 40, 0.2), dir.file("orphan.png"));
  const RunResult r = run_stylize(quick("--resume " + dir.file("orphan.png")));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("checkpoint record"), std::string::npos) << r.output;
}

// The default (tutorial) path end to end against scripts/reference_pytorch.py:
// the Keras fixture (Caffe convention: BGR, mean, 0-255), 16-bit PNG files
// decoded and shrunk by stylize itself (--size 32 and --style-size 20 halve
// them, which the reference does as a 2x2 mean, independently of OpenCV), a
// style of another size and shape than the content, and the losses of the
// CLI's report against tests/fixtures/golden_files.json. Guards the decode
// (channel order, scaling), the area resize, the style size flag and the
// CLI's options reaching the engine, together: before any update (the
// decoded, resized images through the network and the targets) to 1e-5, after
// 1-20 updates as Engine.MatchesThePyTorchReference. No two neighbours of the
// halved images tie (the script makes sure): with 8-bit files many do, total
// variation's L1 gradient there is sign(0), a 1-ulp difference in how OpenCV
// and PyTorch sum four pixels flips it, and the runs part within a few updates.
TEST_F(Cli, TutorialRunFromFilesMatchesTheReference) {
  std::ifstream file(test::fixture("golden_files.json"));
  const nlohmann::json golden = nlohmann::json::parse(file);
  const auto& run = golden["run"];
  const std::string report = dir.file("run.json");
  const RunResult r = run_stylize(
      "--content " + test::fixture(run["content"].get<std::string>()) + " --style " +
      test::fixture(run["style"].get<std::string>()) + " -o " + output + " --weights " +
      test::fixture(run["weights"].get<std::string>()) + " --size " + std::to_string(run["size"].get<int>()) +
      " --style-size " + std::to_string(run["style_size_flag"].get<int>()) +
      " -n 21 --precision fp32 --device cpu --threads 1 --print-every 0 --report " + report);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream report_file(report);
  const nlohmann::json actual = nlohmann::json::parse(report_file);
  EXPECT_EQ(actual["options"]["loss_units"], "auto");
  EXPECT_NE(r.output.find("losses in tutorial units"), std::string::npos) << r.output;
  const auto& iterations = actual["runs"][0]["iterations"];
  ASSERT_EQ(iterations.size(), 21u);
  for (const auto& [updates, expected] : golden["losses_after_updates"].items()) {
    // Iteration k reports the losses of the image after k - 1 updates.
    const auto& it = iterations[static_cast<size_t>(std::stoi(updates))];
    const double values[4] = {it["total"], it["style"], it["content"], it["tv"]};
    for (int k = 0; k < 4; ++k) {
      const double want = expected[k];
      const double sensitivity = golden["sensitivity_after_updates"][updates][k];
      const double tolerance = updates == "0" ? 1e-5 : std::min(1e-2, std::max(1e-4, sensitivity / 10));
      EXPECT_NEAR(values[k], want, tolerance * std::abs(want) + 1e-9) << "term " << k << " after " << updates;
    }
  }
}

}  // namespace
}  // namespace stylize
