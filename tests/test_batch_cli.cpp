// End-to-end tests of `stylize batch` with the real executable and the tiny
// fixture weights: every job once, shards, skipping what is done, resuming
// what is not, several workers on one job list with one of them killed.
// (The job list, claims and lock files themselves: tests/batch/.)
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cli_test_util.hpp"
#include "stylize/io/file.hpp"
#include "stylize/io/image_io.hpp"
#include "stylize/lock_file.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

namespace fs = std::filesystem;

class Batch : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir.file("photos"));
    fs::create_directories(dir.file("paintings"));
    save_image(test::pattern_image(40, 32, 0.3), dir.file("photos/cat.png"));
    save_image(test::pattern_image(32, 40, 0.9), dir.file("photos/dog.png"));
    save_image(test::pattern_image(32, 32, 1.7), dir.file("paintings/monet.png"));
    save_image(test::pattern_image(32, 32, 2.5), dir.file("paintings/turner.png"));
    for (const char* content : {"cat", "dog"}) {
      for (const char* style : {"monet", "turner"}) outputs.push_back(output(content, style));
    }
  }
  std::string output(const std::string& content, const std::string& style) const {
    return dir.file("out/" + content + "_" + style + ".png");
  }
  // The arguments of a batch over photos/ x paintings/ into out/.
  std::vector<std::string> arguments(int iterations, const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args = {"batch",
                                     "--content",
                                     dir.file("photos"),
                                     "--style",
                                     dir.file("paintings"),
                                     "--output-template",
                                     dir.file("out/{content}_{style}.png"),
                                     "--weights",
                                     test::fixture("vgg19_tiny.safetensors"),
                                     "--size",
                                     "32",
                                     "--threads",
                                     "1",
                                     "-n",
                                     std::to_string(iterations)};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  test::CommandResult run_batch(int iterations, const std::vector<std::string>& extra = {},
                                const std::string& prefix = "") const {
    std::string command = prefix + " " + STYLIZE_BINARY;
    for (const auto& argument : arguments(iterations, extra)) command += " '" + argument + "'";
    return test::run_command(command);
  }
  // No claim, no checkpoint record, no temporary file is left in out/: only
  // the outputs and the records of the settings they were made with
  // (out/.cat_monet.png.json).
  void expect_no_leftovers() const {
    for (const auto& entry : fs::directory_iterator(dir.file("out"))) {
      const std::string name = entry.path().filename().string();
      const bool settings = name.size() > 6 && name[0] == '.' && entry.path().extension() == ".json" &&
                            fs::exists(dir.file("out/" + name.substr(1, name.size() - 6)));
      EXPECT_TRUE(entry.path().extension() == ".png" || settings) << entry.path().string();
    }
  }

  // Every output's claim, as another worker holds them (none if one cannot be taken).
  std::vector<LockFile> hold_claims() const {
    std::vector<LockFile> held;
    for (const auto& out : outputs) {
      auto lock = LockFile::try_acquire(out + ".lock", LockOwner::current("test"), LockTiming{});
      if (!lock) return {};
      held.push_back(std::move(*lock));
    }
    return held;
  }

  test::TempDir dir;
  std::vector<std::string> outputs;
};

size_t count(const std::string& text, const std::string& needle) {
  size_t found = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++found;
  return found;
}

TEST_F(Batch, MakesEveryJobOnceThenSkipsWhatIsDone) {
  const test::CommandResult first = run_batch(3);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  for (const auto& out : outputs) {
    ASSERT_TRUE(fs::exists(out)) << out << "\n" << first.output;
    EXPECT_EQ(count(first.output, "wrote " + out), 1u) << first.output;
  }
  EXPECT_EQ(load_image(output("cat", "monet"), "output").sizes(), (std::vector<int64_t>{1, 3, 32, 26}));
  EXPECT_EQ(load_image(output("dog", "turner"), "output").sizes(), (std::vector<int64_t>{1, 3, 26, 32}));
  EXPECT_NE(first.output.find("4 job(s) made, 0 already done, 0 failed"), std::string::npos) << first.output;
  expect_no_leftovers();

  const test::CommandResult again = run_batch(3);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("0 job(s) made, 4 already done"), std::string::npos) << again.output;
}

