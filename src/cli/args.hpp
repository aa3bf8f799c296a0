// The flags of the stylize command, built into a CLI11 parser that fills
// CliParams. Kept apart from main() so that tests parse flags in-process
// (tests/test_cli_args.cpp).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "params.hpp"

namespace stylize::cli {

// Adds every flag of `stylize` to `app`, writing into `params` (which must
// outlive the parse). Values are converted as they are parsed: a bad word is a
// CLI::ParseError, a bad layer list or number list an OptionError.
void build_parser(CLI::App& app, CliParams& params);

// How a command-line error CLI11 finds is printed: "error: <what>", as every
// other error of stylize, then where the flags are listed. For
// app.failure_message (build_parser sets it; sub-commands inherit it).
std::string usage_failure(const CLI::App* app, const CLI::Error& error);

// Makes every option of `app` that takes a value refuse an empty one (CLI11
// reads --content-weight "" as 0). build_parser and the sub-commands' parsers
// call it last; options added later need another call.
void refuse_empty_values(CLI::App& app);

// After app.parse(): applies --preset to every setting whose flag was not given,
// and resolves --init. Throws OptionError.
void finish_parse(const CLI::App& app, CliParams& params);

// Parses the command line with `app` (built by build_parser() or
// build_batch_parser() into `params`), sets the log level from -q and -v, then
// calls finish_parse(). Returns the exit code when the command ends here
// (--help: 0; a bad flag: 2, after CLI11's message), std::nullopt to go on.
std::optional<int> parse_command_line(CLI::App& app, CliParams& params, int argc, char** argv);

// The parser of `stylize batch`: build_parser()'s flags without those of one
// run (kOmittedFlags in args.cpp: -o, --each-style, --batch, --resume,
// --style-weights, --report, --plot, --sheet, --estimate and the regional
// styles' masks), with -c taking several files and folders, and --shard.
// Call finish_parse(app, params.run) after parsing.
void build_batch_parser(CLI::App& app, BatchParams& params);

// The parser of `stylize video`: build_parser()'s flags without those of
// single images and batches (--each-style, --batch, --output-template,
// --resume FILE, --init, --save-every, --report, --plot, --sheet, --estimate), with -c
// naming the input video and -o the output video, and the temporal flags
// (--temporal-weight, --temporal-frames, --frame-iterations, --resume,
// --keep-frames, --codec, --fps). After parsing call finish_parse(app,
// params.run), then finish_video_parse(app, params).
void build_video_parser(CLI::App& app, VideoParams& params);

// What --preset sets of the video flags (--frame-iterations), unless given.
void finish_video_parse(const CLI::App& app, VideoParams& params);

// Throws OptionError naming the first value of `stylize video` that is unusable.
void validate_video_params(const VideoParams& params);

// Throws OptionError naming the first front-end value that is unusable, then
// checks the engine's options (validate) so that a bad setting is said before
// the weights are read and before the first job of a batch, not by each job.
void validate_params(const CliParams& params);

// The start image a --init text means: content, noise or style, else the path of an image.
InitMode init_mode(const std::string& text);

// "relu1_1,relu2_1:0.5" -> layers with weights (default 1). Throws OptionError
// naming `flag` for an unreadable weight or an unknown layer.
std::vector<LayerWeight> parse_layer_list(const std::string& text, const std::string& flag);

// "0.7,0.3" -> {0.7, 0.3}. Throws OptionError naming `flag`.
std::vector<double> parse_number_list(const std::string& text, const std::string& flag);

// The presets --preset knows, and applying one: every setting it makes whose
// flag (e.g. "--iterations") is not in `explicit_flags`. Throws OptionError for
// an unknown preset (presets.cpp).
const std::vector<std::string>& preset_names();
constexpr int kFastFrameIterations = 100;  // --preset fast's --frame-iterations (stylize video)
void apply_preset(const std::string& preset, CliParams& params, const std::vector<std::string>& explicit_flags);

// A hint for a long run of the tutorial's schedule, said once its seconds per
// iteration are measured: --preset fast gets to a similar loss in about a
// fifth of the time (docs/benchmarks.md, "Time to a finished image"). "" for a run shorter
// than 3 minutes, one with a preset, a resumed one, or one of L-BFGS,
// coarse-to-fine or another of fast's levers (presets.cpp).
std::string fast_preset_hint(const CliParams& params, double seconds_per_iteration);

// The same for a long video, said once its first frame is made, where its
// `later_frames` take an estimated `seconds_left`: --preset fast gives them
// kFastFrameIterations each (independent frames: each a fifth of the time).
// "" where fast_preset_hint says nothing, or where --frame-iterations is
// already as low.
std::string fast_video_hint(const VideoParams& video, int64_t later_frames, double seconds_left);

// The paper's alpha/beta = 1e-3 of --preset gatys as stylize's content weight,
// for a content image of height x width pixels, in tutorial units and with
// the preset's single content layer relu4_2 of `channels` channels (512 in
// VGG19) (README, "presets").
double gatys_content_weight(int64_t height, int64_t width, int64_t channels, double style_weight);

// `params` with --preset gatys's content weight set for a content image of
// height x width pixels when the preset chose it (params.gatys_balance) and the
// run is in tutorial units; otherwise `params` unchanged.
CliParams balance_gatys_preset(const CliParams& params, int64_t height, int64_t width, int64_t channels,
                               LossUnits units);

}  // namespace stylize::cli
