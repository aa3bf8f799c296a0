#include "checkpoint.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "stylize/errors.hpp"
#include "stylize/io/file.hpp"

namespace stylize::cli {
namespace fs = std::filesystem;

std::string checkpoint_path(const std::string& image) { return image + ".json"; }

void write_checkpoint(const std::string& image, int iteration, const CliParams& params) {
  const nlohmann::json record = {{"iteration", iteration},
                                 {"iterations", params.options.iterations},
                                 {"content", params.content_path},
                                 {"styles", params.style_paths},
                                 {"size", params.size}};
  write_file_atomically(checkpoint_path(image), record.dump(2) + "\n");
}

void remove_checkpoint(const std::string& image) {
  std::error_code ignored;
  fs::remove(checkpoint_path(image), ignored);
}

void apply_resume(CliParams& params) {
  const std::string& image = params.resume;
  const std::string record_path = checkpoint_path(image);
  std::ifstream file(record_path);
  if (!file) {
    throw OptionError("cannot resume from '" + image + "': its checkpoint record '" + record_path +
                      "' is missing (it is written with --save-every images and when a run is interrupted)");
  }
  const nlohmann::json record = nlohmann::json::parse(file, nullptr, false);
  if (record.is_discarded() || !record.contains("iteration") || !record["iteration"].is_number_integer()) {
    throw OptionError("cannot resume: '" + record_path + "' is not a stylize checkpoint record");
  }
  params.options.start_iteration = record["iteration"].get<int>();
  params.init = image;
  params.options.init = InitMode::Image;
  if (!params.output_given) params.output_path = image;
  if (record.contains("size") && record["size"].is_number_integer() && record["size"].get<int>() != params.size) {
    spdlog::warn("the checkpoint was made at --size {}, this run uses {}", record["size"].get<int>(), params.size);
  }
}

std::string intermediate_path(const std::string& output, int iteration, int scale, int scales) {
  const fs::path path(output);
  char suffix[32];
  if (scales > 1) {
    std::snprintf(suffix, sizeof suffix, "_s%d_%04d", scale, iteration);
  } else {
    std::snprintf(suffix, sizeof suffix, "_%04d", iteration);
  }
  return (path.parent_path() / (path.stem().string() + suffix + path.extension().string())).string();
}

}  // namespace stylize::cli
