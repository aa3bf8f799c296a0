// Helpers shared by the tests: fixture paths, temporary directories, small images.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <string>

#include <torch/torch.h>

#include "stylize/core/options.hpp"
#include "stylize/vgg19_layers.hpp"
#include "stylize/weights/weights.hpp"
#include "temp_dir.hpp"

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

// Whether a skip whose cause scripts/setup.sh removes (a missing package, a
// build without oneDNN) must fail instead: STYLIZE_TESTS_REQUIRE_ALL=1, which
// .ci/run sets, so that CI never passes by skipping.
inline bool require_all() {
  const char* value = std::getenv("STYLIZE_TESTS_REQUIRE_ALL");
  return value && std::string(value) == "1";
}

// Skips with `reason`, or fails with it under STYLIZE_TESTS_REQUIRE_ALL=1.
// Only for causes setup removes; a legitimate skip (no GPU) uses GTEST_SKIP.
#define STYLIZE_SKIP_UNLESS_REQUIRED(reason)                                                      \
  do {                                                                                            \
    if (::stylize::test::require_all()) {                                                         \
      FAIL() << reason << " (a skip that scripts/setup.sh removes; STYLIZE_TESTS_REQUIRE_ALL=1)"; \
    }                                                                                             \
    GTEST_SKIP() << reason;                                                                       \
  } while (0)

// Exit code and output (stdout and stderr together) of a shell command.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};

// `command` is one program and its arguments (an `env ...` prefix included): it
// is killed after `deadline_s` seconds, so a hang fails as exit code 124
// instead of blocking the read below until CTest's TIMEOUT.
inline CommandResult run_command(const std::string& command, int deadline_s = 300) {
  CommandResult result;
  const std::string bounded = "timeout -k 10 " + std::to_string(deadline_s) + " " + command + " 2>&1";
  FILE* pipe = ::popen(bounded.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

// `env` arguments that hide every weights file a developer may have from
// STYLIZE_ISOLATED_BINARY (a copy of stylize in an installation without models/,
// tests/CMakeLists.txt): it runs in `dir` (no models/), with HOME under `dir`,
// `cache_dir` as XDG_CACHE_HOME and no STYLIZE_WEIGHTS. Tests of "no weights
// present" use it instead of skipping when weights are installed.
inline std::string isolated_environment(const std::string& dir, const std::string& cache_dir) {
  return "env -C " + dir + " -u STYLIZE_WEIGHTS HOME=" + dir + "/home XDG_CACHE_HOME=" + cache_dir;
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

// `jpeg` with an APP1 Exif segment after its SOI marker: big-endian TIFF, one
// IFD entry, Orientation (0x0112) = 6 (rotate 90 degrees clockwise).
inline std::string with_exif_rotation(std::string jpeg) {
  const std::string exif = std::string(
                               "\xff\xe1\x00\x22"
                               "Exif\x00\x00"
                               "MM\x00\x2a\x00\x00\x00\x08",
                               18) +
                           std::string(
                               "\x00\x01"
                               "\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00"
                               "\x00\x00\x00\x00",
                               18);
  jpeg.insert(2, exif);
  return jpeg;
}
// For in-process tests of "no weights present": HOME and XDG_CACHE_HOME under
// `dir`, no STYLIZE_WEIGHTS, and `dir` (no models/) as the current directory,
// all restored with the object. The test executable's own installation
// (the build tree) has no models/ folder.
class HiddenWeights {
 public:
  explicit HiddenWeights(const std::filesystem::path& dir)
      : home_("HOME", (dir / "home").string()),
        cache_("XDG_CACHE_HOME", (dir / "cache").string()),
        weights_("STYLIZE_WEIGHTS", std::nullopt),
        previous_(std::filesystem::current_path()) {
    std::filesystem::current_path(dir);
  }
  ~HiddenWeights() {
    std::error_code ignored;
    std::filesystem::current_path(previous_, ignored);
  }
  HiddenWeights(const HiddenWeights&) = delete;
  HiddenWeights& operator=(const HiddenWeights&) = delete;

 private:
  ScopedEnv home_, cache_, weights_;
  std::filesystem::path previous_;
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

// The tiny VGG19 fixture (torchvision convention), read once.
inline const VggWeights& tiny_weights() {
  static const VggWeights weights = load_vgg19_weights(fixture("vgg19_tiny.safetensors"));
  return weights;
}

// A full-width VGG19 (64 ... 512 channels) with He-initialized random weights.
inline VggWeights full_size_random() {
  const int64_t widths[16] = {64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512};
  torch::manual_seed(19);
  VggWeights weights;
  int64_t in = 3;
  for (int l = 0; l < 16; ++l) {
    ConvWeights conv{vgg19_conv_names()[l], widths[l], in, 3, 3, {}, {}};
    const torch::Tensor w = torch::randn({widths[l], in, 3, 3}) * std::sqrt(2.0 / (9.0 * in));
    const torch::Tensor b = torch::randn({widths[l]}) * 0.05;
    conv.weight.assign(w.data_ptr<float>(), w.data_ptr<float>() + w.numel());
    conv.bias.assign(b.data_ptr<float>(), b.data_ptr<float>() + b.numel());
    weights.convs.push_back(std::move(conv));
    in = widths[l];
  }
  return weights;
}

// The message of the `Error` that `action` throws, or `none` when it throws none.
template <class Error>
std::string error_message(const std::function<void()>& action, const std::string& none = "") {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  return none;
}

}  // namespace stylize::test