// A rerun with other settings (--size, -n, a loss's weight) would otherwise
// skip every output as done and make nothing it was asked for: it is refused
// before any work, and --redo makes those outputs again, each replaced once
// its new image is written.
TEST_F(Batch, OutputsMadeWithOtherSettingsAreRefusedOrMadeAgain) {
  const test::CommandResult first = run_batch(2);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const std::string record = dir.file("out/.cat_monet.png.json");
  ASSERT_TRUE(fs::exists(record)) << first.output;
  EXPECT_EQ(nlohmann::json::parse(test::read_file(record))["size"], 32);

  const test::CommandResult smaller = run_batch(2, {"--size", "24"});
  EXPECT_EQ(smaller.exit_code, 2) << smaller.output;
  EXPECT_NE(smaller.output.find("4 output(s) of this batch were made by an earlier run with other settings, and "
                                "would be skipped as done: " +
                                output("cat", "monet") +
                                " (--size 32 (this run: 24), --style-size 32 (this run: 24)) and 3 more; add --redo"),
            std::string::npos)
      << smaller.output;
  EXPECT_EQ(smaller.output.find("loading weights"), std::string::npos) << smaller.output;
  EXPECT_EQ(load_image(output("cat", "monet"), "output").sizes(), (std::vector<int64_t>{1, 3, 32, 26}));
  const test::CommandResult longer = run_batch(3, {"--style-weight", "5"});
  EXPECT_EQ(longer.exit_code, 2) << longer.output;
  EXPECT_NE(longer.output.find("--iterations 2 (this run: 3), --style-weight 0.01 (this run: 5.0))"), std::string::npos)
      << longer.output;
  // Other weights (by file name: a cluster's nodes hold the same file at other paths).
  fs::copy_file(test::fixture("vgg19_tiny.safetensors"), dir.file("other.safetensors"));
  std::vector<std::string> other = arguments(2);
  *(std::find(other.begin(), other.end(), "--weights") + 1) = dir.file("other.safetensors");
  std::string line = STYLIZE_BINARY;
  for (const auto& argument : other) line += " '" + argument + "'";
  const test::CommandResult weights = test::run_command(line);
  EXPECT_EQ(weights.exit_code, 2) << weights.output;
  EXPECT_NE(weights.output.find("(--weights vgg19_tiny.safetensors (this run: other.safetensors))"), std::string::npos)
      << weights.output;

  // An output without a record (an older stylize's, or made by hand) is done.
  fs::remove(dir.file("out/.dog_turner.png.json"));
  const test::CommandResult redo = run_batch(2, {"--size", "24", "--redo"});
  ASSERT_EQ(redo.exit_code, 0) << redo.output;
  EXPECT_NE(redo.output.find("--redo: 3 output(s) made with other settings are made again"), std::string::npos)
      << redo.output;
  EXPECT_NE(redo.output.find("3 job(s) made, 1 already done, 0 failed"), std::string::npos) << redo.output;
  EXPECT_EQ(load_image(output("cat", "monet"), "output").sizes(), (std::vector<int64_t>{1, 3, 24, 19}));
  EXPECT_EQ(load_image(output("dog", "turner"), "output").sizes(), (std::vector<int64_t>{1, 3, 26, 32}));
  EXPECT_EQ(nlohmann::json::parse(test::read_file(record))["size"], 24);
  expect_no_leftovers();

  const test::CommandResult again = run_batch(2, {"--size", "24", "--redo"});
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("0 job(s) made, 4 already done"), std::string::npos) << again.output;

  // A record that cannot be read (here a folder in its place) is not agreement.
  fs::remove(record);
  fs::create_directory(record);
  const test::CommandResult unreadable = run_batch(2, {"--size", "24"});
  EXPECT_EQ(unreadable.exit_code, 2) << unreadable.output;
  EXPECT_NE(unreadable.output.find("(an unreadable record, " + record + ")"), std::string::npos) << unreadable.output;
}

