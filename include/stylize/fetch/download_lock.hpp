// One download among many first runs: when a hundred array tasks start
// together on a shared weights cache, one process downloads the file and the
// others wait for it, then verify and use it. The lock is a lock file beside
// the destination in the cache directory (stylize/lock_file.hpp), so a holder
// that was killed is taken over and its partial file resumed.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "stylize/lock_file.hpp"

namespace stylize {

struct DownloadLockOptions {
  LockTiming timing{std::chrono::seconds(5), std::chrono::seconds(30)};
  // The longest wait for another process's download before giving up with a FetchError.
  std::chrono::milliseconds wait_limit{std::chrono::minutes(30)};
  std::chrono::milliseconds poll{std::chrono::milliseconds(250)};
  // Called once when this process starts waiting, with who holds the lock (for a message).
  std::function<void(const LockStatus& holder)> on_wait;
};

// destination + ".lock".
std::string download_lock_path(const std::string& destination);

// Makes sure `destination` is there, fetching it at most once among the
// processes that share its directory:
//  - returns false at once when ready() says the file is there (and verified);
//  - otherwise takes the lock and, if ready() is still false, calls fetch(),
//    which must leave a verified file at `destination` or throw; returns true;
//  - while another live process holds the lock, waits for it to release the
//    lock (then checks ready() again; if that process failed, this one tries)
//    or for its lock to go stale (then takes it over).
// The lock is released whatever fetch() does. Creates the destination's
// directory. Throws FetchError when the wait exceeds options.wait_limit,
// OutputError when the lock cannot be created, and what fetch() throws.
bool fetch_once(const std::string& destination, const std::function<bool()>& ready, const std::function<void()>& fetch,
                const DownloadLockOptions& options = {});

}  // namespace stylize
