// Lock files with an owner record, a heartbeat and stale takeover; the
// protocol is described in include/stylize/lock_file.hpp. Hand-written on
// POSIX calls: the Debian libraries that lock files (liblockfile, lockfile-progs)
// know neither heartbeats nor owners on other nodes, and flock() is not
// reliable across the nodes of a cluster filesystem.
#include "stylize/lock_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "stylize/errors.hpp"

namespace fs = std::filesystem;

namespace stylize {
namespace {

std::string read_small_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (text.size() > 65536) text.clear();  // not an owner record
  return text;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// Field 22 of /proc/PID/stat (after the command name, which may hold spaces
// and parentheses): the process's start time in clock ticks after boot; 0 if
// unknown.
unsigned long long process_start_time(long pid) {
  const std::string stat = read_small_file("/proc/" + std::to_string(pid) + "/stat");
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
    if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
  }
  return 0;
}

// Field 3 of /proc/PID/stat: R, S, D, T (stopped), Z (exited, not yet
// reaped), ...; 0 if unknown.
char process_state(long pid) {
  const std::string stat = read_small_file("/proc/" + std::to_string(pid) + "/stat");
  const size_t close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size() ? 0 : stat[close + 2];
}

// 16 random hex digits (std::random_device: the kernel's getrandom here).
std::string random_token() {
  std::random_device random;
  char text[17];
  std::snprintf(text, sizeof text, "%08x%08x", random(), random());
  return text;
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

double seconds_since(const struct timespec& time) {
  struct timespec now {};
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<double>(now.tv_sec - time.tv_sec) + (now.tv_nsec - time.tv_nsec) * 1e-9;
}

bool same_mtime(const struct stat& a, const struct stat& b) {
  return a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

bool same_file(const struct stat& a, const struct stat& b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }

std::string directory_of(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

// Whether `owner`'s pid can be looked up from here: the same host, boot and
// PID namespace. (Another boot id under this host name is another machine
// as often as a reboot: cloned VMs, containers given one --hostname.)
bool pid_is_ours_to_check(const LockOwner& owner, const LockOwner& me) {
  return !owner.host.empty() && owner.host == me.host && owner.boot_id == me.boot_id &&
         owner.pid_namespace == me.pid_namespace && owner.pid > 0;
}

// Why the holder described by `status` is gone, or "" when it may be alive.
std::string stale_reason(const LockStatus& status, const struct stat& seen, const LockTiming& timing,
                         const LockOwner& me) {
  if (status.owner) {
    const LockOwner& owner = *status.owner;
    // Elsewhere the heartbeat rule below judges (after a reboot, the heartbeat is long stopped).
    if (pid_is_ours_to_check(owner, me)) {
      if (::kill(static_cast<pid_t>(owner.pid), 0) != 0 && errno == ESRCH) {
        return "process " + std::to_string(owner.pid) + " on this host has exited";
      }
      if (owner.process_start != 0 && process_start_time(owner.pid) != owner.process_start) {
        return "process " + std::to_string(owner.pid) + " on this host has exited (its pid is reused)";
      }
      if (process_state(owner.pid) == 'Z') {
        return "process " + std::to_string(owner.pid) + " on this host has exited (not yet reaped)";
      }
      // The very process, alive: it holds the lock whatever its heartbeat
      // says. Stopped (Ctrl-Z, a suspended job) it goes on when continued,
      // and taking its work over would throw that work away.
      return "";
    }
    if (!me.slurm_job_id.empty() && owner.slurm_job_id == me.slurm_job_id &&
        owner.slurm_restart_count < me.slurm_restart_count) {
      return "it is held by an earlier run of this Slurm task (requeued since)";
    }
  }
  const double limit = std::chrono::duration<double>(timing.stale_after).count();
  if (seconds_since(seen.st_mtim) > limit) {
    char text[96];
    std::snprintf(text, sizeof text, "its heartbeat stopped %.0f s ago (limit %.0f s)", seconds_since(seen.st_mtim),
                  limit);
    return text;
  }
  return "";
}

// Reads and judges the lock file; `seen` receives what lstat() said of it.
LockStatus inspect(const std::string& path, const LockTiming& timing, const LockOwner& me, struct stat* seen) {
  LockStatus status;
  if (::lstat(path.c_str(), seen) != 0) return status;
  status.exists = true;
  status.owner = LockOwner::from_json(read_small_file(path));
  status.age_seconds = seconds_since(seen->st_mtim);
  const std::string reason = stale_reason(status, *seen, timing, me);
  status.stale = !reason.empty();
  status.reason = status.stale ? reason
                               : "held by " + (status.owner ? status.owner->describe()
                                                            : "a process that is still writing its owner record");
  if (!status.stale && status.owner && pid_is_ours_to_check(*status.owner, me)) {
    const char state = process_state(status.owner->pid);
    if (state == 'T' || state == 't') status.reason += ", which is stopped (Ctrl-Z, a suspended job) until continued";
  }
  return status;
}

// Removes the stale lock file `path` (which lstat() described as `seen`) if
// this process is the one that breaks it: see the header. Returns false when
// another process is breaking it right now.
bool break_stale_lock(const std::string& path, const struct stat& seen, const LockTiming& timing) {
  const std::string marker = path + ".break-" + std::to_string(static_cast<unsigned long long>(seen.st_ino));
  if (::link(path.c_str(), marker.c_str()) != 0) {
    const int error = errno;
    if (error == ENOENT) return true;  // gone already: race for it
    if (error == EEXIST) {
      // Another taker holds the marker; if it died while breaking (the marker
      // outlived the stale limit), clear the marker for the next round.
      struct stat held {};
      if (::lstat(marker.c_str(), &held) == 0 &&
          seconds_since(held.st_ctim) > std::chrono::duration<double>(timing.stale_after).count()) {
        ::unlink(marker.c_str());
      }
      return false;
    }
    // A filesystem without hard links: remove it if it is still the stale file.
    struct stat now {};
    if (::lstat(path.c_str(), &now) == 0 && same_file(now, seen) && same_mtime(now, seen)) ::unlink(path.c_str());
    return true;
  }
  struct stat linked {};
  const bool ours = ::lstat(marker.c_str(), &linked) == 0 && same_file(linked, seen) && same_mtime(linked, seen);
  if (ours) {
    struct stat now {};
    if (::lstat(path.c_str(), &now) == 0 && same_file(now, seen) && same_mtime(now, seen)) ::unlink(path.c_str());
  }
  ::unlink(marker.c_str());
  sync_directory(directory_of(path));
  return true;
}

void write_all(int fd, const std::string& text, const std::string& path) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw OutputError("cannot write the lock file '" + path + "': " + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
}

}  // namespace

LockOwner LockOwner::current(const std::string& purpose) {
  LockOwner owner;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0) owner.host = host;
  owner.pid = static_cast<long>(::getpid());
  owner.boot_id = trimmed(read_small_file("/proc/sys/kernel/random/boot_id"));
  std::error_code ignored;
  owner.pid_namespace = fs::read_symlink("/proc/self/ns/pid", ignored).string();
  owner.process_start = process_start_time(owner.pid);
  owner.started = utc_now();
  owner.purpose = purpose;
  owner.slurm_job_id = environment("SLURM_JOB_ID");
  owner.slurm_array_job_id = environment("SLURM_ARRAY_JOB_ID");
  owner.slurm_array_task_id = environment("SLURM_ARRAY_TASK_ID");
  owner.slurm_restart_count = std::atoi(environment("SLURM_RESTART_COUNT").c_str());
  owner.job_completion_index = environment("JOB_COMPLETION_INDEX");
  return owner;
}

std::string LockOwner::describe() const {
  std::string text = "pid " + std::to_string(pid) + " on " + (host.empty() ? "an unknown host" : host);
  if (!slurm_array_job_id.empty()) {
    text += " (Slurm job " + slurm_array_job_id + "_" + slurm_array_task_id + ")";
  } else if (!slurm_job_id.empty()) {
    text += " (Slurm job " + slurm_job_id + ")";
  } else if (!job_completion_index.empty()) {
    text += " (Kubernetes completion index " + job_completion_index + ")";
  }
  if (!started.empty()) text += ", since " + started;
  return text;
}

std::string LockOwner::to_json() const {
  const nlohmann::json record = {{"host", host},
                                 {"pid", pid},
                                 {"boot_id", boot_id},
                                 {"pid_namespace", pid_namespace},
                                 {"process_start", process_start},
                                 {"started", started},
                                 {"purpose", purpose},
                                 {"slurm_job_id", slurm_job_id},
                                 {"slurm_array_job_id", slurm_array_job_id},
                                 {"slurm_array_task_id", slurm_array_task_id},
                                 {"slurm_restart_count", slurm_restart_count},
                                 {"job_completion_index", job_completion_index},
                                 {"token", token}};
  return record.dump(2) + "\n";
}

std::optional<LockOwner> LockOwner::from_json(const std::string& text) {
  const nlohmann::json record = nlohmann::json::parse(text, nullptr, false);
  if (record.is_discarded() || !record.is_object() || !record.contains("pid")) return std::nullopt;
  LockOwner owner;
  try {
    owner.host = record.value("host", "");
    owner.pid = record.value("pid", 0L);
    owner.boot_id = record.value("boot_id", "");
    owner.pid_namespace = record.value("pid_namespace", "");
    owner.process_start = record.value("process_start", 0ULL);
    owner.started = record.value("started", "");
    owner.purpose = record.value("purpose", "");
    owner.slurm_job_id = record.value("slurm_job_id", "");
    owner.slurm_array_job_id = record.value("slurm_array_job_id", "");
    owner.slurm_array_task_id = record.value("slurm_array_task_id", "");
    owner.slurm_restart_count = record.value("slurm_restart_count", 0);
    owner.job_completion_index = record.value("job_completion_index", "");
    owner.token = record.value("token", "");
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // a field of the wrong type: not a record this version wrote
  }
  return owner;
}

LockStatus inspect_lock(const std::string& path, const LockTiming& timing, const LockOwner& me) {
  struct stat seen {};
  return inspect(path, timing, me, &seen);
}

void sync_directory(const std::string& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);  // EINVAL on filesystems that cannot sync a directory: nothing more to do
  ::close(fd);
}

struct LockFile::State {
  std::string path;
  std::string taken_over;  // the stale reason of the lock this one replaced
  std::string token;       // in the owner record this holder wrote
  int fd = -1;
  struct stat identity {};
  LockTiming timing;
  std::atomic<bool> lost{false};
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  std::thread heartbeat;

