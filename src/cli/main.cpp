// stylize: the command-line front end. It parses flags into stylize::Options,
// renders progress, saves results and reports, and maps library errors to exit
// codes (README, "Exit codes"). All the work is done by the stylize_core library.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "progress.hpp"
#include "report.hpp"
#include "stylize/cpu_allocator.hpp"
#include "stylize/device.hpp"
#include "stylize/engine.hpp"
#include "stylize/errors.hpp"
#include "stylize/image_io.hpp"
#include "stylize/options.hpp"
#include "stylize/vgg.hpp"
#include "stylize/weights.hpp"
#include "weights_command.hpp"

namespace fs = std::filesystem;
using stylize::cli::ProgressPrinter;
using stylize::cli::RunRecord;

namespace {

// Documented in README.
enum ExitCode : int {
  kOk = 0,
  kInternalError = 1,
  kUsageError = 2,
  kImageError = 3,
  kWeightsError = 4,
  kDeviceError = 5,
  kOutputError = 6,
  kNumericError = 7,
  kResourceError = 8,
  // Interrupted: 128 + the signal (130 for SIGINT, 143 for SIGTERM).
};

std::atomic<int> g_signal{0};

extern "C" void on_signal(int signal) {
  if (g_signal.exchange(signal) != 0) {
    // Second signal: leave at once, without saving.
    std::signal(signal, SIG_DFL);
    std::raise(signal);
  }
}

// Flags whose text becomes Options after parsing; defaults mirror stylize::Options.
struct CliSettings {
  std::string content_layers = "relu5_2";
  std::string style_layers = "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1";
  std::string device = "auto";
  std::string precision = "auto";
  std::string optimizer = "adam";
  std::string pooling = "max";
  std::string tv_norm = "l1";
  std::string preserve_colors = "none";
  std::string style_blend;
  std::string resume;
  bool output_given = false;
  bool quiet = false;
  bool verbose = false;
  bool offline = false;  // --offline: never download weights
};

template <typename T>
using Choices = std::vector<std::pair<std::string, T>>;

const Choices<stylize::DeviceKind> kDevices = {
    {"auto", stylize::DeviceKind::Auto}, {"cpu", stylize::DeviceKind::Cpu}, {"cuda", stylize::DeviceKind::Cuda}};
const Choices<stylize::Precision> kPrecisions = {{"auto", stylize::Precision::Auto},
                                                 {"fp32", stylize::Precision::Fp32},
                                                 {"bf16", stylize::Precision::Bf16},
                                                 {"fp16", stylize::Precision::Fp16}};
const Choices<stylize::OptimizerKind> kOptimizers = {{"adam", stylize::OptimizerKind::Adam},
                                                     {"lbfgs", stylize::OptimizerKind::Lbfgs}};
const Choices<stylize::Pooling> kPoolings = {{"max", stylize::Pooling::Max}, {"avg", stylize::Pooling::Avg}};
const Choices<stylize::TvNorm> kTvNorms = {{"l1", stylize::TvNorm::L1}, {"l2", stylize::TvNorm::L2}};
const Choices<stylize::PreserveColors> kPreserveColors = {{"none", stylize::PreserveColors::None},
                                                          {"luminance", stylize::PreserveColors::Luminance},
                                                          {"histogram", stylize::PreserveColors::Histogram}};

// A flag taking one of a few words; the help lists them.
template <typename T>
CLI::Option* add_choice(CLI::App& app, const std::string& flag, std::string& target, const Choices<T>& choices,
                        const std::string& description) {
  std::vector<std::string> words;
  for (const auto& choice : choices) words.push_back(choice.first);
  return app.add_option(flag, target, description)->check(CLI::IsMember(words, CLI::ignore_case));
}

template <typename T>
T choice_value(const std::string& text, const Choices<T>& choices) {
  for (const auto& choice : choices) {
    if (CLI::detail::to_lower(text) == choice.first) return choice.second;
  }
  return choices.front().second;  // unreachable: CLI11 checked the word
}

std::vector<double> parse_number_list(const std::string& text, const std::string& flag) {
  std::vector<double> values;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    size_t used = 0;
    double value = 0;
    try {
      value = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0) throw stylize::OptionError(flag + ": cannot read '" + item + "' as a number; write e.g. 0.7,0.3");
    values.push_back(value);
  }
  return values;
}

