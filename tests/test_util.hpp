// Helpers shared by the tests: fixture paths, temporary directories, small images.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

#include <torch/torch.h>

#include "stylize/core/options.hpp"

namespace stylize::test {

inline std::string fixture(const std::string& name) { return std::string(STYLIZE_FIXTURES_DIR) + "/" + name; }

inline std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A fresh directory under the system temp dir, removed with the object.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "stylize-test-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Exit code and output (stdout and stderr together) of a shell command.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};

inline CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

// Whether the stylize executable finds weights without a download: in
// models/ of the current directory or of its installation (the source tree for
// build/stylize), $STYLIZE_WEIGHTS left out and `cache_dir` as XDG_CACHE_HOME.
inline bool binary_finds_weights(const std::string& cache_dir) {
  const CommandResult r = run_command("env -u STYLIZE_WEIGHTS XDG_CACHE_HOME=" + cache_dir + " " +
                                      std::string(STYLIZE_BINARY) + " weights list");
  return r.output.find("stylize uses: ") != std::string::npos;
}

// Sets (or, with nullopt, unsets) an environment variable for the object's lifetime.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::optional<std::string>& value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;
    if (value) {
      ::setenv(name_.c_str(), value->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// A smooth colourful (1, 3, h, w) image in [0, 1], different for each phase.
inline torch::Tensor pattern_image(int64_t h, int64_t w, double phase) {
  auto y = torch::linspace(0, 1, h).view({h, 1});
  auto x = torch::linspace(0, 1, w).view({1, w});
  std::vector<torch::Tensor> channels;
  for (int c = 0; c < 3; ++c) {
    channels.push_back(0.5 + 0.4 * torch::sin(6.28 * (c + 1) * (x * std::cos(phase + c) + y * std::sin(phase + c))));
  }
  return torch::stack(channels).unsqueeze(0).to(torch::kFloat32);
}

// Options for fast CPU tests with the tiny fixture weights.
inline StylizeOptions tiny_options() {
  StylizeOptions options;
  options.device = DeviceKind::Cpu;
  options.precision = Precision::Fp32;
  options.iterations = 20;
  return options;
}

// Whether tests must not skip for something scripts/setup.sh installs
// (STYLIZE_TESTS_REQUIRE_ALL=1, which scripts/test.sh and CI set).
inline bool require_all() {
  const char* value = std::getenv("STYLIZE_TESTS_REQUIRE_ALL");
  return value != nullptr && std::string(value) == "1";
}

}  // namespace stylize::test

// Skips the test for a missing capability that setup.sh provides, or fails it
// under STYLIZE_TESTS_REQUIRE_ALL=1. Use in a test body.
#define STYLIZE_REQUIRE_OR_SKIP(reason)                                                         \
  do {                                                                                          \
    if (::stylize::test::require_all()) FAIL() << (reason) << " (STYLIZE_TESTS_REQUIRE_ALL=1)"; \
    GTEST_SKIP() << (reason);                                                                   \
  } while (0)