// A worker killed while writing (SIGKILL, out of memory) leaves a temporary
// beside its output; the worker that makes that job again removes it.
TEST_F(Batch, RemovesTheTemporariesOfKilledWorkers) {
  const pid_t dead = ::fork();  // a process that has exited: its pid is free
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  fs::create_directories(dir.file("out"));
  const std::string mine = temporary_path(output("cat", "monet"), 7);  // this process's name for it
  const std::string own = std::to_string(::getpid()) + "-7";
  const std::string stale = mine.substr(0, mine.size() - own.size()) + std::to_string(dead) + "-7";
  test::write_file(stale, "half an image");
  const test::CommandResult r = run_batch(2, {"--shard", "0/2"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(fs::exists(stale)) << r.output;
  expect_no_leftovers();
}

TEST_F(Batch, ShardsFromTheFlagOrTheSchedulerSplitTheJobs) {
  const test::CommandResult shard0 = run_batch(2, {"--shard", "0/2"});
  ASSERT_EQ(shard0.exit_code, 0) << shard0.output;
  EXPECT_TRUE(fs::exists(output("cat", "monet")) && fs::exists(output("cat", "turner"))) << shard0.output;
  EXPECT_FALSE(fs::exists(output("dog", "monet")) || fs::exists(output("dog", "turner"))) << shard0.output;
  // Task 8 of a Slurm array 7-8: the second shard.
  const test::CommandResult task8 =
      run_batch(2, {}, "env SLURM_ARRAY_TASK_ID=8 SLURM_ARRAY_TASK_COUNT=2 SLURM_ARRAY_TASK_MIN=7");
  ASSERT_EQ(task8.exit_code, 0) << task8.output;
  EXPECT_NE(task8.output.find("shard 1/2 (SLURM_ARRAY_TASK_ID=8): jobs 3..4 of 4"), std::string::npos) << task8.output;
  EXPECT_NE(task8.output.find("2 job(s) made, 0 already done"), std::string::npos) << task8.output;
  for (const auto& out : outputs) EXPECT_TRUE(fs::exists(out)) << out;
  expect_no_leftovers();
  // More shards than jobs: a shard without jobs says so (not "jobs 5..4").
  const test::CommandResult idle = run_batch(2, {"--shard", "6/8"});
  ASSERT_EQ(idle.exit_code, 0) << idle.output;
  EXPECT_NE(idle.output.find("shard 6/8 (--shard 6/8): no jobs (there are 4, fewer than the shards)"),
            std::string::npos)
      << idle.output;
  // A Kubernetes index without the shard count is refused before any work.
  const test::CommandResult k8s = run_batch(2, {}, "env JOB_COMPLETION_INDEX=1");
  EXPECT_EQ(k8s.exit_code, 2) << k8s.output;
  EXPECT_NE(k8s.output.find("STYLIZE_SHARD_COUNT"), std::string::npos) << k8s.output;
}

TEST_F(Batch, RefusesBadInputsBeforeAnyWork) {
  fs::create_directories(dir.file("empty"));
  const test::CommandResult empty = run_batch(2, {"--content", dir.file("empty")});
  EXPECT_EQ(empty.exit_code, 3) << empty.output;
  EXPECT_NE(empty.output.find("holds no images"), std::string::npos) << empty.output;
  const test::CommandResult collide = run_batch(2, {"--output-template", dir.file("out/{style}.png")});
  EXPECT_EQ(collide.exit_code, 2) << collide.output;
  EXPECT_NE(collide.output.find("the same output"), std::string::npos) << collide.output;
  const test::CommandResult format = run_batch(2, {"--output-template", dir.file("out/{content}_{style}.xyz")});
  EXPECT_EQ(format.exit_code, 6) << format.output;
  const test::CommandResult input = run_batch(2, {"--output-template", dir.file("photos/{content}.png")});
  EXPECT_EQ(input.exit_code, 6) << input.output;  // as stylize's own outputs
  EXPECT_NE(input.output.find("one of the input images"), std::string::npos) << input.output;
  // An output among the inputs of a folder: allowed once, it would be an input
  // of every later run (a second worker, a requeued task), so never.
  for (const auto& [folder, what] : {std::pair{"photos", "content"}, std::pair{"paintings", "style"}}) {
    const test::CommandResult among =
        run_batch(2, {"--output-template", dir.file(folder) + "/{content}_{style}_x.png"});
    EXPECT_EQ(among.exit_code, 6) << among.output;
    EXPECT_NE(among.output.find("would be written into the " + std::string(what) + " folder"), std::string::npos)
        << among.output;
    EXPECT_FALSE(fs::exists(dir.file(folder) + "/cat_monet_x.png"));
  }
  // Said once before the jobs, not once per job.
  const test::CommandResult depth =
      run_batch(2, {"--bit-depth", "16", "--output-template", dir.file("out/{content}_{style}.jpg")});
  EXPECT_EQ(depth.exit_code, 6) << depth.output;
  EXPECT_EQ(count(depth.output, "JPEG holds 8 bits per channel"), 1u) << depth.output;
  const std::string list = dir.file("photos/cat.png") + "," + dir.file("photos/dog.png");
  const test::CommandResult comma = run_batch(2, {"--content", list});
  EXPECT_EQ(comma.exit_code, 2) << comma.output;
  EXPECT_NE(comma.output.find("--content '" + list + "': there is no such file, but there are 2 content images"),
            std::string::npos)
      << comma.output;
  // A setting no job can run with fails the command once, before the weights
  // and the first job, not every job in turn.
  const test::CommandResult setting = run_batch(2, {"--lr", "-1", "--weights", dir.file("nothere.safetensors")});
  EXPECT_EQ(setting.exit_code, 2) << setting.output;
  EXPECT_EQ(count(setting.output, "--lr must be a finite number > 0"), 1u) << setting.output;
  EXPECT_EQ(setting.output.find("job 1"), std::string::npos) << setting.output;
  // So does an --init image every job would start from.
  const test::CommandResult init =
      run_batch(2, {"--init", dir.file("nothere.png"), "--weights", dir.file("nothere.safetensors")});
  EXPECT_EQ(init.exit_code, 3) << init.output;
  EXPECT_EQ(count(init.output, "cannot read init image '" + dir.file("nothere.png") + "': file not found"), 1u)
      << init.output;
  EXPECT_EQ(init.output.find("job 1"), std::string::npos) << init.output;
  const test::CommandResult weights = run_batch(2, {"--weights", dir.file("nothere.safetensors")});
  EXPECT_EQ(weights.exit_code, 4) << weights.output;
  for (const auto& out : outputs) EXPECT_FALSE(fs::exists(out)) << out;
  EXPECT_FALSE(fs::exists(dir.file("out"))) << "the folder made for the outputs is removed again";
}

// Outputs named by job number alone: an input added later renumbers the jobs,
// and a later run would take another job's output for done. Said.
TEST_F(Batch, OutputsNamedByNumberAloneAreWarnedAbout) {
  const test::CommandResult numbered = run_batch(2, {"--output-template", dir.file("out/job{n}.png")});
  EXPECT_EQ(numbered.exit_code, 0) << numbered.output;
  EXPECT_NE(numbered.output.find("names outputs by job number"), std::string::npos) << numbered.output;
  const test::CommandResult named = run_batch(2, {"--output-template", dir.file("out/{n}_{content}_{style}.png")});
  EXPECT_EQ(named.exit_code, 0) << named.output;
  EXPECT_EQ(named.output.find("names outputs by job number"), std::string::npos) << named.output;
}

TEST_F(Batch, ANumericFailureLeavesARecordSoTheJobIsNotTakenAsDone) {
  const test::CommandResult r = run_batch(3, {"--style-weight", "1e38"});
  EXPECT_EQ(r.exit_code, 7) << r.output;
  EXPECT_NE(r.output.find("0 job(s) made, 0 already done, 4 failed"), std::string::npos) << r.output;
  for (const auto& out : outputs) {
    EXPECT_TRUE(fs::exists(out)) << "the last good image, " << out;
    EXPECT_TRUE(fs::exists(out + ".json")) << "its checkpoint record, " << out;
    EXPECT_FALSE(fs::exists(out + ".lock")) << out;
  }
  // Run again with sane weights: the unfinished jobs were begun with others,
  // and would go on from their last good image towards another one, so the
  // run is refused before any work ...
  const test::CommandResult sane = run_batch(3);
  EXPECT_EQ(sane.exit_code, 2) << sane.output;
  EXPECT_NE(
      sane.output.find("4 unfinished output(s) of this batch were begun by an earlier run with other "
                       "settings, and would be resumed: " +
                       output("cat", "monet") + " (--style-weight 1e+38 (this run: 0.01)) and 3 more; add --redo"),
      std::string::npos)
      << sane.output;
  // ... and with --redo they are made again from the start, not skipped.
  const test::CommandResult again = run_batch(3, {"--redo", "--print-every", "1"});
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("4 job(s) made, 0 already done"), std::string::npos) << again.output;
  EXPECT_EQ(count(again.output, "iter 1/3"), 4u) << again.output;
  EXPECT_EQ(again.output.find("resuming"), std::string::npos) << again.output;
  expect_no_leftovers();
}

// An unfinished output begun with other settings that --redo starts again is
// given up first: a job that then fails (or is killed) before its first save
// leaves no unfinished image that would look done, nor a record to resume.
TEST_F(Batch, AnUnfinishedOutputStartedAgainIsNotLeftLookingDone) {
  const test::CommandResult failed = run_batch(3, {"--style-weight", "1e38"});
  ASSERT_EQ(failed.exit_code, 7) << failed.output;
  ASSERT_TRUE(fs::exists(output("cat", "monet") + ".json")) << failed.output;
  const std::string photo = test::read_file(dir.file("photos/cat.png"));
  test::write_file(dir.file("photos/cat.png"), "not an image");
  const test::CommandResult redo = run_batch(3, {"--redo"});
  EXPECT_EQ(redo.exit_code, 3) << redo.output;
  EXPECT_NE(redo.output.find("2 job(s) made, 0 already done, 2 failed"), std::string::npos) << redo.output;
  for (const char* style : {"monet", "turner"}) {
    EXPECT_FALSE(fs::exists(output("cat", style))) << redo.output;
    EXPECT_FALSE(fs::exists(output("cat", style) + ".json")) << redo.output;
  }
  test::write_file(dir.file("photos/cat.png"), photo);
  const test::CommandResult again = run_batch(3);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("2 job(s) made, 2 already done"), std::string::npos) << again.output;
  expect_no_leftovers();
}

