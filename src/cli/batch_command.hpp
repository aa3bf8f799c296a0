// The `stylize batch` sub-command (README, "On a cluster").
#pragma once

#include "params.hpp"

namespace stylize::cli {

// Runs the jobs of this worker's shard, each claimed first: skips the outputs
// that are done, resumes the unfinished ones, waits for those other workers
// hold. A failed job (exit codes 2-8) does not stop the others; the first
// failure's code is returned at the end. Interrupted (SIGINT, SIGTERM): the
// running job is saved with its checkpoint record and 128 + the signal is
// returned at once. Throws the library's errors for what stops every job
// (unreadable folders, bad options, no weights).
int batch_command(BatchParams params);

// Parses `stylize batch ...` (argv[0] is "batch") and runs it.
int batch_main(int argc, char** argv);

}  // namespace stylize::cli
