// The stylize executable as a child process whose merged stdout and stderr
// are read while it runs (signals, several workers at once).
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

namespace stylize::test {

struct Child {
  pid_t pid = -1;
  int fd = -1;
};

// Starts STYLIZE_BINARY with `arguments`.
inline Child spawn_stylize(const std::vector<std::string>& arguments) {
  int fds[2];
  if (::pipe(fds) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
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

// Reads until `needle` appears, the child closes its output, or `limit` passes.
inline std::string read_until(const Child& child, const std::string& needle, std::string sofar = "",
                              std::chrono::seconds limit = std::chrono::seconds(300)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  char buffer[4096];
  while (sofar.find(needle) == std::string::npos) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd ready{child.fd, POLLIN, 0};
    if (::poll(&ready, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = ::read(child.fd, buffer, sizeof buffer);
    if (n <= 0) break;
    sofar.append(buffer, static_cast<size_t>(n));
  }
  return sofar;
}

// Everything the child still prints, up to `limit`.
inline std::string read_to_end(const Child& child, std::string sofar = "",
                               std::chrono::seconds limit = std::chrono::seconds(300)) {
  return read_until(child, std::string("\x04never"), std::move(sofar), limit);
}

// Waits for the child (after its output has ended) and returns its exit code (128 + signal if killed).
inline int wait_exit_code(const Child& child) {
  int status = 0;
  ::waitpid(child.pid, &status, 0);
  ::close(child.fd);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace stylize::test
