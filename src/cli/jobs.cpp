#include "jobs.hpp"

#include <filesystem>
#include <map>
#include <sstream>
#include <tuple>
#include <utility>

#include "checkpoint.hpp"
#include "figures.hpp"
#include "interrupt.hpp"
#include "stylize/batch/jobs.hpp"
#include "stylize/errors.hpp"
#include "stylize/io/file.hpp"
#include "stylize/io/image_io.hpp"

namespace stylize::cli {
namespace fs = std::filesystem;

void refuse_comma_lists(const std::vector<std::string>& paths, const std::string& what) {
  for (const auto& path : paths) {
    std::error_code error;
    if (path.find(',') == std::string::npos || fs::exists(path, error)) continue;
    std::vector<std::string> parts;
    bool all_files = true;
    std::stringstream list(path);
    for (std::string part; std::getline(list, part, ',');) {
      all_files = all_files && !part.empty() && fs::exists(part, error);
      parts.push_back(part);
    }
    if (!all_files || parts.size() < 2) continue;  // a missing file, said as such when it is read
    std::string separate;
    for (const auto& part : parts) separate += " " + part;
    throw OptionError("--" + what + " '" + path + "': there is no such file, but there are " +
                      std::to_string(parts.size()) + " " + what + " images of these names; give each as a value of " +
                      "its own: --" + what + separate);
  }
}

void expand_style_folders(CliParams& params) {
  std::vector<std::string> styles;
  refuse_comma_lists(params.style_paths, "style");
  for (const auto& path : params.style_paths) {
    std::error_code error;
    if (!fs::is_directory(path, error)) {
      styles.push_back(path);
      continue;
    }
    params.each_style = true;
    params.style_folders.push_back(path);
    const std::vector<std::string> found = batch::images_in_folder(path, "style", has_image_extension);
    styles.insert(styles.end(), found.begin(), found.end());
  }
  params.style_paths = styles;
}

std::vector<Job> make_jobs(const CliParams& params) {
  std::vector<Job> jobs;
  if (!params.each_style) {
    Job job;
    for (size_t i = 0; i < params.style_paths.size(); ++i) job.styles.push_back(i);
    job.output = params.output_path;
    job.label = fs::path(params.output_path).filename().string();
    jobs.push_back(job);
    return jobs;
  }
  std::map<std::string, size_t> style_of;  // each output, and the style it is made with
  for (size_t i = 0; i < params.style_paths.size(); ++i) {
    // Named as stylize batch names its jobs' outputs.
    const std::string output =
        batch::fill_output_template(params.output_template, {i + 1, params.content_path, params.style_paths[i], ""});
    const auto [earlier, fresh] = style_of.emplace(output, i);
    if (!fresh) {
      const std::string& first = params.style_paths[earlier->second];
      const bool named_alike = params.output_template.find("{style}") != std::string::npos;
      throw OptionError("--output-template '" + params.output_template + "' gives the styles '" + first + "' and '" +
                        params.style_paths[i] + "' the same output '" + output + "'; " +
                        (named_alike ? "their file names differ only in their folder or extension: include {n} too, "
                                       "or rename one"
                                     : "include {style} or {n}"));
    }
    jobs.push_back({{i}, output, fs::path(output).filename().string()});
  }
  return jobs;
}

namespace {

// The absolute path with symbolic links resolved as far as it exists.
fs::path canonical_path(const std::string& path) {
  std::error_code error;
  return fs::weakly_canonical(fs::absolute(path, error), error);
}

}  // namespace

bool same_file(const std::string& a, const std::string& b) {
  std::error_code error;
  if (fs::exists(a, error) && fs::exists(b, error)) return fs::equivalent(a, b, error);
  return canonical_path(a) == canonical_path(b);
}

std::vector<NamedPath> input_files(const CliParams& params) {
  std::vector<NamedPath> inputs = {{params.content_path, "the content image"}};
  for (const auto& style : params.style_paths) inputs.push_back({style, "a style image"});
  if (params.options.init == InitMode::Image && params.resume.empty()) {
    inputs.push_back({params.init, "the --init image"});
  }
  for (const auto& mask : params.content_mask_paths) inputs.push_back({mask, "a --content-mask"});
  for (const auto& mask : params.style_mask_paths) {
    if (mask != "all") inputs.push_back({mask, "a --style-mask"});
  }
  if (!params.default_style_path.empty()) inputs.push_back({params.default_style_path, "the --default-style image"});
  return inputs;
}

void refuse_overlaps(const std::vector<NamedPath>& outputs, const std::vector<NamedPath>& inputs) {
  for (size_t o = 0; o < outputs.size(); ++o) {
    for (const auto& input : inputs) {
      if (same_file(outputs[o].path, input.path)) {
        throw OutputError(outputs[o].what + " '" + outputs[o].path + "' is also an input (" + input.what +
                          "); refusing to overwrite it. Choose another path");
      }
    }
    for (size_t other = 0; other < o; ++other) {
      if (same_file(outputs[o].path, outputs[other].path)) {
        throw OutputError(outputs[o].what + " '" + outputs[o].path + "' is the same file as " + outputs[other].what +
                          " '" + outputs[other].path + "'; give each output its own path");
      }
    }
  }
}

namespace {

// --save-every's images and their records, beside each output, are outputs
// too: none may be one of `taken` (the other outputs and the inputs). Their
// names are compared in the output's folder, resolved once (a run may save
// thousands).
void refuse_snapshot_overlaps(const std::vector<Job>& jobs, const CliParams& params,
                              const std::vector<NamedPath>& taken) {
  if (params.save_every <= 0) return;
  std::map<fs::path, const NamedPath*> by_path;
  for (const auto& named : taken) by_path.emplace(canonical_path(named.path), &named);
  // Coarse to fine, the sizes may fall together into fewer scales
  // (scale_sizes): into one, whose images are named as a run at one scale's.
  std::vector<std::pair<size_t, size_t>> scales_of;  // (scale, of how many)
  const size_t asked = static_cast<size_t>(params.options.scales);
  for (size_t s = 0; s < asked; ++s) scales_of.emplace_back(s, asked);
  if (asked > 1) scales_of.emplace_back(0, 1);
  for (const Job& job : jobs) {
    const fs::path folder = canonical_path(job.output).parent_path();
    for (const auto& [s, scales] : scales_of) {
      const int iterations = scale_iterations(params.options, s, scales);
      for (int i = params.save_every; i < iterations; i += params.save_every) {
        const std::string image = intermediate_path(job.output, i, static_cast<int>(s) + 1, static_cast<int>(scales));
        for (const std::string& path : {image, checkpoint_path(image)}) {
          const auto found = by_path.find(folder / fs::path(path).filename());
          if (found == by_path.end()) continue;
          throw OutputError(found->second->what + " '" + found->second->path + "' is where --save-every " +
                            std::to_string(params.save_every) + " saves '" + path +
                            "'; give it another path, or another --save-every");
        }
      }
    }
  }
}

// An output written into a style folder would be one of the styles of the
// next run over that folder (stylize batch refuses the same).
void refuse_output_in_style_folders(const std::string& output, const CliParams& params) {
  if (const std::string* styles = batch::folder_holding(output, params.style_folders)) {
    throw OutputError("--output-template '" + params.output_template + "' writes '" + output +
                      "' into the style folder '" + *styles +
                      "', where the next run over it would take it for a style image; give the template another "
                      "folder, e.g. out/{content}_{style}.png");
  }
}

}  // namespace

void check_outputs(const std::vector<Job>& jobs, const CliParams& params, OutputFolders& folders) {
  const std::string image_flag = params.each_style ? "--output-template" : "-o";
  std::vector<NamedPath> outputs;
  for (const auto& job : jobs) {
    refuse_output_in_style_folders(job.output, params);
    // A template may name folders too (out/{style}.png): they are created, as
    // stylize batch does; -o names one file, in a folder that must exist.
    if (params.each_style) {
      folders.create_for(job.output);
      remove_if_stopped_before_the_run(folders);
    }
    check_output_path(job.output);
    // The format holds the bit depth and the longest side (--size) before the
    // content is read (choose_output_encoding checks the rest once it is).
    check_output_format(job.output, params.size, params.size, params.bit_depth != 0 ? params.bit_depth : 8);
    outputs.push_back({job.output, image_flag});
    // Written when the run is interrupted: a directory there would lose the record.
    check_writable(checkpoint_path(job.output), "resume record");
    outputs.push_back({checkpoint_path(job.output), "the resume record"});
  }
  if (!params.report_path.empty()) {
    check_writable(params.report_path, "report");
    outputs.push_back({params.report_path, "--report"});
  }
  // The plot and the sheet are pictures, checked as the output is, under
  // their flags, at the sizes the jobs give them: a plot panel per output, a
  // sheet row per output (a sheet's width follows the images' shapes).
  const int64_t runs = static_cast<int64_t>(jobs.size());
  for (const auto& [path, flag, width, height] :
       {std::tuple{params.plot_path, "--plot", int64_t{kPlotWidth}, kPlotPanelHeight * runs},
        std::tuple{params.sheet_path, "--sheet", int64_t{1}, contact_sheet_height(jobs.size())}}) {
    if (path.empty()) continue;
    check_output_path(path, flag);
    check_output_format(path, width, height, 8, flag);
    outputs.push_back({path, flag});
  }
  const std::vector<NamedPath> inputs = input_files(params);
  refuse_overlaps(outputs, inputs);
  std::vector<NamedPath> taken = outputs;
  taken.insert(taken.end(), inputs.begin(), inputs.end());
  refuse_snapshot_overlaps(jobs, params, taken);
  // Leftovers of killed runs (SIGKILL, power loss) beside the outputs.
  for (const auto& output : outputs) remove_stale_temporaries(output.path);
}

}  // namespace stylize::cli