// out.png -> out_0100.png (out_s2_0100.png in a coarse-to-fine run).
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

// The checkpoint record beside an image: out.png -> out.png.json.
std::string checkpoint_path(const std::string& image) { return image + ".json"; }

void write_checkpoint(const std::string& image, int iteration, const stylize::Options& options) {
  const nlohmann::json record = {{"iteration", iteration},
                                 {"iterations", options.iterations},
                                 {"content", options.content_path},
                                 {"styles", options.style_paths},
                                 {"size", options.size}};
  stylize::cli::write_text_atomically(checkpoint_path(image), record.dump(2) + "\n");
}

// --resume IMAGE: continue from IMAGE and the iteration stored beside it.
void apply_resume(const std::string& image, stylize::Options& options, bool output_given) {
  const std::string record_path = checkpoint_path(image);
  std::ifstream file(record_path);
  if (!file) {
    throw stylize::OptionError("cannot resume from '" + image + "': its checkpoint record '" + record_path +
                               "' is missing (it is written with --save-every images and when a run is interrupted)");
  }
  const nlohmann::json record = nlohmann::json::parse(file, nullptr, false);
  if (record.is_discarded() || !record.contains("iteration") || !record["iteration"].is_number_integer()) {
    throw stylize::OptionError("cannot resume: '" + record_path + "' is not a stylize checkpoint record");
  }
  options.start_iteration = record["iteration"].get<int>();
  options.init = image;
  if (!output_given) options.output_path = image;
  if (record.contains("size") && record["size"].is_number_integer() && record["size"].get<int>() != options.size) {
    spdlog::warn("the checkpoint was made at --size {}, this run uses {}", record["size"].get<int>(), options.size);
  }
}

// A folder given to --style stands for the images in it.
std::vector<std::string> expand_styles(const std::vector<std::string>& paths, bool& any_folder) {
  std::vector<std::string> styles;
  any_folder = false;
  for (const auto& path : paths) {
    std::error_code error;
    if (!fs::is_directory(path, error)) {
      styles.push_back(path);
      continue;
    }
    any_folder = true;
    std::vector<std::string> found;
    for (const auto& entry : fs::directory_iterator(path, error)) {
      if (entry.is_regular_file() && stylize::has_image_extension(entry.path().string())) {
        found.push_back(entry.path().string());
      }
    }
    if (found.empty()) {
      throw stylize::ImageError("style folder '" + path + "' holds no images (png, jpg, webp, tif, bmp)");
    }
    std::sort(found.begin(), found.end());
    styles.insert(styles.end(), found.begin(), found.end());
  }
  return styles;
}

std::string replace_all(std::string text, const std::string& key, const std::string& value) {
  for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + value.size())) {
    text.replace(at, key.size(), value);
  }
  return text;
}

struct Job {
  std::vector<size_t> styles;  // indices into the loaded style images
  std::string output;
  std::string label;
};

std::vector<Job> make_jobs(const stylize::Options& options) {
  std::vector<Job> jobs;
  if (!options.each_style) {
    Job job;
    for (size_t i = 0; i < options.style_paths.size(); ++i) job.styles.push_back(i);
    job.output = options.output_path;
    job.label = fs::path(options.output_path).filename().string();
    jobs.push_back(job);
    return jobs;
  }
  const std::string content_stem = fs::path(options.content_path).stem().string();
  std::set<std::string> seen;
  for (size_t i = 0; i < options.style_paths.size(); ++i) {
    std::string output = replace_all(options.output_template, "{content}", content_stem);
    output = replace_all(output, "{style}", fs::path(options.style_paths[i]).stem().string());
    output = replace_all(output, "{n}", std::to_string(i + 1));
    if (!seen.insert(output).second) {
      throw stylize::OptionError("--output-template '" + options.output_template +
                                 "' gives two styles the same output '" + output + "'; include {style} or {n}");
    }
    jobs.push_back({{i}, output, fs::path(output).filename().string()});
  }
  return jobs;
}

