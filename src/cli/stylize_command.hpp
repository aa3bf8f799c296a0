// The stylize command itself: from parsed flags to written images, reports and
// an exit code.
#pragma once

#include "params.hpp"

namespace stylize::cli {

// Runs the command. Returns 0, 7 (numeric failure, the last good image saved)
// or 128 + a signal (interrupted, the current image saved); throws the
// library's errors for everything else (main maps them to exit codes).
int stylize_command(CliParams params);

}  // namespace stylize::cli
