#include "report.hpp"

#include <sys/resource.h>

#include <nlohmann/json.hpp>

#include "stylize/io/file.hpp"

#ifndef STYLIZE_VERSION
#define STYLIZE_VERSION "unknown"
#endif

namespace stylize::cli {

double peak_memory_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;  // Linux reports KiB
}

namespace {

nlohmann::json layers_json(const std::vector<LayerWeight>& layers) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& l : layers) list.push_back({{"layer", l.layer}, {"weight", l.weight}});
  return list;
}

// {"total": ..., and each term by name}.
nlohmann::json losses_json(const LossValues& losses) {
  nlohmann::json json = {{"total", losses.total}};
  for (const auto& [term, value] : losses.terms) json[term] = value;
  return json;
}

nlohmann::json options_json(const CliParams& p) {
  const StylizeOptions& o = p.options;
  return {
      {"content", p.content_path},
      {"styles", p.style_paths},
      {"style_blend", p.style_blend},
      // One output per style names its outputs by the template (each run's
      // own is in "runs"); -o is not written then.
      {p.each_style ? "output_template" : "output", p.each_style ? p.output_template : p.output_path},
      {"bit_depth", p.bit_depth == 0 ? nlohmann::json("auto") : nlohmann::json(p.bit_depth)},
      {"keep_profile", p.keep_profile},
      {"size", p.size},
      {"style_size", p.style_size},
      {"style_scale", p.style_scale},
      {"preserve_colors", to_string(o.preserve_colors)},
      {"init", p.init},
      {"content_layers", layers_json(o.content_layers)},
      {"style_layers", layers_json(o.style_layers)},
      {"content_weight", o.content_weight},
      {"style_weight", o.style_weight},
      {"loss_units", to_string(o.loss_units)},
      {"tv_weight", o.tv_weight},
      {"tv_norm", to_string(o.tv_norm)},
      {"pooling", to_string(o.pooling)},
      {"optimizer", to_string(o.optimizer)},
      {"iterations", o.iterations},
      {"initial_iterations", o.initial_iterations},
      {"lr", o.lr},
      {"beta1", o.beta1},
      {"beta2", o.beta2},
      {"eps", o.eps},
      {"nesterov", o.nesterov},
      {"adam_epsilon", to_string(o.adam_epsilon)},
      {"scales", o.scales},
      {"min_size", o.min_size},
      {"tolerance", o.tolerance},
      {"average", o.average},
      {"pyramid", o.pyramid},
      {"tile", o.tile == kAutoTile ? nlohmann::json("auto") : nlohmann::json(o.tile)},
      {"seed", o.seed},
      {"preset", p.preset},
  };
}

}  // namespace

void write_report(const std::string& path, const CliParams& params, const SessionInfo& session,
                  const std::vector<RunRecord>& runs) {
  nlohmann::json report;
  report["stylize_version"] = STYLIZE_VERSION;
  report["options"] = options_json(params);
  report["weights"] = {{"path", session.weights_path},
                       {"format", session.weights_format},
                       {"input_convention", session.convention},
                       {"network_widths", session.network_widths},
                       {"deepest_layer", session.deepest_layer}};
  report["loss_units"] = session.loss_units;
  report["device"] = session.device;
  report["precision"] = session.precision;
  report["threads"] = session.threads;
  report["tiling"] = {{"tiles", session.tiling.tiles},
                      {"tile", session.tiling.tile},
                      {"halo", session.tiling.halo},
                      {"style_tiles", session.tiling.style_tiles},
                      {"style_tile", session.tiling.style_tile},
                      {"estimated_peak_mib", session.tiling.bytes / (1024.0 * 1024.0)}};
  report["peak_memory_mib"] = peak_memory_mib();
  nlohmann::json run_list = nlohmann::json::array();
  for (const auto& run : runs) {
    nlohmann::json iterations = nlohmann::json::array();
    for (const auto& it : run.iterations) {
      nlohmann::json entry = losses_json(it.losses);
      entry["scale"] = it.scale;
      entry["iteration"] = it.iteration;
      entry["seconds"] = it.seconds;
      iterations.push_back(entry);
    }
    run_list.push_back({{"output", run.output},
                        {"bit_depth", run.bit_depth},
                        {"color_profile", run.color_profile},
                        {"styles", run.styles},
                        {"iterations_done", run.iterations_done},
                        {"stop_reason", to_string(run.stop_reason)},
                        {"seconds", run.seconds},
                        // Of the image written; null when no iteration ran.
                        {"losses", run.losses.terms.empty() ? nlohmann::json(nullptr) : losses_json(run.losses)},
                        {"iterations", iterations}});
  }
  report["runs"] = run_list;
  write_file_atomically(path, report.dump(2) + "\n");
}

}  // namespace stylize::cli
