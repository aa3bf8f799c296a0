// Lock files and claims: owner records, heartbeats, stale takeover, and
// several processes racing for the same outputs.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "batch_test_util.hpp"
#include "stylize/batch/claims.hpp"
#include "stylize/errors.hpp"
#include "stylize/lock_file.hpp"

using namespace stylize;
using namespace stylize::batch;
using namespace std::chrono_literals;
using stylize::batch_test::append_line;
using stylize::batch_test::leftover_locks;
using stylize::batch_test::lines_of;
using stylize::batch_test::put;
using stylize::batch_test::run_together;
using stylize::batch_test::ScratchDir;
using stylize::batch_test::slurp;

namespace {

const LockTiming kFast{50ms, 2s};

// A lock file as another worker would have left it, its heartbeat `age` old.
void plant_lock(const std::string& path, const LockOwner& owner, std::chrono::seconds age) {
  put(path, owner.to_json());
  struct timespec times[2];
  clock_gettime(CLOCK_REALTIME, &times[0]);
  times[0].tv_sec -= age.count();
  times[1] = times[0];
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

LockOwner elsewhere() {
  LockOwner owner = LockOwner::current("test");
  owner.host = "another-node";
  owner.pid = 4242;
  return owner;
}

}  // namespace

TEST(LockFile, TakenHeldReleasedWithOwnerRecord) {
  ScratchDir dir;
  const std::string path = dir.file("out.png.lock");
  const LockOwner me = LockOwner::current("stylize batch");
  auto lock = LockFile::try_acquire(path, me, kFast);
  ASSERT_TRUE(lock);
  const auto record = LockOwner::from_json(slurp(path));
  ASSERT_TRUE(record);
  EXPECT_EQ(record->pid, static_cast<long>(::getpid()));
  EXPECT_EQ(record->host, me.host);
  EXPECT_EQ(record->purpose, "stylize batch");
  EXPECT_NE(record->process_start, 0u);

  LockStatus holder;
  EXPECT_FALSE(LockFile::try_acquire(path, me, kFast, &holder));  // we are alive: not stale
  EXPECT_TRUE(holder.exists);
  EXPECT_FALSE(holder.stale);
  EXPECT_NE(holder.reason.find("pid " + std::to_string(::getpid())), std::string::npos) << holder.reason;

  lock->release();
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(LockFile::try_acquire(path, me, kFast));
}

TEST(LockFile, OwnerRecordRoundTripAndGarbage) {
  LockOwner owner = LockOwner::current("x");
  owner.slurm_job_id = "81";
  owner.slurm_array_job_id = "80";
  owner.slurm_array_task_id = "1";
  owner.slurm_restart_count = 2;
  const auto back = LockOwner::from_json(owner.to_json());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->slurm_restart_count, 2);
  EXPECT_EQ(back->boot_id, owner.boot_id);
  EXPECT_NE(back->describe().find("Slurm job 80_1"), std::string::npos) << back->describe();
  EXPECT_FALSE(LockOwner::from_json(""));
  EXPECT_FALSE(LockOwner::from_json("{\"pid\": \"twelve\"}"));
  EXPECT_FALSE(LockOwner::from_json("[1,2]"));
}

TEST(LockFile, FreshForeignLockIsBusyOldOneIsTakenOver) {
  ScratchDir dir;
  const std::string path = dir.file("a.lock");
  const LockOwner me = LockOwner::current("test");
  plant_lock(path, elsewhere(), 0s);
  LockStatus holder;
  EXPECT_FALSE(LockFile::try_acquire(path, me, kFast, &holder));
  EXPECT_NE(holder.reason.find("another-node"), std::string::npos) << holder.reason;

  plant_lock(path, elsewhere(), 5s);
  const LockStatus seen = inspect_lock(path, kFast, me);
  EXPECT_TRUE(seen.stale);
  EXPECT_NE(seen.reason.find("heartbeat"), std::string::npos) << seen.reason;
  auto lock = LockFile::try_acquire(path, me, kFast);
  ASSERT_TRUE(lock);
  EXPECT_EQ(LockOwner::from_json(slurp(path))->pid, static_cast<long>(::getpid()));
  EXPECT_TRUE(leftover_locks(dir.path()) == std::vector<std::string>{"a.lock"});  // no takeover marker left
}

