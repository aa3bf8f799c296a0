// What one stylize command produces: one job (output image) per blend, or per
// style with --each-style or a style folder.
#pragma once

#include <string>
#include <vector>

#include "params.hpp"
#include "stylize/io/file.hpp"

namespace stylize::cli {

struct Job {
  std::vector<size_t> styles;  // indices into params.style_paths
  std::string output;
  std::string label;  // the output's file name, for progress lines
};

// Replaces each folder in params.style_paths by the images in it (sorted);
// a folder turns on each_style. Throws ImageError for a folder without images.
void expand_style_folders(CliParams& params);

// The jobs of a command: one blending every style into params.output_path, or
// with each_style one per style named by params.output_template. Throws
// OptionError when the template gives two styles the same output.
std::vector<Job> make_jobs(const CliParams& params);

// Checks before any work that every output can be written, in the --bit-depth
// asked for, and none is an input; creates in `folders` the folders that
// --output-template names. Throws OutputError.
void check_outputs(const std::vector<Job>& jobs, const CliParams& params, OutputFolders& folders);

}  // namespace stylize::cli
