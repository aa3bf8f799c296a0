#include "report.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "stylize/errors.hpp"
#include "stylize/image_io.hpp"
#include "stylize/vgg.hpp"

namespace stylize::cli {

namespace fs = std::filesystem;

double peak_memory_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;  // Linux reports KiB
}

std::string to_string(StopReason reason) {
  switch (reason) {
    case StopReason::Finished:
      return "finished";
    case StopReason::Interrupted:
      return "interrupted";
    case StopReason::Converged:
      return "converged";
    case StopReason::NumericFailure:
      return "numeric-failure";
  }
  return "unknown";
}

namespace {

nlohmann::json layers_json(const std::vector<LayerWeight>& layers) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& l : layers) list.push_back({{"layer", l.layer}, {"weight", l.weight}});
  return list;
}

nlohmann::json options_json(const Options& o) {
  return {
      {"content", o.content_path},
      {"styles", o.style_paths},
      {"style_blend", o.style_blend},
      {"output", o.output_path},
      {"size", o.size},
      {"style_size", o.style_size},
      {"style_scale", o.style_scale},
      {"preserve_colors", o.preserve_colors == PreserveColors::None        ? "none"
                          : o.preserve_colors == PreserveColors::Luminance ? "luminance"
                                                                           : "histogram"},
      {"init", o.init},
      {"content_layers", layers_json(o.content_layers)},
      {"style_layers", layers_json(o.style_layers)},
      {"content_weight", o.content_weight},
      {"style_weight", o.style_weight},
      {"tv_weight", o.tv_weight},
      {"tv_norm", o.tv_norm == TvNorm::L1 ? "l1" : "l2"},
      {"pooling", o.pooling == Pooling::Max ? "max" : "avg"},
      {"optimizer", to_string(o.optimizer)},
      {"iterations", o.iterations},
      {"lr", o.lr},
      {"beta1", o.beta1},
      {"beta2", o.beta2},
      {"eps", o.eps},
      {"scales", o.scales},
      {"min_size", o.min_size},
      {"seed", o.seed},
      {"preset", o.preset},
  };
}

}  // namespace

void write_text_atomically(const std::string& path, const std::string& text) {
  const fs::path target(path);
  fs::path dir = target.parent_path();
  if (dir.empty()) dir = ".";
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    throw OutputError("cannot write '" + path + "': directory '" + dir.string() + "' does not exist");
  }
  const fs::path temporary = dir / ("." + target.filename().string() + ".tmp" + std::to_string(::getpid()));
  std::ofstream out(temporary, std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    const std::string reason = std::strerror(errno);
    fs::remove(temporary, error);
    throw OutputError("cannot write '" + path + "': " + reason);
  }
  fs::rename(temporary, target, error);
  if (error) throw OutputError("cannot write '" + path + "': " + error.message());
}

void write_report(const std::string& path, const Options& options, const SessionInfo& session,
                  const std::vector<RunRecord>& runs) {
  nlohmann::json report;
  report["stylize_version"] = STYLIZE_VERSION;
  report["options"] = options_json(options);
  report["weights"] = {{"path", session.weights_path},
                       {"format", session.weights_format},
                       {"input_convention", session.convention},
                       {"network_widths", session.network_widths},
                       {"deepest_layer", session.deepest_layer}};
  report["device"] = session.device;
  report["precision"] = session.precision;
  report["threads"] = session.threads;
  report["peak_memory_mib"] = peak_memory_mib();
  nlohmann::json run_list = nlohmann::json::array();
  for (const auto& run : runs) {
    nlohmann::json iterations = nlohmann::json::array();
    for (const auto& it : run.iterations) {
      iterations.push_back({{"scale", it.scale},
                            {"iteration", it.iteration},
                            {"total", it.losses.total},
                            {"style", it.losses.style},
                            {"content", it.losses.content},
                            {"tv", it.losses.tv},
                            {"seconds", it.seconds}});
    }
    run_list.push_back({{"output", run.output},
                        {"styles", run.styles},
                        {"iterations_done", run.iterations_done},
                        {"stop_reason", run.stop_reason},
                        {"seconds", run.seconds},
                        {"iterations", iterations}});
  }
  report["runs"] = run_list;
  write_text_atomically(path, report.dump(2) + "\n");
}

void write_plot(const std::string& path, const RunRecord& run) {
  std::vector<PlotSeries> series = {{"total", {}, {}}, {"style", {}, {}}, {"content", {}, {}}, {"tv", {}, {}}};
  double offset = 0;  // iterations of earlier scales, so scales follow each other on the x axis
  int scale = 1, last_iteration = 0;
  for (const auto& it : run.iterations) {
    if (it.scale != scale) {
      offset += last_iteration;
      scale = it.scale;
    }
    last_iteration = it.iteration;
    const double x = offset + it.iteration;
    const double values[4] = {it.losses.total, it.losses.style, it.losses.content, it.losses.tv};
    for (int k = 0; k < 4; ++k) {
      series[k].x.push_back(x);
      series[k].y.push_back(values[k]);
    }
  }
  save_loss_plot(series, "losses: " + fs::path(run.output).filename().string(), path);
}

}  // namespace stylize::cli