// The same for an unfinished output that cannot be resumed (here its record
// is corrupt): started again, it is not left looking done by a job that fails
// before its first save.
TEST_F(Batch, AnUnfinishedOutputThatCannotBeResumedIsNotLeftLookingDone) {
  ASSERT_EQ(run_batch(2).exit_code, 0);
  test::write_file(output("cat", "monet") + ".json", "not a record");
  test::write_file(dir.file("photos/cat.png"), "not an image");
  const test::CommandResult r = run_batch(2);
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("is not a stylize checkpoint record; starting " + output("cat", "monet") + " again"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("0 job(s) made, 3 already done, 1 failed"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(output("cat", "monet"))) << r.output;
  EXPECT_FALSE(fs::exists(output("cat", "monet") + ".json")) << r.output;
}

// A job that fails before it writes any image (here its content cannot be
// read) leaves its output as it was, and the record of its settings too: none.
TEST_F(Batch, AJobThatFailsBeforeItsFirstImageLeavesNoRecord) {
  test::write_file(dir.file("photos/cat.png"), "not an image");
  const test::CommandResult r = run_batch(2);
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("2 job(s) made, 0 already done, 2 failed"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir.file("out/.cat_monet.png.json"))) << r.output;
  EXPECT_TRUE(fs::exists(dir.file("out/.dog_monet.png.json"))) << r.output;
  expect_no_leftovers();
}

