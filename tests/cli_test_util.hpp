// The fixture of the end-to-end CLI tests (test_cli.cpp, test_cli_effects.cpp):
// tiny images in a temporary directory, a quick run on the tiny fixture
// weights, and a child process whose output is read with deadlines.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "stylize/io/image_io.hpp"
#include "test_util.hpp"

namespace stylize::test {

using RunResult = CommandResult;

inline RunResult run_stylize(const std::string& arguments, const std::string& prefix = "") {
  return run_command(prefix + " " + std::string(STYLIZE_BINARY) + " " + arguments);
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    content = dir.file("content.png");
    style = dir.file("style.png");
    output = dir.file("out.png");
    save_image(pattern_image(48, 40, 0.3), content);  // 40 wide, 48 tall
    save_image(pattern_image(32, 32, 1.7), style);
  }
  // Flags for a quick run on the tiny fixture weights. On the CPU, so that a
  // CUDA build's runs are deterministic too (cuDNN's autotuner is not).
  std::string quick(const std::string& extra = "") const {
    return "--content " + content + " --style " + style + " -o " + output + " --weights " +
           fixture("vgg19_tiny.safetensors") + " --size 48 --iterations 4 --threads 1 --device cpu " + extra;
  }
  void expect_failure(const RunResult& r, int code, const std::string& needle) const {
    EXPECT_EQ(r.exit_code, code) << r.output;
    EXPECT_NE(r.output.find(needle), std::string::npos) << r.output;
    EXPECT_FALSE(std::filesystem::exists(output)) << "a failed run must not write " << output;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
      EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
    }
  }

 public:
  TempDir dir;
  std::string content, style, output;
};

// The stylize executable as a child process whose output is read as it runs
// (child_process.hpp), with deadlines instead of hangs.
inline Child spawn(const std::vector<std::string>& arguments) { return spawn(STYLIZE_BINARY, arguments); }

inline int wait_exit_code(const Child& child, int deadline_s = 120) { return wait_child(child, deadline_s).code; }

// The one image a run that could not write `output` (a full disk) saved into
// the temporary folder `tmp` instead, once its error said so and where; an
// empty path (and a failure) if there is not exactly one.
inline std::filesystem::path rescued_image(const RunResult& r, const std::string& output, const std::string& tmp) {
  const std::string said = "cannot write output '" + output + "': No space left on device; the image was saved to " +
                           tmp + "/stylize-rescued-";
  EXPECT_NE(r.output.find(said), std::string::npos) << r.output;
  std::vector<std::filesystem::path> rescued;
  for (const auto& entry : std::filesystem::directory_iterator(tmp)) rescued.push_back(entry.path());
  if (rescued.size() != 1) {
    ADD_FAILURE() << rescued.size() << " images in " << tmp << ", expected the one rescued\n" << r.output;
    return {};
  }
  EXPECT_NE(r.output.find(rescued[0].string() + " instead"), std::string::npos) << r.output;
  return rescued[0];
}

}  // namespace stylize::test
