// End-to-end tests of the stylize executable: exit codes, messages, outputs.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>

#include "stylize/image_io.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

RunResult run_stylize(const std::string& arguments, const std::string& prefix = "") {
  const std::string command = prefix + " " + std::string(STYLIZE_BINARY) + " " + arguments + " 2>&1";
  RunResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    content = dir.file("content.png");
    style = dir.file("style.png");
    output = dir.file("out.png");
    save_image(test::pattern_image(48, 40, 0.3), content);  // 40 wide, 48 tall
    save_image(test::pattern_image(32, 32, 1.7), style);
  }
  // Flags for a quick run on the tiny fixture weights.
  std::string quick(const std::string& extra = "") const {
    return "--content " + content + " --style " + style + " -o " + output + " --weights " +
           test::fixture("vgg19_tiny.safetensors") + " --size 48 --iterations 4 --threads 1 " + extra;
  }
  void expect_failure(const RunResult& r, int code, const std::string& needle) const {
    EXPECT_EQ(r.exit_code, code) << r.output;
    EXPECT_NE(r.output.find(needle), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(output)) << "a failed run must not write " << output;
    for (const auto& entry : fs::directory_iterator(dir.path())) {
      EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
    }
  }

  TempDir dir;
  std::string content, style, output;
};

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
}

TEST_F(Cli, ResizesToSizeAndKeepsAspect) {
  const RunResult r = run_stylize(quick("--size 36 -q"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(load_image(output, "output").sizes(), (std::vector<int64_t>{1, 3, 36, 30}));
  EXPECT_EQ(r.output, "") << "--quiet prints nothing on success";
}

TEST_F(Cli, SavesIntermediateImages) {
  const RunResult r = run_stylize(quick("--save-every 2 -q"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir.file("out_0002.png")));
  EXPECT_TRUE(fs::exists(output));
}

TEST_F(Cli, RealImagesWhenPresent) {
  const std::string tiny = std::string(STYLIZE_SHARED_IMAGES_DIR) + "/tiny/";
  if (!fs::exists(tiny + "content_48x64.png")) GTEST_SKIP() << "shared images not present";
  const RunResult r = run_stylize("--content " + tiny + "content_48x64.png --style " + tiny + "style_32x32.png -o " +
                                  output + " --weights " + test::fixture("vgg19_tiny.safetensors") +
                                  " --size 64 --iterations 3 -q");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(load_image(output, "output").sizes(), (std::vector<int64_t>{1, 3, 64, 48}));
}

TEST_F(Cli, HelpShowsDefaultsAndVersionWorks) {
  const RunResult help = run_stylize("--help");
  EXPECT_EQ(help.exit_code, 0);
  for (const std::string needle : {"--content", "--style-weight", "0.01", "relu5_2", "--tv-weight", "30", "1000"}) {
    EXPECT_NE(help.output.find(needle), std::string::npos) << needle;
  }
  const RunResult version = run_stylize("--version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.output.find("stylize "), std::string::npos);
}

TEST_F(Cli, MissingContentFile) {
  expect_failure(run_stylize(quick("--content " + dir.file("nope.jpg"))), 3,
                 "cannot read content image '" + dir.file("nope.jpg") + "': file not found");
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
  // Offline, with an empty cache: nothing may be downloaded in a test.
  const RunResult r = run_stylize(flags, "env -u STYLIZE_WEIGHTS STYLIZE_OFFLINE=1 XDG_CACHE_HOME=" + dir.file("cache"));
  if (r.exit_code == 0) GTEST_SKIP() << "real weights are installed in models/";
  expect_failure(r, 4, "download_models.sh");
  EXPECT_NE(r.output.find("offline mode"), std::string::npos) << r.output;
}

TEST_F(Cli, NegativeWeightAndZeroIterations) {
  expect_failure(run_stylize(quick("--style-weight -1")), 2, "--style-weight");
  expect_failure(run_stylize(quick("--iterations 0")), 2, "--iterations");
  expect_failure(run_stylize(quick("--style-layers relu1_1,relu9_9")), 2, "relu9_9");
  expect_failure(run_stylize(quick("--device gpu")), 2, "--device");
  expect_failure(run_stylize(quick("--bogus-flag")), 2, "bogus");
}

TEST_F(Cli, BadOutputPaths) {
  expect_failure(run_stylize(quick("-o " + dir.file("missing/out.png"))), 6, "does not exist");
  expect_failure(run_stylize(quick("-o " + dir.file("out.gif"))), 6, "extension");
  const RunResult r = run_stylize(quick("-o " + content));
  EXPECT_EQ(r.exit_code, 6) << r.output;
  EXPECT_NE(r.output.find("also an input"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace stylize
