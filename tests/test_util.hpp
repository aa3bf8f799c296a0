// Helpers shared by the tests: fixture paths, temporary directories, small images.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

#include <torch/torch.h>

#include "stylize/options.hpp"

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

// Sets an environment variable for the life of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
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
inline Options tiny_options() {
  Options options;
  options.device = DeviceKind::Cpu;
  options.precision = Precision::Fp32;
  options.threads = 1;
  options.size = 32;
  options.iterations = 20;
  return options;
}

}  // namespace stylize::test
