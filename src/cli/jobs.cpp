#include "jobs.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

#include "stylize/errors.hpp"
#include "stylize/io/image_io.hpp"

namespace stylize::cli {
namespace fs = std::filesystem;

namespace {

std::string replace_all(std::string text, const std::string& key, const std::string& value) {
  for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + value.size())) {
    text.replace(at, key.size(), value);
  }
  return text;
}

}  // namespace

void expand_style_folders(CliParams& params) {
  std::vector<std::string> styles;
  for (const auto& path : params.style_paths) {
    std::error_code error;
    if (!fs::is_directory(path, error)) {
      styles.push_back(path);
      continue;
    }
    params.each_style = true;
    std::vector<std::string> found;
    for (const auto& entry : fs::directory_iterator(path, error)) {
      if (entry.is_regular_file() && has_image_extension(entry.path().string())) {
        found.push_back(entry.path().string());
      }
    }
    if (found.empty()) {
      throw ImageError("style folder '" + path + "' holds no images (png, jpg, webp, tif, bmp)");
    }
    std::sort(found.begin(), found.end());
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
  const std::string content_stem = fs::path(params.content_path).stem().string();
  std::set<std::string> seen;
  for (size_t i = 0; i < params.style_paths.size(); ++i) {
    std::string output = replace_all(params.output_template, "{content}", content_stem);
    output = replace_all(output, "{style}", fs::path(params.style_paths[i]).stem().string());
    output = replace_all(output, "{n}", std::to_string(i + 1));
    if (!seen.insert(output).second) {
      throw OptionError("--output-template '" + params.output_template + "' gives two styles the same output '" +
                        output + "'; include {style} or {n}");
    }
    jobs.push_back({{i}, output, fs::path(output).filename().string()});
  }
  return jobs;
}

void check_outputs(const std::vector<Job>& jobs, const CliParams& params) {
  std::vector<std::string> inputs = params.style_paths;
  inputs.push_back(params.content_path);
  for (const auto& job : jobs) {
    check_output_path(job.output);
    std::error_code error;
    for (const auto& input : inputs) {
      if (fs::exists(job.output, error) && fs::equivalent(job.output, input, error)) {
        throw OutputError("output '" + job.output +
                          "' is also an input image; refusing to overwrite it. Choose another -o");
      }
    }
  }
  for (const auto& extra : {params.report_path, params.plot_path, params.sheet_path}) {
    if (extra.empty()) continue;
    fs::path dir = fs::path(extra).parent_path();
    std::error_code error;
    if (!dir.empty() && !fs::is_directory(dir, error)) {
      throw OutputError("cannot write '" + extra + "': directory '" + dir.string() + "' does not exist");
    }
  }
  if (!params.plot_path.empty()) check_output_path(params.plot_path);
  if (!params.sheet_path.empty()) check_output_path(params.sheet_path);
}

}  // namespace stylize::cli
