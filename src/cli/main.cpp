// stylize: the command-line front end. Parses the flags (args.cpp), runs the
// command (stylize_command.cpp, weights_command.cpp for `stylize weights`,
// batch_command.cpp for `stylize batch`, video_command.cpp for `stylize video`)
// and maps the library's errors to exit codes once (exit_codes.cpp). All the
// work is done by the stylize libraries (README, "Development").
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <exception>
#include <string>

#include "args.hpp"
#include "batch_command.hpp"
#include "exit_codes.hpp"
#include "interrupt.hpp"
#include "stylize_command.hpp"
#include "video_command.hpp"
#include "weights_command.hpp"

namespace {

// Messages go to standard error as "level: text"; progress lines to standard output.
// FFmpeg's own error lines ("[mov,mp4,... @ 0x55d1...] moov atom not found")
// are left out: stylize says what failed in its words. OpenCV reads the level
// once, at its first video call; a user's own setting wins (16 shows them).
void setup_logging() {
  auto logger = spdlog::stderr_color_mt("stylize");
  logger->set_pattern("%^%l%$: %v");
  spdlog::set_default_logger(logger);
  ::setenv("OPENCV_FFMPEG_LOGLEVEL", "8", /*overwrite=*/0);  // AV_LOG_FATAL
}

}  // namespace

int main(int argc, char** argv) {
  using namespace stylize::cli;
  setup_logging();
  stop_at_once_on_signals();
  try {
    if (argc > 1 && std::string(argv[1]) == "weights") return weights_main(argc - 1, argv + 1);
    if (argc > 1 && std::string(argv[1]) == "batch") return batch_main(argc - 1, argv + 1);
    if (argc > 1 && std::string(argv[1]) == "video") return video_main(argc - 1, argv + 1);
    CliParams params;
    CLI::App app;
    build_parser(app, params);
    if (const auto code = parse_command_line(app, params, argc, argv)) return *code;
    return stylize_command(params);
  } catch (const std::exception& e) {
    return report_error(e);
  }
}