// SIGTERM (twice, as schedulers do) during a job: the worker saves it with its
// record and exits 143; started again, it resumes that job where it stopped.
TEST_F(Batch, AnInterruptedJobIsResumedNotSkipped) {
  const int iterations = 400;
  test::Child worker = test::spawn(arguments(iterations, {"--print-every", "1"}));
  ASSERT_GT(worker.pid, 0);
  const std::string started = test::read_until(worker, "iter 5/");
  ASSERT_NE(started.find("iter 5/"), std::string::npos) << started;
  ::kill(worker.pid, SIGTERM);
  ASSERT_TRUE(test::wait_signal_delivered(worker.pid, SIGTERM)) << "the second SIGTERM must not merge with the first";
  ::kill(worker.pid, SIGTERM);
  const std::string log = test::read_all(worker, started);
  ASSERT_EQ(test::wait_exit_code(worker), 143) << log;
  std::smatch saved;
  ASSERT_TRUE(std::regex_search(log, saved, std::regex("saved the current image to (\\S+) ")))
      << "a repeated SIGTERM is the same request: the job is saved\n"
      << log;
  const std::string interrupted = saved[1];
  // stylize batch takes no --resume: it says to run the same command again.
  EXPECT_NE(log.find("run the same stylize batch command to go on: it resumes this job"), std::string::npos) << log;
  EXPECT_EQ(log.find("--resume"), std::string::npos) << log;
  ASSERT_TRUE(fs::exists(interrupted + ".json")) << log;
  const int at = nlohmann::json::parse(test::read_file(interrupted + ".json"))["iteration"];
  ASSERT_GE(at, 5);
  ASSERT_LT(at, iterations);
  EXPECT_FALSE(fs::exists(interrupted + ".lock")) << "the claim is released";

  const test::CommandResult resumed = run_batch(iterations, {"--print-every", "1"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming " + interrupted + " from iteration " + std::to_string(at)), std::string::npos)
      << resumed.output;
  EXPECT_NE(resumed.output.find("iter " + std::to_string(at + 1) + "/" + std::to_string(iterations)), std::string::npos)
      << resumed.output;
  for (const auto& out : outputs) EXPECT_TRUE(fs::exists(out)) << out;
  expect_no_leftovers();
}

// An unfinished output saved past the -n of the run that goes on with it
// (-n lowered to finish sooner) is finished as it is: kept, not thrown away
// and made again from the start.
TEST_F(Batch, AnOutputSavedPastALoweredCountIsFinishedAsItIs) {
  std::vector<std::string> one = arguments(2000, {"--print-every", "1"});
  one[2] = dir.file("photos/cat.png");
  one[4] = dir.file("paintings/monet.png");
  const std::string out = output("cat", "monet");
  test::Child worker = test::spawn(one);
  ASSERT_GT(worker.pid, 0);
  const std::string started = test::read_until(worker, "iter 30/");
  ASSERT_NE(started.find("iter 30/"), std::string::npos) << started;
  ::kill(worker.pid, SIGTERM);
  const std::string log = test::read_all(worker, started);
  ASSERT_EQ(test::wait_exit_code(worker), 143) << log;
  ASSERT_TRUE(fs::exists(out + ".json")) << log;
  const int at = nlohmann::json::parse(test::read_file(out + ".json"))["iteration"];
  ASSERT_GE(at, 30);
  const std::string saved = test::read_file(out);

  one[one.size() - 3] = "20";  // -n 20: at or past it
  std::string command = STYLIZE_BINARY;
  for (const auto& argument : one) command += " '" + argument + "'";
  const test::CommandResult lowered = test::run_command(command);
  ASSERT_EQ(lowered.exit_code, 0) << lowered.output;
  EXPECT_NE(lowered.output.find(out + " was saved at iteration " + std::to_string(at) +
                                ", at or past -n 20: it is finished as it is"),
            std::string::npos)
      << lowered.output;
  EXPECT_EQ(lowered.output.find("iter 1/"), std::string::npos) << "not made again\n" << lowered.output;
  EXPECT_EQ(test::read_file(out), saved) << "the saved image is the result";
  EXPECT_FALSE(fs::exists(out + ".json")) << "finished: no record";
  EXPECT_FALSE(fs::exists(out + ".adam"));
  // Done with these settings: the next run skips it.
  const test::CommandResult again = test::run_command(command);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("0 job(s) made, 1 already done"), std::string::npos) << again.output;
}

// A worker killed outright (SIGKILL, out of memory, a node lost) leaves its
// --save-every images but no output and no record: the job goes on from the
// newest of them, not from the start over them.
TEST_F(Batch, AKilledJobGoesOnFromItsNewestSaveEveryImage) {
  const test::CommandResult first = run_batch(6, {"--save-every", "2", "--print-every", "1"});
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const std::string out = output("cat", "monet");
  const std::string snapshot = dir.file("out/cat_monet_0004.png");
  ASSERT_TRUE(fs::exists(snapshot) && fs::exists(snapshot + ".json")) << first.output;
  ASSERT_TRUE(fs::exists(dir.file("out/cat_monet_0002.png"))) << first.output;
  fs::remove(out);  // as if killed after iteration 4's image
  const std::string saved = test::read_file(snapshot);

  const test::CommandResult again = run_batch(6, {"--save-every", "2", "--print-every", "1"});
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find(out + " was not finished: resuming it from " + snapshot + ", iteration 4"),
            std::string::npos)
      << again.output;
  EXPECT_NE(again.output.find("1 job(s) made, 3 already done"), std::string::npos) << again.output;
  EXPECT_EQ(again.output.find("iter 1/6"), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("iter 5/6"), std::string::npos) << again.output;
  EXPECT_TRUE(fs::exists(out));
  EXPECT_EQ(test::read_file(snapshot), saved) << "the image it went on from is kept";
}

