#include "stylize/io/file.hpp"
#include "io_detail.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <random>
#include <utility>

#include "stylize/errors.hpp"

namespace stylize {
namespace fs = std::filesystem;

namespace {

constexpr const char* kTemporaryMark = ".tmp-stylize-";

std::string host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

// Who writes a temporary, as its name says: the host, and the PID namespace
// ("node1.4026531836") whose pids its pid is one of. A container on the
// host's network has the host's name but its own pids: a pid another
// namespace's process does not find is no sign that the writer is dead.
std::string writer_id() {
  static const std::string id = [] {
    std::error_code error;
    const std::string ns = fs::read_symlink("/proc/self/ns/pid", error).string();  // "pid:[4026531836]"
    const size_t open = ns.find('['), close = ns.find(']');
    const std::string inode = open == std::string::npos || close == std::string::npos || close <= open + 1
                                  ? std::string()
                                  : ns.substr(open + 1, close - open - 1);
    return inode.empty() ? host_name() : host_name() + "." + inode;
  }();
  return id;
}

fs::path directory_of(const std::string& path) {
  fs::path dir = fs::path(path).parent_path();
  return dir.empty() ? fs::path(".") : dir;
}

// Why `dir`, an output's folder, is not one: a file on the way to it, or it does not exist.
std::string not_a_folder(const fs::path& dir) {
  std::error_code error;
  for (fs::path p = dir; !p.empty(); p = p.parent_path()) {
    if (fs::exists(p, error) && !fs::is_directory(p, error)) {
      return "'" + p.string() + "' is a file, not a directory; give a path in a directory";
    }
    if (p == p.parent_path()) break;
  }
  return "directory '" + dir.string() + "' does not exist; create it first";
}

// Whether `target` exists and is neither a regular file nor a directory: a
// named pipe, a device (/dev/null) or a socket, which a write goes into, as a
// shell redirection's does, instead of replacing it with a file.
bool is_special_file(const fs::path& target) {
  std::error_code error;
  const fs::file_status status = fs::status(target, error);
  return fs::exists(status) && !fs::is_regular_file(status) && !fs::is_directory(status);
}

// Writes all of `bytes` to `fd` (retrying short and interrupted writes).
// Returns the reason it failed, or "".
std::string write_all(int fd, std::string_view bytes) {
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::strerror(n < 0 ? errno : EIO);
    done += static_cast<size_t>(n);
  }
  return "";
}

// Runs `produce` with a sink that writes into `fd`. The sink never fails: it
// keeps the first error and drops what comes after it. Returns that error, or
// "". Closes `fd` when `produce` throws, and rethrows.
std::string produce_into(int fd, const std::function<void(const ByteSink&)>& produce) {
  std::string reason;
  const ByteSink sink = [&](const void* data, size_t size) {
    if (reason.empty()) reason = write_all(fd, std::string_view(static_cast<const char*>(data), size));
  };
  try {
    produce(sink);
  } catch (...) {
    ::close(fd);
    throw;
  }
  return reason;
}

// Writes what `produce` gives into an existing special file. Returns the reason it failed, or "".
std::string write_into(const fs::path& target, const std::function<void(const ByteSink&)>& produce) {
  const int fd = ::open(target.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return std::strerror(errno);
  std::string reason = produce_into(fd, produce);
  if (::close(fd) != 0 && reason.empty()) reason = std::strerror(errno);
  return reason;
}

// Flushes a directory's entries (a rename into it) to disk. Best effort: some
// file systems refuse fsync on a directory, and the data itself is synced.
void sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// The pid of a temporary named "<anything>.tmp-stylize-<writer>-<pid>-<n>"
// made by `writer` (writer_id()), or -1 when `name` is not one.
pid_t temporary_owner(const std::string& name, const std::string& writer) {
  const std::string mark = kTemporaryMark + writer + "-";
  const auto at = name.rfind(mark);
  if (name.empty() || name[0] != '.' || at == std::string::npos) return -1;
  const std::string rest = name.substr(at + mark.size());  // "<pid>-<n>"
  const auto dash = rest.find('-');
  if (dash == 0 || dash == std::string::npos || dash > 9 || dash + 1 == rest.size() ||
      rest.find_first_not_of("0123456789", dash + 1) != std::string::npos ||
      rest.find_first_not_of("0123456789") != dash) {
    return -1;
  }
  return static_cast<pid_t>(std::stol(rest.substr(0, dash)));
}

}  // namespace

fs::path detail::write_target(const std::string& path) {
  fs::path target(path);
  // /dev/stdout: a link to a link that names a pipe only the kernel resolves.
  if (is_special_file(target)) return target;
  std::error_code error;
  // Link by link (a dangling link's file does not exist yet); 40 as Linux's limit.
  for (int hops = 0; hops < 40 && fs::is_symlink(target, error); ++hops) {
    const fs::path link = fs::read_symlink(target, error);
    if (error) break;
    target = link.is_absolute() ? link : target.parent_path() / link;
  }
  return target;
}

// The longest file name the folder `dir` takes (NAME_MAX: 255 bytes on
// Linux's file systems).
size_t longest_name(const fs::path& dir) {
  const long longest = ::pathconf(dir.empty() ? "." : dir.c_str(), _PC_NAME_MAX);
  return longest > 0 ? static_cast<size_t>(longest) : 255;
}

std::string temporary_path(const std::string& path, unsigned n) {
  const fs::path dir = directory_of(path);
  const std::string tail = kTemporaryMark + writer_id() + "-" + std::to_string(::getpid()) + "-" + std::to_string(n);
  // ".NAME" + tail, with NAME cut where the whole would be too long for the folder.
  std::string name = fs::path(path).filename().string();
  const size_t longest = longest_name(dir);
  if (1 + name.size() + tail.size() > longest) name.resize(longest > tail.size() + 2 ? longest - tail.size() - 1 : 1);
  return (dir / ("." + name + tail)).string();
}

int remove_stale_temporaries(const std::string& path) {
  const std::string writer = writer_id();
  std::error_code error;
  int removed = 0;
  // Where a write to `path` puts its temporaries: beside the file a link points to.
  for (const auto& entry : fs::directory_iterator(directory_of(detail::write_target(path).string()), error)) {
    const pid_t owner = temporary_owner(entry.path().filename().string(), writer);
    // A process of this host and PID namespace that no longer exists (kill(pid, 0) says ESRCH)
    // cannot finish its write: the file is the leftover of a killed run.
    if (owner <= 0 || owner == ::getpid() || ::kill(owner, 0) == 0 || errno != ESRCH) continue;
    std::error_code ignored;
    if (fs::remove(entry.path(), ignored)) ++removed;
  }
  return removed;
}

void check_writable(const std::string& path, const std::string& what, size_t name_room) {
  const std::string name = what + " '" + path + "'";
  std::error_code error;
  if (path.empty()) throw OutputError("cannot write " + what + ": the path is empty");
  if (fs::is_directory(path, error)) {
    throw OutputError("cannot write " + name + ": it is a directory; give a file name inside it");
  }
  const fs::path target = detail::write_target(path);
  if (is_special_file(target)) {
    if (::access(target.c_str(), W_OK) != 0) {
      throw OutputError("cannot write " + name + ": " + std::strerror(errno));
    }
    return;
  }
  const fs::path dir = directory_of(target.string());
  if (!fs::is_directory(dir, error)) {
    throw OutputError("cannot write " + name + ": " + not_a_folder(dir));
  }
  const size_t length = target.filename().string().size(), longest = longest_name(dir);
  if (length + name_room > longest) {
    const std::string room = name_room == 0
                                 ? ""
                                 : ", with room for what stylize adds to the names of the files it "
                                   "writes beside it (" +
                                       std::to_string(name_room) + " bytes: out_s2_0300.png.adam beside out.png)";
    throw OutputError("cannot write " + name + ": its file name is " + std::to_string(length) +
                      " bytes long, and this folder takes names of at most " + std::to_string(longest) + " bytes" +
                      room + "; give a name of at most " + std::to_string(longest - name_room) + " bytes");
  }
  // Create and remove a probe file: access(W_OK) says yes to root on read-only
  // or special file systems, and a long run must not end in a failed write.
  // Named by host, pid and a random number: the pods of a Kubernetes Job on
  // one shared volume often have the same pid.
  const fs::path probe = dir / (".stylize-probe-" + host_name() + "-" + std::to_string(::getpid()) + "-" +
                                std::to_string(std::random_device{}()));
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw OutputError("cannot write " + name + ": directory '" + dir.string() + "' is not writable (" +
                      std::strerror(errno) + ")");
  }
  ::close(fd);
  ::unlink(probe.c_str());
}

