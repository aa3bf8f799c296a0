// End-to-end tests of what a hostile but realistic user does to stylize
// (issue 19): no input or output is overwritten, every failure exits with its
// documented code before the run where it can, nothing is left behind.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "child_process.hpp"
#include "cli_test_util.hpp"
#include "stylize/core/device.hpp"
#include "stylize/io/file.hpp"
#include "stylize/io/image_io.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

namespace fs = std::filesystem;

class Reliability : public ::testing::Test {
 protected:
  void SetUp() override {
    content = dir.file("content.png");
    style = dir.file("style.png");
    output = dir.file("out.png");
    save_image(test::pattern_image(48, 40, 0.3), content);
    save_image(test::pattern_image(32, 32, 1.7), style);
    content_bytes = test::read_file(content);
    style_bytes = test::read_file(style);
  }
  std::string weights() const { return test::fixture("vgg19_tiny.safetensors"); }
  // A quick run on the tiny fixture weights, as argument vector and as command line.
  std::vector<std::string> quick_args(const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args = {"--content", content,  "--style", style,       "-o", output,         "--weights",
                                     weights(),   "--size", "48",      "--threads", "1",  "--iterations", "4"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  test::CommandResult run(const std::string& extra) const {
    std::string line = STYLIZE_BINARY;
    for (const auto& a : quick_args()) line += " '" + a + "'";
    return test::run_command(line + " " + extra);
  }
  // The run failed with `code` and `needle` before writing anything, and the inputs are intact.
  void expect_refused(const test::CommandResult& r, int code, const std::string& needle) const {
    EXPECT_EQ(r.exit_code, code) << r.output;
    EXPECT_NE(r.output.find(needle), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("iter "), std::string::npos) << "refused before the run: " << r.output;
    EXPECT_FALSE(fs::exists(output)) << r.output;
    EXPECT_EQ(test::read_file(content), content_bytes);
    EXPECT_EQ(test::read_file(style), style_bytes);
    expect_no_temporaries();
  }
  void expect_no_temporaries() const {
    for (const auto& entry : fs::recursive_directory_iterator(dir.path())) {
      EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
    }
  }
  test::Child spawn_run(const std::vector<std::string>& extra) const {
    std::vector<std::string> args = quick_args({"--iterations", "100000", "--print-every", "1"});
    args.insert(args.end(), extra.begin(), extra.end());
    return test::spawn(STYLIZE_BINARY, args);
  }

  test::TempDir dir;
  std::string content, style, output, content_bytes, style_bytes;
};

// Items 1-3 of issue 19: data loss.

// A full disk (here /dev/full behind the output's name) or a removed mount
// at the final write: the finished image goes to the temporary folder
// instead, and the error says where.
TEST_F(Reliability, AFinishedImageThatCannotBeWrittenGoesToTheTemporaryFolder) {
  fs::create_symlink("/dev/full", output);
  const std::string tmp = dir.file("tmp");
  fs::create_directories(tmp);
  std::string line = "env TMPDIR='" + tmp + "' " + STYLIZE_BINARY;
  for (const auto& a : quick_args()) line += " '" + a + "'";
  const test::CommandResult r = test::run_command(line);
  EXPECT_EQ(r.exit_code, 6) << r.output;
  const fs::path rescued = test::rescued_image(r, output, tmp);
  ASSERT_FALSE(rescued.empty());
  EXPECT_EQ(rescued.extension(), ".png");
  EXPECT_EQ(load_image(rescued.string(), "rescued").sizes(), (std::vector<int64_t>{1, 3, 48, 40}));
  // Another rescue of an output of that name gets a name of its own; a
  // $TMPDIR that is no folder falls back to /tmp.
  const test::CommandResult again = test::run_command(line);
  EXPECT_EQ(again.exit_code, 6) << again.output;
  size_t count = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(tmp)) ++count;
  EXPECT_EQ(count, 2u) << again.output;
  std::string elsewhere = "env TMPDIR='" + dir.file("no_such_folder") + "' " + STYLIZE_BINARY;
  for (const auto& a : quick_args()) elsewhere += " '" + a + "'";
  const test::CommandResult fallback = test::run_command(elsewhere);
  EXPECT_EQ(fallback.exit_code, 6) << fallback.output;
  const std::string in_tmp = "the image was saved to /tmp/stylize-rescued-";
  const size_t at = fallback.output.find(in_tmp);
  ASSERT_NE(at, std::string::npos) << fallback.output;
  const std::string name = fallback.output.substr(at + 23, fallback.output.find(' ', at + 23) - at - 23);
  EXPECT_TRUE(fs::exists(name)) << name;
  fs::remove(name);
}

TEST_F(Reliability, SideOutputsNeverOverwriteAnInput) {
  expect_refused(run("--report " + content), 6, "--report '" + content + "' is also an input (the content image)");
  expect_refused(run("--sheet " + style), 6, "--sheet '" + style + "' is also an input (a style image)");
  expect_refused(run("--plot " + content), 6, "also an input");
  expect_refused(run("--plot " + dir.file("p.txt")), 6,
                 "cannot write --plot '" + dir.file("p.txt") + "': unknown image extension '.txt' (use .png");
  // An image stylize reads but does not write, and a missing folder: said under the flag too.
  expect_refused(run("--sheet " + dir.file("s.ppm")), 6,
                 "cannot write --sheet '" + dir.file("s.ppm") + "': unknown image extension '.ppm'");
  expect_refused(run("--plot " + dir.file("nowhere/p.png")), 6,
                 "cannot write --plot '" + dir.file("nowhere/p.png") + "': directory");
  // The same file by another name.
  fs::create_directory(dir.file("sub"));
  expect_refused(run("--report " + dir.file("sub/../content.png")), 6, "also an input");
}

TEST_F(Reliability, SideOutputsNeverOverwriteTheResultOrEachOther) {
  expect_refused(run("--plot " + output), 6, "--plot '" + output + "' is the same file as -o");
  expect_refused(run("--report " + output + ".json"), 6, "the resume record");
  expect_refused(run("--plot " + dir.file("p.png") + " --sheet " + dir.file("p.png")), 6, "its own path");
  // --save-every's images and their records are outputs too (the plot was
  // written over the snapshot of iteration 1, beside the record resuming it).
  expect_refused(run("--save-every 1 --plot " + dir.file("out_0001.png")), 6,
                 "--plot '" + dir.file("out_0001.png") + "' is where --save-every 1 saves '" +
                     dir.file("out_0001.png") + "'; give it another path, or another --save-every");
  expect_refused(run("--save-every 2 --report " + dir.file("out_0002.png.json")), 6, "is where --save-every 2 saves");
  expect_refused(run("--save-every 1 --scales 2 --min-size 24 --sheet " + dir.file("out_s2_0001.png")), 6,
                 "is where --save-every 1 saves");
  // ... and where the sizes fall into one scale, named as one scale's.
  expect_refused(run("--save-every 1 --scales 2 --min-size 48 --sheet " + dir.file("out_0002.png")), 6,
                 "is where --save-every 1 saves");
  const std::string snapshot_named = dir.file("out_0003.png");
  fs::copy_file(content, snapshot_named);
  const auto as_content =
      test::run_command(std::string(STYLIZE_BINARY) + " -c " + snapshot_named + " -s " + style + " -o " + output +
                        " --weights " + weights() + " --size 48 --threads 1 --iterations 4 --save-every 3");
  EXPECT_EQ(as_content.exit_code, 6) << as_content.output;
  EXPECT_NE(as_content.output.find("the content image '" + snapshot_named + "' is where --save-every 3 saves"),
            std::string::npos)
      << as_content.output;
  EXPECT_EQ(test::read_file(snapshot_named), content_bytes);
  // Iteration 4 of 4 is the output itself, never a snapshot.
  EXPECT_EQ(run("--save-every 4 --plot " + dir.file("out_0004.png")).exit_code, 0);
}

TEST_F(Reliability, MasksAndTheDefaultStyleAreInputsToo) {
  const std::string mask = dir.file("mask.png"), style_mask = dir.file("smask.png"), other = dir.file("other.png");
  save_image(torch::ones({1, 3, 48, 40}), mask);
  save_image(torch::ones({1, 3, 32, 32}), style_mask);
  save_image(test::pattern_image(32, 32, 0.9), other);
  const std::string mask_bytes = test::read_file(mask), other_bytes = test::read_file(other);
  const std::string regions = "--content-mask " + mask + " --style-mask " + style_mask;
  expect_refused(run(regions + " --report " + mask), 6, "--report '" + mask + "' is also an input (a --content-mask)");
  expect_refused(run(regions + " --plot " + style_mask), 6, "is also an input (a --style-mask)");
  const auto r = run(regions + " --default-style " + other + " -o " + other);
  EXPECT_EQ(r.exit_code, 6) << r.output;
  EXPECT_NE(r.output.find("is also an input (the --default-style image)"), std::string::npos) << r.output;
  EXPECT_EQ(test::read_file(mask), mask_bytes);
  EXPECT_EQ(test::read_file(other), other_bytes);
}

TEST_F(Reliability, OutputNeverOverwritesTheInitImage) {
  const std::string init = dir.file("init.png");
  save_image(test::pattern_image(48, 40, 2.2), init);
  const std::string init_bytes = test::read_file(init);
  const auto r = run("--init " + init + " -o " + init);
  EXPECT_EQ(r.exit_code, 6) << r.output;
  EXPECT_NE(r.output.find("also an input (the --init image)"), std::string::npos) << r.output;
  EXPECT_EQ(test::read_file(init), init_bytes);
}

// Items 13-15: leftovers and late failures.

TEST_F(Reliability, DirectoriesWhereFilesGoAreRefusedBeforeTheRun) {
  fs::create_directory(dir.file("adir"));
  expect_refused(run("--report " + dir.file("adir")), 6, "it is a directory");
  // Where the resume record of an interrupted run would go.
  fs::create_directory(output + ".json");
  expect_refused(run(""), 6, "resume record '" + output + ".json': it is a directory");
}

TEST_F(Reliability, AFailedStartLeavesNoFolderBehind) {
  // --output-template creates the folders it names; a run that fails before
  // writing anything there (here: a style image that is not there) removes them.
  const auto r = run("--each-style --output-template '" + dir.file("new/sub/{style}.png") + "' --style '" +
                     dir.file("nope.png") + "'");
  expect_refused(r, 3, dir.file("nope.png"));
  EXPECT_FALSE(fs::exists(dir.file("new"))) << r.output;
  // A folder that was there before stays, empty or not.
  fs::create_directory(dir.file("old"));
  expect_refused(run("--each-style --output-template '" + dir.file("old/sub/{style}.png") + "' --style '" +
                     dir.file("nope.png") + "'"),
                 3, dir.file("nope.png"));
  EXPECT_TRUE(fs::is_directory(dir.file("old")));
  EXPECT_FALSE(fs::exists(dir.file("old/sub")));
}

TEST_F(Reliability, RemovesTemporariesOfKilledRunsOnly) {
  // A process that has exited: its pid is free (and not reused this quickly).
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  const auto named_for = [&](const std::string& target, pid_t pid) {
    const std::string mine = temporary_path(target, 7);  // this process's name for it
    const std::string own = std::to_string(::getpid()) + "-7";
    return mine.substr(0, mine.size() - own.size()) + std::to_string(pid) + "-7";
  };
  const std::string stale_image = named_for(output, dead), stale_step = named_for(dir.file("out_0002.png"), dead);
  const std::string live = named_for(output, ::getpid());  // a write still under way
  for (const auto& path : {stale_image, stale_step, live}) test::write_file(path, "");
  const auto r = run("-q");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(fs::exists(stale_image));
  EXPECT_FALSE(fs::exists(stale_step));
  EXPECT_TRUE(fs::exists(live)) << "a live process's temporary is left alone";
}

TEST_F(Reliability, SideOutputsAreProbedBeforeTheRun) {
  std::string unwritable;
  if (::geteuid() == 0) {
    unwritable = "/proc/stylize-report.json";  // root may write anywhere but here
  } else {
    fs::create_directory(dir.file("locked"));
    fs::permissions(dir.file("locked"), fs::perms::owner_read | fs::perms::owner_exec);
    unwritable = dir.file("locked/report.json");
  }
  expect_refused(run("--report " + unwritable), 6, "not writable");
}

TEST_F(Reliability, ALateSideOutputFailureKeepsTheImageAndSaysSo) {
  fs::create_directory(dir.file("reports"));
  const test::Child child = spawn_run({"--report", dir.file("reports/run.json")});
  ASSERT_GT(child.pid, 0);
  const std::string before = test::read_until(child, "iter 3/");
  ASSERT_NE(before.find("iter 3/"), std::string::npos) << before;
  fs::remove_all(dir.file("reports"));  // e.g. a removed mount
  ::kill(child.pid, SIGINT);
  const std::string after = test::read_all(child, before);
  EXPECT_EQ(test::wait_child(child).code, 130) << after;
  EXPECT_NE(after.find("report not written: cannot write '" + dir.file("reports/run.json")), std::string::npos)
      << after;
  EXPECT_NE(after.find("the image written before it is kept"), std::string::npos) << after;
  EXPECT_TRUE(fs::exists(output));
  expect_no_temporaries();
}

// Items 5-9: wrong exit codes, hangs, unbounded memory.

TEST_F(Reliability, NumbersBeyondFloatRangeAreUsageErrors) {
  expect_refused(run("--lr 1e38"), 2, "--lr must be a finite number > 0 and at most 1000, got 1e+38");
  expect_refused(run("--lr -1e-9"), 2, "got -1e-09");
  expect_refused(run("--content-weight 1e39"), 2, "--content-weight must be at most 3.40282e+38");
  expect_refused(run("--style-layers relu1_1:1e300"), 2, "at most");
}

TEST_F(Reliability, ThreadCountIsCapped) {
  expect_refused(run("--threads 100000"), 2, "--threads must be between 0 (all ");
}

TEST_F(Reliability, StyleSizeIsCappedBeforeLoading) {
  expect_refused(run("--size 2048 --style-scale 16"), 2, "asks for a 32768-pixel style image (at most 16384)");
}

TEST_F(Reliability, TinyStyleScaleDoesNotMeanFullSize) {
  // 32 x 0.01 rounds to 0, which load_image reads as "keep the size".
  const auto r = run("--size 32 --style-scale 0.01");
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("style"), std::string::npos) << r.output;
}

