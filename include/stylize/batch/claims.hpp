// Claims on batch outputs: several workers on a shared filesystem (the tasks
// of a Slurm array, the pods of a Kubernetes Job, two batches started by
// hand) never stylize the same output at once, and never mistake a
// half-finished image for a finished one.
//
// For an output out.png:
//   out.png.lock  the claim: a lock file (stylize/lock_file.hpp) held while a
//                 worker stylizes out.png;
//   out.png.json  the checkpoint record stylize writes beside an image it
//                 saved before finishing (interrupted): out.png is unfinished
//                 and must be resumed from it, never skipped;
//   out.png       without a record beside it: done.
#pragma once

#include <optional>
#include <string>

#include "stylize/lock_file.hpp"

namespace stylize::batch {

std::string claim_path(const std::string& output);              // out.png -> out.png.lock
std::string checkpoint_record_path(const std::string& output);  // out.png -> out.png.json

enum class OutputState {
  Missing,     // nothing yet: stylize from the start
  Unfinished,  // a checkpoint record is beside it (with or without the image): resume
  Done,        // the image without a record
};
OutputState output_state(const std::string& output);
const char* to_string(OutputState state);

struct ClaimAttempt;

// A worker's claim on one output: released (the lock removed) on destruction.
class Claim {
 public:
  const std::string& output() const { return output_; }
  // The output's state, read after the claim was taken (so no other worker changes it meanwhile).
  OutputState state() const { return state_; }
  // False once the claim was lost (this worker paused longer than the stale
  // limit and another took the output over): drop the job without writing.
  bool held() const { return lock_.held(); }
  // held(), looked at now (the heartbeat looks every few seconds): before a write.
  bool verify() { return lock_.verify(); }
  // Refreshes the heartbeat by hand (start_heartbeat() does it on a thread).
  bool refresh() { return lock_.refresh(); }
  void start_heartbeat() { lock_.start_heartbeat(); }
  // Whose stale claim this one replaced, and why it was stale; empty if none.
  const std::string& taken_over() const { return lock_.taken_over(); }
  void release() { lock_.release(); }

 private:
  friend ClaimAttempt try_claim(const std::string&, const LockOwner&, const LockTiming&);
  Claim(std::string output, LockFile lock, OutputState state)
      : output_(std::move(output)), lock_(std::move(lock)), state_(state) {}
  std::string output_;
  LockFile lock_;
  OutputState state_;
};

struct ClaimAttempt {
  std::optional<Claim> claim;  // set when this worker won the output
  LockStatus holder;           // otherwise: who holds it
};

// Claims `output` for `me`: takes its lock (or takes over a stale one) and
// reads its state. A claimed output that is Done needs nothing: release the
// claim and go on. Throws OutputError when the lock cannot be created (for
// instance a missing output directory).
ClaimAttempt try_claim(const std::string& output, const LockOwner& me, const LockTiming& timing);

}  // namespace stylize::batch
