// A child process of the test whose merged standard output and error can be
// read while it runs, for the tests that signal a run at a chosen moment.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
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
    // The stop signals as a process started from a terminal has them, even
    // where the tests run under nohup or as a background job (which ignore
    // SIGHUP or SIGINT, and pass that on).
    for (const int signal : {SIGINT, SIGTERM, SIGHUP}) ::signal(signal, SIG_DFL);
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

// Reads until `needle` appears or the child closes its output. After
// `deadline_s` seconds without either the test fails instead of hanging.
inline std::string read_until(const Child& child, const std::string& needle, std::string sofar = "",
                              double deadline_s = 300) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(deadline_s);
  char buffer[4096];
  while (sofar.find(needle) == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    pollfd p{child.fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      ADD_FAILURE() << "no '" << needle << "' from the child within " << deadline_s << " s; it printed:\n" << sofar;
      break;
    }
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

// Waits for the child's exit; a child still running after `deadline_s` seconds
// is killed and the test fails instead of hanging.
inline ChildExit wait_child(const Child& child, int deadline_s = 300) {
  int status = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(deadline_s);
  while (::waitpid(child.pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > end) {
      ADD_FAILURE() << "the child did not exit within " << deadline_s << " s; killed";
      ::kill(child.pid, SIGKILL);
      ::waitpid(child.pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::close(child.fd);
  if (WIFEXITED(status)) return {true, WEXITSTATUS(status)};
  return {false, 128 + WTERMSIG(status)};
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

// A writer's end of the FIFO `fifo` once a process has opened it to read (a
// writer cannot open it without blocking before that), held open so that the
// reader waits for data that never comes; -1 when no reader came within
// `deadline_s` seconds. The caller closes it.
inline int writer_once_read(const std::string& fifo, int deadline_s = 60) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(deadline_s);
  int writer = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
  while (writer < 0 && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    writer = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
  }
  return writer;
}

}  // namespace stylize::test
