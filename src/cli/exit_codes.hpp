// The exit codes of stylize (README, "Exit codes"), and the one table that maps
// the library's errors to them.
#pragma once

#include <exception>

namespace stylize::cli {

enum ExitCode : int {
  kOk = 0,
  kInternalError = 1,  // a bug
  kUsageError = 2,     // bad command line
  kImageError = 3,     // an input image cannot be read or is unusable
  kWeightsError = 4,   // weights missing, unreadable or not verified, or their download failed
  kDeviceError = 5,    // device or precision not available
  kOutputError = 6,    // an output cannot be written
  kNumericError = 7,   // the loss became NaN or infinite
  kResourceError = 8,  // the run would not fit in memory
  // Interrupted: 128 + the signal (130 for SIGINT, 143 for SIGTERM).
};

// The exit code of a run stopped by `signal`, and whether a code is one.
constexpr int interrupted_exit_code(int signal) { return 128 + signal; }
constexpr bool is_interrupted_exit(int code) { return code > 128; }

// The exit code for an error the library (or anything else) threw.
int exit_code_for(const std::exception& error);

// Logs `error` as one line on standard error and returns its exit code.
int report_error(const std::exception& error);

}  // namespace stylize::cli