TEST(LockFile, DeadProcessOnThisHostIsStaleAtOnce) {
  ScratchDir dir;
  const std::string path = dir.file("a.lock");
  const pid_t child = ::fork();
  if (child == 0) std::_Exit(0);
  ::waitpid(child, nullptr, 0);
  LockOwner dead = LockOwner::current("test");
  dead.pid = child;
  plant_lock(path, dead, 0s);
  const LockStatus seen = inspect_lock(path, kFast, LockOwner::current("test"));
  EXPECT_TRUE(seen.stale);
  EXPECT_NE(seen.reason.find("exited"), std::string::npos) << seen.reason;

  LockOwner reused = LockOwner::current("test");  // our own pid, but another process start: a reused pid
  reused.process_start += 1;
  plant_lock(path, reused, 0s);
  EXPECT_TRUE(inspect_lock(path, kFast, LockOwner::current("test")).stale);

  // The lock taken over says whose it was and why it was stale, for the worker to say.
  plant_lock(path, dead, 0s);
  auto lock = LockFile::try_acquire(path, LockOwner::current("test"), kFast);
  ASSERT_TRUE(lock);
  EXPECT_NE(lock->taken_over().find("pid " + std::to_string(child) + " on "), std::string::npos) << lock->taken_over();
  EXPECT_NE(lock->taken_over().find("has exited"), std::string::npos) << lock->taken_over();
  lock->release();
  EXPECT_TRUE(LockFile::try_acquire(path, LockOwner::current("test"), kFast)->taken_over().empty());
}

// A process on this host that is alive holds its lock whatever its heartbeat
// says: stopped (Ctrl-Z, a suspended job) it goes on when continued, and a
// takeover threw its work away. One that has exited but is not yet reaped
// (a zombie: kill(pid, 0) still finds it) does not.
TEST(LockFile, ALiveProcessOnThisHostHoldsItsLockEvenStopped) {
  ScratchDir dir;
  const std::string path = dir.file("a.lock");
  plant_lock(path, LockOwner::current("test"), 10s);  // this process, heartbeat 10 s old (limit 2 s)
  LockStatus seen = inspect_lock(path, kFast, LockOwner::current("test"));
  EXPECT_FALSE(seen.stale) << seen.reason;

  for (const bool stopped : {true, false}) {
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    const pid_t child = ::fork();
    if (child == 0) {
      auto lock = LockFile::try_acquire(dir.file("child.lock"), LockOwner::current("test"), kFast);
      const char byte = lock ? 'y' : 'n';
      if (::write(ready[1], &byte, 1) != 1) std::_Exit(1);
      if (stopped) ::pause();
      std::_Exit(0);  // the lock file stays, its holder gone
    }
    ::close(ready[1]);
    ASSERT_EQ(stylize::batch_test::read_byte(ready[0]), 'y');
    ::close(ready[0]);
    if (stopped) {
      // Stopped once waitpid says so: the signal is delivered when the child is next scheduled.
      ASSERT_EQ(::kill(child, SIGSTOP), 0);
      int status = 0;
      ASSERT_EQ(::waitpid(child, &status, WUNTRACED), child);
      ASSERT_TRUE(WIFSTOPPED(status));
    } else {
      // Exited, not reaped: a zombie until waitpid.
      for (int i = 0; i < 200 && stylize::batch_test::slurp("/proc/" + std::to_string(child) + "/stat").find(") Z") ==
                                     std::string::npos;
           ++i) {
        std::this_thread::sleep_for(10ms);
      }
    }
    const std::string child_lock = dir.file("child.lock");
    plant_lock(child_lock, *LockOwner::from_json(slurp(child_lock)), 10s);
    seen = inspect_lock(child_lock, kFast, LockOwner::current("test"));
    if (stopped) {
      EXPECT_FALSE(seen.stale) << seen.reason;
      EXPECT_NE(seen.reason.find("which is stopped (Ctrl-Z, a suspended job) until continued"), std::string::npos)
          << seen.reason;
      ::kill(child, SIGKILL);
    } else {
      EXPECT_TRUE(seen.stale);
      EXPECT_NE(seen.reason.find("has exited (not yet reaped)"), std::string::npos) << seen.reason;
    }
    ::waitpid(child, nullptr, 0);
    std::filesystem::remove(child_lock);
  }
}