  bool refresh() {
    if (fd < 0 || lost) return false;
    ::futimens(fd, nullptr);  // mtime := now (the file server's clock on NFS)
    return verify();
  }

  bool verify() {
    if (fd < 0 || lost) return false;
    if (!still_mine()) lost = true;
    return !lost;
  }

  // PATH is the file this holder made: the same device and inode, holding its
  // token (reading it also makes an NFS client look at the server's file).
  bool still_mine() const {
    struct stat now {};
    if (::lstat(path.c_str(), &now) != 0 || !same_file(now, identity)) return false;
    const std::optional<LockOwner> record = LockOwner::from_json(read_small_file(path));
    return record && record->token == token;
  }
};

std::optional<LockFile> LockFile::try_acquire(const std::string& path, const LockOwner& me, const LockTiming& timing,
                                              LockStatus* holder) {
  LockStatus last;
  std::string broken;  // the stale lock this process removed, why
  // A few rounds: each failed round means the file changed under us (released,
  // broken as stale, or taken by a faster process), which ends quickly.
  for (int round = 0; round < 8; ++round) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      auto state = std::make_unique<State>();
      state->path = path;
      state->taken_over = broken;
      state->fd = fd;
      state->timing = timing;
      LockOwner mine = me;
      mine.token = random_token();
      state->token = mine.token;
      try {
        write_all(fd, mine.to_json(), path);
      } catch (...) {
        ::close(fd);
        ::unlink(path.c_str());
        throw;
      }
      ::fsync(fd);
      ::fstat(fd, &state->identity);
      sync_directory(directory_of(path));
      return LockFile(std::move(state));
    }
    if (errno != EEXIST) {
      throw OutputError("cannot create the lock file '" + path + "': " + std::strerror(errno) +
                        "; its directory must exist and be writable by every worker");
    }
    struct stat seen {};
    last = inspect(path, timing, me, &seen);
    if (!last.exists) continue;  // released meanwhile
    if (!last.stale) break;
    if (!break_stale_lock(path, seen, timing)) {
      last.reason = "another process is taking over its stale lock (" + last.reason + ")";
      break;
    }
    broken = (last.owner ? last.owner->describe() + ": " : std::string()) + last.reason;
  }
  if (holder) *holder = last;
  return std::nullopt;
}

