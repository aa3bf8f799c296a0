// Replays every input in tests/fuzz_regressions/TARGET/ through the checks of
// the fuzz target TARGET (fuzz/fuzz_checks.hpp): inputs scripts/fuzz.sh found
// once broke stylize, and hand-made hostile ones (README.md there). Each must
// be handled as documented: accepted, or refused with the library's typed error.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "fuzz_checks.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> regression_inputs(const std::string& target) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(fs::path(STYLIZE_FUZZ_REGRESSIONS_DIR) / target)) {
    if (entry.is_regular_file() && entry.path().extension() != ".md") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

size_t count_files(const fs::path& dir) {
  return static_cast<size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

TEST(FuzzRegressions, Safetensors) {
  const auto files = regression_inputs("fuzz_safetensors");
  ASSERT_FALSE(files.empty());
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    std::string problem;
    EXPECT_NO_THROW(problem = fuzz::check_safetensors(test::read_file(file.string())));
    EXPECT_EQ(problem, "");
  }
}

TEST(FuzzRegressions, KerasHdf5) {
  const auto files = regression_inputs("fuzz_keras_h5");
  ASSERT_FALSE(files.empty());
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    std::string problem;
    EXPECT_NO_THROW(problem = fuzz::check_keras_h5(test::read_file(file.string())));
    EXPECT_EQ(problem, "");
  }
}

TEST(FuzzRegressions, Image) {
  const auto files = regression_inputs("fuzz_image");
  ASSERT_FALSE(files.empty());
  // As in scripts/fuzz.sh, OpenCV's temporary files go to a directory of their
  // own, and so do stylize's (TMPDIR); it must stay empty.
  const test::TempDir temp;
  const test::ScopedEnv opencv_temp("OPENCV_TEMP_PATH", temp.path().string());
  const test::ScopedEnv tmpdir("TMPDIR", temp.path().string());
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    fuzz::ImageOutcome outcome;
    EXPECT_NO_THROW(outcome = fuzz::check_image(test::read_file(file.string())));
    EXPECT_EQ(outcome.problem, "");
    EXPECT_EQ(count_files(temp.path()), 0u) << "a temporary file was left behind";
  }
}

}  // namespace
}  // namespace stylize
