// Claims on batch outputs: see include/stylize/batch/claims.hpp.
#include "stylize/batch/claims.hpp"

#include <filesystem>

namespace fs = std::filesystem;

namespace stylize::batch {

std::string claim_path(const std::string& output) { return output + ".lock"; }

std::string checkpoint_record_path(const std::string& output) { return output + ".json"; }

OutputState output_state(const std::string& output) {
  std::error_code error;
  if (fs::exists(checkpoint_record_path(output), error)) return OutputState::Unfinished;
  if (fs::exists(output, error)) return OutputState::Done;
  return OutputState::Missing;
}

const char* to_string(OutputState state) {
  switch (state) {
    case OutputState::Missing:
      return "missing";
    case OutputState::Unfinished:
      return "unfinished";
    case OutputState::Done:
      return "done";
  }
  return "?";
}

ClaimAttempt try_claim(const std::string& output, const LockOwner& me, const LockTiming& timing) {
  ClaimAttempt attempt;
  std::optional<LockFile> lock = LockFile::try_acquire(claim_path(output), me, timing, &attempt.holder);
  if (lock) attempt.claim = Claim(output, std::move(*lock), output_state(output));
  return attempt;
}

}  // namespace stylize::batch