// The record of a job's settings is written as the job starts, so a worker
// killed outright leaves it beside its --save-every images: a rerun with other
// settings does not go on from them towards another image (it is refused
// before any work), and a rerun with the same settings and another -n does.
TEST_F(Batch, AKilledJobBegunWithOtherSettingsIsNotResumed) {
  const std::vector<std::string> flags = {"--save-every", "50", "--print-every", "1"};
  test::Child worker = test::spawn(arguments(400, flags));
  ASSERT_GT(worker.pid, 0);
  const std::string started = test::read_until(worker, "iter 53/");
  ASSERT_NE(started.find("iter 53/"), std::string::npos) << started;
  std::smatch job;
  ASSERT_TRUE(std::regex_search(started, job, std::regex("job 1 of 4: \\S+ with \\S+ -> (\\S+)"))) << started;
  const std::string out = job[1];
  EXPECT_TRUE(fs::exists(dir.file("out/." + fs::path(out).filename().string() + ".json")))
      << "the record is written as the job starts\n"
      << started;
  ::kill(worker.pid, SIGKILL);
  test::wait_exit_code(worker);
  ASSERT_FALSE(fs::exists(out));
  ASSERT_TRUE(fs::exists(out.substr(0, out.size() - 4) + "_0050.png.json")) << started;

  const test::CommandResult other = run_batch(400, {"--save-every", "50", "--style-weight", "5"});
  EXPECT_EQ(other.exit_code, 2) << other.output;
  EXPECT_NE(other.output.find("1 unfinished output(s) of this batch were begun by an earlier run with other "
                              "settings, and would be resumed: " +
                              out + " (--style-weight 0.01 (this run: 5.0)); add --redo"),
            std::string::npos)
      << other.output;
  EXPECT_EQ(other.output.find("loading weights"), std::string::npos) << other.output;

  const test::CommandResult longer = run_batch(401, flags);
  ASSERT_EQ(longer.exit_code, 0) << longer.output;
  EXPECT_NE(longer.output.find(out + " was not finished: resuming it from "), std::string::npos) << longer.output;
  EXPECT_NE(longer.output.find("4 job(s) made, 0 already done"), std::string::npos) << longer.output;
  const std::string record = dir.file("out/." + fs::path(out).filename().string() + ".json");
  EXPECT_EQ(nlohmann::json::parse(test::read_file(record))["iterations"], 401);
}

// Of images saved by a run with a larger -n, the newest within this run's:
// one past it is passed over, said (the job started again every time).
TEST_F(Batch, AKilledJobGoesOnFromItsNewestImageWithinThisRunsCount) {
  const test::CommandResult first = run_batch(6, {"--save-every", "2"});
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const std::string out = output("cat", "monet");
  ASSERT_TRUE(fs::exists(dir.file("out/cat_monet_0004.png.json"))) << first.output;
  // As if killed after iteration 4's image; the other jobs not begun.
  const auto only_the_killed_job = [&] {
    for (const auto& entry : fs::directory_iterator(dir.file("out"))) {
      const std::string name = entry.path().filename().string();
      if (name.find("cat_monet_0") == std::string::npos) fs::remove(entry.path());
    }
  };
  only_the_killed_job();
  const test::CommandResult lower = run_batch(3, {"--save-every", "2", "--print-every", "1"});
  ASSERT_EQ(lower.exit_code, 0) << lower.output;
  const size_t resuming = lower.output.find(
      out + " was not finished: resuming it from " + dir.file("out/cat_monet_0002.png") + ", iteration 2; " +
      dir.file("out/cat_monet_0004.png") + " (iteration 4) is past this run's -n");
  ASSERT_NE(resuming, std::string::npos) << lower.output;
  EXPECT_EQ(lower.output.find("iter ", resuming), lower.output.find("iter 3/3", resuming)) << lower.output;
  EXPECT_TRUE(fs::exists(out));
  // Every image past it: said, and started again.
  only_the_killed_job();
  const test::CommandResult lowest = run_batch(1, {"--save-every", "2", "--print-every", "1"});
  ASSERT_EQ(lowest.exit_code, 0) << lowest.output;
  EXPECT_NE(lowest.output.find(out +
                               " was not finished, and every image saved of it is past this run's -n (the "
                               "newest: " +
                               dir.file("out/cat_monet_0004.png") + " (iteration 4)): it starts again"),
            std::string::npos)
      << lowest.output;
}

