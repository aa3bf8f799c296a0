// Batch jobs, output templates and shards: see include/stylize/batch/jobs.hpp.
#include "stylize/batch/jobs.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "stylize/errors.hpp"

namespace fs = std::filesystem;

namespace stylize::batch {
namespace {

// The path as a key: lexically normal and absolute, so "a.jpg" and "./a.jpg" are one input.
std::string path_key(const std::string& path) {
  std::error_code error;
  const fs::path absolute = fs::absolute(path, error);
  return (error ? fs::path(path) : absolute).lexically_normal().string();
}

std::string describe(const Job& job) { return "content '" + job.content + "' with style '" + job.style + "'"; }

int parse_int(const std::string& text, const std::string& what) {
  size_t used = 0;
  long value = 0;
  try {
    value = std::stol(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || value < INT32_MIN || value > INT32_MAX) {
    throw OptionError(what + ": expected a whole number, found '" + text + "'");
  }
  return static_cast<int>(value);
}

Shard checked(Shard shard) {
  if (shard.count < 1 || shard.index < 0 || shard.index >= shard.count) {
    throw OptionError(shard.source + ": shard " + std::to_string(shard.index) + " of " + std::to_string(shard.count) +
                      " does not exist; shards are numbered 0 to N-1 with N >= 1");
  }
  return shard;
}

std::optional<int> variable(const Environment& environment, const char* name) {
  const char* value = environment(name);
  if (!value || !*value) return std::nullopt;
  return parse_int(value, name);
}

}  // namespace

std::vector<std::string> images_in_folder(const std::string& folder, const std::string& what,
                                          const ImagePredicate& is_image) {
  std::vector<std::string> found;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(folder, error)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.') continue;  // hidden files, macOS "._x.jpg" companions
    std::error_code ignored;
    if (entry.is_regular_file(ignored) && is_image(entry.path().string())) found.push_back(entry.path().string());
  }
  if (error) throw ImageError("cannot list the folder '" + folder + "': " + error.message());
  if (found.empty()) {
    throw ImageError(what + " folder '" + folder + "' holds no images (png, jpg, webp, tif, bmp, ppm)");
  }
  std::sort(found.begin(), found.end());
  return found;
}

std::string fill_output_template(const std::string& pattern, const Job& job) {
  std::string out;
  for (size_t at = 0; at < pattern.size();) {
    if (pattern[at] != '{') {
      out += pattern[at++];
      continue;
    }
    const size_t close = pattern.find('}', at);
    const std::string key = close == std::string::npos ? pattern.substr(at) : pattern.substr(at, close - at + 1);
    if (key == "{content}") {
      out += fs::path(job.content).stem().string();
    } else if (key == "{style}") {
      out += fs::path(job.style).stem().string();
    } else if (key == "{n}") {
      out += std::to_string(job.number);
    } else {
      throw OptionError("--output-template '" + pattern + "': unknown placeholder '" + key +
                        "'; use {content} and {style} (the file names without extension) and {n} (the job number)");
    }
    at += key.size();
  }
  return out;
}

std::vector<std::string> expand_inputs(const std::vector<std::string>& paths, const std::string& what,
                                       const ImagePredicate& is_image) {
  if (paths.empty()) throw OptionError("no " + what + " images: give files or folders with --" + what);
  std::vector<std::string> inputs;
  std::set<std::string> seen;
  for (const auto& path : paths) {
    std::error_code error;
    const fs::file_status status = fs::status(path, error);
    std::vector<std::string> found;
    if (fs::is_directory(status)) {
      found = images_in_folder(path, what, is_image);
    } else if (fs::exists(status)) {
      found = {path};
    } else {
      throw ImageError("cannot read " + what + " image '" + path + "': file not found");  // as stylize says it
    }
    for (auto& file : found) {
      if (seen.insert(path_key(file)).second) inputs.push_back(std::move(file));
    }
  }
  return inputs;
}

// What to do about two jobs the template gives one output.
std::string same_output_advice(const std::string& output_template) {
  const bool content = output_template.find("{content}") != std::string::npos;
  const bool style = output_template.find("{style}") != std::string::npos;
  if (content && style) {
    return "their contents' or styles' file names differ only in their folder or extension: rename one, or "
           "include {n} too";
  }
  if (content) return "include {style} (or {n})";
  if (style) return "include {content} (or {n})";
  return "include {content} and {style}, or {n}";
}

std::vector<Job> make_jobs(const std::vector<std::string>& contents, const std::vector<std::string>& styles,
                           const std::string& output_template) {
  std::vector<Job> jobs;
  jobs.reserve(contents.size() * styles.size());
  std::map<std::string, size_t> writers;  // output key -> job index
  std::set<std::string> inputs;
  for (const auto& path : contents) inputs.insert(path_key(path));
  for (const auto& path : styles) inputs.insert(path_key(path));
  for (const auto& content : contents) {
    for (const auto& style : styles) {
      Job job{jobs.size() + 1, content, style, ""};
      job.output = fill_output_template(output_template, job);
      const std::string key = path_key(job.output);
      if (inputs.count(key)) {
        throw OutputError("--output-template '" + output_template + "' makes " + describe(job) + " write '" +
                          job.output + "', which is one of the input images; choose another output folder or name");
      }
      const auto [it, fresh] = writers.emplace(key, jobs.size());
      if (!fresh) {
        throw OptionError("--output-template '" + output_template + "' gives two jobs the same output '" + job.output +
                          "' (" + describe(jobs[it->second]) + ", and " + describe(job) + "); " +
                          same_output_advice(output_template));
      }
      jobs.push_back(std::move(job));
    }
  }
  return jobs;
}

const std::string* folder_holding(const std::string& output, const std::vector<std::string>& paths) {
  const fs::path folder = fs::path(output).parent_path();
  for (const auto& path : paths) {
    std::error_code error;
    if (fs::is_directory(path, error) && fs::equivalent(folder.empty() ? fs::path(".") : folder, path, error)) {
      return &path;
    }
  }
  return nullptr;
}

void refuse_outputs_in_input_folders(const std::vector<Job>& jobs, const std::vector<std::string>& paths,
                                     const std::string& what) {
  for (const auto& job : jobs) {
    if (const std::string* path = folder_holding(job.output, paths)) {
      throw OutputError("the output of " + describe(job) + ", '" + job.output + "', would be written into the " + what +
                        " folder '" + *path + "', where the next run (another worker, a requeued task) " +
                        "takes it for a " + what + " image; give --output-template another folder");
    }
  }
}

Shard parse_shard(const std::string& text) {
  const size_t slash = text.find('/');
  if (slash == std::string::npos) {
    throw OptionError("--shard: expected I/N (shard I of N, I from 0 to N-1, e.g. 0/4), found '" + text + "'");
  }
  return checked({parse_int(text.substr(0, slash), "--shard " + text),
                  parse_int(text.substr(slash + 1), "--shard " + text), "--shard " + text});
}

Environment process_environment() {
  return [](const char* name) { return static_cast<const char*>(std::getenv(name)); };
}

std::optional<Shard> shard_from_environment(const Environment& environment, std::optional<int> count) {
  if (const auto id = variable(environment, "SLURM_ARRAY_TASK_ID")) {
    const auto tasks = variable(environment, "SLURM_ARRAY_TASK_COUNT");
    if (!tasks) {
      throw OptionError("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not; give --shard I/N");
    }
    const int min = variable(environment, "SLURM_ARRAY_TASK_MIN").value_or(0);
    const int step = variable(environment, "SLURM_ARRAY_TASK_STEP").value_or(1);
    const int max = variable(environment, "SLURM_ARRAY_TASK_MAX").value_or(min + (*tasks - 1) * step);
    const std::string source = "SLURM_ARRAY_TASK_ID=" + std::to_string(*id);
    if (step < 1 || (max - min) % step != 0 || (max - min) / step + 1 != *tasks) {
      throw OptionError(source + ": the array's task ids (" + std::to_string(*tasks) + " from " + std::to_string(min) +
                        " to " + std::to_string(max) + ", step " + std::to_string(step) +
                        ") are not an evenly spaced range; submit with a range such as --array=0-" +
                        std::to_string(*tasks - 1) + ", or give --shard I/N");
    }
    if (*id < min || *id > max || (*id - min) % step != 0) {
      throw OptionError(source + " is not one of the array's task ids (" + std::to_string(min) + " to " +
                        std::to_string(max) + ", step " + std::to_string(step) +
                        "); run this worker as one of the array's tasks, or give --shard I/N");
    }
    return checked({(*id - min) / step, *tasks, source});
  }
  if (const auto index = variable(environment, "JOB_COMPLETION_INDEX")) {
    const std::string source = "JOB_COMPLETION_INDEX=" + std::to_string(*index);
    if (!count) count = variable(environment, kShardCountVariable);
    if (!count) {
      throw OptionError(source + " is set (a Kubernetes Indexed Job) but the number of shards is not: set " +
                        std::string(kShardCountVariable) + " to the Job's completions, or give --shard I/N");
    }
    return checked({*index, *count, source});
  }
  return std::nullopt;
}

JobRange shard_range(size_t job_count, const Shard& shard) {
  const auto cut = [&](size_t i) { return job_count * i / static_cast<size_t>(shard.count); };
  return {cut(static_cast<size_t>(shard.index)), cut(static_cast<size_t>(shard.index) + 1)};
}

}  // namespace stylize::batch
