// Helpers for the batch, claim and lock tests: a temporary directory, files,
// and child processes started together. No LibTorch (tests/test_util.hpp has it).
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../temp_dir.hpp"

namespace stylize::batch_test {

using ScratchDir = stylize::test::TempDir;

inline std::string slurp(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
}

inline void put(const std::string& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
}

// The non-empty lines of a file.
inline std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream file(path);
  for (std::string line; std::getline(file, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// Names in `dir` that a finished batch must not leave behind: locks and takeover markers.
inline std::vector<std::string> leftover_locks(const std::filesystem::path& dir) {
  std::vector<std::string> found;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.find(".lock") != std::string::npos) found.push_back(name);
  }
  return found;
}

// Appends one line with a single write() (O_APPEND), so lines of concurrent processes never interleave.
inline void append_line(const std::string& path, const std::string& line) {
  std::ofstream file(path, std::ios::app);
  file << line + "\n" << std::flush;
}

// Reads one byte from `fd`, waiting at most `deadline`; 0 on timeout or end of file.
inline char read_byte(int fd, std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
  struct pollfd wanted = {fd, POLLIN, 0};
  char byte = 0;
  if (::poll(&wanted, 1, static_cast<int>(deadline.count())) != 1 || ::read(fd, &byte, 1) != 1) return 0;
  return byte;
}

// Forks `count` children that wait at a common start line, then run body(i)
// and exit with its result. Returns their exit codes (-1: killed or past the
// deadline, then killed).
inline std::vector<int> run_together(int count, const std::function<int(int)>& body,
                                     std::chrono::seconds deadline = std::chrono::seconds(60)) {
  int gate[2];
  if (::pipe(gate) != 0) std::abort();
  std::vector<pid_t> children;
  for (int i = 0; i < count; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(gate[1]);
      char byte;
      while (::read(gate[0], &byte, 1) > 0) {
      }
      int code = 99;
      try {
        code = body(i);
      } catch (...) {
        code = 98;
      }
      std::_Exit(code);
    }
    children.push_back(pid);
  }
  ::close(gate[0]);
  ::close(gate[1]);  // EOF: every child starts now
  std::vector<int> codes(children.size(), -1);
  const auto until = std::chrono::steady_clock::now() + deadline;
  for (size_t i = 0; i < children.size(); ++i) {
    int status = 0;
    for (;;) {
      const pid_t done = ::waitpid(children[i], &status, WNOHANG);
      if (done == children[i]) {
        codes[i] = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        break;
      }
      if (std::chrono::steady_clock::now() > until) {
        ::kill(children[i], SIGKILL);
        ::waitpid(children[i], &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  return codes;
}

}  // namespace stylize::batch_test