// Coarse to fine the same, from the newest image of the last scale that has
// one (out_s2_0004.png); only that image keeps Adam's moments.
TEST_F(Batch, AKilledCoarseToFineJobGoesOnAtItsScale) {
  const std::vector<std::string> flags = {"--scales",     "2", "--min-size",    "24", "--initial-iterations", "4",
                                          "--save-every", "2", "--print-every", "1"};
  const test::CommandResult first = run_batch(6, flags);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const std::string out = output("cat", "monet");
  const std::string snapshot = dir.file("out/cat_monet_s2_0004.png");
  ASSERT_TRUE(fs::exists(snapshot) && fs::exists(snapshot + ".json")) << first.output;
  ASSERT_TRUE(fs::exists(dir.file("out/cat_monet_s1_0002.png.json"))) << first.output;
  EXPECT_TRUE(fs::exists(snapshot + ".adam"));
  EXPECT_FALSE(fs::exists(dir.file("out/cat_monet_s1_0002.png.adam"))) << "only the newest image keeps its moments";
  EXPECT_FALSE(fs::exists(dir.file("out/cat_monet_s2_0002.png.adam")));
  fs::remove(out);  // as if killed after iteration 4's image of scale 2

  const test::CommandResult again = run_batch(6, flags);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find(out + " was not finished: resuming it from " + snapshot + ", iteration 4 of scale 2/2"),
            std::string::npos)
      << again.output;
  EXPECT_EQ(again.output.find("iter 1/"), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("iter 5/6"), std::string::npos) << again.output;
  EXPECT_EQ(again.output.find("start again"), std::string::npos) << "with Adam's moments: " << again.output;
  EXPECT_TRUE(fs::exists(out));
}

// Sizes that fall together into one scale save images named as one scale's
// (out_0004.png): found all the same (they were looked for as out_s1_0004.png,
// and the job started again).
TEST_F(Batch, AKilledJobWhoseScalesFellIntoOneGoesOn) {
  const std::vector<std::string> flags = {"--scales",     "2", "--min-size",    "32", "--initial-iterations", "4",
                                          "--save-every", "2", "--print-every", "1"};
  const test::CommandResult first = run_batch(6, flags);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const std::string out = output("cat", "monet");
  const std::string snapshot = dir.file("out/cat_monet_0004.png");
  ASSERT_TRUE(fs::exists(snapshot) && fs::exists(snapshot + ".json")) << first.output;
  fs::remove(out);  // as if killed after iteration 4's image

  const test::CommandResult again = run_batch(6, flags);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find(out + " was not finished: resuming it from " + snapshot + ", iteration 4\n"),
            std::string::npos)
      << again.output;
  EXPECT_NE(again.output.find("iter 5/6"), std::string::npos) << again.output;
  EXPECT_EQ(again.output.find("iter 1/"), std::string::npos) << again.output;
  EXPECT_TRUE(fs::exists(out));
}

// Ctrl-C while every job is another worker's (here: the test holds their
// claims) stops the wait at once and says how to go on; no claim is touched.
TEST_F(Batch, AnInterruptWhileWaitingForAnotherWorkerSaysHowToGoOn) {
  fs::create_directories(dir.file("out"));
  std::vector<LockFile> held = hold_claims();
  ASSERT_EQ(held.size(), outputs.size());
  test::Child worker = test::spawn(arguments(5));
  ASSERT_GT(worker.pid, 0);
  const std::string waiting = test::read_until(worker, "waiting for it");
  ASSERT_NE(waiting.find("waiting for it"), std::string::npos) << waiting;
  ::kill(worker.pid, SIGINT);
  const std::string log = test::read_all(worker, waiting);
  ASSERT_EQ(test::wait_exit_code(worker), 128 + SIGINT) << log;
  EXPECT_NE(log.find("interrupted between jobs: 0 job(s) made, 0 already done; run the same stylize batch command to "
                     "go on with the rest"),
            std::string::npos)
      << log;
  for (const auto& out : outputs) {
    EXPECT_FALSE(fs::exists(out)) << out;
    EXPECT_TRUE(fs::exists(out + ".lock")) << "another worker's claim stays: " << out;
  }
}

