// stylize: the command-line front end. It parses flags into stylize::Options,
// renders progress, saves results and maps library errors to exit codes
// (README, "Exit codes"). All the work is done by the stylize_core library.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <utility>
#include <vector>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "stylize/device.hpp"
#include "stylize/engine.hpp"
#include "stylize/errors.hpp"
#include "stylize/image_io.hpp"
#include "stylize/options.hpp"
#include "stylize/vgg.hpp"
#include "stylize/weights.hpp"
#include "weights_command.hpp"

namespace fs = std::filesystem;

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
  kInterrupted = 130,  // 128 + SIGINT; SIGTERM gives 143
};

std::atomic<int> g_signal{0};

extern "C" void on_signal(int signal) {
  if (g_signal.exchange(signal) != 0) {
    // Second signal: leave at once, without saving.
    std::signal(signal, SIG_DFL);
    std::raise(signal);
  }
}

// Flags whose text is turned into Options after parsing. The defaults are
// those of stylize::Options, printed back as text.
struct CliSettings {
  std::string content_layers = "relu5_2";
  std::string style_layers = "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1";
  std::string device = "auto";
  std::string precision = "auto";
  std::string optimizer = "adam";
  std::string pooling = "max";
  std::string tv_norm = "l1";
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

// Path of the intermediate image of `iteration`: out.png -> out_0100.png.
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

void check_not_an_input(const stylize::Options& options) {
  std::vector<std::string> inputs = options.style_paths;
  inputs.push_back(options.content_path);
  std::error_code error;
  for (const auto& input : inputs) {
    if (fs::exists(options.output_path, error) && fs::equivalent(options.output_path, input, error)) {
      throw stylize::OutputError("output '" + options.output_path + "' is also an input image; refusing to overwrite it. Choose another -o");
    }
  }
}

int run(const stylize::Options& options, const CliSettings& settings) {
  const int threads = stylize::configure_threads(options.threads);
  stylize::check_output_path(options.output_path);
  check_not_an_input(options);

  std::vector<std::string> layers;
  for (const auto& l : options.content_layers) layers.push_back(l.layer);
  for (const auto& l : options.style_layers) layers.push_back(l.layer);
  const std::string weights_path =
      stylize::cli::find_or_download_weights(options.weights_path, settings.offline, settings.quiet);
  const stylize::VggWeights weights = stylize::load_vgg19_weights(weights_path, stylize::convs_needed(layers));
  stylize::Stylizer stylizer(options, weights);
  spdlog::debug("weights {} ({}, {} convention), network up to {}", weights_path, weights.format,
                weights.convention.name, stylizer.network().deepest_layer());
  spdlog::info("device {}, precision {}, {} threads", stylizer.device().str(),
               stylize::to_string(stylizer.precision()), threads);

  const torch::Tensor content = stylize::load_image(options.content_path, "content image", options.size);
  std::vector<torch::Tensor> styles;
  const int style_size = options.style_size > 0 ? options.style_size : options.size;
  for (const auto& path : options.style_paths) styles.push_back(stylize::load_image(path, "style image", style_size));
  spdlog::info("stylizing {} ({}x{}) with {} style image{}, {} iterations", options.content_path, content.size(3),
               content.size(2), styles.size(), styles.size() == 1 ? "" : "s", options.iterations);

  double interval_seconds = 0;
  int interval_iterations = 0;
  int current_scale = 0;
  const auto callback = [&](const stylize::Progress& p) {
    if (p.scale != current_scale) {
      current_scale = p.scale;
      if (p.scales > 1) {
        spdlog::info("scale {}/{}: {}x{}", p.scale, p.scales, p.image.size(3), p.image.size(2));
      }
    }
    interval_seconds += p.seconds;
    ++interval_iterations;
    const bool last = p.iteration == p.iterations;
    if (!settings.quiet && options.print_every > 0 && (p.iteration % options.print_every == 0 || last)) {
      const stylize::LossValues v = p.values();
      std::printf("iter %d/%d  total %.2e  style %.2e  content %.2e  tv %.2e  %.2f s/it\n", p.iteration,
                  p.iterations, v.total, v.style, v.content, v.tv, interval_seconds / interval_iterations);
      std::fflush(stdout);
      interval_seconds = 0;
      interval_iterations = 0;
    }
    if (options.save_every > 0 && p.iteration % options.save_every == 0 && !last) {
      const std::string path = intermediate_path(options.output_path, p.iteration, p.scale, p.scales);
      stylize::save_image(p.image, path);
      spdlog::debug("saved {}", path);
    }
    return g_signal.load() == 0;
  };

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const stylize::Result result = stylizer.run(content, styles, callback);
  stylize::save_image(result.image, options.output_path);

  switch (result.stop_reason) {
    case stylize::StopReason::Finished:
      spdlog::info("wrote {}", options.output_path);
      return kOk;
    case stylize::StopReason::Converged:
      spdlog::info("L-BFGS converged after {} of {} iterations; wrote {}", result.iterations_done,
                   options.iterations, options.output_path);
      return kOk;
    case stylize::StopReason::Interrupted:
      spdlog::warn("interrupted at iteration {}/{}; saved the current image to {}", result.iterations_done,
                   options.iterations, options.output_path);
      return 128 + g_signal.load();
    case stylize::StopReason::NumericFailure:
      spdlog::error(
          "the loss became NaN or infinite after iteration {}; saved the last good image to {}. "
          "Try a lower --lr or --precision fp32",
          result.iterations_done, options.output_path);
      return kNumericError;
  }
  return kOk;
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
  app.footer("Weights: stylize weights list|verify|info|download (see stylize weights --help)");

  app.add_option("-c,--content", options.content_path, "Content image (the photo to repaint)")
      ->required()
      ->group("Images");
  app.add_option("-s,--style", options.style_paths, "Style image (the painting); repeat to blend several")
      ->required()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->group("Images");
  app.add_option("-o,--output", options.output_path, "Output image; format by extension (png, jpg, webp, tif, bmp)")
      ->group("Images");
  app.add_option("--size", options.size, "Longest side of the content and output, in pixels")->group("Images");
  app.add_option("--style-size", options.style_size, "Longest side of the style images (0: same as --size)")
      ->group("Images");

  app.add_option("--weights", options.weights_path,
                 "VGG19 weights file (safetensors or Keras .h5); default $STYLIZE_WEIGHTS, models/, the cache, "
                 "else downloaded (see `stylize weights --help`)")
      ->group("Model");
  app.add_flag("--offline", settings.offline, "Never download weights (also STYLIZE_OFFLINE=1)")->group("Model");
  app.add_option("--content-layers", settings.content_layers, "Content layers, optionally layer:weight, comma separated")
      ->group("Model");
  app.add_option("--style-layers", settings.style_layers, "Style layers, optionally layer:weight, comma separated")
      ->group("Model");
  add_choice(app, "--pooling", settings.pooling, kPoolings, "Pooling layers")->group("Model");

  app.add_option("--content-weight", options.content_weight, "Weight of the content loss")->group("Loss");
  app.add_option("--style-weight", options.style_weight, "Weight of the style loss")->group("Loss");
  app.add_option("--tv-weight", options.tv_weight, "Weight of the total variation (smoothness) loss")->group("Loss");
  add_choice(app, "--tv-norm", settings.tv_norm, kTvNorms, "Total variation: sum of absolute (l1) or squared (l2) differences")
      ->group("Loss");

  add_choice(app, "--optimizer", settings.optimizer, kOptimizers, "Optimizer; for lbfgs an iteration is one loss evaluation")
      ->group("Optimization");
  app.add_option("-n,--iterations", options.iterations, "Iterations (per scale)")->group("Optimization");
  app.add_option("--lr", options.lr, "Adam learning rate")->group("Optimization");
  app.add_option("--beta1", options.beta1, "Adam beta1")->group("Optimization");
  app.add_option("--beta2", options.beta2, "Adam beta2")->group("Optimization");
  app.add_option("--eps", options.eps, "Adam epsilon")->group("Optimization");
  app.add_option("--scales", options.scales, "Coarse-to-fine: number of sizes to optimize at, ending at --size")
      ->group("Optimization");
  app.add_option("--min-size", options.min_size, "Coarse-to-fine: the first scale's size (0: --size / 2^(scales-1))")
      ->group("Optimization");
  app.add_option("--seed", options.seed, "Random seed")->group("Optimization");

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
  app.add_flag("-q,--quiet", settings.quiet, "Print errors only")->group("Output");
  app.add_flag("-v,--verbose", settings.verbose, "Print details (weights, timings)")->group("Output");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kOk : kUsageError;
  }

  auto logger = spdlog::stderr_color_mt("stylize");
  logger->set_pattern("%^%l%$: %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(settings.quiet ? spdlog::level::err
                                   : settings.verbose ? spdlog::level::debug : spdlog::level::info);

  try {
    options.device = choice_value(settings.device, kDevices);
    options.precision = choice_value(settings.precision, kPrecisions);
    options.optimizer = choice_value(settings.optimizer, kOptimizers);
    options.pooling = choice_value(settings.pooling, kPoolings);
    options.tv_norm = choice_value(settings.tv_norm, kTvNorms);
    options.content_layers = stylize::parse_layer_list(settings.content_layers, "--content-layers");
    options.style_layers = stylize::parse_layer_list(settings.style_layers, "--style-layers");
    stylize::validate(options);
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
  } catch (const stylize::Error& e) {
    spdlog::error("{}", e.what());
    return kInternalError;
  } catch (const std::exception& e) {
    spdlog::error("internal error: {}", e.what());
    return kInternalError;
  }
}