TEST_F(Reliability, EndlessInputIsRefusedWhileReading) {
  // Reads 1 GiB of zeros, then stops.
  expect_refused(run("--content /dev/zero"), 3, "'/dev/zero': it is larger than 1024 MiB");
  // A regular file is refused by its size, before reading (sparse: no disk used).
  test::write_file(dir.file("big.png"), "");
  fs::resize_file(dir.file("big.png"), (uint64_t{3} << 30) / 2);
  expect_refused(run("--style " + dir.file("big.png")), 3, "larger than 1024 MiB");
}

TEST_F(Reliability, SymlinkLoopIsNotCalledMissing) {
  fs::create_symlink(dir.file("loop.png"), dir.file("loop.png"));
  const auto r = run("--content " + dir.file("loop.png"));
  expect_refused(r, 3, "Too many levels of symbolic links");
  EXPECT_EQ(r.output.find("file not found"), std::string::npos) << r.output;
}

// Items 10-12: interruption and signals.

// Coarse to fine, an interrupted run saves its image at the size of the
// scale it was on, with its record and Adam's moments, and --resume goes on
// at that scale and iteration to the full size (a record made at one scale
// is not resumed with --scales 2: ResumingASnapshotGoesOnIntoTheRunsOutput).
TEST_F(Reliability, InterruptedMultiScaleRunResumesAtItsScale) {
  const test::Child child = spawn_run({"--scales", "2", "--min-size", "32", "--initial-iterations", "100000"});
  ASSERT_GT(child.pid, 0);
  const std::string before = test::read_until(child, "iter 3/");
  ASSERT_NE(before.find("iter 3/"), std::string::npos) << before;
  ::kill(child.pid, SIGINT);
  const std::string after = test::read_all(child, before);
  EXPECT_EQ(test::wait_child(child).code, 130) << after;
  ASSERT_TRUE(fs::exists(output));
  ASSERT_TRUE(fs::exists(output + ".json")) << after;
  EXPECT_TRUE(fs::exists(output + ".adam")) << after;
  const nlohmann::json record = nlohmann::json::parse(test::read_file(output + ".json"));
  EXPECT_EQ(record["scale"], 1);
  EXPECT_EQ(record["scales"], 2);
  const int done = record["iteration"].get<int>();
  EXPECT_GE(done, 3);
  // Stopped on the first scale: the image is that scale's size, and the message says so.
  const torch::Tensor saved = load_image(output, "saved");
  EXPECT_LT(saved.size(2), 48);
  EXPECT_NE(after.find("interrupted at iteration " + std::to_string(done) +
                       "/100000 of scale 1/2; saved the current "
                       "image to " +
                       output + " at " + std::to_string(saved.size(3)) + "x" + std::to_string(saved.size(2)) +
                       ", the size of the scale it was on (continue with --resume " + output + ")"),
            std::string::npos)
      << after;

  // The same flags, with iteration counts that end soon.
  const std::string counts = "--scales 2 --min-size 32 --initial-iterations " + std::to_string(done + 2) +
                             " --print-every 1 --resume " + output + " --iterations";
  const auto resumed = run(counts + " 3");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming from " + output + " at iteration " + std::to_string(done) + " of scale 1/2"),
            std::string::npos)
      << resumed.output;
  EXPECT_EQ(resumed.output.find("start again"), std::string::npos) << "Adam's moments are used: " << resumed.output;
  EXPECT_EQ(resumed.output.find("stretched"), std::string::npos)
      << "the image has its scale's size: " << resumed.output;
  EXPECT_NE(resumed.output.find("iter " + std::to_string(done + 1) + "/" + std::to_string(done + 2)), std::string::npos)
      << resumed.output;
  EXPECT_EQ(resumed.output.find("iter 1/" + std::to_string(done + 2)), std::string::npos) << resumed.output;
  EXPECT_NE(resumed.output.find("scale 2/2: 40x48"), std::string::npos) << resumed.output;
  EXPECT_NE(resumed.output.find("iter 3/3"), std::string::npos) << resumed.output;
  EXPECT_EQ(load_image(output, "finished").size(2), 48);
  EXPECT_FALSE(fs::exists(output + ".json")) << "finished";
  EXPECT_FALSE(fs::exists(output + ".adam"));

  // Run again without --resume over an interrupted one: the warning names the scale.
  test::write_file(output + ".json", record.dump());
  const auto again = run("--scales 2 --min-size 32 --initial-iterations 1 --iterations 1");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("says iteration " + std::to_string(done) + " of scale 1/2); this run starts it again"),
            std::string::npos)
      << again.output;
}

