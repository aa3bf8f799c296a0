// The `stylize weights` subcommand and the download progress display of the
// stylize executable (src/cli/weights_command.cpp). main.cpp calls these.
#pragma once

#include <string>

namespace stylize::cli {

// Runs `stylize weights list|verify [PATH]|info PATH|download`; argv[0] is
// "weights". Prints to stdout (results) and stderr (errors) and returns the
// exit code: 0, 2 (bad command line) or 4 (weights missing, unverified or unreadable).
int weights_main(int argc, char** argv);

// The weights file for a run: --weights, $STYLIZE_WEIGHTS, models/, the cache,
// else the default weights downloaded into the cache (unless `offline` or
// STYLIZE_OFFLINE), with a progress bar on stderr when it is a terminal and
// occasional lines otherwise; nothing with `quiet`. Throws stylize::WeightsError
// (or its subclass DownloadError) with a message saying how to get the file.
std::string find_or_download_weights(const std::string& explicit_path, bool offline, bool quiet);

}  // namespace stylize::cli
