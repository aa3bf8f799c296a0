// The `stylize weights` subcommand: list, verify, info, stats, download.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace stylize::cli {

// What `stylize weights` was asked: its own flags, not stylize's.
struct WeightsParams {
  std::string command;              // list, verify, info, stats or download
  std::string path;                 // verify (optional: every known file), info, stats
  std::vector<std::string> images;  // stats
  int size = 512;                   // stats: the images' longest side
  bool offline = false;             // download
  bool quiet = false;               // download
};

// The parser of `stylize weights` into `params` (params.command is set by
// the sub-command parsed).
void build_weights_parser(CLI::App& app, WeightsParams& params);

// Why `args` (after "weights") name no command, said as the error to print;
// "" when they name one or ask for help. CLI11 alone would say only "A
// subcommand is required".
std::string missing_command(const CLI::App& app, const std::vector<std::string>& args);

// Runs `stylize weights list|verify [PATH]|info PATH|stats PATH IMAGES...|download`; argv[0] is
// "weights". Prints to stdout (results) and stderr (errors) and returns the
// exit code: 0, 2 (bad command line) or 4 (weights missing, unverified or unreadable).
int weights_main(int argc, char** argv);

}  // namespace stylize::cli