// An image saved at an earlier scale past this run's iterations there (a
// lowered --initial-iterations) finishes that scale as far as the run goes:
// it goes on with the next, as the last scale's does (it was refused, or in a
// batch started again).
TEST_F(Reliability, ResumingPastAnEarlierScalesIterationsGoesOnWithTheNext) {
  const auto saved = run("--scales 2 --min-size 32 --initial-iterations 6 --iterations 2 --save-every 5");
  ASSERT_EQ(saved.exit_code, 0) << saved.output;
  const std::string snapshot = dir.file("out_s1_0005.png");
  ASSERT_TRUE(fs::exists(snapshot + ".json")) << saved.output;
  const auto resumed =
      run("--scales 2 --min-size 32 --initial-iterations 3 --iterations 2 --print-every 1 --resume " + snapshot);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find(snapshot +
                                " was saved at iteration 5 of scale 1/2, past this run's 3 iterations there: the run "
                                "goes on with scale 2/2"),
            std::string::npos)
      << resumed.output;
  EXPECT_EQ(resumed.output.find("iter 4/3"), std::string::npos) << resumed.output;
  EXPECT_NE(resumed.output.find("scale 2/2: 40x48"), std::string::npos) << resumed.output;
  EXPECT_NE(resumed.output.find("iter 2/2"), std::string::npos) << resumed.output;
  EXPECT_EQ(resumed.output.find("start again"), std::string::npos) << "Adam's moments go on: " << resumed.output;
  EXPECT_EQ(load_image(output, "finished").size(2), 48);
  // Saved at the very end of its scale, the run goes on from the unrounded
  // iterate the moments file holds, as the uninterrupted run did (it went on
  // from the 8-bit image: up to 15 levels off).
  // With --average, from the average (its sum and weight are in the file too).
  for (const std::string average : {"", "--average 0.9 "}) {
    SCOPED_TRACE(average);
    const std::string flags = average + "--scales 2 --min-size 32 --iterations 2 --initial-iterations ";
    const std::string from = dir.file("from.png"), snapshot5 = dir.file("from_s1_0005.png");
    ASSERT_EQ(run(flags + "6 --save-every 5 -o " + from).exit_code, 0);
    ASSERT_TRUE(fs::exists(snapshot5 + ".adam"));
    const auto reference = run(flags + "5 -o " + dir.file("reference.png"));
    ASSERT_EQ(reference.exit_code, 0) << reference.output;
    const auto at_end = run(flags + "5 -o " + dir.file("at_end.png") + " --resume " + snapshot5);
    ASSERT_EQ(at_end.exit_code, 0) << at_end.output;
    const torch::Tensor ended = load_image(dir.file("at_end.png"), "resumed at the scale's end");
    EXPECT_LE((ended - load_image(dir.file("reference.png"), "reference")).abs().max().item<double>(),
              1.0 / 255 + 1e-6);
  }
  // At the last scale the run was finished already: nothing to go on with.
  const auto saved_last = run("--scales 2 --min-size 32 --initial-iterations 2 --iterations 6 --save-every 5");
  ASSERT_EQ(saved_last.exit_code, 0) << saved_last.output;
  const auto past_last =
      run("--scales 2 --min-size 32 --initial-iterations 2 --iterations 3 --resume " + dir.file("out_s2_0005.png"));
  EXPECT_EQ(past_last.exit_code, 2) << past_last.output;
  EXPECT_NE(past_last.output.find("cannot resume at iteration 5 of 3 (scale 2 of 2)"), std::string::npos)
      << past_last.output;
}