// Another boot id under this host's name is another machine as often as a
// reboot (cloned VMs, containers given one --hostname): held while its
// heartbeat goes, stale once it stops.
TEST(LockFile, AnotherBootIdUnderThisHostsNameIsJudgedByItsHeartbeat) {
  ScratchDir dir;
  const std::string path = dir.file("a.lock");
  LockOwner clone = LockOwner::current("test");
  clone.boot_id = "another-boot";
  plant_lock(path, clone, 0s);
  LockStatus seen = inspect_lock(path, kFast, LockOwner::current("test"));
  EXPECT_FALSE(seen.stale) << seen.reason;
  plant_lock(path, clone, 5s);
  seen = inspect_lock(path, kFast, LockOwner::current("test"));
  EXPECT_TRUE(seen.stale);
  EXPECT_NE(seen.reason.find("heartbeat"), std::string::npos) << seen.reason;
}

TEST(LockFile, EarlierRunOfTheSameSlurmTaskIsStale) {
  ScratchDir dir;
  const std::string path = dir.file("a.lock");
  LockOwner before = elsewhere();
  before.slurm_job_id = "81";
  before.slurm_restart_count = 0;
  plant_lock(path, before, 0s);
  LockOwner me = LockOwner::current("test");
  me.slurm_job_id = "81";
  me.slurm_restart_count = 1;
  EXPECT_TRUE(inspect_lock(path, kFast, me).stale);
  me.slurm_job_id = "82";  // another task of the array: alive as far as we know
  EXPECT_FALSE(inspect_lock(path, kFast, me).stale);
}

TEST(LockFile, HeartbeatKeepsItFreshAndNoticesALostLock) {
  ScratchDir dir;
  const std::string path = dir.file("a.lock");
  const LockOwner me = LockOwner::current("test");
  auto lock = LockFile::try_acquire(path, me, kFast);
  ASSERT_TRUE(lock);
  struct timespec old[2];
  clock_gettime(CLOCK_REALTIME, &old[0]);
  old[0].tv_sec -= 100;
  old[1] = old[0];
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), old, 0), 0);
  lock->start_heartbeat();
  std::this_thread::sleep_for(400ms);
  EXPECT_LT(inspect_lock(path, kFast, me).age_seconds, 1.0);

  // Another worker judged it stale and replaced it: this holder must notice and leave it alone.
  std::filesystem::remove(path);
  plant_lock(path, elsewhere(), 0s);
  for (int i = 0; i < 100 && lock->held(); ++i) std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(lock->held());
  lock->release();
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_EQ(LockOwner::from_json(slurp(path))->host, "another-node");
}

// On NFS the server may give a new lock file the inode number of the one it
// replaced: device and inode then look the same. The holder also reads its
// token back, so it notices, writes nothing more, and leaves the new lock.
TEST(LockFile, ALockReplacedUnderTheSameInodeIsNoticedByItsToken) {
  ScratchDir dir;
  const std::string path = dir.file("a.lock");
  auto lock = LockFile::try_acquire(path, LockOwner::current("test"), kFast);
  ASSERT_TRUE(lock);
  const std::optional<LockOwner> mine = LockOwner::from_json(slurp(path));
  ASSERT_TRUE(mine);
  EXPECT_EQ(mine->token.size(), 16u);
  EXPECT_TRUE(lock->verify());
  // Another worker's record in the very same inode, as the server's reuse makes it.
  LockOwner other = elsewhere();
  other.token = "0123456789abcdef";
  { std::ofstream(path, std::ios::trunc) << other.to_json(); }
  EXPECT_FALSE(lock->verify());
  EXPECT_FALSE(lock->held());
  lock->release();
  ASSERT_TRUE(std::filesystem::exists(path)) << "the other worker's lock was removed";
  EXPECT_EQ(LockOwner::from_json(slurp(path))->token, "0123456789abcdef");
  // Two locks taken one after the other have their own tokens.
  std::filesystem::remove(path);
  auto again = LockFile::try_acquire(path, LockOwner::current("test"), kFast);
  ASSERT_TRUE(again);
  EXPECT_NE(LockOwner::from_json(slurp(path))->token, mine->token);
}

TEST(LockFile, MissingDirectoryIsAnOutputError) {
  ScratchDir dir;
  EXPECT_THROW(LockFile::try_acquire(dir.file("no/such/dir/a.lock"), LockOwner::current("t"), kFast),
               stylize::OutputError);
}

TEST(Claims, OutputStates) {
  ScratchDir dir;
  const std::string out = dir.file("a_x.png");
  EXPECT_EQ(output_state(out), OutputState::Missing);
  put(out, "image");
  EXPECT_EQ(output_state(out), OutputState::Done);
  put(checkpoint_record_path(out), "{\"iteration\": 30}");
  EXPECT_EQ(output_state(out), OutputState::Unfinished);  // never skipped
  std::filesystem::remove(out);
  EXPECT_EQ(output_state(out), OutputState::Unfinished);
  EXPECT_EQ(checkpoint_record_path(out), out + ".json");
  EXPECT_EQ(claim_path(out), out + ".lock");
}