// Consecutive jobs that run as one batch. Only one-style jobs (--each-style)
// with Adam batch, up to --batch of them (automatic: see Options::batch) and as
// many as the memory estimate allows, and only styles that share a
// coarse-to-fine schedule.
std::vector<std::vector<size_t>> group_jobs(const std::vector<Job>& jobs, const stylize::Options& options,
                                            const stylize::Stylizer& stylizer, const torch::Tensor& content,
                                            const std::vector<torch::Tensor>& styles, bool resuming) {
  int size = 1;
  if (options.each_style && options.optimizer == stylize::OptimizerKind::Adam && !resuming && jobs.size() > 1) {
    const int64_t h = content.size(2), w = content.size(3);
    int wanted = options.batch;
    if (wanted == 0) wanted = stylizer.device().is_cuda() ? 16 : (h * w <= 200 * 200 ? 4 : 1);
    wanted = std::min<int>(wanted, static_cast<int>(jobs.size()));
    size = stylizer.batch_capacity(h, w, wanted);
    if (options.batch > 1 && size < wanted) {
      spdlog::warn("--batch {}: only {} images of {}x{} fit in memory at once; running {} at a time", options.batch,
                   size, w, h, size);
    }
  }
  std::vector<std::vector<size_t>> groups;
  std::vector<int> group_schedule;
  for (size_t j = 0; j < jobs.size(); ++j) {
    const std::vector<int> schedule =
        size > 1 ? stylizer.schedule(content, {styles[jobs[j].styles.front()]}) : std::vector<int>{};
    if (groups.empty() || static_cast<int>(groups.back().size()) >= size || schedule != group_schedule) {
      groups.emplace_back();
      group_schedule = schedule;
    }
    groups.back().push_back(j);
  }
  return groups;
}

void check_outputs(const std::vector<Job>& jobs, const stylize::Options& options) {
  std::vector<std::string> inputs = options.style_paths;
  inputs.push_back(options.content_path);
  for (const auto& job : jobs) {
    stylize::check_output_path(job.output);
    std::error_code error;
    for (const auto& input : inputs) {
      if (fs::exists(job.output, error) && fs::equivalent(job.output, input, error)) {
        throw stylize::OutputError("output '" + job.output +
                                   "' is also an input image; refusing to overwrite it. Choose another -o");
      }
    }
  }
  for (const auto& extra : {options.report_path, options.plot_path, options.sheet_path}) {
    if (extra.empty()) continue;
    fs::path dir = fs::path(extra).parent_path();
    std::error_code error;
    if (!dir.empty() && !fs::is_directory(dir, error)) {
      throw stylize::OutputError("cannot write '" + extra + "': directory '" + dir.string() + "' does not exist");
    }
  }
  if (!options.plot_path.empty()) stylize::check_output_path(options.plot_path);
  if (!options.sheet_path.empty()) stylize::check_output_path(options.sheet_path);
}