// Stopped while the targets are computed in tiles, before any iteration:
// there is nothing to keep, so nothing is written (no image, no record),
// said, with the signal's exit code. (The window is the tiles' pass, about
// 1.5 s here; the signal follows the line that starts it.)
TEST_F(Reliability, AStopWhileTiledTargetsAreComputedWritesNothing) {
  const test::Child child =
      test::spawn(STYLIZE_BINARY, {"--content", content, "--style", style, "-o", output, "--weights", weights(),
                                   "--size", "1200", "--tile", "64", "--threads", "1", "--iterations", "3"});
  ASSERT_GT(child.pid, 0);
  const std::string before = test::read_until(child, "stylizing ");
  ASSERT_NE(before.find("stylizing "), std::string::npos) << before;
  ::kill(child.pid, SIGINT);
  const std::string after = test::read_all(child, before);
  EXPECT_EQ(test::wait_child(child).code, 128 + SIGINT) << after;
  EXPECT_NE(after.find("interrupted before the first iteration; nothing was written for " + output), std::string::npos)
      << after;
  EXPECT_EQ(after.find("iter 1/"), std::string::npos) << after;
  EXPECT_FALSE(fs::exists(output)) << after;
  EXPECT_FALSE(fs::exists(output + ".json")) << after;
}

TEST_F(Reliability, HangupSavesTheImageLikeTerm) {
  const test::Child child = spawn_run({});
  ASSERT_GT(child.pid, 0);
  const std::string before = test::read_until(child, "iter 3/");
  ASSERT_NE(before.find("iter 3/"), std::string::npos) << before;
  ::kill(child.pid, SIGHUP);
  const std::string after = test::read_all(child, before);
  const test::ChildExit exit = test::wait_child(child);
  EXPECT_TRUE(exit.exited) << after;
  EXPECT_EQ(exit.code, 129) << after;
  EXPECT_NE(after.find("saved the current image to " + output), std::string::npos) << after;
  EXPECT_TRUE(fs::exists(output + ".json"));
}