// Six processes race over twenty outputs: each output is stylized exactly
// once, no two processes ever hold one at the same time, and no lock remains.
TEST(Claims, RacingProcessesWinEachOutputExactlyOnce) {
  ScratchDir dir;
  const int outputs = 20;
  const std::string log = dir.file("log");
  const auto codes = run_together(6, [&](int worker) {
    const LockOwner me = LockOwner::current("test");
    for (int round = 0; round < 2; ++round) {  // a second pass finds everything done
      for (int k = 0; k < outputs; ++k) {
        const std::string out = dir.file("out" + std::to_string((k + worker * 3) % outputs) + ".png");
        auto attempt = try_claim(out, me, kFast);
        if (!attempt.claim) continue;
        if (attempt.claim->state() == OutputState::Done) continue;
        // Inside the claim: nobody else may be here.
        const int inside = ::open((out + ".inside").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
        if (inside < 0) return 10;
        ::close(inside);
        append_line(log, out);
        std::this_thread::sleep_for(2ms);
        put(out + ".tmp", "image");
        std::filesystem::rename(out + ".tmp", out);
        std::filesystem::remove(out + ".inside");
        if (!attempt.claim->held()) return 11;
      }
    }
    return 0;
  });
  for (int code : codes) EXPECT_EQ(code, 0);
  auto done = lines_of(log);
  EXPECT_EQ(done.size(), static_cast<size_t>(outputs));
  std::sort(done.begin(), done.end());
  EXPECT_EQ(std::unique(done.begin(), done.end()), done.end()) << "an output was stylized twice";
  EXPECT_TRUE(leftover_locks(dir.path()).empty());
}

// Eight processes find the same twelve stale locks (a crashed worker's) at
// once: each is taken over by exactly one of them.
TEST(Claims, ConcurrentTakeoverOfStaleLocksHasOneWinner) {
  ScratchDir dir;
  const int outputs = 12;
  for (int k = 0; k < outputs; ++k)
    plant_lock(claim_path(dir.file("out" + std::to_string(k) + ".png")), elsewhere(), 10s);
  const std::string log = dir.file("log");
  const auto codes = run_together(8, [&](int) {
    const LockOwner me = LockOwner::current("test");
    std::vector<ClaimAttempt> held;  // keep every claim won until the end: no second winner can appear
    for (int k = 0; k < outputs; ++k) {
      auto attempt = try_claim(dir.file("out" + std::to_string(k) + ".png"), me, kFast);
      if (attempt.claim) {
        append_line(log, std::to_string(k));
        held.push_back(std::move(attempt));
      }
    }
    std::this_thread::sleep_for(300ms);
    return 0;
  });
  for (int code : codes) EXPECT_EQ(code, 0);
  auto won = lines_of(log);
  EXPECT_EQ(won.size(), static_cast<size_t>(outputs));
  std::sort(won.begin(), won.end());
  EXPECT_EQ(std::unique(won.begin(), won.end()), won.end()) << "a stale lock was taken over twice";
  EXPECT_TRUE(leftover_locks(dir.path()).empty());
}

// A worker killed with SIGKILL while it holds a claim: the next worker on this
// host takes the claim over at once (its pid is gone), without waiting for the
// heartbeat to go stale.
TEST(Claims, ClaimOfAKilledProcessIsTakenOver) {
  ScratchDir dir;
  const std::string out = dir.file("a.png");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    auto attempt = try_claim(out, LockOwner::current("test"), LockTiming{});
    const char byte = attempt.claim ? 'y' : 'n';
    if (::write(ready[1], &byte, 1) != 1) std::_Exit(1);
    ::pause();
    std::_Exit(0);
  }
  ::close(ready[1]);
  const char byte = stylize::batch_test::read_byte(ready[0]);
  ::close(ready[0]);
  ASSERT_EQ(byte, 'y');
  const LockOwner me = LockOwner::current("test");
  EXPECT_FALSE(try_claim(out, me, LockTiming{}).claim);  // alive: busy
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  const LockStatus seen = inspect_lock(claim_path(out), LockTiming{}, me);
  EXPECT_NE(seen.reason.find("exited"), std::string::npos) << seen.reason;
  auto attempt = try_claim(out, me, LockTiming{});
  ASSERT_TRUE(attempt.claim);
  EXPECT_EQ(attempt.claim->state(), OutputState::Missing);
}
