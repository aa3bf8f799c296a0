// The download lock: many first runs at once fetch the weights once.
#include <string>

#include <gtest/gtest.h>

#include "batch_test_util.hpp"
#include "stylize/errors.hpp"
#include "stylize/fetch/download_lock.hpp"

using namespace stylize;
using namespace std::chrono_literals;
using stylize::batch_test::append_line;
using stylize::batch_test::leftover_locks;
using stylize::batch_test::lines_of;
using stylize::batch_test::put;
using stylize::batch_test::run_together;
using stylize::batch_test::ScratchDir;
using stylize::batch_test::slurp;

namespace {

const std::string kWeights = "weights: the real bytes";

// A download as download_file() does it: the bytes go to a .partial file,
// which is renamed into place once complete (a reader never sees half a file).
void slow_download(const std::string& destination, const std::string& log) {
  append_line(log, std::to_string(::getpid()));
  put(destination + ".partial", kWeights.substr(0, 8));
  std::this_thread::sleep_for(300ms);
  put(destination + ".partial", kWeights);
  std::filesystem::rename(destination + ".partial", destination);
}

bool verified(const std::string& destination) {
  return std::filesystem::exists(destination) && slurp(destination) == kWeights;
}

DownloadLockOptions fast_options() {
  DownloadLockOptions options;
  options.timing = LockTiming{50ms, 2s};
  options.wait_limit = 20s;
  options.poll = 20ms;
  return options;
}

}  // namespace

TEST(DownloadLock, FileAlreadyThereFetchesNothing) {
  ScratchDir dir;
  const std::string destination = dir.file("cache/w.h5");
  std::filesystem::create_directories(dir.file("cache"));
  put(destination, kWeights);
  bool fetched = false;
  EXPECT_FALSE(fetch_once(
      destination, [&] { return verified(destination); }, [&] { fetched = true; }));
  EXPECT_FALSE(fetched);
}

// A failed first download (no network) leaves the cache as it found it: no
// lock file, and none of the directories it made for the file.
TEST(DownloadLock, AFailedFetchLeavesNoLockAndNoNewDirectory) {
  ScratchDir dir;
  const std::string destination = dir.file("cache/stylize/w.h5");
  EXPECT_THROW(fetch_once(
                   destination, [&] { return verified(destination); },
                   [&] { throw FetchError("cannot download: connection refused"); }, fast_options()),
               FetchError);
  EXPECT_FALSE(std::filesystem::exists(dir.file("cache"))) << "the directories made for it are removed";
  // A directory that was there before stays.
  std::filesystem::create_directories(dir.file("cache"));
  EXPECT_THROW(fetch_once(
                   destination, [&] { return verified(destination); },
                   [&] { throw FetchError("cannot download: connection refused"); }, fast_options()),
               FetchError);
  EXPECT_TRUE(std::filesystem::is_directory(dir.file("cache")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("cache/stylize")));
}

// Five first runs start together on an empty cache: one downloads, the others
// wait and then use its file.
TEST(DownloadLock, ManyFirstRunsDownloadOnce) {
  ScratchDir dir;
  const std::string destination = dir.file("cache/w.h5");
  const std::string log = dir.file("downloads");
  const auto codes = run_together(5, [&](int) {
    const bool fetched = fetch_once(
        destination, [&] { return verified(destination); }, [&] { slow_download(destination, log); }, fast_options());
    if (!verified(destination)) return 3;
    return fetched ? 1 : 0;
  });
  int fetchers = 0;
  for (int code : codes) {
    EXPECT_TRUE(code == 0 || code == 1) << code;
    fetchers += code == 1;
  }
  EXPECT_EQ(fetchers, 1);
  EXPECT_EQ(lines_of(log).size(), 1u);
  EXPECT_TRUE(leftover_locks(dir.path()).empty());
}

// The downloading process is killed half way: the waiting ones take its lock
// over, one of them downloads, all end with the verified file.
TEST(DownloadLock, KilledDownloaderIsTakenOver) {
  ScratchDir dir;
  const std::string destination = dir.file("cache/w.h5");
  const std::string log = dir.file("downloads");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t stuck = ::fork();
  if (stuck == 0) {
    fetch_once(
        destination, [&] { return verified(destination); },
        [&] {
          put(destination + ".partial", "half");
          if (::write(ready[1], "y", 1) != 1) std::_Exit(1);
          ::pause();
        },
        fast_options());
    std::_Exit(0);
  }
  ::close(ready[1]);
  ASSERT_EQ(stylize::batch_test::read_byte(ready[0]), 'y');
  ::close(ready[0]);
  ::kill(stuck, SIGKILL);
  ::waitpid(stuck, nullptr, 0);
  ASSERT_TRUE(std::filesystem::exists(download_lock_path(destination)));  // the killed holder's lock

  const auto codes = run_together(3, [&](int) {
    fetch_once(
        destination, [&] { return verified(destination); }, [&] { slow_download(destination, log); }, fast_options());
    return verified(destination) ? 0 : 3;
  });
  for (int code : codes) EXPECT_EQ(code, 0);
  EXPECT_EQ(lines_of(log).size(), 1u);
  EXPECT_TRUE(leftover_locks(dir.path()).empty());
}

TEST(DownloadLock, WaitingPastTheLimitIsAFetchError) {
  ScratchDir dir;
  const std::string destination = dir.file("w.h5");
  // A live holder (this process) that never finishes.
  auto holder = LockFile::try_acquire(download_lock_path(destination), LockOwner::current("test"), LockTiming{});
  ASSERT_TRUE(holder);
  DownloadLockOptions options = fast_options();
  options.wait_limit = 200ms;
  bool told = false;
  options.on_wait = [&](const LockStatus& status) { told = status.exists; };
  try {
    fetch_once(
        destination, [] { return false; }, [] { FAIL() << "fetched while another process holds the lock"; }, options);
    FAIL() << "no error after the wait limit";
  } catch (const FetchError& e) {
    EXPECT_NE(std::string(e.what()).find(download_lock_path(destination)), std::string::npos) << e.what();
  }
  EXPECT_TRUE(told);
}

TEST(DownloadLock, FailedFetchReleasesTheLockAndTheNextRunTriesAgain) {
  ScratchDir dir;
  const std::string destination = dir.file("w.h5");
  EXPECT_THROW(
      fetch_once(
          destination, [&] { return verified(destination); }, [] { throw FetchError("HTTP 503"); }, fast_options()),
      FetchError);
  EXPECT_FALSE(std::filesystem::exists(download_lock_path(destination)));
  EXPECT_TRUE(fetch_once(
      destination, [&] { return verified(destination); }, [&] { slow_download(destination, dir.file("log")); },
      fast_options()));
  EXPECT_TRUE(verified(destination));
}