// Under nohup (started ignoring SIGHUP, to outlive the terminal) a hangup
// does not stop the run: it finishes.
TEST_F(Reliability, UnderNohupAHangupDoesNotStopTheRun) {
  std::vector<std::string> args = quick_args({"--iterations", "400", "--print-every", "1"});
  args.insert(args.begin(), STYLIZE_BINARY);
  const test::Child child = test::spawn("/usr/bin/nohup", args);
  ASSERT_GT(child.pid, 0);
  const std::string before = test::read_until(child, "iter 3/");
  ASSERT_NE(before.find("iter 3/"), std::string::npos) << before;
  ::kill(child.pid, SIGHUP);  // nohup has become stylize
  const std::string after = test::read_all(child, before);
  const test::ChildExit exit = test::wait_child(child);
  EXPECT_TRUE(exit.exited) << after;
  EXPECT_EQ(exit.code, 0) << after;
  EXPECT_NE(after.find("iter 400/400"), std::string::npos) << after;
  EXPECT_TRUE(fs::exists(output));
  EXPECT_FALSE(fs::exists(output + ".json")) << "finished";
}

// An intermediate image (--save-every) whose Adam state, record or image
// cannot be written (a full disk; here a folder where the file goes) is
// warned about, and the run goes on to its result. Nothing of that image is
// left without its record.
TEST_F(Reliability, AnIntermediateImageThatCannotBeWrittenDoesNotEndTheRun) {
  const std::string second = dir.file("out_0002.png");
  for (const std::string& blocked : std::vector<std::string>{second + ".adam", second + ".json", second}) {
    SCOPED_TRACE(blocked);
    fs::create_directories(blocked);
    const test::CommandResult r = run("--save-every 2");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(fs::exists(output)) << r.output;
    EXPECT_FALSE(fs::exists(output + ".json")) << "the result is finished\n" << r.output;
    const bool state = blocked == second + ".adam";
    EXPECT_NE(r.output.find(state ? "starts Adam's moments again" : "the run goes on without this intermediate image"),
              std::string::npos)
        << r.output;
    if (state) {
      EXPECT_TRUE(fs::is_regular_file(second)) << "the image and its record are kept\n" << r.output;
      EXPECT_TRUE(fs::is_regular_file(second + ".json")) << r.output;
    } else {
      EXPECT_FALSE(fs::is_regular_file(second)) << "no image without its record\n" << r.output;
      EXPECT_FALSE(fs::is_regular_file(second + ".adam")) << r.output;
    }
    fs::remove_all(blocked);
    for (const std::string& file : {output, second, second + ".json", second + ".adam"}) fs::remove(file);
  }
}

// An output name too long for the files written beside it (its temporary
// file, --save-every's images, their records and Adam's state) is refused
// before the run; one that leaves room for them is written whole.
TEST_F(Reliability, ALongOutputNameIsRefusedBeforeTheRunOrWrittenWhole) {
  const auto run_to = [&](const std::string& out) {
    std::string line = STYLIZE_BINARY;
    std::vector<std::string> args = quick_args({"--save-every", "2", "--scales", "2", "--min-size", "32"});
    args[5] = out;  // -o
    for (const auto& a : args) line += " '" + a + "'";
    return test::run_command(line);
  };
  const std::string too_long = dir.file(std::string(236, 'a') + ".png");  // 240 bytes
  const test::CommandResult refused = run_to(too_long);
  EXPECT_EQ(refused.exit_code, 6) << refused.output;
  EXPECT_NE(refused.output.find("give a name of at most 231 bytes"), std::string::npos) << refused.output;
  EXPECT_EQ(refused.output.find("iter "), std::string::npos) << "refused before the run\n" << refused.output;
  const std::string longest = dir.file(std::string(227, 'b') + ".png");  // 231 bytes
  const test::CommandResult written = run_to(longest);
  ASSERT_EQ(written.exit_code, 0) << written.output;
  EXPECT_TRUE(fs::exists(longest));
  EXPECT_TRUE(fs::exists(dir.file(std::string(227, 'b') + "_s2_0002.png.adam"))) << written.output;
  expect_no_temporaries();
}

TEST_F(Reliability, AClosedStandardOutputDoesNotKillTheRun) {
  std::string line = STYLIZE_BINARY;
  for (const auto& a : quick_args({"--iterations", "6", "--print-every", "1"})) line += " '" + a + "'";
  // head exits after the first byte; every later progress line meets a closed pipe.
  const auto r =
      test::run_command("bash -c \"" + line + " 2>/dev/null | head -c 1 >/dev/null; exit \\${PIPESTATUS[0]}\"");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(output));
}

TEST_F(Reliability, EarlyInterruptExitsCleanly) {
  // The content is a FIFO, so the signal surely comes while stylize is starting
  // up (reading its inputs): it ends there, with 130 and the message of a run
  // stopped before its first iteration, not killed by the signal.
  const std::string fifo = dir.file("content_fifo.png");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const test::Child child =
      test::spawn(STYLIZE_BINARY, {"--content", fifo, "--style", style, "-o", output, "--weights", weights(), "--size",
                                   "48", "--threads", "1", "--iterations", "4"});
  ASSERT_GT(child.pid, 0);
  int fd = -1;
  for (int tries = 0; fd < 0 && tries < 30000; ++tries) {  // 300 s: until stylize opens the FIFO to read
    fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd < 0) ::usleep(10000);
  }
  ASSERT_GE(fd, 0) << "stylize never opened its content";
  ::kill(child.pid, SIGINT);
  const std::string out = test::read_all(child);
  ::close(fd);
  const test::ChildExit exit = test::wait_child(child);
  EXPECT_TRUE(exit.exited) << "killed by the signal instead of handling it: " << out;
  EXPECT_EQ(exit.code, 130) << out;
  EXPECT_NE(out.find("interrupted before the first iteration"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(output));
}

// Items 16-17: format limits, the resume record.

TEST_F(Reliability, WebpSizeLimitIsCheckedBeforeTheRun) {
  output = dir.file("out.webp");
  expect_refused(run("-o " + output + " --size 16384"), 6, "WebP images are at most 16383 pixels");
  // Before anything is read: the limit is found even with weights that do not
  // exist (a check after the run would fail on the weights first, exit 4).
  const auto early =
      test::run_command(std::string(STYLIZE_BINARY) + " -c '" + content + "' -s '" + style + "' -o '" + output +
                        "' --weights '" + dir.file("missing.safetensors") + "' --offline --size 16384");
  expect_refused(early, 6, "WebP images are at most 16383 pixels");
}