int run(stylize::Options options, const CliSettings& settings) {
  const int threads = stylize::configure_threads(options.threads);
  stylize::use_caching_cpu_allocator();
  if (options.content_path.empty()) {
    throw stylize::OptionError("no content image: give the photo to stylize with --content FILE");
  }
  if (options.style_paths.empty()) {
    throw stylize::OptionError("no style image: give a painting with --style FILE (or a folder of them)");
  }
  bool style_folder = false;
  options.style_paths = expand_styles(options.style_paths, style_folder);
  if (style_folder) options.each_style = true;
  if (!settings.resume.empty()) apply_resume(settings.resume, options, settings.output_given);
  stylize::validate(options);
  const std::vector<Job> jobs = make_jobs(options);
  check_outputs(jobs, options);

  std::vector<std::string> layers;
  for (const auto& l : options.content_layers) layers.push_back(l.layer);
  for (const auto& l : options.style_layers) layers.push_back(l.layer);
  const std::string weights_path =
      stylize::cli::find_or_download_weights(options.weights_path, settings.offline, settings.quiet);
  const stylize::VggWeights weights = stylize::load_vgg19_weights(weights_path, stylize::convs_needed(layers));
  stylize::Stylizer stylizer(options, weights);
  const stylize::cli::SessionInfo session{weights_path,
                                          weights.format,
                                          weights.convention.name,
                                          stylizer.device().str(),
                                          stylize::to_string(stylizer.precision()),
                                          threads,
                                          stylizer.network().widths(),
                                          stylizer.network().deepest_layer()};
  spdlog::debug("weights {} ({}, {} convention), network up to {}", weights_path, weights.format,
                weights.convention.name, session.deepest_layer);
  spdlog::info("device {}, precision {}, {} threads", session.device, session.precision, threads);

  const torch::Tensor content = stylize::load_image(options.content_path, "content image", options.size);
  const int style_size =
      options.style_size > 0 ? options.style_size : static_cast<int>(std::lround(options.size * options.style_scale));
  std::vector<torch::Tensor> styles;
  for (const auto& path : options.style_paths) styles.push_back(stylize::load_image(path, "style image", style_size));

  ProgressPrinter printer(options.print_every, settings.quiet);
  int exit_code = kOk;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const std::vector<std::vector<size_t>> groups =
      group_jobs(jobs, options, stylizer, content, styles, !settings.resume.empty());
  std::vector<RunRecord> records(jobs.size());
  std::vector<torch::Tensor> results(jobs.size());
  size_t jobs_done = 0;
  for (const auto& group : groups) {
    std::vector<torch::Tensor> group_styles;  // with --each-style: one per member
    std::vector<std::string> labels;
    std::vector<double> blend;
    for (size_t j : group) {
      const Job& job = jobs[j];
      std::vector<std::string> job_style_paths;
      for (size_t i : job.styles) {
        group_styles.push_back(styles[i]);
        job_style_paths.push_back(options.style_paths[i]);
        if (!options.style_blend.empty() && !options.each_style) blend.push_back(options.style_blend[i]);
      }
      spdlog::info("stylizing {} ({}x{}) with {}: {} iterations -> {}", options.content_path, content.size(3),
                   content.size(2), fmt::join(job_style_paths, ", "), options.iterations, job.output);
      records[j].output = job.output;
      records[j].styles = job_style_paths;
      labels.push_back(jobs.size() > 1 ? job.label : "");
    }
    if (group.size() > 1) spdlog::info("running these {} styles as one batch", group.size());
    const bool keep_history = !options.report_path.empty() || !options.plot_path.empty();
    const auto started = std::chrono::steady_clock::now();
    const auto callback = [&](const stylize::Progress& p) {
      if (p.iteration == options.start_iteration + 1 && p.scales > 1) {
        printer.clear_bar();
        spdlog::info("scale {}/{}: {}x{}", p.scale, p.scales, p.image.size(3), p.image.size(2));
      }
      printer.update(p, labels);
      const bool last = p.iteration == p.iterations;
      for (size_t m = 0; m < group.size(); ++m) {
        if (keep_history) records[group[m]].iterations.push_back({p.scale, p.iteration, p.values(m), p.seconds});
        if (options.save_every > 0 && p.iteration % options.save_every == 0 && !last) {
          const std::string path = intermediate_path(jobs[group[m]].output, p.iteration, p.scale, p.scales);
          stylize::save_image(p.image.narrow(0, m, 1), path);
          if (p.scales == 1) write_checkpoint(path, p.iteration, options);
          spdlog::debug("saved {}", path);
        }
      }
      return g_signal.load() == 0;
    };
    const std::vector<stylize::Result> group_results =
        group.size() > 1 ? stylizer.run_batch(content, group_styles, callback)
                         : std::vector<stylize::Result>{stylizer.run(content, group_styles, callback, blend)};
    printer.clear_bar();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    for (size_t m = 0; m < group.size(); ++m) {
      const Job& job = jobs[group[m]];
      const stylize::Result& result = group_results[m];
      stylize::save_image(result.image, job.output);
      RunRecord& record = records[group[m]];
      record.iterations_done = result.iterations_done;
      record.stop_reason = stylize::cli::to_string(result.stop_reason);
      record.seconds = seconds;
      results[group[m]] = result.image;
      ++jobs_done;
      if (result.stop_reason == stylize::StopReason::Interrupted) {
        write_checkpoint(job.output, result.iterations_done, options);
        spdlog::warn("interrupted at iteration {}/{}; saved the current image to {} (continue with --resume {})",
                     result.iterations_done, options.iterations, job.output, job.output);
        exit_code = 128 + g_signal.load();
      } else if (result.stop_reason == stylize::StopReason::NumericFailure) {
        spdlog::error(
            "the loss became NaN or infinite at iteration {}; saved the last good image to {}. "
            "Try a lower --lr or --style-weight, or --precision fp32",
            result.iterations_done + 1, job.output);
        exit_code = kNumericError;
      } else {
        std::error_code ignored;
        fs::remove(checkpoint_path(job.output), ignored);  // a finished image needs no resume record
        if (result.stop_reason == stylize::StopReason::Converged) {
          spdlog::info("L-BFGS converged after {} of {} iterations; wrote {}", result.iterations_done,
                       options.iterations, job.output);
        } else {
          spdlog::info("wrote {} ({:.1f} s)", job.output, record.seconds);
        }
      }
    }
    if (exit_code != kOk) break;
  }
  records.resize(jobs_done);
  results.resize(jobs_done);

  if (!options.sheet_path.empty()) {
    std::vector<std::vector<stylize::SheetTile>> rows;
    for (size_t j = 0; j < results.size(); ++j) {
      std::vector<stylize::SheetTile> row = {
          {content, "content: " + fs::path(options.content_path).filename().string()}};
      for (size_t i : jobs[j].styles) {
        row.push_back({styles[i], "style: " + fs::path(options.style_paths[i]).filename().string()});
      }
      row.push_back({results[j], "result: " + jobs[j].label});
      rows.push_back(row);
    }
    stylize::save_contact_sheet(rows, options.sheet_path);
    spdlog::info("wrote contact sheet {}", options.sheet_path);
  }
  if (!options.plot_path.empty() && !records.empty()) {
    stylize::cli::write_plot(options.plot_path, records.back());
    spdlog::info("wrote loss plot {}", options.plot_path);
  }
  if (!options.report_path.empty()) {
    stylize::cli::write_report(options.report_path, options, session, records);
    spdlog::info("wrote report {}", options.report_path);
  }
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "weights") return stylize::cli::weights_main(argc - 1, argv + 1);
  stylize::Options options;
  CliSettings settings;
  CLI::App app{"stylize: repaint a photo in the style of a painting (Gatys et al. neural style transfer)", "stylize"};
  // A repeated flag overrides the earlier one (handy with shell aliases);
  // --style collects every occurrence.
  app.option_defaults()->always_capture_default()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.set_version_flag("--version", std::string("stylize ") + STYLIZE_VERSION);
  app.footer(
      "Example: stylize -c photo.jpg -s painting.jpg -o out.png\n"
      "Weights: stylize weights list|verify|info|download (see stylize weights --help)\n"
      "Exit codes and more examples: README.md");

  app.add_option("-c,--content", options.content_path, "Content image (the photo to repaint)")->group("Images");
  app.add_option("-s,--style", options.style_paths,
                 "Style image (the painting); repeat to blend several, or give a folder for one output per style")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->group("Images");
  CLI::Option* output_flag =
      app.add_option("-o,--output", options.output_path, "Output image; format by extension (png, jpg, webp, tif, bmp)")
          ->group("Images");
  app.add_option("--size", options.size, "Longest side of the content and output, in pixels")->group("Images");
  app.add_option("--style-size", options.style_size, "Longest side of the style images (0: --style-scale x --size)")
      ->group("Images");
  app.add_option("--style-scale", options.style_scale,
                 "Style image size relative to the output; larger gives larger brush strokes")
      ->group("Images");
  app.add_option("--style-weights", settings.style_blend, "Blend weights of the style images, e.g. 0.7,0.3")
      ->group("Images");
  add_choice(app, "--preserve-colors", settings.preserve_colors, kPreserveColors,
             "Keep the content's colours: luminance-only transfer, or the style recoloured to the content's palette")
      ->group("Images");
  app.add_option("--init", options.init, "Start image: content, noise, style, or the path of an image")
      ->group("Images");
  app.add_flag("--each-style", options.each_style, "One output per style image instead of one blend")->group("Batch");
  app.add_option("--batch", options.batch,
                 "With --each-style: styles optimized together as one batch (0: automatic; 1: one at a time)")
      ->group("Batch");
  app.add_option("--output-template", options.output_template,
                 "Output names with --each-style: {content}, {style} (file stems) and {n}")
      ->group("Batch");

  app.add_option("--preset", options.preset, "tutorial (the defaults), gatys (the paper) or fast; flags override it")
      ->check(CLI::IsMember(stylize::preset_names()))
      ->group("Model");
  app.add_option("--weights", options.weights_path,
                 "VGG19 weights file (safetensors or Keras .h5); default $STYLIZE_WEIGHTS, models/, the cache, "
                 "else downloaded (see `stylize weights --help`)")
      ->group("Model");
  app.add_flag("--offline", settings.offline, "Never download weights (also STYLIZE_OFFLINE=1)")->group("Model");
  app.add_option("--content-layers", settings.content_layers,
                 "Content layers, optionally layer:weight, comma separated")
      ->group("Model");
  app.add_option("--style-layers", settings.style_layers, "Style layers, optionally layer:weight, comma separated")
      ->group("Model");
  add_choice(app, "--pooling", settings.pooling, kPoolings, "Pooling layers")->group("Model");

  app.add_option("--content-weight", options.content_weight, "Weight of the content loss")->group("Loss");
  app.add_option("--style-weight", options.style_weight, "Weight of the style loss")->group("Loss");
  app.add_option("--tv-weight", options.tv_weight, "Weight of the total variation (smoothness) loss")->group("Loss");
  add_choice(app, "--tv-norm", settings.tv_norm, kTvNorms,
             "Total variation: sum of absolute (l1) or squared (l2) differences")
      ->group("Loss");

  add_choice(app, "--optimizer", settings.optimizer, kOptimizers,
             "Optimizer; for lbfgs an iteration is one loss evaluation")
      ->group("Optimization");
  app.add_option("-n,--iterations", options.iterations, "Iterations (per scale)")->group("Optimization");
  app.add_option("--lr", options.lr, "Adam learning rate")->group("Optimization");
  app.add_option("--beta1", options.beta1, "Adam beta1")->group("Optimization");
  app.add_option("--beta2", options.beta2, "Adam beta2")->group("Optimization");
  app.add_option("--eps", options.eps, "Adam epsilon")->group("Optimization");
  app.add_option("--scales", options.scales, "Coarse to fine: number of sizes to optimize at, ending at --size")
      ->group("Optimization");
  app.add_option("--min-size", options.min_size, "Coarse to fine: the first scale's size (0: --size / 2^(scales-1))")
      ->group("Optimization");
  app.add_option("--seed", options.seed, "Random seed (noise init)")->group("Optimization");
  app.add_option("--resume", settings.resume,
                 "Continue from a saved image (out.png or out_0300.png) and the iteration recorded beside it")
      ->group("Optimization");

  add_choice(app, "--device", settings.device, kDevices, "Compute device; auto picks CUDA when available")
      ->group("Compute");
  add_choice(app, "--precision", settings.precision, kPrecisions,
             "Network precision; auto: bf16 where the hardware has it. Losses are always fp32")
      ->group("Compute");
  app.add_option("--threads", options.threads, "CPU threads (0: all available cores)")->group("Compute");

  app.add_option("--print-every", options.print_every, "Print a progress line every N iterations (0: never)")
      ->group("Output");
  app.add_option("--save-every", options.save_every, "Save an intermediate image every N iterations (0: never)")
      ->group("Output");
  app.add_option("--report", options.report_path, "Write a JSON report: options, device, losses of every iteration")
      ->group("Output");
  app.add_option("--plot", options.plot_path, "Draw the loss curves into an image")->group("Output");
  app.add_option("--sheet", options.sheet_path, "Contact sheet of the content, the styles and the results")
      ->group("Output");
  app.add_flag("-q,--quiet", settings.quiet, "Print errors only")->group("Output");
  app.add_flag("-v,--verbose", settings.verbose, "Print details (weights, timings)")->group("Output");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kOk : kUsageError;
  }
  settings.output_given = output_flag->count() > 0;

  auto logger = spdlog::stderr_color_mt("stylize");
  logger->set_pattern("%^%l%$: %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(settings.quiet     ? spdlog::level::err
                    : settings.verbose ? spdlog::level::debug
                                       : spdlog::level::info);

  try {
    options.device = choice_value(settings.device, kDevices);
    options.precision = choice_value(settings.precision, kPrecisions);
    options.optimizer = choice_value(settings.optimizer, kOptimizers);
    options.pooling = choice_value(settings.pooling, kPoolings);
    options.tv_norm = choice_value(settings.tv_norm, kTvNorms);
    options.preserve_colors = choice_value(settings.preserve_colors, kPreserveColors);
    options.content_layers = stylize::parse_layer_list(settings.content_layers, "--content-layers");
    options.style_layers = stylize::parse_layer_list(settings.style_layers, "--style-layers");
    if (!settings.style_blend.empty()) options.style_blend = parse_number_list(settings.style_blend, "--style-weights");
    std::vector<std::string> explicit_flags;
    for (const CLI::Option* option : app.get_options()) {
      if (option->count() > 0) explicit_flags.push_back(option->get_name(false, true));
    }
    stylize::apply_preset(options.preset, options, explicit_flags);
    return run(options, settings);
  } catch (const stylize::OptionError& e) {
    spdlog::error("{}", e.what());
    return kUsageError;
  } catch (const stylize::ImageError& e) {
    spdlog::error("{}", e.what());
    return kImageError;
  } catch (const stylize::WeightsError& e) {
    spdlog::error("{}", e.what());
    return kWeightsError;
  } catch (const stylize::DeviceError& e) {
    spdlog::error("{}", e.what());
    return kDeviceError;
  } catch (const stylize::OutputError& e) {
    spdlog::error("{}", e.what());
    return kOutputError;
  } catch (const stylize::ResourceError& e) {
    spdlog::error("{}", e.what());
    return kResourceError;
  } catch (const stylize::Error& e) {
    spdlog::error("{}", e.what());
    return kInternalError;
  } catch (const std::exception& e) {
    spdlog::error("internal error: {}", e.what());
    return kInternalError;
  }
}