// A worker that waited for jobs other workers held, which those made with
// other settings, does not count them as done: each is a failed job (exit 2).
TEST_F(Batch, JobsAnotherWorkerMadeWithOtherSettingsAreNotDone) {
  const test::CommandResult first = run_batch(2);  // the other worker's outputs and records, at --size 32
  ASSERT_EQ(first.exit_code, 0) << first.output;
  fs::rename(dir.file("out"), dir.file("made"));
  fs::create_directories(dir.file("out"));
  std::vector<LockFile> held = hold_claims();
  ASSERT_EQ(held.size(), outputs.size());
  std::vector<std::string> args = arguments(2);
  *(std::find(args.begin(), args.end(), "--size") + 1) = "24";
  test::Child worker = test::spawn(args);
  ASSERT_GT(worker.pid, 0);
  const std::string waiting = test::read_until(worker, "waiting for it");
  ASSERT_NE(waiting.find("waiting for it"), std::string::npos) << waiting;
  for (const auto& entry : fs::directory_iterator(dir.file("made"))) {
    fs::rename(entry.path(), fs::path(dir.file("out")) / entry.path().filename());
  }
  held.clear();  // the other worker is done
  const std::string log = test::read_all(worker, waiting);
  EXPECT_EQ(test::wait_exit_code(worker), 2) << log;
  EXPECT_NE(log.find(output("cat", "monet") + " was made by another worker with other settings (--size 32 (this run: "
                                              "24)"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("0 job(s) made, 0 already done, 4 failed"), std::string::npos) << log;
}

// Two workers on the same job list at once; one is killed (SIGKILL: no
// chance to save or release its claim) in the middle of a job. The other
// takes the dead worker's claim over and finishes every job: each output is
// written exactly once, and no claim or record is left.
// A worker whose claim is taken over mid-job (it paused past the stale limit,
// and another worker broke its lock) writes nothing more, at once rather than
// at its next heartbeat, and does not count the job as made: it waits for the
// other worker's, and makes it when that one gives it up.
TEST_F(Batch, AWorkerWhoseClaimIsTakenOverWritesNothingAndWaits) {
  const std::string out = output("cat", "monet");
  std::vector<std::string> args = arguments(1000, {"--print-every", "1"});
  args[2] = dir.file("photos/cat.png");
  args[4] = dir.file("paintings/monet.png");
  test::Child worker = test::spawn(args);
  ASSERT_GT(worker.pid, 0);
  std::string log = test::read_until(worker, "iter 5/");
  ASSERT_NE(log.find("iter 5/"), std::string::npos) << log;
  // Another worker takes the output over: a new lock file in place of the worker's.
  fs::remove(out + ".lock");
  std::optional<LockFile> other = LockFile::try_acquire(out + ".lock", LockOwner::current("test"), LockTiming{});
  ASSERT_TRUE(other.has_value());
  log = test::read_until(worker, "waiting for it", log);
  ASSERT_NE(log.find("another process took over " + out), std::string::npos) << log;
  EXPECT_EQ(log.find("iter 1000/"), std::string::npos) << "the worker went on after losing its claim\n" << log;
  EXPECT_FALSE(fs::exists(out)) << log;
  EXPECT_FALSE(fs::exists(out + ".json")) << "no checkpoint record either\n" << log;
  // The other worker gives up without making it: the waiting worker makes it.
  other->release();
  log = test::read_all(worker, log);
  ASSERT_EQ(test::wait_exit_code(worker), 0) << log;
  EXPECT_TRUE(fs::exists(out)) << log;
  EXPECT_EQ(count(log, "wrote " + out), 1u) << log;
  EXPECT_NE(log.find("1 job(s) made"), std::string::npos) << log;
  expect_no_leftovers();
}

TEST_F(Batch, TwoWorkersShareTheListAndSurviveOneBeingKilled) {
  const int iterations = 400;
  test::Child a = test::spawn(arguments(iterations, {"--print-every", "1"}));
  test::Child b = test::spawn(arguments(iterations, {"--print-every", "1"}));
  ASSERT_GT(a.pid, 0);
  ASSERT_GT(b.pid, 0);
  const std::string a_log = test::read_until(a, "iter 5/");
  ASSERT_NE(a_log.find("iter 5/"), std::string::npos) << a_log;
  ::kill(a.pid, SIGKILL);
  const std::string a_rest = test::read_all(a, a_log);
  EXPECT_EQ(test::wait_exit_code(a), 128 + SIGKILL);
  const std::string b_log = test::read_all(b);
  ASSERT_EQ(test::wait_exit_code(b), 0) << b_log;
  // The takeover is said, with whose claim it was and why it was stale (the
  // pid gone, or a zombie not yet reaped: "has exited (not yet reaped)").
  const size_t took = b_log.find("took over the claim on ");
  ASSERT_NE(took, std::string::npos) << b_log;
  EXPECT_NE(b_log.find("(pid " + std::to_string(a.pid) + " on ", took), std::string::npos) << b_log;
  EXPECT_NE(b_log.find("process " + std::to_string(a.pid) + " on this host has exited", took), std::string::npos)
      << b_log;
  for (const auto& out : outputs) {
    ASSERT_TRUE(fs::exists(out)) << out << "\n" << b_log;
    EXPECT_EQ(count(a_rest, "wrote " + out) + count(b_log, "wrote " + out), 1u) << out << "\nA:\n"
                                                                                << a_rest << "\nB:\n"
                                                                                << b_log;
  }
  expect_no_leftovers();
}

}  // namespace
}  // namespace stylize