// A plot has a 540-pixel panel per output, a sheet a row: their format's
// limits are checked for the number of outputs before the run (the plot of
// 31 outputs was refused after all 31 images were made).
TEST_F(Reliability, FigureSizeLimitsAreCheckedBeforeTheRun) {
  const std::string styles = dir.file("styles");
  fs::create_directories(styles);
  for (int i = 0; i < 56; ++i) fs::copy_file(style, styles + "/s" + std::to_string(i) + ".png");
  const auto command = [&](const std::string& figure) {
    return test::run_command(std::string(STYLIZE_BINARY) + " -c '" + content + "' -s '" + styles +
                             "' --output-template '" + dir.file("outs/{style}.png") + "' --weights '" + weights() +
                             "' --size 48 -n 1 --threads 1 " + figure);
  };
  const auto plot = command("--plot '" + dir.file("p.webp") + "'");
  expect_refused(plot, 6,
                 "cannot write --plot '" + dir.file("p.webp") +
                     "': WebP images are at most 16383 pixels on a side, and this one would be 30240; write .png or "
                     ".tif");
  const auto sheet = command("--sheet '" + dir.file("s.webp") + "'");
  expect_refused(sheet, 6,
                 "cannot write --sheet '" + dir.file("s.webp") +
                     "': WebP images are at most 16383 pixels on a side, and this one would be 16476; write .png or "
                     ".tif");
  EXPECT_FALSE(fs::exists(dir.file("outs/s0.png")));
}

TEST_F(Reliability, ResumeRecordIsCheckedAgainstTheRun) {
  save_image(test::pattern_image(48, 40, 0.9), output);
  test::write_file(output + ".json", R"({"iteration": 4294967301, "iterations": 10})");
  const auto r = run("--resume " + output + " --iterations 10");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("records iteration 4294967301"), std::string::npos) << r.output;
  // Another content, another objective, another size: said, not silently used.
  save_image(test::pattern_image(24, 20, 0.9), output);
  const std::string other = dir.file("other.png");
  test::write_file(other, content_bytes);
  test::write_file(output + ".json", R"({"iteration": 2, "iterations": 4, "content": ")" + other +
                                         R"(", "objective": {"style_weight": 5}})");
  const auto warned = run("--resume " + output + " --iterations 4 -o " + dir.file("again.png"));
  EXPECT_EQ(warned.exit_code, 0) << warned.output;
  EXPECT_NE(warned.output.find("made with content image \"" + other + "\""), std::string::npos) << warned.output;
  EXPECT_NE(warned.output.find("made with other settings: --style-weight 5 (this run: 0.01)"), std::string::npos)
      << warned.output;
  // Every setting of the objective is recorded, each under its flag: here
  // the pooling, the blend, the total variation's norm and the masks.
  const std::string mask = dir.file("mask.png");
  save_image(torch::ones({1, 3, 48, 40}), mask);
  const auto saved = run("--iterations 2 --save-every 1 --pooling avg --tv-norm l2 --content-mask " + mask + " -o " +
                         dir.file("avg.png"));
  ASSERT_EQ(saved.exit_code, 0) << saved.output;
  const auto pooled = run("--resume " + dir.file("avg_0001.png") + " --iterations 2 -o " + dir.file("max.png"));
  EXPECT_EQ(pooled.exit_code, 0) << pooled.output;
  for (const std::string& change :
       std::vector<std::string>{"--tv-norm l2 (this run: l1)", "--pooling avg (this run: max)",
                                "--content-mask " + mask + " (this run: none)"}) {
    EXPECT_NE(pooled.output.find(change), std::string::npos) << change << "\n" << pooled.output;
  }
  // And every other setting that makes another image (Adam's, the scales' ...),
  // but not another -n, which the resumed run goes on to.
  const auto adam = run("--iterations 2 --save-every 1 --beta1 0.9 -o " + dir.file("adam.png"));
  ASSERT_EQ(adam.exit_code, 0) << adam.output;
  const auto other_beta = run("--resume " + dir.file("adam_0001.png") + " --iterations 3 -o " + dir.file("b.png"));
  EXPECT_EQ(other_beta.exit_code, 0) << other_beta.output;
  EXPECT_NE(other_beta.output.find("made with other settings: --beta1 0.9 (this run: 0.99); resuming"),
            std::string::npos)
      << other_beta.output;
  const auto same =
      run("--resume " + dir.file("adam_0001.png") + " --iterations 3 --beta1 0.9 -o " + dir.file("c.png"));
  EXPECT_EQ(same.exit_code, 0) << same.output;
  EXPECT_EQ(same.output.find("other settings"), std::string::npos) << same.output;
  const auto missing = run("--resume " + dir.file("nothere.png"));
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_NE(missing.output.find("nothere.png': the image does not exist"), std::string::npos) << missing.output;
  EXPECT_NE(warned.output.find("stretched to the content's size"), std::string::npos) << warned.output;
}

