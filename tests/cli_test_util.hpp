// The fixture of the end-to-end CLI tests (test_cli.cpp, test_cli_effects.cpp):
// tiny images in a temporary directory, a quick run on the tiny fixture
// weights, and a child process whose output is read with deadlines.
#pragma once

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

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

// A child process whose merged stdout and stderr can be read as it runs.
struct Child {
  pid_t pid = -1;
  int fd = -1;
};

inline Child spawn(const std::vector<std::string>& arguments) {
  int fds[2];
  if (::pipe(fds) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    ::close(fds[0]);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(STYLIZE_BINARY));
    for (const auto& a : arguments) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(STYLIZE_BINARY, argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  return {pid, fds[0]};
}

// Reads until `needle` appears, the child closes its output, or `deadline_s`
// seconds pass without it (then the test fails instead of hanging).
inline std::string read_until(const Child& child, const std::string& needle, std::string sofar = "",
                              int deadline_s = 120) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(deadline_s);
  char buffer[4096];
  while (sofar.find(needle) == std::string::npos) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    pollfd fd{child.fd, POLLIN, 0};
    if (left <= 0 || ::poll(&fd, 1, static_cast<int>(left)) <= 0) {
      ADD_FAILURE() << "no '" << needle << "' from the child within " << deadline_s << " s; it printed:\n" << sofar;
      break;
    }
    const ssize_t n = ::read(child.fd, buffer, sizeof buffer);
    if (n <= 0) break;
    sofar.append(buffer, static_cast<size_t>(n));
  }
  return sofar;
}

// Waits until `signal` is no longer pending for process `pid` (the kernel has
// run its handler), polling /proc/PID/status every millisecond; false after
// `deadline_s` seconds or when the process is gone.
inline bool wait_signal_delivered(pid_t pid, int signal, int deadline_s = 10) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(deadline_s);
  const unsigned long long bit = 1ULL << (signal - 1);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    if (!status) return false;
    bool pending = false;
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("SigPnd:", 0) == 0 || line.rfind("ShdPnd:", 0) == 0) {
        pending = pending || (std::stoull(line.substr(7), nullptr, 16) & bit) != 0;
      }
    }
    if (!pending) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

// The child's exit code; a child still running after `deadline_s` seconds is
// killed (and the test fails) instead of hanging the test.
inline int wait_exit_code(const Child& child, int deadline_s = 60) {
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(deadline_s);
  while (::waitpid(child.pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "the child did not exit within " << deadline_s << " s; killed";
      ::kill(child.pid, SIGKILL);
      ::waitpid(child.pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::close(child.fd);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace stylize::test
