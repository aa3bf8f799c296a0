// The flags of the stylize command, built into a CLI11 parser that fills
// CliParams. Kept apart from main() so that tests parse flags in-process
// (tests/test_cli_args.cpp).
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "params.hpp"

namespace stylize::cli {

// Adds every flag of `stylize` to `app`, writing into `params` (which must
// outlive the parse). Values are converted as they are parsed: a bad word is a
// CLI::ParseError, a bad layer list or number list an OptionError.
void build_parser(CLI::App& app, CliParams& params);

// After app.parse(): applies --preset to every setting whose flag was not given,
// and resolves --init. Throws OptionError.
void finish_parse(const CLI::App& app, CliParams& params);

// Throws OptionError naming the first front-end value that is unusable (the
// engine's options are checked once, by the Stylizer that reads them).
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
void apply_preset(const std::string& preset, CliParams& params, const std::vector<std::string>& explicit_flags);

}  // namespace stylize::cli