// An input that never delivers (a pipe no one writes to, a hung network
// file) is read before the weights and the run's signal handlers: Ctrl-C
// ends the command there, as a signal before the first iteration does (exit
// 130, nothing written). (Read after them, the signal only asked the run to
// stop, and the read went on waiting.)
TEST_F(Reliability, ASignalWhileAnInputIsReadStopsTheCommand) {
  const std::string fifo = dir.file("style_pipe.png");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  test::Child child = test::spawn(STYLIZE_BINARY, {"--content", content, "--style", fifo, "-o", output, "--weights",
                                                   weights(), "--size", "48", "--threads", "1"});
  ASSERT_GT(child.pid, 0);
  const int writer = test::writer_once_read(fifo);
  ASSERT_GE(writer, 0) << "the command never read its style";
  ::kill(child.pid, SIGINT);
  const std::string log = test::read_until(child, std::string("\x04never", 6), "", 20);  // its output, to the end
  ::close(writer);  // (a command still reading then gets an empty file and ends)
  const test::ChildExit exit = test::wait_child(child, 20);
  EXPECT_TRUE(exit.exited) << log;
  EXPECT_EQ(exit.code, 128 + SIGINT) << log;
  EXPECT_NE(log.find("interrupted before the first iteration; nothing was written"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(output)) << log;
}

// --preset gatys sets the content weight from the content's size once the
// image is read (in tutorial units: the Keras file's); a run resumed with the
// same flags is the same run, not one "made with other settings".
TEST_F(Reliability, AGatysRunResumedWithTheSameFlagsIsNotWarnedAbout) {
  std::string line = std::string(STYLIZE_BINARY) + " --content '" + content + "' --style '" + style + "' --weights '" +
                     test::fixture("keras_vgg19_notop_tiny.h5") +
                     "' --size 48 --threads 1 --iterations 4 --preset gatys ";
  const auto saved = test::run_command(line + "--save-every 2 -o '" + output + "'");
  ASSERT_EQ(saved.exit_code, 0) << saved.output;
  ASSERT_NE(saved.output.find("--preset gatys: content weight"), std::string::npos) << saved.output;
  const auto resumed =
      test::run_command(line + "--resume '" + dir.file("out_0002.png") + "' -o '" + dir.file("again.png") + "'");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(resumed.output.find("other settings"), std::string::npos) << resumed.output;
  // Another content weight given is another run.
  const auto other = test::run_command(line + "--content-weight 7 --resume '" + dir.file("out_0002.png") + "' -o '" +
                                       dir.file("other.png") + "'");
  EXPECT_EQ(other.exit_code, 0) << other.output;
  EXPECT_NE(other.output.find("--content-weight by the content's size, --preset gatys (this run: 7.0)"),
            std::string::npos)
      << other.output;
}

// --resume out_0002.png without -o goes on into the run's output, which the
// snapshot's record names: it wrote the result over the snapshot (and removed
// its record), and named the next snapshots out_0002_0003.png. The resume
// says where it starts; a run of several scales is refused, naming the fix.
// The same command without --resume warns that it starts the run again.
// With several outputs each record names its own style, so that resuming one
// of them does not warn that the styles differ.
TEST_F(Reliability, ResumingASnapshotGoesOnIntoTheRunsOutput) {
  ASSERT_EQ(run("--save-every 2").exit_code, 0);
  const std::string snapshot = dir.file("out_0002.png"), snapshot_bytes = test::read_file(snapshot);
  ASSERT_TRUE(fs::exists(snapshot + ".json"));
  std::string line = STYLIZE_BINARY;
  for (const auto& a : quick_args()) {
    if (a != "-o" && a != output) line += " '" + a + "'";
  }
  const auto resumed = test::run_command(line + " --save-every 1 --resume '" + snapshot + "'");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming from " + snapshot + " at iteration 2 of 4"), std::string::npos)
      << resumed.output;
  EXPECT_NE(resumed.output.find("-> " + output), std::string::npos) << resumed.output;
  EXPECT_EQ(test::read_file(snapshot), snapshot_bytes);
  EXPECT_TRUE(fs::exists(snapshot + ".json")) << "the snapshot can still be resumed";
  EXPECT_TRUE(fs::exists(dir.file("out_0003.png")));
  EXPECT_FALSE(fs::exists(dir.file("out_0002_0003.png")));
  EXPECT_FALSE(fs::exists(output + ".json")) << "finished";
  // An interrupted run's output (here the snapshot's copy), run again without --resume: said.
  fs::copy_file(snapshot, output, fs::copy_options::overwrite_existing);
  fs::copy_file(snapshot + ".json", output + ".json");
  const auto again = run("");
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find(output + " is an interrupted run's (its record, " + output +
                              ".json, says iteration 2); this run starts it again and replaces it (to go on from it "
                              "instead, stop now and add --resume " +
                              output + ")"),
            std::string::npos)
      << again.output;
  // Resumed with -n at or below the iteration it was saved at: the output
  // itself is finished as it is (as stylize batch finishes it); a snapshot
  // into another output is refused, and neither says it is resuming (it
  // said "resuming ... at iteration 2 of 2", then refused).
  fs::copy_file(snapshot, output, fs::copy_options::overwrite_existing);
  fs::copy_file(snapshot + ".json", output + ".json", fs::copy_options::overwrite_existing);
  const std::string saved_bytes = test::read_file(output);
  const auto finished = run("--resume '" + output + "' --iterations 2");
  EXPECT_EQ(finished.exit_code, 0) << finished.output;
  EXPECT_NE(finished.output.find(output + " was saved at iteration 2, at or past -n 2: it is finished as it is"),
            std::string::npos)
      << finished.output;
  EXPECT_EQ(finished.output.find("resuming"), std::string::npos) << finished.output;
  EXPECT_EQ(test::read_file(output), saved_bytes);
  EXPECT_FALSE(fs::exists(output + ".json")) << "finished: no record";
  const auto past = run("--resume '" + snapshot + "' --iterations 1 -o " + dir.file("p.png"));
  EXPECT_EQ(past.exit_code, 2) << past.output;
  EXPECT_NE(past.output.find("cannot resume at iteration 2 of 1; raise --iterations to continue further"),
            std::string::npos)
      << past.output;
  EXPECT_EQ(past.output.find("resuming"), std::string::npos) << past.output;
  EXPECT_FALSE(fs::exists(dir.file("p.png")));

  const auto scales = run("--resume '" + snapshot + "' --scales 2 -o " + dir.file("s.png"));
  EXPECT_EQ(scales.exit_code, 2) << scales.output;
  EXPECT_NE(scales.output.find("cannot resume from '" + snapshot +
                               "': it was saved by a run at one scale, and this run has 2 (--scales, or the "
                               "preset's); give --scales 1"),
            std::string::npos)
      << scales.output;
  EXPECT_FALSE(fs::exists(dir.file("s.png")));
  // Copied or moved elsewhere (or the folder's path on another node): the
  // output goes beside the snapshot, named as the record says (it went to the
  // folder the record was written in, or failed where that was gone).
  const std::string moved = dir.file("moved");
  fs::create_directory(moved);
  for (const std::string ext : {"", ".json"}) fs::copy_file(snapshot + ext, moved + "/out_0002.png" + ext);
  fs::remove(output);
  const auto elsewhere = test::run_command(line + " --resume '" + moved + "/out_0002.png'");
  ASSERT_EQ(elsewhere.exit_code, 0) << elsewhere.output;
  EXPECT_NE(elsewhere.output.find("-> " + moved + "/out.png"), std::string::npos) << elsewhere.output;
  EXPECT_TRUE(fs::exists(moved + "/out.png"));
  EXPECT_FALSE(fs::exists(output)) << "the first folder is not written";

  const std::string style2 = dir.file("style2.png");
  save_image(test::pattern_image(32, 32, 0.6), style2);
  const std::string each =
      "--each-style -s '" + style2 + "' --save-every 1 --output-template " + dir.file("e_{style}.png");
  ASSERT_EQ(run(each).exit_code, 0);
  for (const std::string name : {"style", "style2"}) {
    const nlohmann::json record = nlohmann::json::parse(test::read_file(dir.file("e_" + name + "_0001.png.json")));
    EXPECT_EQ(record["styles"], nlohmann::json::array({dir.file(name + ".png")})) << name;
    EXPECT_EQ(record["output"], dir.file("e_" + name + ".png")) << name;
  }
  // What an interrupted run leaves: e_style2.png with its record.
  fs::copy_file(dir.file("e_style2_0001.png"), dir.file("e_style2.png"), fs::copy_options::overwrite_existing);
  fs::copy_file(dir.file("e_style2_0001.png.json"), dir.file("e_style2.png.json"));
  const auto one = run(each + " --resume " + dir.file("e_style2.png"));
  EXPECT_EQ(one.exit_code, 0) << one.output;
  EXPECT_NE(one.output.find("resuming " + dir.file("e_style2.png") + " from iteration 1"), std::string::npos)
      << one.output;
  EXPECT_EQ(one.output.find("the checkpoint was made with"), std::string::npos) << one.output;
}

