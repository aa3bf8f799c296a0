// Lock files on a shared filesystem: who holds a resource (an output being
// stylized, a weights file being downloaded), kept alive by a heartbeat, taken
// over when its holder is gone. Plain files so that every node of a cluster
// sees them (NFS, Lustre, GPFS, a Kubernetes ReadWriteMany volume), where
// flock() is often unavailable or local to one node.
//
// Protocol (README, "On a cluster"):
//  - take: open(O_CREAT | O_EXCL) creates PATH, then the owner record (JSON)
//    is written and synced, then the directory is synced;
//  - heartbeat: the holder refreshes the file's mtime (futimens on its open
//    descriptor) every `heartbeat`, and checks that PATH is still its file;
//  - stale: the holder's process is gone (same host, boot and PID namespace,
//    and its pid has exited or now belongs to another process), the holder is
//    an earlier run of this very Slurm task (requeued), or the mtime is older
//    than `stale_after`;
//  - take over: a stale PATH is first hard-linked to PATH.break-INODE. link()
//    fails for all but one process per stale inode, so exactly one taker
//    removes the stale file (after checking that PATH is still that inode with
//    that mtime), then everyone races for a fresh O_EXCL create again. No step
//    removes a file by name that a live holder might have just created.
//  - release: the holder removes PATH (only while it is still its file) and
//    syncs the directory.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace stylize {

// Who holds a lock: written into the lock file as JSON.
struct LockOwner {
  std::string host;                      // gethostname()
  long pid = 0;                          // getpid()
  std::string boot_id;                   // /proc/sys/kernel/random/boot_id: tells a reboot apart
  std::string pid_namespace;             // /proc/self/ns/pid: tells containers on one host apart
  unsigned long long process_start = 0;  // /proc/PID/stat start time (clock ticks after boot): tells a reused pid apart
  std::string started;                   // when the lock was taken, ISO 8601 UTC, for people
  std::string purpose;                   // "stylize batch", "weights download"
  // Scheduler identity, when present in the environment.
  std::string slurm_job_id;          // SLURM_JOB_ID (one per array task; kept across requeues)
  std::string slurm_array_job_id;    // SLURM_ARRAY_JOB_ID
  std::string slurm_array_task_id;   // SLURM_ARRAY_TASK_ID
  int slurm_restart_count = 0;       // SLURM_RESTART_COUNT: how often the task was requeued
  std::string job_completion_index;  // JOB_COMPLETION_INDEX (Kubernetes Indexed Job)
  // Random, one per lock taken (LockFile::try_acquire sets it): tells the
  // holder's own file apart from a later one that got the same inode number
  // (NFS servers reuse them), which device and inode alone do not.
  std::string token;

  // This process, now.
  static LockOwner current(const std::string& purpose);
  // One line for messages: "pid 4242 on node7 (Slurm job 81_2), since 2024-05-01T10:00:00Z".
  std::string describe() const;
  std::string to_json() const;
  // nullopt when `text` is not an owner record (empty: the holder is still writing it).
  static std::optional<LockOwner> from_json(const std::string& text);
};

struct LockTiming {
  std::chrono::milliseconds heartbeat{std::chrono::seconds(10)};    // how often a holder refreshes its lock
  std::chrono::milliseconds stale_after{std::chrono::seconds(60)};  // a heartbeat older than this is dead
};

// What a lock file says about its holder, seen by someone else.
struct LockStatus {
  bool exists = false;
  std::optional<LockOwner> owner;  // nullopt: the file is empty or unreadable (still being written, or damaged)
  double age_seconds = 0;          // since the last heartbeat
  bool stale = false;
  std::string reason;  // why it is stale or held, for messages: "pid 12 on this host has exited"
};

// Reads the lock file at `path` and judges it from the point of view of `me`.
LockStatus inspect_lock(const std::string& path, const LockTiming& timing, const LockOwner& me);

// A lock file this process holds. Movable, not copyable; released on destruction.
class LockFile {
 public:
  // Takes the lock at `path` if it is free or stale (taking over a stale one).
  // Returns nullopt when someone else holds it; `holder` then says who.
  // Throws OutputError when the file cannot be created for another reason
  // (missing directory, no permission, read-only filesystem).
  static std::optional<LockFile> try_acquire(const std::string& path, const LockOwner& me, const LockTiming& timing,
                                             LockStatus* holder = nullptr);

  LockFile(LockFile&&) noexcept;
  LockFile& operator=(LockFile&&) noexcept;
  LockFile(const LockFile&) = delete;
  LockFile& operator=(const LockFile&) = delete;
  ~LockFile();

  const std::string& path() const;
  // Why the lock this one replaced was stale ("process 12 on this host has
  // exited"), for the holder to say; empty when the lock was free.
  const std::string& taken_over() const;
  // Refreshes the heartbeat; false when the lock was lost (PATH removed or
  // replaced: someone judged it stale after a long pause of this process).
  bool refresh();
  // Refreshes the heartbeat every timing.heartbeat on a thread until release().
  void start_heartbeat();
  // False once a heartbeat found the lock lost (the heartbeat looks every
  // timing.heartbeat; verify() looks now).
  bool held() const;
  // Looks now whether PATH is still this holder's file, without refreshing
  // the heartbeat: false when the lock was lost. A holder calls it before it
  // commits its work (and may between steps: one lstat).
  bool verify();
  // Removes the lock file if it is still this holder's, and syncs the
  // directory. Idempotent.
  void release();

 private:
  struct State;
  explicit LockFile(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// fsync() on a directory, so that a created, renamed or removed entry in it is
// durable. Best effort: some filesystems refuse it (EINVAL), which is ignored.
void sync_directory(const std::string& directory);

}  // namespace stylize