LockFile::LockFile(std::unique_ptr<State> state) : state_(std::move(state)) {}
LockFile::LockFile(LockFile&&) noexcept = default;
LockFile& LockFile::operator=(LockFile&& other) noexcept {
  if (this != &other) {
    release();
    state_ = std::move(other.state_);
  }
  return *this;
}
LockFile::~LockFile() { release(); }

const std::string& LockFile::path() const { return state_->path; }

const std::string& LockFile::taken_over() const { return state_->taken_over; }

bool LockFile::refresh() { return state_ && state_->refresh(); }

void LockFile::start_heartbeat() {
  if (!state_ || state_->heartbeat.joinable()) return;
  State* state = state_.get();
  state->heartbeat = std::thread([state] {
    std::unique_lock<std::mutex> lock(state->mutex);
    while (!state->wake.wait_for(lock, state->timing.heartbeat, [state] { return state->stopping; })) {
      if (!state->refresh()) break;
    }
  });
}

bool LockFile::held() const { return state_ && state_->fd >= 0 && !state_->lost; }

bool LockFile::verify() { return state_ && state_->verify(); }

void LockFile::release() {
  if (!state_) return;
  if (state_->heartbeat.joinable()) {
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      state_->stopping = true;
    }
    state_->wake.notify_all();
    state_->heartbeat.join();
  }
  if (state_->fd < 0) return;
  if (state_->still_mine()) {
    ::unlink(state_->path.c_str());
    sync_directory(directory_of(state_->path));
  }
  ::close(state_->fd);
  state_->fd = -1;
}

}  // namespace stylize
