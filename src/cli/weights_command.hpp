// The `stylize weights` subcommand: list, verify, info, stats, download.
#pragma once

namespace stylize::cli {

// Runs `stylize weights list|verify [PATH]|info PATH|stats PATH IMAGES...|download`; argv[0] is
// "weights". Prints to stdout (results) and stderr (errors) and returns the
// exit code: 0, 2 (bad command line) or 4 (weights missing, unverified or unreadable).
int weights_main(int argc, char** argv);

}  // namespace stylize::cli
