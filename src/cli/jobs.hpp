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
// a folder turns on each_style. Throws ImageError for a folder without images,
// OptionError for a comma-separated list of style files ("a.jpg,b.jpg").
void expand_style_folders(CliParams& params);

// Throws OptionError for a path such as "a.jpg,b.jpg" that names no file when
// each of its comma-separated parts does: several `what` ("style", "content")
// images written as one list, as the layer lists are.
void refuse_comma_lists(const std::vector<std::string>& paths, const std::string& what);

// The jobs of a command: one blending every style into params.output_path, or
// with each_style one per style named by params.output_template. Throws
// OptionError when the template gives two styles the same output.
std::vector<Job> make_jobs(const CliParams& params);

// A file a command reads or writes, and how to name it in a message.
struct NamedPath {
  std::string path;
  std::string what;  // "the content image", "--report"
};

// Every file a run reads besides its weights: the content image (or video),
// the style images, the --init image (unless the run resumes, which continues
// it and writes over it by design), the region masks and --default-style.
std::vector<NamedPath> input_files(const CliParams& params);

// Whether two paths name the same file: the same inode when both exist, else
// the same absolute path once symbolic links and ".." are resolved.
bool same_file(const std::string& a, const std::string& b);

// Throws OutputError when an output is one of the inputs, or two outputs are
// one file.
void refuse_overlaps(const std::vector<NamedPath>& outputs, const std::vector<NamedPath>& inputs);

// Checks before any work that every output can be written, in the --bit-depth
// asked for, and none is an input; creates in `folders` the folders that
// --output-template names. Throws OutputError.
void check_outputs(const std::vector<Job>& jobs, const CliParams& params, OutputFolders& folders);

}  // namespace stylize::cli
