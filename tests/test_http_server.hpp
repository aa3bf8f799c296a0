// Starts tests/http_server.py on 127.0.0.1 (an ephemeral port) for the
// download tests and stops it with the object. Nothing leaves the loopback
// interface.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "test_util.hpp"

namespace stylize::test {

class HttpServer {
 public:
  // Serves the files of `root`; logs requests to `log_path`.
  HttpServer(const std::string& root, const std::string& log_path) : log_path_(log_path) {
    int out[2];
    if (::pipe(out) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      const std::string script = std::string(STYLIZE_TESTS_DIR) + "/http_server.py";
      ::execl(STYLIZE_TEST_PYTHON, STYLIZE_TEST_PYTHON, script.c_str(), "--root", root.c_str(), "--log",
              log_path.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(out[1]);
    // The server prints "PORT <n>" once it listens.
    std::string line;
    pollfd fd{out[0], POLLIN, 0};
    while (line.find('\n') == std::string::npos && ::poll(&fd, 1, 20000) > 0) {
      char buffer[64];
      const ssize_t n = ::read(out[0], buffer, sizeof buffer);
      if (n <= 0) break;
      line.append(buffer, static_cast<size_t>(n));
    }
    ::close(out[0]);
    if (line.rfind("PORT ", 0) == 0) port_ = std::stoi(line.substr(5));
  }
  ~HttpServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  bool running() const { return port_ > 0; }
  // "http://127.0.0.1:PORT/files/NAME"
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + "/" + path; }
  // The requests served so far, one "GET PATH RANGE" line each.
  std::vector<std::string> requests() const {
    std::vector<std::string> lines;
    std::string text = read_file(log_path_);
    size_t start = 0;
    for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
      lines.push_back(text.substr(start, end - start));
    }
    return lines;
  }

 private:
  std::string log_path_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace stylize::test