std::vector<std::string> create_parent_folders(const std::string& path) {
  const fs::path folder = fs::path(path).parent_path();
  std::vector<std::string> created;
  std::error_code error;
  if (folder.empty() || fs::is_directory(folder, error)) return created;
  // The missing folders, outermost first (those create_directories makes).
  for (fs::path f = folder; !f.empty() && !fs::exists(f, error); f = f.parent_path()) {
    created.insert(created.begin(), f.string());
    if (f == f.parent_path()) break;
  }
  fs::create_directories(folder, error);
  if (error) {
    throw OutputError("cannot create the folder '" + folder.string() + "' for '" + path + "': " + error.message());
  }
  return created;
}

OutputFolders::~OutputFolders() {
  std::error_code error;
  for (auto f = created_.rbegin(); f != created_.rend(); ++f) fs::remove(*f, error);  // only if empty
}

void OutputFolders::create_for(const std::string& path) {
  for (std::string& folder : create_parent_folders(path)) created_.push_back(std::move(folder));
}

void write_file_atomically(const std::string& path, std::string_view bytes, const std::string& what) {
  write_file_atomically(
      path, [&](const ByteSink& sink) { sink(bytes.data(), bytes.size()); }, what);
}

void write_file_atomically(const std::string& path, const std::function<void(const ByteSink&)>& produce,
                           const std::string& what) {
  const std::string name = (what.empty() ? "" : what + " ") + "'" + path + "'";
  const auto fail = [&](const std::string& reason) { return OutputError("cannot write " + name + ": " + reason); };
  const fs::path target = detail::write_target(path);
  if (is_special_file(target)) {
    if (std::string reason = write_into(target, produce); !reason.empty()) throw fail(reason);
    return;
  }
  const fs::path dir = directory_of(target.string());
  std::error_code error;
  if (!fs::is_directory(dir, error)) throw fail(not_a_folder(dir));

  // Unique among threads, processes and hosts: the host, the pid and a counter.
  static std::atomic<unsigned> counter{0};
  const fs::path temporary = temporary_path(target.string(), counter++);
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) {
    throw fail("directory '" + dir.string() + "' is not writable (" + std::strerror(errno) + ")");
  }
  // A file replaced keeps its permissions (a private 0600 result stays
  // private), as a shell's redirection into it would.
  struct ::stat old {};
  if (::stat(target.c_str(), &old) == 0 && S_ISREG(old.st_mode)) ::fchmod(fd, old.st_mode & 07777);
  std::string reason;
  try {
    reason = produce_into(fd, produce);
  } catch (...) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    throw;
  }
  // The data reaches the disk before the name does: after a power loss the
  // target is the old file or the new one, never an empty one.
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
  sync_directory(dir);
}

}  // namespace stylize
