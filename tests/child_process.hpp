// A child process of the test whose merged standard output and error can be
// read while it runs, for the tests that signal a run at a chosen moment.
#pragma once

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace stylize::test {

struct Child {
  pid_t pid = -1;
  int fd = -1;  // its standard output and error
};

// Starts `program` with `arguments`. Returns pid -1 when it cannot.
inline Child spawn(const std::string& program, const std::vector<std::string>& arguments) {
  int fds[2];
  if (::pipe(fds) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    ::close(fds[0]);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(program.c_str()));
    for (const auto& a : arguments) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  return {pid, fds[0]};
}

// Reads until `needle` appears, the child closes its output, or `deadline_s` passes.
inline std::string read_until(const Child& child, const std::string& needle, std::string sofar = "",
                              double deadline_s = 300) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(deadline_s);
  char buffer[4096];
  while (sofar.find(needle) == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{child.fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    const ssize_t n = ::read(child.fd, buffer, sizeof buffer);
    if (n <= 0) break;
    sofar.append(buffer, static_cast<size_t>(n));
  }
  return sofar;
}

// Reads the rest of the child's output.
inline std::string read_all(const Child& child, std::string sofar = "") {
  return read_until(child, std::string("\x04never", 6), std::move(sofar));
}

struct ChildExit {
  bool exited = false;  // false: killed by a signal
  int code = -1;        // the exit status, or 128 + the signal, as a shell reports it
};

inline ChildExit wait_child(const Child& child) {
  int status = 0;
  ::waitpid(child.pid, &status, 0);
  ::close(child.fd);
  if (WIFEXITED(status)) return {true, WEXITSTATUS(status)};
  return {false, 128 + WTERMSIG(status)};
}

}  // namespace stylize::test
