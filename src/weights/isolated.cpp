#include "isolated.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>

#include "stylize/errors.hpp"

namespace stylize::detail {
namespace {

// The message: a status byte (0: weights follow, 1: a WeightsError's text
// follows), then length-prefixed fields in the order written below.
class Writer {
 public:
  explicit Writer(int fd) : fd_(fd) {}
  void bytes(const void* data, size_t size) {
    const char* at = static_cast<const char*>(data);
    while (size > 0) {
      const ssize_t n = ::write(fd_, at, size);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) ::_exit(3);  // the parent went away
      at += n;
      size -= static_cast<size_t>(n);
    }
  }
  void u64(uint64_t value) { bytes(&value, sizeof value); }
  void text(const std::string& value) {
    u64(value.size());
    bytes(value.data(), value.size());
  }
  void floats(const std::vector<float>& values) {
    u64(values.size());
    bytes(values.data(), values.size() * sizeof(float));
  }

 private:
  int fd_;
};

class Reader {
 public:
  explicit Reader(const std::string& message) : message_(message) {}
  bool ok() const { return ok_; }
  void bytes(void* out, size_t size) {
    if (!ok_ || message_.size() - at_ < size) {
      ok_ = false;
      return;
    }
    std::memcpy(out, message_.data() + at_, size);
    at_ += size;
  }
  uint64_t u64() {
    uint64_t value = 0;
    bytes(&value, sizeof value);
    return value;
  }
  std::string text() {
    const uint64_t size = u64();
    if (!ok_ || size > message_.size() - at_) return ok_ = false, std::string();
    std::string value = message_.substr(at_, size);
    at_ += size;
    return value;
  }
  std::vector<float> floats() {
    const uint64_t count = u64();
    if (!ok_ || count > (message_.size() - at_) / sizeof(float)) return ok_ = false, std::vector<float>();
    std::vector<float> values(count);
    bytes(values.data(), count * sizeof(float));
    return values;
  }

 private:
  const std::string& message_;
  size_t at_ = 0;
  bool ok_ = true;
};

void write_weights(Writer& out, const VggWeights& weights) {
  out.text(weights.path);
  out.text(weights.format);
  out.text(weights.convention.name);
  out.u64(weights.metadata.size());
  for (const auto& [key, value] : weights.metadata) {
    out.text(key);
    out.text(value);
  }
  out.u64(weights.convs.size());
  for (const ConvWeights& conv : weights.convs) {
    out.text(conv.name);
    for (const int64_t dim : {conv.out_channels, conv.in_channels, conv.kernel_h, conv.kernel_w}) {
      out.u64(static_cast<uint64_t>(dim));
    }
    out.floats(conv.weight);
    out.floats(conv.bias);
  }
}

bool read_weights(Reader& in, VggWeights& weights) {
  weights.path = in.text();
  weights.format = in.text();
  const auto convention = InputConvention::by_name(in.text());
  if (!convention) return false;
  weights.convention = *convention;
  for (uint64_t n = in.u64(); in.ok() && n > 0; --n) {
    std::string key = in.text();
    weights.metadata[key] = in.text();
  }
  for (uint64_t n = in.u64(); in.ok() && n > 0 && weights.convs.size() < 16; --n) {
    ConvWeights conv;
    conv.name = in.text();
    conv.out_channels = static_cast<int64_t>(in.u64());
    conv.in_channels = static_cast<int64_t>(in.u64());
    conv.kernel_h = static_cast<int64_t>(in.u64());
    conv.kernel_w = static_cast<int64_t>(in.u64());
    conv.weight = in.floats();
    conv.bias = in.floats();
    weights.convs.push_back(std::move(conv));
  }
  return in.ok();
}

[[noreturn]] void run_child(int fd, double cpu_seconds, const std::function<VggWeights()>& read) {
  // A loop inside libhdf5 is stopped by the kernel (SIGXCPU, then SIGKILL).
  const auto limit = static_cast<rlim_t>(std::ceil(cpu_seconds));
  const rlimit cpu{limit, limit + 1};
  ::setrlimit(RLIMIT_CPU, &cpu);
  Writer out(fd);
  try {
    const VggWeights weights = read();
    const char ok = 0;
    out.bytes(&ok, 1);
    write_weights(out, weights);
  } catch (const WeightsError& e) {
    const char failed = 1;
    out.bytes(&failed, 1);
    out.text(e.what());
  } catch (...) {
    ::_exit(2);
  }
  ::close(fd);
  ::_exit(0);  // no destructors, atexit handlers or leak checks in the child
}

// Reads what arrives on `fd` into `message` until the writer closes it or
// `limit` has passed; returns false for the latter.
bool read_until_closed(int fd, std::chrono::duration<double> limit, std::string& message) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  char buffer[1 << 16];
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd poll_fd{fd, POLLIN, 0};
    const int ready = ::poll(&poll_fd, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) return true;
    if (ready <= 0) continue;
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    message.append(buffer, static_cast<size_t>(n));
  }
}

// Why the reading child gave no answer, from its wait status.
std::string child_failure(int status, bool timed_out) {
  if (timed_out || (WIFSIGNALED(status) && (WTERMSIG(status) == SIGXCPU || WTERMSIG(status) == SIGKILL))) {
    return "reading it did not finish in time";
  }
  if (WIFSIGNALED(status)) return "the HDF5 library crashed on it (signal " + std::to_string(WTERMSIG(status)) + ")";
  return "the HDF5 library failed on it";
}

}  // namespace

VggWeights read_in_child(const std::string& name, double cpu_seconds, const std::function<VggWeights()>& read) {
  const auto fail = [&](const std::string& what) {
    return WeightsError("cannot read weights file '" + name + "': " + what);
  };
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw fail(std::string("cannot create a pipe to read it (") + std::strerror(errno) + ")");
  }
  const pid_t child = ::fork();
  if (child < 0) {
    const int error = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    throw fail(std::string("cannot start a process to read it (") + std::strerror(error) + ")");
  }
  if (child == 0) {
    ::close(fds[0]);
    run_child(fds[1], cpu_seconds, read);
  }
  ::close(fds[1]);

  std::string message;
  const bool timed_out = !read_until_closed(fds[0], std::chrono::duration<double>(4 * cpu_seconds + 30), message);
  ::close(fds[0]);
  if (timed_out) ::kill(child, SIGKILL);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }

  const bool exited = !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!exited || message.empty()) {
    throw fail(child_failure(status, timed_out) +
               "; the file is corrupt or not a Keras weights file, download it again");
  }
  Reader in(message);
  char kind = 2;
  in.bytes(&kind, 1);
  if (kind == 1) {
    const std::string text = in.text();
    if (in.ok()) throw WeightsError(text);
  }
  VggWeights weights;
  if (kind != 0 || !read_weights(in, weights)) throw fail("its reader sent back an incomplete answer");
  return weights;
}

}  // namespace stylize::detail
