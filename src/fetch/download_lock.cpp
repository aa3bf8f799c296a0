// One download among many first runs: see include/stylize/fetch/download_lock.hpp.
#include "stylize/fetch/download_lock.hpp"

#include <filesystem>
#include <optional>
#include <thread>
#include <vector>

#include "stylize/errors.hpp"

namespace fs = std::filesystem;

namespace stylize {

std::string download_lock_path(const std::string& destination) { return destination + ".lock"; }

bool fetch_once(const std::string& destination, const std::function<bool()>& ready, const std::function<void()>& fetch,
                const DownloadLockOptions& options) {
  if (ready()) return false;
  // The directories this call makes, deepest first: a failed first run
  // leaves none of them behind (nor its lock file).
  const fs::path directory = fs::path(destination).parent_path();
  std::vector<fs::path> created;
  std::error_code error;
  for (fs::path p = directory; !p.empty() && !fs::exists(p, error); p = p.parent_path()) {
    created.push_back(p);
    if (p == p.parent_path()) break;
  }
  if (!created.empty()) {
    fs::create_directories(directory, error);
    if (error) {
      throw OutputError("cannot create the directory '" + directory.string() + "' for " + destination + ": " +
                        error.message());
    }
  }
  const auto remove_empty_created = [&created] {
    std::error_code ignored;
    for (const auto& made : created) {
      if (!fs::is_empty(made, ignored) || ignored) break;
      fs::remove(made, ignored);
    }
  };
  const LockOwner me = LockOwner::current("weights download");
  const auto deadline = std::chrono::steady_clock::now() + options.wait_limit;
  bool told = false;
  for (;;) {
    LockStatus holder;
    std::optional<LockFile> lock = LockFile::try_acquire(download_lock_path(destination), me, options.timing, &holder);
    if (lock) {
      if (ready()) return false;  // the previous holder finished between our checks
      lock->start_heartbeat();
      try {
        fetch();
      } catch (...) {
        lock.reset();  // releases the lock file first
        remove_empty_created();
        throw;
      }
      return true;
    }
    if (!told && options.on_wait) options.on_wait(holder);
    told = true;
    if (std::chrono::steady_clock::now() >= deadline) {
      remove_empty_created();
      const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(options.wait_limit).count();
      throw FetchError("waited " + std::to_string(seconds) + " s for another process to download " + destination +
                       " (" + holder.reason + "); if that process is stuck, stop it, or remove " +
                       download_lock_path(destination) + " once it is gone");
    }
    std::this_thread::sleep_for(options.poll);
    if (ready()) return false;
  }
}

}  // namespace stylize
