#include "stylize/io/file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "stylize/errors.hpp"

namespace stylize {
namespace fs = std::filesystem;

void write_file_atomically(const std::string& path, std::string_view bytes, const std::string& what) {
  const std::string name = (what.empty() ? "" : what + " ") + "'" + path + "'";
  const auto fail = [&](const std::string& reason) { return OutputError("cannot write " + name + ": " + reason); };
  const fs::path target(path);
  fs::path dir = target.parent_path();
  if (dir.empty()) dir = ".";
  std::error_code error;
  if (!fs::is_directory(dir, error)) throw fail("directory '" + dir.string() + "' does not exist; create it first");

  // Unique among threads and processes: the pid and a counter.
  static std::atomic<unsigned> counter{0};
  const fs::path temporary =
      dir / ("." + target.filename().string() + ".tmp" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) {
    throw fail("directory '" + dir.string() + "' is not writable (" + std::strerror(errno) + ")");
  }
  std::string reason;
  for (size_t done = 0; done < bytes.size() && reason.empty();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) reason = std::strerror(n < 0 ? errno : EIO);
    if (n > 0) done += static_cast<size_t>(n);
  }
  if (reason.empty() && ::fsync(fd) != 0) reason = std::strerror(errno);
  if (::close(fd) != 0 && reason.empty()) reason = std::strerror(errno);
  if (reason.empty()) {
    fs::rename(temporary, target, error);
    if (error) reason = error.message();
  }
  if (!reason.empty()) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    throw fail(reason);
  }
}

}  // namespace stylize
