#include "checkpoint.hpp"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <utility>

#include <torch/serialize.h>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "sizes.hpp"
#include "stylize/core/loss_units.hpp"
#include "stylize/errors.hpp"
#include "stylize/io/file.hpp"
#include "stylize/io/image_io.hpp"
#include "stylize/weights/catalog.hpp"
#include "stylize/weights/weights.hpp"
#include "terminal_bar.hpp"

namespace stylize::cli {
namespace fs = std::filesystem;

std::string checkpoint_path(const std::string& image) { return image + ".json"; }

namespace {

// A path as the record holds it: absolute, so that a run from another
// directory compares the same file.
std::string absolute_path(const std::string& path) {
  std::error_code error;
  const fs::path absolute = fs::weakly_canonical(fs::absolute(path, error), error);
  return error ? path : absolute.string();
}

std::vector<std::string> absolute_paths(const std::vector<std::string>& paths) {
  std::vector<std::string> absolute;
  for (const auto& path : paths) absolute.push_back(absolute_path(path));
  return absolute;
}

// The settings that change what the run optimizes: resuming with others
// continues towards another image.
nlohmann::json objective_record(const CliParams& params) {
  const StylizeOptions& o = params.options;
  const auto layers = [](const std::vector<LayerWeight>& list) {
    nlohmann::json pairs = nlohmann::json::array();
    for (const auto& layer : list) pairs.push_back({layer.layer, layer.weight});
    return pairs;
  };
  // Regional styles: the mask files ("all" for a whole style image).
  std::vector<std::string> style_masks;
  for (const auto& path : params.style_mask_paths) style_masks.push_back(path == "all" ? path : absolute_path(path));
  // Each key is the flag's name ("tv_norm": --tv-norm), for apply_resume's message.
  // --preset gatys sets it from the content's size once the image is read (balance_gatys_preset).
  const nlohmann::json content_weight =
      params.gatys_balance ? nlohmann::json("by the content's size, --preset gatys") : nlohmann::json(o.content_weight);
  return {{"content_weight", content_weight},
          {"style_weight", o.style_weight},
          {"tv_weight", o.tv_weight},
          {"tv_norm", to_string(o.tv_norm)},
          {"content_layers", layers(o.content_layers)},
          {"style_layers", layers(o.style_layers)},
          {"style_weights", params.style_blend},
          {"style_size", style_side(params)},
          {"preserve_colors", to_string(o.preserve_colors)},
          {"pooling", to_string(o.pooling)},
          {"loss_units", to_string(o.loss_units)},
          {"content_mask", absolute_paths(params.content_mask_paths)},
          {"style_mask", style_masks},
          {"default_style", params.default_style_path.empty() ? "" : absolute_path(params.default_style_path)}};
}

// A list of layers as the record holds it: by name, the weights scaled so the
// largest is 1 (the objective normalizes them: "relu2_1,relu1_1" and
// "relu1_1:2,relu2_1:2" are the same run).
nlohmann::json canonical_layers(std::vector<LayerWeight> list) {
  std::sort(list.begin(), list.end(), [](const LayerWeight& a, const LayerWeight& b) { return a.layer < b.layer; });
  double largest = 0;
  for (const auto& layer : list) largest = std::max(largest, layer.weight);
  nlohmann::json pairs = nlohmann::json::array();
  for (const auto& layer : list) pairs.push_back({layer.layer, largest > 0 ? layer.weight / largest : layer.weight});
  return pairs;
}

// The settings that make another image, as a record holds them (stylize
// batch's beside each output it makes, and every checkpoint's): resolved (--loss-units auto by the weights, --initial-
// iterations 0 as --iterations) and each under its flag's name, those a run
// does not use left out (Adam's with L-BFGS, --seed without noise, a coarse-to-
// fine run's with one scale). The content and style are in the output's name;
// how it is computed (--tile, --precision, --device, --threads, --batch) is not
// a setting of the image.
nlohmann::json made_record(const CliParams& params, const RecordedWeights& weights) {
  const StylizeOptions& o = params.options;
  nlohmann::json record = objective_record(params);
  record["content_layers"] = canonical_layers(o.content_layers);
  record["style_layers"] = canonical_layers(o.style_layers);
  if (o.loss_units != LossUnits::Auto) {
    record["loss_units"] = to_string(o.loss_units);
  } else if (!weights.convention.empty()) {
    record["loss_units"] = to_string(resolve_loss_units(o.loss_units, weights.convention));
  } else {
    record.erase("loss_units");  // not known before the weights are read: compared once they are
  }
  record["size"] = params.size;
  const bool start_image = params.init != "content" && params.init != "noise" && params.init != "style";
  record["init"] = start_image ? absolute_path(params.init) : params.init;
  if (params.init == "noise") record["seed"] = o.seed;
  record["iterations"] = o.iterations;
  record["scales"] = scales_flag(params);
  if (scales_flag(params) > 1) {
    record["initial_iterations"] = o.initial_iterations > 0 ? o.initial_iterations : o.iterations;
    record["min_size"] = o.min_size;
  }
  record["optimizer"] = to_string(o.optimizer);
  if (o.optimizer == OptimizerKind::Adam) {
    record["lr"] = o.lr;
    record["beta1"] = o.beta1;
    record["beta2"] = o.beta2;
    record["eps"] = o.eps;
    record["adam_epsilon"] = to_string(o.adam_epsilon);
    record["nesterov"] = o.nesterov;
    record["tolerance"] = o.tolerance;
    record["average"] = o.average;
    record["pyramid"] = o.pyramid;
  }
  if (params.bit_depth != 0) record["bit_depth"] = params.bit_depth;  // auto: by the content, not a setting
  record["keep_profile"] = params.keep_profile;
  // The weights by their file's name: the same file has another path on each
  // node of a cluster.
  record["weights"] = weights.file_name;
  return record;
}

// What a run is made of, for a record: another content, style or objective
// continues towards another image.
nlohmann::json settings_record(const CliParams& params, const std::vector<std::string>& style_paths) {
  return {{"content", absolute_path(params.content_path)},
          {"styles", absolute_paths(style_paths)},
          {"size", params.size},
          {"objective", objective_record(params)},
          {"settings", made_record(params, recorded_weights(params))}};
}

// A recorded setting as its flag takes it: "relu1_1:0.5,relu2_1", "1,2",
// "on"; numbers as JSON writes them.
std::string flag_value(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "on" : "off";
  if (!value.is_array()) return value.dump();
  if (value.empty()) return "none";
  std::string text;
  for (const auto& item : value) {
    // A layer and its weight: "relu1_1:0.5", "relu1_1" for weight 1.
    const bool layer = item.is_array() && item.size() == 2 && item[0].is_string() && item[1].is_number();
    const std::string part =
        layer ? item[0].get<std::string>() + (item[1] == 1.0 ? "" : ":" + item[1].dump()) : flag_value(item);
    text += (text.empty() ? "" : ",") + part;
  }
  return text;
}

// "--size 32 (this run: 48)" for each setting of `now` that `recorded` holds
// with another value; each key is the flag's name ("tv_norm": --tv-norm).
std::vector<std::string> flag_changes(const nlohmann::json& recorded, const nlohmann::json& now) {
  std::vector<std::string> changes;
  if (!recorded.is_object()) return changes;
  for (const auto& [key, value] : now.items()) {
    if (!recorded.contains(key) || recorded[key] == value) continue;
    std::string flag = "--" + key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    changes.push_back(flag + " " + flag_value(recorded[key]) + " (this run: " + flag_value(value) + ")");
  }
  return changes;
}

std::string joined(const std::vector<std::string>& parts) {
  std::string text;
  for (const auto& part : parts) text += (text.empty() ? "" : ", ") + part;
  return text;
}

// Warns, setting by setting, where `record` (what `made` was made with) and
// this run differ.
void warn_where_settings_differ(const nlohmann::json& record, const CliParams& params, const std::string& made,
                                const std::string& content) {
  const auto differs = [&](const char* key, const nlohmann::json& now) {
    return record.contains(key) && record[key] != now;
  };
  if (differs("content", absolute_path(params.content_path))) {
    spdlog::warn("{} made with {} {}, this run uses {}", made, content, record["content"].dump(), params.content_path);
  }
  if (differs("styles", absolute_paths(params.style_paths))) {
    spdlog::warn("{} made with style images {}, this run uses {}", made, record["styles"].dump(),
                 nlohmann::json(params.style_paths).dump());
  }
  if (differs("size", params.size)) {
    spdlog::warn("{} made at --size {}, this run uses {}", made, record["size"].dump(), params.size);
  }
  // Every setting that makes another image (older records: the objective's).
  // Another -n goes on to it, a resumed run starts from its image whatever
  // --init says, and the size is said above.
  const bool full = record.contains("settings");
  if (!full && !record.contains("objective")) return;
  nlohmann::json now = full ? made_record(params, recorded_weights(params)) : objective_record(params);
  for (const char* said_or_moot : {"iterations", "initial_iterations", "init", "seed", "size"}) now.erase(said_or_moot);
  const nlohmann::json& recorded = record.at(full ? "settings" : "objective");
  if (recorded.is_object()) {
    const std::string changes = joined(flag_changes(recorded, now));
    if (!changes.empty()) {
      spdlog::warn("{} made with other settings: {}; resuming continues towards a different image", made, changes);
    }
  } else {
    spdlog::warn("{} made with other settings: {}; resuming continues towards a different image", made,
                 recorded.dump());
  }
}

}  // namespace

void write_checkpoint(const std::string& image, int scales_done, int iteration, const CliParams& params,
                      const std::string& output, const std::vector<std::string>& style_paths) {
  nlohmann::json record = settings_record(params, style_paths);
  record["iteration"] = iteration;
  record["iterations"] = params.options.iterations;
  record["scale"] = scales_done + 1;
  record["scales"] = params.options.scales;
  record["output"] = absolute_path(output);
  write_file_atomically(checkpoint_path(image), record.dump(2) + "\n");
}

void warn_if_unfinished(const std::string& output) {
  std::ifstream file(checkpoint_path(output));
  if (!file) return;
  const nlohmann::json record = nlohmann::json::parse(file, nullptr, false);
  const auto integer = [&record](const char* key) {
    return record.is_object() && record.contains(key) && record[key].is_number_integer();
  };
  std::string says;
  if (integer("iteration")) {
    says = " (its record, " + checkpoint_path(output) + ", says iteration " + record["iteration"].dump();
    if (integer("scale") && integer("scales") && record["scales"].get<int64_t>() > 1) {
      says += " of scale " + record["scale"].dump() + "/" + record["scales"].dump();
    }
    says += ")";
  }
  spdlog::warn(
      "{} is an interrupted run's{}; this run starts it again and replaces it (to go on from it instead, stop "
      "now and add --resume {})",
      output, says, output);
}

void remove_checkpoint(const std::string& image) {
  std::error_code ignored;
  fs::remove(checkpoint_path(image), ignored);
  fs::remove(moments_path(image), ignored);
}

std::string moments_path(const std::string& image) { return image + ".adam"; }

// The file: torch::save of {(iteration, levels, steps of each level) as int64,
// then each level's first and second moment, float32 on the CPU}, then the
// last iterate; with an average, then the average's sum and its weight (a
// float64 scalar). Files of older stylize end after the moments, or hold the
// iterate only with an average.
void write_moments(const std::string& image, int iteration, const AdamState& state) {
  std::vector<int64_t> header = {iteration, static_cast<int64_t>(state.moments.size())};
  std::vector<torch::Tensor> tensors = {torch::Tensor()};
  const auto on_host = [](const torch::Tensor& t) { return t.to(torch::kCPU, torch::kFloat32).contiguous(); };
  for (const AdamMoments& level : state.moments) {
    header.push_back(level.steps);
    tensors.push_back(on_host(level.first));
    tensors.push_back(on_host(level.second));
  }
  if (state.iterate.defined()) {
    tensors.push_back(on_host(state.iterate));
    if (state.average_sum.defined()) {
      tensors.push_back(on_host(state.average_sum));
      tensors.push_back(torch::tensor(state.average_weight, torch::kFloat64));
    }
  }
  // --tolerance's recent losses: their count ends the header, they the file.
  if (!state.recent_totals.empty()) {
    header.push_back(static_cast<int64_t>(state.recent_totals.size()));
    tensors.push_back(torch::tensor(state.recent_totals, torch::kFloat64));
  }
  tensors.front() = torch::tensor(header, torch::kInt64);
  // Streamed to the file: built in memory first, the archive of a print's
  // moments (1.8 GB at 8192 px) had needed twice its size more at the moment
  // an interrupted run saves.
  write_file_atomically(
      moments_path(image),
      [&](const ByteSink& sink) {
        const std::function<size_t(const void*, size_t)> writer = [&](const void* data, size_t size) {
          sink(data, size);
          return size;
        };
        torch::save(tensors, writer);
      },
      "Adam's moments");
}

bool write_moments_or_warn(const std::string& image, int iteration, const AdamState& state) {
  try {
    write_moments(image, iteration, state);
    return true;
  } catch (const OutputError& e) {
    std::error_code ignored;
    fs::remove(moments_path(image), ignored);  // an earlier iteration's would not fit the image
    spdlog::warn("{}; a run resumed from {} starts Adam's moments again", e.what(), image);
    return false;
  }
}

AdamState read_moments(const std::string& image, int iteration) {
  const std::string path = moments_path(image);
  std::error_code error;
  if (!fs::exists(path, error)) return {};
  std::vector<torch::Tensor> tensors;
  try {
    std::ifstream file(path, std::ios::binary);
    torch::load(tensors, file);
  } catch (const std::exception&) {
    tensors.clear();
  }
  // The header, (iteration, levels, steps of each level[, recent losses]), as numbers.
  std::vector<int64_t> header;
  if (!tensors.empty() && tensors[0].dim() == 1 && tensors[0].scalar_type() == torch::kInt64) {
    const torch::Tensor numbers = tensors[0].contiguous();
    header.assign(numbers.data_ptr<int64_t>(), numbers.data_ptr<int64_t>() + numbers.numel());
  }
  int64_t levels = header.size() >= 2 ? header[1] : -1;
  // --tolerance's recent losses, last (files without them: the header ends with the steps).
  std::vector<double> recent_totals;
  if (levels >= 0 && static_cast<int64_t>(header.size()) == 3 + levels) {
    const int64_t count = header.back();
    const torch::Tensor& last = tensors.back();
    if (count < 1 || tensors.size() < 2 || last.dim() != 1 || last.numel() != count ||
        last.scalar_type() != torch::kFloat64) {
      levels = -1;  // not readable
    } else {
      const torch::Tensor values = last.contiguous();
      recent_totals.assign(values.data_ptr<double>(), values.data_ptr<double>() + count);
      header.pop_back();
      tensors.pop_back();
    }
  }
  // 0 (older files), 1 (the iterate) or 3 (with an average)
  const int64_t after_moments = static_cast<int64_t>(tensors.size()) - 1 - 2 * levels;
  const auto image_sized = [&](const torch::Tensor& t) {
    return t.dim() == 4 && t.size(0) == 1 && t.scalar_type() == torch::kFloat32;
  };
  const bool iterate =
      levels >= 0 && (after_moments == 1 || after_moments == 3) && image_sized(tensors[1 + 2 * levels]);
  const bool average = iterate && after_moments == 3 &&
                       tensors[2 + 2 * levels].sizes() == tensors[1 + 2 * levels].sizes() &&
                       tensors[2 + 2 * levels].scalar_type() == torch::kFloat32 && tensors.back().numel() == 1 &&
                       tensors.back().scalar_type() == torch::kFloat64 && tensors.back().item<double>() > 0;
  const bool usable = after_moments == 0 || (after_moments == 1 && iterate) || (after_moments == 3 && average);
  if (levels < 0 || static_cast<int64_t>(header.size()) != 2 + levels || !usable) {
    spdlog::warn("{} is not a file of Adam's moments stylize can read; Adam's moments start again", path);
    return {};
  }
  if (header[0] != iteration) {
    spdlog::warn("{} holds Adam's moments of iteration {}, not {}; Adam's moments start again", path, header[0],
                 iteration);
    return {};
  }
  AdamState state;
  for (int64_t k = 0; k < levels; ++k) state.moments.push_back({tensors[1 + 2 * k], tensors[2 + 2 * k], header[2 + k]});
  if (iterate) state.iterate = tensors[1 + 2 * levels];
  if (average) {
    state.average_sum = tensors[2 + 2 * levels];
    state.average_weight = tensors.back().item<double>();
  }
  state.recent_totals = std::move(recent_totals);
  return state;
}

void apply_resume(CliParams& params) {
  const std::string& image = params.resume;
  const std::string record_path = checkpoint_path(image);
  std::ifstream file(record_path);
  std::error_code error;
  if (!fs::exists(image, error)) {
    throw OptionError("cannot resume from '" + image +
                      "': the image does not exist (give the output of the "
                      "interrupted run, or one of its --save-every images)");
  }
  if (!file) {
    throw OptionError("cannot resume from '" + image + "': its checkpoint record '" + record_path +
                      "' is missing (it is written with --save-every images and when a run is interrupted)");
  }
  const nlohmann::json record = nlohmann::json::parse(file, nullptr, false);
  if (record.is_discarded() || !record.is_object() || !record.contains("iteration") ||
      !record["iteration"].is_number_integer()) {
    throw OptionError("cannot resume: '" + record_path + "' is not a stylize checkpoint record");
  }
  const nlohmann::json& iteration = record["iteration"];
  if ((iteration.is_number_unsigned() && iteration.get<uint64_t>() > INT_MAX) ||
      (!iteration.is_number_unsigned() && (iteration.get<int64_t>() < 0 || iteration.get<int64_t>() > INT_MAX))) {
    throw OptionError("cannot resume: '" + record_path + "' records iteration " + iteration.dump() +
                      ", which no run reaches (0 to " + std::to_string(INT_MAX) + "); the record is corrupt");
  }
  // Coarse to fine: the scale it stopped at (records before that: one scale).
  const auto count = [&record](const char* key) {
    return record.contains(key) && record[key].is_number_integer() ? record[key].get<int64_t>() : 1;
  };
  const int64_t scale = count("scale"), scales = count("scales");
  if (scales < 1 || scale < 1 || scale > scales || scales > 10) {
    throw OptionError("cannot resume: '" + record_path + "' records scale " + std::to_string(scale) + " of " +
                      std::to_string(scales) + ", which no run reaches (--scales is 1 to 10); the record is corrupt");
  }
  // "scales" counts the scales the run had; its --scales may have asked for
  // more, whose sizes fell together (the settings say; older records have
  // the one count).
  const nlohmann::json* settings = record.contains("settings") ? &record["settings"] : nullptr;
  const int64_t asked =
      settings && settings->is_object() && settings->contains("scales") && (*settings)["scales"].is_number_integer()
          ? (*settings)["scales"].get<int64_t>()
          : scales;
  if (asked != params.options.scales || asked < scales) {
    throw OptionError("cannot resume from '" + image + "': it was saved " +
                      (asked > 1
                           ? "at scale " + std::to_string(scale) + " of a run with --scales " + std::to_string(asked)
                           : std::string("by a run at one scale")) +
                      ", and this run has " + std::to_string(params.options.scales) +
                      " (--scales, or the preset's); give --scales " + std::to_string(asked));
  }
  params = with_scales_run(std::move(params), static_cast<size_t>(scales));
  StylizeOptions& o = params.options;
  o.scales_done = static_cast<int>(scale - 1);
  o.start_iteration = iteration.get<int>();
  // Saved past this run's iterations of an earlier scale (a lowered
  // --initial-iterations or -n): that scale is done as far as this run goes,
  // and the run goes on with the next (validate).
  const int of_scale = scale_iterations(o, static_cast<size_t>(o.scales_done), static_cast<size_t>(o.scales));
  if (o.scales_done + 1 < o.scales && o.start_iteration > of_scale) {
    spdlog::info("{} was saved at {}, past this run's {} there: the run goes on with scale {}/{}", image,
                 resume_point(o), count_of(of_scale, "iteration"), o.scales_done + 2, o.scales);
  }
  params.init = image;
  params.options.init = InitMode::Image;
  // The run's output (a --save-every image's record names it), or, in records
  // older than that, the image itself. Beside the image, which is written
  // beside its output: the folder the record was written in may be another
  // path on this node, or copied or moved since.
  if (!params.output_given) {
    params.output_path =
        record.contains("output") && record["output"].is_string()
            ? (fs::path(image).parent_path() / fs::path(record["output"].get<std::string>()).filename()).string()
            : image;
  }
  warn_where_settings_differ(record, params, "the checkpoint was", "content image");
}

// stylize video's record, beside the frames it writes.
std::string frames_record_path(const std::string& pattern) {
  const fs::path path(pattern);
  return (path.parent_path() / ("." + path.filename().string() + ".json")).string();
}

namespace {

// What holds the later frames to the earlier ones, and how long they run.
nlohmann::json video_record(const VideoParams& video) {
  return {{"temporal_weight", video.run.options.temporal_weight},
          {"temporal_frames", video.temporal_frames},
          {"frame_iterations", video.frame_iterations}};
}

}  // namespace

void write_frames_record(const std::string& pattern, const VideoParams& video) {
  nlohmann::json record = settings_record(video.run, video.run.style_paths);
  record["video"] = video_record(video);
  write_file_atomically(frames_record_path(pattern), record.dump(2) + "\n");
}

void warn_where_frames_differ(const std::string& pattern, const VideoParams& video) {
  std::ifstream file(frames_record_path(pattern));
  if (!file) return;
  const nlohmann::json record = nlohmann::json::parse(file, nullptr, false);
  if (!record.is_object()) return;
  warn_where_settings_differ(record, video.run, "the frames on disk were", "input video");
  if (record.contains("video")) {
    const std::string changes = joined(flag_changes(record["video"], video_record(video)));
    if (!changes.empty()) {
      spdlog::warn(
          "the frames on disk were made with other video settings: {}; the frames this run makes follow "
          "this run's",
          changes);
    }
  }
}

std::string made_record_path(const std::string& output) {
  const fs::path path(output);
  return (path.parent_path() / ("." + path.filename().string() + ".json")).string();
}

RecordedWeights recorded_weights(const CliParams& params) {
  RecordedWeights weights;
  std::optional<std::string> found;
  try {
    found = find_weights(params.weights_path);
  } catch (const WeightsError&) {  // a named file that is missing: the load says so
    weights.file_name = fs::path(params.weights_path).filename().string();
    return weights;
  }
  if (found) {
    weights.file_name = fs::path(*found).filename().string();
    if (const auto convention = read_input_convention(*found)) weights.convention = convention->name;
  } else {  // the default download
    weights.file_name = default_download_source().file_name;
    if (const KnownWeights* known = find_known_weights(weights.file_name)) weights.convention = known->convention;
  }
  return weights;
}

void write_made_record(const std::string& output, const CliParams& params, const RecordedWeights& weights) {
  write_file_atomically(made_record_path(output), made_record(params, weights).dump(2) + "\n");
}

std::string made_differences(const std::string& output, const CliParams& params, const RecordedWeights& weights,
                             MadeState state) {
  std::error_code error;
  if (!fs::exists(made_record_path(output), error)) return "";
  nlohmann::json record;
  try {
    std::ifstream file(made_record_path(output));
    record = nlohmann::json::parse(file, nullptr, false);
  } catch (const std::exception&) {  // a folder there: reading it fails
    record = nlohmann::json();
  }
  if (!record.is_object() || record.empty()) return "an unreadable record, " + made_record_path(output);
  nlohmann::json now = made_record(params, weights);
  if (state == MadeState::Begun) {
    // A run resumed with another -n goes on to it (or starts again when it is past it).
    now.erase("iterations");
    now.erase("initial_iterations");
  }
  return joined(flag_changes(record, now));
}

std::string partial_frame_path(const std::string& pattern) {
  const fs::path path(pattern);
  return (path.parent_path() / ("." + path.filename().string() + ".partial.png")).string();
}

void write_partial_frame(const std::string& pattern, const PartialFrame& partial) {
  const std::string image = partial_frame_path(pattern);
  remove_partial_frame(pattern);  // no record beside another run's image
  ImageEncoding sixteen_bits;
  sixteen_bits.bit_depth = 16;
  save_image(partial.image, image, sixteen_bits);
  if (!partial.state.moments.empty()) write_moments_or_warn(image, partial.iteration, partial.state);
  const nlohmann::json record = {{"frame", partial.frame},
                                 {"scale", partial.scales_done + 1},
                                 {"scales", partial.scales},
                                 {"iteration", partial.iteration}};
  write_file_atomically(checkpoint_path(image), record.dump(2) + "\n");
}

std::optional<PartialFrame> read_partial_frame(const std::string& pattern) {
  const std::string image = partial_frame_path(pattern), record_path = checkpoint_path(image);
  std::ifstream file(record_path);
  if (!file) return std::nullopt;
  const nlohmann::json record = nlohmann::json::parse(file, nullptr, false);
  const auto number = [&record](const char* key, int64_t low, int64_t high) {
    const bool usable = record.is_object() && record.contains(key) && record[key].is_number_integer() &&
                        record[key].get<int64_t>() >= low && record[key].get<int64_t>() <= high;
    return usable ? record[key].get<int64_t>() : int64_t{-1};
  };
  PartialFrame partial;
  partial.frame = number("frame", 1, INT64_MAX);
  partial.scales = static_cast<int>(number("scales", 1, 10));
  partial.scales_done = static_cast<int>(number("scale", 1, 10) - 1);
  partial.iteration = static_cast<int>(number("iteration", 0, INT_MAX));
  if (partial.frame < 1 || partial.scales < 1 || partial.scales_done < 0 || partial.scales_done >= partial.scales ||
      partial.iteration < 0) {
    spdlog::warn("{} is not a record of an unfinished frame stylize can read; that frame starts again", record_path);
    return std::nullopt;
  }
  try {
    partial.image = load_image(image, "the unfinished frame " + std::to_string(partial.frame));
  } catch (const Error& e) {
    spdlog::warn("{}; frame {} starts again", e.what(), partial.frame);
    return std::nullopt;
  }
  partial.state = read_moments(image, partial.iteration);
  return partial;
}

void remove_partial_frame(const std::string& pattern) {
  const std::string image = partial_frame_path(pattern);
  std::error_code ignored;
  remove_checkpoint(image);
  fs::remove(image, ignored);
}

std::optional<CliParams> resume_or_restart(CliParams params) {
  const std::string& output = params.output_path;
  std::error_code error;
  if (!fs::exists(output, error)) {
    // Killed between writing the record and the image: nothing to resume from.
    spdlog::warn("{} has a checkpoint record but no image; starting it again", output);
  } else {
    CliParams resumed = params;
    resumed.resume = output;
    try {
      apply_resume(resumed);
      if (within_run(resumed.options)) {
        spdlog::info("resuming {} from {}", output, resume_point(resumed.options));
        return resumed;
      }
      if (at_or_past_the_end(resumed.options)) {
        finish_as_it_is(output, resumed.options);
        return std::nullopt;
      }
      spdlog::warn("{} was saved at {}, not within -n {}{}; starting it again", output, resume_point(resumed.options),
                   params.options.iterations,
                   params.options.initial_iterations > 0 && params.options.scales > 1
                       ? fmt::format(" (--initial-iterations {})", params.options.initial_iterations)
                       : "");
    } catch (const OptionError& e) {
      spdlog::warn("{}; starting {} again", e.what(), output);
    }
  }
  // The unfinished image goes with its record: a run killed before its first
  // save must not leave it looking done.
  std::error_code ignored;
  fs::remove(output, ignored);
  remove_checkpoint(output);
  return params;
}

std::vector<std::string> snapshot_images(const CliParams& params) {
  const fs::path output(params.output_path);
  const int scales = params.options.scales;
  // out_0300.png, or coarse to fine out_s2_0300.png: the scale and iteration in the name.
  const std::string stem = output.stem().string() + "_", extension = output.extension().string();
  const fs::path folder = output.parent_path().empty() ? fs::path(".") : output.parent_path();
  const auto number = [](const std::string& digits) {
    const bool usable = !digits.empty() && digits.size() <= 9 &&
                        std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
    return usable ? std::stoi(digits) : -1;
  };
  std::error_code error;
  std::vector<std::pair<std::pair<int, int>, std::string>> found;  // (scale, iteration), image
  for (fs::directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.size() < stem.size() + extension.size() || name.compare(0, stem.size(), stem) != 0 ||
        name.compare(name.size() - extension.size(), extension.size(), extension) != 0) {
      continue;
    }
    const std::string image = (folder / name).string();
    // Coarse to fine, sizes that fell together into one scale name theirs as one scale's.
    for (const int named_scales : {scales, 1}) {
      std::string middle = name.substr(stem.size(), name.size() - stem.size() - extension.size());
      int scale = 1;
      if (named_scales > 1) {
        const size_t underscore = middle.find('_');
        if (middle.empty() || middle[0] != 's' || underscore == std::string::npos) continue;
        scale = number(middle.substr(1, underscore - 1));
        middle = middle.substr(underscore + 1);
      }
      const int iteration = number(middle);
      std::error_code missing;
      // The name as stylize writes it (not out_00300.png), with its record.
      if (scale >= 1 && iteration >= 0 &&
          intermediate_path(params.output_path, iteration, scale, named_scales) == (output.parent_path() / name) &&
          fs::exists(checkpoint_path(image), missing)) {
        found.push_back({{scale, iteration}, image});
        break;
      }
    }
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> images;
  for (auto& [point, image] : found) images.push_back(std::move(image));
  return images;
}

std::string newest_snapshot(const CliParams& params) {
  const std::vector<std::string> images = snapshot_images(params);
  return images.empty() ? "" : images.back();
}

void give_up_unfinished(const CliParams& params) {
  const std::string& output = params.output_path;
  std::error_code ignored;
  if (fs::exists(checkpoint_path(output), ignored)) fs::remove(output, ignored);
  remove_checkpoint(output);
  for (const std::string& image : snapshot_images(params)) remove_checkpoint(image);
}

CliParams resume_from_snapshot(CliParams params) {
  // The newest within -n: one past it (saved by a run with a larger -n) is
  // passed over for an older one (else a job killed again before going past
  // it would start again every time).
  const std::vector<std::string> images = snapshot_images(params);
  std::string passed_over;
  for (auto image = images.rbegin(); image != images.rend(); ++image) {
    CliParams resumed = params;
    resumed.resume = *image;
    try {
      apply_resume(resumed);
    } catch (const OptionError& e) {
      spdlog::warn("{}; starting {} again", e.what(), params.output_path);
      return params;
    }
    if (!within_run(resumed.options)) {
      if (passed_over.empty()) passed_over = *image + " (" + resume_point(resumed.options) + ")";
      continue;
    }
    spdlog::info("{} was not finished: resuming it from {}, {}{}", params.output_path, *image,
                 resume_point(resumed.options),
                 passed_over.empty() ? "" : "; " + passed_over + " is past this run's -n");
    return resumed;
  }
  if (!passed_over.empty()) {
    spdlog::info(
        "{} was not finished, and every image saved of it is past this run's -n (the newest: {}): it "
        "starts again",
        params.output_path, passed_over);
  }
  return params;
}

bool within_run(const StylizeOptions& options) {
  try {
    validate(options);
    return true;
  } catch (const OptionError&) {
    return false;
  }
}

bool at_or_past_the_end(const StylizeOptions& o) {
  return o.scales_done + 1 == o.scales &&
         o.start_iteration >= scale_iterations(o, static_cast<size_t>(o.scales_done), static_cast<size_t>(o.scales));
}

void finish_as_it_is(const std::string& output, const StylizeOptions& options) {
  // As far as this run goes, and further.
  spdlog::info("{} was saved at {}, at or past -n {}: it is finished as it is", output, resume_point(options),
               options.iterations);
  remove_checkpoint(output);
}

std::string resume_point(const StylizeOptions& options) {
  return resume_point(options.scales_done, options.start_iteration, options.scales);
}

std::string resume_point(int scales_done, int iteration, int scales) {
  if (scales == 1) return "iteration " + std::to_string(iteration);
  return fmt::format("iteration {} of scale {}/{}", iteration, scales_done + 1, scales);
}

std::string stop_point(const StylizeOptions& options, int scales_done, int iteration) {
  const int of_scale = scale_iterations(options, static_cast<size_t>(scales_done), static_cast<size_t>(options.scales));
  const std::string scale = options.scales == 1 ? "" : fmt::format(" of scale {}/{}", scales_done + 1, options.scales);
  if (iteration > of_scale) return fmt::format("iteration {}{}, past its {}", iteration, scale, of_scale);
  return fmt::format("iteration {}/{}{}", iteration, of_scale, scale);
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