// The messages list of issue 19.

TEST_F(Reliability, MessagesSayWhatWasExpected) {
  expect_refused(run("--seed -5"), 2, "--seed");
  expect_refused(run("-o " + dir.file("adir/")), 6,
                 "it is a directory; give a file name inside it, such as " + dir.file("adir/out.png"));
  const auto unused_template = run("--iterations 1 --output-template " + dir.file("x_{style}.png"));
  EXPECT_NE(unused_template.output.find("--output-template names the outputs of --each-style"), std::string::npos)
      << unused_template.output;
  const auto unused_output = run("--iterations 1 --each-style --output-template " + dir.file("y_{style}.png"));
  EXPECT_EQ(unused_output.exit_code, 0) << unused_output.output;
  EXPECT_NE(unused_output.output.find("is not used with --each-style"), std::string::npos) << unused_output.output;
  EXPECT_TRUE(fs::exists(dir.file("y_style.png")));
  // Adam's flags given to L-BFGS are said, not silently dropped; Adam's own run says nothing.
  const auto lbfgs = run("--iterations 1 --optimizer lbfgs --lr 0.1 --average 0.9 -o " + dir.file("l.png"));
  EXPECT_EQ(lbfgs.exit_code, 0) << lbfgs.output;
  EXPECT_NE(lbfgs.output.find("--lr, --average are Adam's: the L-BFGS optimizer does not use them"), std::string::npos)
      << lbfgs.output;
  const auto negated = run("--iterations 1 --optimizer lbfgs --no-nesterov -o " + dir.file("n.png"));
  EXPECT_NE(negated.output.find("--no-nesterov is Adam's"), std::string::npos) << negated.output;
  const auto adam = run("--iterations 1 --lr 0.1 --average 0.9 -o " + dir.file("a.png"));
  EXPECT_EQ(adam.exit_code, 0) << adam.output;
  EXPECT_EQ(adam.output.find("Adam's"), std::string::npos) << adam.output;
  EXPECT_EQ(adam.output.find("warning"), std::string::npos) << adam.output;
  // Flags that only count with another one.
  const auto alone =
      run("--iterations 1 --batch 2 --initial-iterations 5 --min-size 20 --style-size 40 --style-scale 2 "
          "--save-every 1 -o " +
          dir.file("b.png"));
  EXPECT_EQ(alone.exit_code, 0) << alone.output;
  for (const char* needle :
       {"--batch 2 batches the outputs of --each-style", "--initial-iterations sets the first scale",
        "--min-size sets the first scale", "--style-scale is not used: --style-size 40 sets the style images' size",
        "--save-every 1 saves no image before the last of the 1 iterations"}) {
    EXPECT_NE(alone.output.find(needle), std::string::npos) << needle << "\n" << alone.output;
  }
  const auto lbfgs_batch =
      run("--iterations 1 --each-style --optimizer lbfgs --batch 2 --output-template " + dir.file("lb_{style}.png"));
  EXPECT_EQ(lbfgs_batch.exit_code, 0) << lbfgs_batch.output;
  EXPECT_NE(lbfgs_batch.output.find("--batch 2 is not used: L-BFGS optimizes one style at a time"), std::string::npos)
      << lbfgs_batch.output;
  const auto blend =
      run("--iterations 1 --each-style --style-weights 1 --output-template " + dir.file("w_{style}.png"));
  EXPECT_NE(blend.output.find("--style-weights blends styles into one image"), std::string::npos) << blend.output;
  // bf16 on a CPU without bf16 instructions runs emulated, dozens of times
  // slower: said there, and only there.
  const auto bf16 = run("--iterations 1 --device cpu --precision bf16 -o " + dir.file("h.png"));
  EXPECT_EQ(bf16.exit_code, 0) << bf16.output;
  EXPECT_EQ(bf16.output.find("so bf16 runs emulated") != std::string::npos, !cpu_has_fast_bf16()) << bf16.output;
  const auto tile = run("--tile -1");  // was taken for auto
  EXPECT_EQ(tile.exit_code, 2) << tile.output;
  EXPECT_NE(tile.output.find("--tile: must be 'auto' or a size in pixels, got -1"), std::string::npos) << tile.output;
}

}  // namespace
}  // namespace stylize
