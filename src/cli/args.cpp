#include "args.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>

#include "exit_codes.hpp"
#include "sizes.hpp"
#include "stylize/core/device.hpp"
#include "stylize/errors.hpp"
#include "stylize/io/image_io.hpp"
#include "terminal_bar.hpp"

#ifndef STYLIZE_VERSION
#define STYLIZE_VERSION "unknown"
#endif

namespace stylize::cli {
namespace {

std::string join(const std::vector<std::string>& words, const char* separator) {
  std::string text;
  for (const auto& word : words) text += (text.empty() ? "" : separator) + word;
  return text;
}

std::string erase_all(std::string text, const std::string& what) {
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at)) text.erase(at, what.size());
  return text;
}

// CLI11's help names a negatable flag "--nesterov,--no-nesterov{false}" and
// gives a list flag the default "=[]"; both are its parser's business, not the
// reader's.
class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_option_name(const CLI::Option* option, bool positional) const override {
    return erase_all(CLI::Formatter::make_option_name(option, positional), "{false}");
  }
  // "TEXT ..." rather than "TEXT=[] ...".
  std::string make_option_opts(const CLI::Option* option) const override {
    return erase_all(CLI::Formatter::make_option_opts(option), "=[]");
  }
};

// A flag taking one of an enumeration's words (types.hpp); the help lists them.
template <typename T>
CLI::Option* add_choice(CLI::App& app, const std::string& flag, T& target, const std::string& description) {
  return app
      .add_option_function<std::string>(
          flag, [&target](const std::string& word) { target = *parse<T>(word); }, description)
      ->check(CLI::IsMember(words<T>(), CLI::ignore_case))
      ->default_str(to_string(target));
}

std::string layer_list_text(const std::vector<LayerWeight>& layers) {
  std::vector<std::string> names;
  for (const auto& layer : layers) names.push_back(layer.layer);
  return join(names, ",");
}

// A flag taking a list of layers with optional weights.
CLI::Option* add_layers(CLI::App& app, const std::string& flag, std::vector<LayerWeight>& target,
                        const std::string& description) {
  return app
      .add_option_function<std::string>(
          flag, [&target, flag](const std::string& text) { target = parse_layer_list(text, flag); }, description)
      ->default_str(layer_list_text(target));
}

}  // namespace

namespace {

// The flags of stylize that stylize batch and stylize video leave out, and
// why (nullptr: the command adds its own flag of that name).
struct OmittedFlag {
  const char* command;
  const char* flag;
  const char* why;
};
constexpr OmittedFlag kOmittedFlags[] = {
    {"stylize batch", "--output", "each job's output is named by --output-template"},
    {"stylize batch", "--each-style", "every content is stylized with every style, one output each, already"},
    {"stylize batch", "--batch", "each job is one content with one style"},
    {"stylize batch", "--resume", "stylize batch resumes unfinished jobs by itself: run the same command again"},
    {"stylize batch", "--style-weights", "each job has one style"},
    {"stylize batch", "--report", "a report describes one run: use stylize for one content and style"},
    {"stylize batch", "--plot", "a plot describes one run: use stylize for one content and style"},
    {"stylize batch", "--sheet", "a sheet describes one run: use stylize for one content and style"},
    {"stylize batch", "--estimate", "stylize --estimate on one content and style gives one job's time and memory"},
    {"stylize batch", "--content-mask", "regional styles are for one image at a time: use stylize"},
    {"stylize batch", "--style-mask", "regional styles are for one image at a time: use stylize"},
    {"stylize batch", "--default-style", "regional styles are for one image at a time: use stylize"},
    {"stylize video", "--each-style", "a video's styles are blended into the one video"},
    {"stylize video", "--batch", "a video's styles are blended into the one video"},
    {"stylize video", "--output-template", "the output is -o: a video file, a frame pattern or a folder"},
    {"stylize video", "--resume", nullptr},  // a flag: it goes on after the frames written
    {"stylize video", "--init", "each frame starts from the previous output, warped by optical flow"},
    {"stylize video", "--save-every", "every frame is saved as it is finished"},
    {"stylize video", "--report", "a report describes one image's run"},
    {"stylize video", "--plot", "a plot describes one image's run"},
    {"stylize video", "--sheet", "a sheet describes one image's run"},
    {"stylize video", "--estimate", "stylize --estimate on one frame gives the first frame's time and memory"},
};

// Removes from `app` (built by build_parser) the flags its command leaves out.
void remove_omitted_flags(CLI::App& app) {
  for (const OmittedFlag& omitted : kOmittedFlags) {
    if (app.get_name() == omitted.command) app.remove_option(app.get_option(omitted.flag));
  }
}

// "; --resume is not a flag of stylize batch: ..." when `extras` (CLI11's "The
// following arguments were not expected: x.png --resume") names a flag of
// stylize that `command` leaves out; else "".
std::string omitted_flag_hint(const std::string& command, const std::string& extras) {
  const std::string given = extras + " ";
  for (const OmittedFlag& omitted : kOmittedFlags) {
    if (omitted.why == nullptr || command != omitted.command) continue;
    const std::string flag = omitted.flag;  // CLI11 names a flag as it was given: -o for --output
    for (const std::string& name : {flag, flag == "--output" ? std::string("-o") : flag}) {
      if (given.find(" " + name + " ") != std::string::npos) {
        return "; " + name + " is not a flag of " + command + ": " + omitted.why;
      }
    }
  }
  return "";
}

// Edits (insertions, deletions, substitutions) from `a` to `b`.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// "; did you mean --iterations?" for a misspelt flag among `extras` (CLI11's
// "The following arguments were not expected: 5 --iteration"), "; give images
// with -c (content) and -s (style)" for an image named without a flag; else "".
std::string unexpected_argument_hint(const CLI::App& app, const std::string& extras) {
  // CLI11 lists them last first.
  std::vector<std::string> words;
  std::stringstream list(extras.substr(extras.find(':') + 1));
  for (std::string word; list >> word;) words.insert(words.begin(), word);
  std::vector<std::string> images;
  for (const std::string& word : words) {
    if (word.rfind("--", 0) == 0 && word.size() > 3) {
      const std::string given =
          word.substr(2, word.find('=') == std::string::npos ? std::string::npos : word.find('=') - 2);
      std::string best;
      size_t best_distance = 3;  // at most 2 edits
      for (const CLI::Option* option : app.get_options()) {
        for (const std::string& name : option->get_lnames()) {
          const size_t distance = edit_distance(given, name);
          if (distance < best_distance) best_distance = distance, best = name;
        }
      }
      if (!best.empty()) return "; did you mean --" + best + "?";
    } else if (word[0] != '-' && has_image_extension(word)) {
      images.push_back(word);
    }
  }
  if (images.empty() || app.get_option_no_throw("--content") == nullptr) return "";
  return "; give images with -c (the content) and -s (the style): -c " + images[0] +
         (images.size() > 1 ? " -s " + images[1] : "");
}

}  // namespace

std::string usage_failure(const CLI::App* app, const CLI::Error& error) {
  std::string text = "error: " + std::string(error.what());
  // "Could not convert: --size = abc" says neither what was expected nor what to do.
  if (dynamic_cast<const CLI::ConversionError*>(&error) != nullptr) {
    text += " (expected a number of the kind this flag takes, within its range)";
  }
  // "--quiet excludes --verbose": and so?
  if (dynamic_cast<const CLI::ExcludesError*>(&error) != nullptr) text += "; give one of them";
  if (dynamic_cast<const CLI::ExtrasError*>(&error) != nullptr) {
    const std::string omitted = omitted_flag_hint(app->get_name(), error.what());
    text += omitted.empty() ? unexpected_argument_hint(*app, error.what()) : omitted;
  }
  std::string command = app->get_name();
  for (const CLI::App* parent = app->get_parent(); parent != nullptr; parent = parent->get_parent()) {
    command = parent->get_name() + " " + command;
  }
  if (dynamic_cast<const CLI::RequiredError*>(&error) != nullptr) {
    // "path is required": of which command, and what it is.
    for (const CLI::App* sub : app->get_subcommands()) {
      for (const CLI::Option* option : sub->get_options()) {
        if (!option->get_required() || option->count() > 0 || !option->get_positional()) continue;
        std::string name = option->get_name(), what = option->get_description();
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
        if (!what.empty()) what[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(what[0])));
        text += ": " + command + " " + sub->get_name() + " " + name + ", the " + what;
        break;
      }
    }
  }
  return text + "\n" + (command.empty() ? "stylize" : command) + " --help lists the flags and their values\n";
}

// CLI11 reads an integer in the base its prefix says (strtoll's base 0):
// --size 0256 was 174 px, -n 010 8 iterations, --tile 0x40 64 px. Read as
// written, in decimal: leading zeros dropped (0256 is 256; 0x40 is no number).
void read_integers_in_decimal(CLI::App& app) {
  for (CLI::Option* option : app.get_options()) {
    const std::string type = option->get_type_name();
    if (type != "INT" && type != "UINT" && type != "N|auto") continue;  // N|auto: --tile
    option->transform(CLI::Validator(
        [](std::string& value) {
          const size_t sign = !value.empty() && (value[0] == '-' || value[0] == '+') ? 1 : 0;
          size_t digits = sign;
          while (digits + 1 < value.size() && value[digits] == '0') ++digits;
          value.erase(sign, digits - sign);
          return std::string();
        },
        "", "decimal"));
  }
}

void refuse_empty_values(CLI::App& app) {
  for (CLI::Option* option : app.get_options()) {
    if (option->get_expected_min() == 0) continue;  // a flag
    try {
      option->get_validator("non-empty");
      continue;  // refused already
    } catch (const CLI::OptionNotFound&) {
    }
    option->check(CLI::Validator(
        [](std::string& value) { return value.empty() ? std::string("needs a value, got an empty one") : ""; }, "",
        "non-empty"));
  }
}

namespace {

// Images: what goes in and comes out, and at what size.
void add_image_flags(CLI::App& app, CliParams& p, std::vector<std::string>* contents) {
  if (contents) {
    app.add_option("-c,--content", *contents, "Content images and folders of them (the photos)")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->group("Images");
  } else {
    app.add_option("-c,--content", p.content_path, "Content image (the photo to repaint)")->group("Images");
  }
  app.add_option("-s,--style", p.style_paths,
                 "Style image (the painting); repeat to blend several, or give a folder for one output per style")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->group("Images");
  app.add_option("-o,--output", p.output_path, "Output image; format by extension (png, jpg, webp, tif, bmp)")
      ->group("Images");
  app.add_option_function<std::string>(
         "--bit-depth", [&p](const std::string& word) { p.bit_depth = word == "auto" ? 0 : std::stoi(word); },
         "Bits per channel of the output: 8, or 16 (PNG and TIFF); auto: 16 when the content image has more than 8")
      ->check(CLI::IsMember({"auto", "8", "16"}))
      ->default_str("auto")
      ->group("Images");
  app.add_flag("--keep-profile", p.keep_profile,
               "Convert the output back into the content image's ICC colour profile and embed it (default: sRGB)")
      ->group("Images");
  app.add_option("--size", p.size, "Longest side of the content and output, in pixels")->group("Images");
  app.add_option("--style-size", p.style_size, "Longest side of the style images (0: --style-scale x --size)")
      ->group("Images");
  app.add_option("--style-scale", p.style_scale,
                 "Style image size relative to the output; larger gives larger brush strokes")
      ->group("Images");
  app.add_option_function<std::string>(
         "--style-weights",
         [&p](const std::string& text) { p.style_blend = parse_number_list(text, "--style-weights"); },
         "Blend weights of the style images, e.g. 0.7,0.3")
      ->group("Images");
  add_choice(app, "--preserve-colors", p.options.preserve_colors,
             "Keep the content's colours: luminance-only transfer, or the style recoloured to the content's palette")
      ->group("Images");
  app.add_option("--init", p.init, "Start image: content, noise, style, or the path of an image")->group("Images");
}

void add_region_and_batch_flags(CLI::App& app, CliParams& p) {
  app.add_option("--content-mask", p.content_mask_paths,
                 "Regional styles: where the style of the same position applies (white; gray blends), one per "
                 "--style, in order")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->group("Regions");
  app.add_option("--style-mask", p.style_mask_paths,
                 "Regional styles: where on the style image of the same position its style is taken from (white), one "
                 "per --style, or 'all' for the whole image")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->group("Regions");
  app.add_option("--default-style", p.default_style_path,
                 "Regional styles: the style of what no --content-mask covers (default: it keeps the content)")
      ->group("Regions");
  app.add_flag("--each-style", p.each_style, "One output per style image instead of one blend")->group("Batch");
  app.add_option("--batch", p.batch,
                 "With --each-style: styles optimized together as one batch (0: automatic; 1: one at a time)")
      ->group("Batch");
  app.add_option("--output-template", p.output_template,
                 "Output names with --each-style: {content}, {style} (file stems) and {n}")
      ->group("Batch");
}

// Model and Loss: the network, and what is optimized.
void add_model_flags(CLI::App& app, CliParams& p) {
  StylizeOptions& o = p.options;
  // Words are case-insensitive everywhere (--preset GATYS, --device CUDA), as add_choice's.
  app.add_option("--preset", p.preset, "tutorial (the defaults), gatys (the paper) or fast; flags override it")
      ->transform(CLI::IsMember(preset_names(), CLI::ignore_case))
      ->group("Model");
  app.add_option("--weights", p.weights_path,
                 "VGG19 weights file (safetensors or Keras .h5); default $STYLIZE_WEIGHTS, models/, the cache, "
                 "else downloaded (see `stylize weights --help`)")
      ->group("Model");
  app.add_flag("--offline", p.offline, "Never download weights (also STYLIZE_OFFLINE=1)")->group("Model");
  add_layers(app, "--content-layers", o.content_layers, "Content layers, optionally layer:weight, comma separated")
      ->group("Model");
  add_layers(app, "--style-layers", o.style_layers, "Style layers, optionally layer:weight, comma separated")
      ->group("Model");
  add_choice(app, "--pooling", o.pooling, "Pooling layers")->group("Model");

  add_choice(app, "--loss-units", o.loss_units,
             "Units of the content and style losses: tutorial (the tutorial's raw means, for its Keras network), "
             "normalized (relative to their targets: the same balance with any VGG19 file); auto: tutorial for "
             "Caffe-convention weights, else normalized")
      ->group("Loss");
  app.add_option("--content-weight", o.content_weight, "Weight of the content loss")->group("Loss");
  app.add_option("--style-weight", o.style_weight, "Weight of the style loss")->group("Loss");
  app.add_option("--tv-weight", o.tv_weight, "Weight of the total variation (smoothness) loss")->group("Loss");
  add_choice(app, "--tv-norm", o.tv_norm, "Total variation: sum of absolute (l1) or squared (l2) differences")
      ->group("Loss");
}

void add_optimization_flags(CLI::App& app, CliParams& p) {
  StylizeOptions& o = p.options;
  add_choice(app, "--optimizer", o.optimizer, "Optimizer; for lbfgs an iteration is one loss evaluation")
      ->group("Optimization");
  app.add_option("-n,--iterations", o.iterations, "Iterations (per scale)")->group("Optimization");
  app.add_option("--initial-iterations", o.initial_iterations,
                 "Iterations of the first (coarsest) scale with --scales; 0: as --iterations")
      ->group("Optimization");
  app.add_option("--lr", o.lr, "Adam learning rate")->group("Optimization");
  app.add_option("--beta1", o.beta1, "Adam beta1")->group("Optimization");
  app.add_option("--beta2", o.beta2, "Adam beta2")->group("Optimization");
  app.add_option("--eps", o.eps, "Adam epsilon")->group("Optimization");
  app.add_flag("--nesterov,!--no-nesterov", o.nesterov,
               "Adam with Nesterov's look-ahead momentum (NAdam): faster to a given loss; off in the tutorial")
      ->group("Optimization");
  add_choice(app, "--adam-epsilon", o.adam_epsilon,
             "Where Adam adds --eps: to sqrt(v) as TensorFlow (the tutorial), or to the bias-corrected sqrt(v) "
             "as PyTorch")
      ->group("Optimization");
  app.add_option("--tolerance", o.tolerance,
                 "Adam: end a scale once the mean loss of " + std::to_string(kPlateauWindow) +
                     " iterations is less than this (relative) below the " + std::to_string(kPlateauWindow) +
                     " before (0: never)")
      ->group("Optimization");
  app.add_option("--average", o.average,
                 "Adam: the result is the moving average of the iterates with this decay, e.g. 0.9 (0: the last "
                 "iterate)")
      ->group("Optimization");
  app.add_option("--pyramid", o.pyramid,
                 "Adam: also step on this many coarser levels of a Laplacian pyramid, which moves the image's "
                 "smooth part faster (0: the pixels only)")
      ->group("Optimization");
  app.add_option("--scales", o.scales, "Coarse to fine: number of sizes to optimize at, ending at --size")
      ->group("Optimization");
  app.add_option("--min-size", o.min_size, "Coarse to fine: the first scale's size (0: --size / 2^(scales-1))")
      ->group("Optimization");
  app.add_option("--seed", o.seed, "Random seed (noise init)")
      ->check(CLI::Validator(  // not -5 wrapped round to 18446744073709551611
          [](std::string& value) {
            return value.find_first_not_of("0123456789") == std::string::npos
                       ? std::string()
                       : "expected a whole number from 0 to 18446744073709551615, got " + value;
          },
          "", "whole number"))
      ->group("Optimization");
  app.add_option("--resume", p.resume,
                 "Continue from a saved image (out.png or out_0300.png) and the iteration recorded beside it")
      ->group("Optimization");
}

void add_compute_and_output_flags(CLI::App& app, CliParams& p) {
  StylizeOptions& o = p.options;
  add_choice(app, "--device", o.device, "Compute device; auto picks CUDA when available")->group("Compute");
  add_choice(app, "--precision", o.precision,
             "Network precision; auto: bf16 where the hardware has it. Losses are always fp32")
      ->group("Compute");
  app.add_option("--threads", p.threads, "CPU threads (0: all available cores)")->group("Compute");
  app.add_option("--tile", o.tile,
                 "Images larger than memory: evaluate the network on tiles owning N x N pixels (exactly the whole "
                 "image's loss and gradient; slower per iteration); auto: tiles only when the image does not fit "
                 "(default 0: never)")
      // "auto" is kAutoTile (-1), which the number itself must not pass for.
      ->transform(CLI::Validator(
          [](std::string& value) {
            if (CLI::detail::to_lower(value) == "auto") {
              value = std::to_string(kAutoTile);
              return std::string();
            }
            return !value.empty() && value[0] == '-' ? "must be 'auto' or a size in pixels, got " + value
                                                     : std::string();
          },
          "", "tile"))
      ->type_name("N|auto")
      ->group("Compute");

  app.add_option("--print-every", p.print_every, "Print a progress line every N iterations (0: never)")
      ->group("Output");
  app.add_option("--save-every", p.save_every, "Save an intermediate image every N iterations (0: never)")
      ->group("Output");
  app.add_option("--report", p.report_path, "Write a JSON report: options, device, losses of every iteration")
      ->group("Output");
  app.add_option("--plot", p.plot_path, "Draw the loss curves into an image")->group("Output");
  app.add_option("--sheet", p.sheet_path, "Contact sheet of the content, the styles and the results")->group("Output");
  app.add_flag("--estimate", p.estimate,
               "Print the peak memory (for sbatch --mem, a pod's memory request) and the seconds per iteration, "
               "measured over a few iterations; writes nothing")
      ->group("Output");
  CLI::Option* quiet = app.add_flag("-q,--quiet", p.quiet, "Print errors only")->group("Output");
  app.add_flag("-v,--verbose", p.verbose, "Print details (weights, timings)")->group("Output")->excludes(quiet);
}

// build_parser's flags; with `contents`, -c/--content takes several images and
// folders into it (stylize batch's), listed first in the help as stylize's is.
void add_flags(CLI::App& app, CliParams& p, std::vector<std::string>* contents) {
  app.name("stylize");
  app.formatter(std::make_shared<HelpFormatter>());
  app.description("stylize: repaint a photo in the style of a painting (Gatys et al. neural style transfer)");
  // A repeated flag overrides the earlier one (handy with shell aliases);
  // --style collects every occurrence.
  app.option_defaults()->always_capture_default()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.set_version_flag("--version", std::string("stylize ") + STYLIZE_VERSION);
  app.failure_message(usage_failure);
  app.footer(
      "Example: stylize -c photo.jpg -s painting.jpg -o out.png\n"
      "Weights: stylize weights list|verify|info|stats|download (see stylize weights --help)\n"
      "Many images, several workers or a cluster: stylize batch (see stylize batch --help)\n"
      "Video: stylize video (see stylize video --help)\n"
      "Exit codes and more examples: README.md");
  add_image_flags(app, p, contents);
  add_region_and_batch_flags(app, p);
  add_model_flags(app, p);
  add_optimization_flags(app, p);
  add_compute_and_output_flags(app, p);
  refuse_empty_values(app);
  read_integers_in_decimal(app);
}

}  // namespace

void build_parser(CLI::App& app, CliParams& p) { add_flags(app, p, nullptr); }

void build_batch_parser(CLI::App& app, BatchParams& p) {
  add_flags(app, p.run, &p.contents);
  app.name("stylize batch");
  app.description(
      "stylize batch: every content image with every style image, one output each; several workers (processes, "
      "Slurm array tasks, Kubernetes pods) share the list, and an interrupted job is resumed");
  remove_omitted_flags(app);
  app.get_option("--style")->description("Style images and folders of them (the paintings)");
  app.get_option("--output-template")
      ->description("Output of each job: {content}, {style} (file stems), {n} (job number); folders are created");
  app.add_option("--shard", p.shard,
                 "Run shard I of N of the jobs (0 <= I < N); default from SLURM_ARRAY_TASK_ID and "
                 "SLURM_ARRAY_TASK_COUNT, or JOB_COMPLETION_INDEX and STYLIZE_SHARD_COUNT, else every job")
      ->group("Batch");
  app.add_flag("--redo", p.redo,
               "Make again the outputs an earlier run made or began with other settings (--size, -n, the "
               "weights of the losses, ...; without --redo they are refused), unfinished ones from the start; "
               "each is replaced by its new image, or, if that job is interrupted, by its unfinished image, which "
               "the next run resumes")
      ->group("Batch");
  app.footer(
      "Example: stylize batch -c photos/ -s paintings/ --output-template 'out/{content}_{style}.png'\n"
      "Outputs that exist without a checkpoint record (out.png.json) are done and skipped; with one they are "
      "resumed.\nOn a Slurm cluster or Kubernetes: README.md, \"On a cluster\"");
  refuse_empty_values(app);
  read_integers_in_decimal(app);
}

void build_video_parser(CLI::App& app, VideoParams& p) {
  // Ruder et al.'s balance in stylize's units (README, "Video"): measured on
  // a panning clip, flicker falls 3x and more while the style loss stays within
  // 10% of independent frames.
  p.run.options.temporal_weight = kDefaultTemporalWeight;
  build_parser(app, p.run);
  app.name("stylize video");
  app.description(
      "stylize video: stylize every frame of a video, each started from and held to the previous output warped by "
      "optical flow (Ruder et al. 2016), so that the result does not flicker");
  remove_omitted_flags(app);
  app.get_option("--content")
      ->description(
          "Input video: a video file (mp4, mkv, avi, webm, mov, ...), a folder of frames, or a frame "
          "pattern such as in/frame_%05d.png");
  app.get_option("--output")
      ->description(
          "Output video: a video file (.mp4, .mkv, .avi, .webm, .mov), a frame pattern such as "
          "out/frame_%05d.png, or a folder (frame_%05d.png in it)")
      ->default_str("out.mp4");
  p.run.output_path = "out.mp4";
  app.get_option("--style")->description("Style image (the painting); repeat to blend several into the one video");
  app.get_option("--iterations")->description("Iterations of the first frame (per scale)");
  app.add_option("--frame-iterations", p.frame_iterations,
                 "Iterations of every later frame, which starts from the previous output warped onto it (--preset "
                 "fast: " +
                     std::to_string(kFastFrameIterations) + ")")
      ->group("Video");
  app.add_option("--temporal-weight", p.run.options.temporal_weight,
                 "Weight of the temporal loss: the difference to the previous output warped onto the frame, where "
                 "the optical flow is reliable (0: independent frames, each started from itself)")
      ->group("Video");
  app.add_option("--temporal-frames", p.temporal_frames,
                 "Previous outputs each frame is held to (long-term consistency; 1: the previous frame only)")
      ->group("Video");
  app.add_flag("--resume", p.resume,
               "Continue an interrupted run after the frames written, from where the frame it stopped in got to")
      ->group("Video");
  app.add_flag("--keep-frames", p.keep_frames,
               "A video file output: keep the frame images it is encoded from (OUTPUT.frames/)")
      ->group("Video");
  app.add_option("--codec", p.codec, "FourCC of the video codec (e.g. avc1, mp4v, MJPG, VP90); default by container")
      ->group("Video");
  app.add_option("--fps", p.fps, "Frame rate of the output video (0: the input's; frame images: 25)")->group("Video");
  app.footer(
      "Example: stylize video -c clip.mp4 -s painting.jpg -o clip_styled.mp4\n"
      "Ctrl-C keeps the finished frames and the one it stops; the same command with --resume goes on from there.\n"
      "Audio is not copied.\n"
      "More: README.md, \"Video\"");
  refuse_empty_values(app);
  read_integers_in_decimal(app);
}

void finish_video_parse(const CLI::App& app, VideoParams& p) {
  // --preset fast's later frames: its optimizer gets there in half the
  // iterations (README, Video); an explicit --frame-iterations wins.
  if (p.run.preset == "fast" && app.get_option("--frame-iterations")->count() == 0) {
    p.frame_iterations = kFastFrameIterations;
  }
  if (p.run.options.temporal_weight == 0) {
    for (const char* flag : {"--frame-iterations", "--temporal-frames"}) {
      if (app.get_option(flag)->count() > 0) {
        spdlog::warn(
            "{} has no effect with --temporal-weight 0: independent frames each start from themselves and "
            "run --iterations",
            flag);
      }
    }
  }
}

void validate_video_params(const VideoParams& p) {
  validate_params(p.run);
  if (p.frame_iterations < 1) {
    throw OptionError("--frame-iterations must be at least 1, got " + std::to_string(p.frame_iterations));
  }
  if (p.temporal_frames < 1 || p.temporal_frames > kMaxTemporalFrames) {
    throw OptionError("--temporal-frames must be between 1 and " + std::to_string(kMaxTemporalFrames) + ", got " +
                      std::to_string(p.temporal_frames));
  }
  // Below 0.01 (one frame per 100 s) FFmpeg's encoders refuse the time base
  // (measured: 0.002 works, 0.001 fails for .mp4, .avi and .webm alike).
  if (!std::isfinite(p.fps) || p.fps < 0 || (p.fps > 0 && p.fps < 0.01) || p.fps > 1000) {
    std::ostringstream message;
    message << "--fps must be a frame rate from 0.01 to 1000, or 0 for the input's, got " << p.fps;
    throw OptionError(message.str());
  }
}

InitMode init_mode(const std::string& text) {
  if (text.empty()) throw OptionError("--init must be content, noise, style or the path of an image");
  const auto mode = parse<InitMode>(text);
  return mode && *mode != InitMode::Image ? *mode : InitMode::Image;
}

// Whether the run makes one output per style: --each-style, or a style folder
// (which turns it on, as expand_style_folders does).
static bool one_output_per_style(const CliParams& params) {
  std::error_code error;
  return params.each_style ||
         std::any_of(params.style_paths.begin(), params.style_paths.end(),
                     [&](const std::string& path) { return std::filesystem::is_directory(path, error); });
}

// -o and --output-template name different outputs: say when one is not used.
static void warn_unused_output_flags(const CLI::App& app, const CliParams& params) {
  if (app.get_option_no_throw("--output-template") == nullptr) return;  // stylize video
  const bool each_style = one_output_per_style(params);
  if (app.get_option_no_throw("--output-template")->count() > 0 && !each_style) {
    spdlog::warn("--output-template names the outputs of --each-style (or a style folder) only; writing {}",
                 params.output_path);
  }
  if (params.output_given && each_style && params.resume.empty()) {
    spdlog::warn("-o {} is not used with --each-style (or a style folder): outputs are named by --output-template",
                 params.output_path);
  }
}

// Flags that only count with another one: say when it is missing.
static void warn_flags_without_effect(const CliParams& params, const std::vector<std::string>& explicit_flags) {
  const auto given = [&](const char* flag) {
    return std::find(explicit_flags.begin(), explicit_flags.end(), flag) != explicit_flags.end();
  };
  const bool each_style = one_output_per_style(params);
  if (given("--batch") && !each_style && params.batch != 1) {
    spdlog::warn(
        "--batch {} batches the outputs of --each-style (or a style folder); this run blends its styles into "
        "one image",
        params.batch);
  }
  if (given("--batch") && each_style && params.batch != 1 && params.options.optimizer == OptimizerKind::Lbfgs) {
    spdlog::warn("--batch {} is not used: L-BFGS optimizes one style at a time (--optimizer adam batches them)",
                 params.batch);
  }
  if (given("--style-weights") && each_style) {
    spdlog::warn(
        "--style-weights blends styles into one image; with --each-style (or a style folder) each output has "
        "one style, so it is not used");
  }
  if (given("--style-scale") && params.style_size > 0) {
    spdlog::warn("--style-scale is not used: --style-size {} sets the style images' size", params.style_size);
  }
  if (params.save_every >= params.options.iterations && params.save_every > 0) {
    spdlog::warn("--save-every {} saves no image before the last of the {} iterations (the output is that one)",
                 params.save_every, params.options.iterations);
  }
  if (scales_flag(params) <= 1) {
    for (const char* flag : {"--initial-iterations", "--min-size"}) {
      if (given(flag))
        spdlog::warn(
            "{} sets the first scale of a coarse-to-fine run; without --scales 2 or more it is "
            "not used",
            flag);
    }
  }
}

// L-BFGS has no learning rate, moments or average: say which flags it does not use.
static void warn_unused_adam_flags(const CliParams& params, const std::vector<std::string>& explicit_flags) {
  if (params.options.optimizer != OptimizerKind::Lbfgs) return;
  std::vector<std::string> unused;
  // --nesterov and --no-nesterov are one option, listed under both names: say the one that counted.
  const char* nesterov = params.options.nesterov ? "--nesterov" : "--no-nesterov";
  for (const char* flag :
       {"--lr", "--beta1", "--beta2", "--eps", "--adam-epsilon", nesterov, "--tolerance", "--average", "--pyramid"}) {
    if (std::find(explicit_flags.begin(), explicit_flags.end(), flag) != explicit_flags.end()) unused.push_back(flag);
  }
  if (unused.empty()) return;
  const bool one = unused.size() == 1;
  spdlog::warn("{} {} Adam's: the L-BFGS optimizer does not use {} (drop {} or use --optimizer adam)",
               join(unused, ", "), one ? "is" : "are", one ? "it" : "them", one ? "it" : "them");
}

// bf16 asked for on a CPU without bf16 instructions runs emulated: say so
// before the user waits (measured 40-50 times slower than fp32 on a 2-core AVX2
// AMD EPYC, README's Speed).
static void warn_slow_precision(const CliParams& params) {
  if (params.options.precision != Precision::Bf16 || cpu_has_fast_bf16()) return;
  const DeviceKind device = params.options.device;
  if (device == DeviceKind::Cuda || (device == DeviceKind::Auto && !resolve_device(device).is_cpu())) return;
  spdlog::warn(
      "--precision bf16: this CPU has neither AVX512-BF16 nor AMX, so bf16 runs emulated, dozens of times slower "
      "than fp32; use --precision auto (fp32 on this CPU)");
}

void finish_parse(const CLI::App& app, CliParams& params) {
  const CLI::Option* output = app.get_option_no_throw("--output");  // absent from stylize batch
  params.output_given = output != nullptr && output->count() > 0;
  if (output != nullptr) warn_unused_output_flags(app, params);
  std::vector<std::string> explicit_flags;
  for (const CLI::Option* option : app.get_options()) {
    // By each long name ("--iterations"), also for options with a short one ("-n,--iterations").
    if (option->count() == 0) continue;
    for (const std::string& name : option->get_lnames()) explicit_flags.push_back("--" + name);
  }
  // 'all' in any case, as every word is read.
  for (std::string& mask : params.style_mask_paths) {
    if (CLI::detail::to_lower(mask) == "all") mask = "all";
  }
  apply_preset(params.preset, params, explicit_flags);
  warn_unused_adam_flags(params, explicit_flags);
  warn_flags_without_effect(params, explicit_flags);
  warn_slow_precision(params);
  params.options.init = init_mode(params.init);
}

std::optional<int> parse_command_line(CLI::App& app, CliParams& params, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kOk : kUsageError;
  }
  spdlog::set_level(params.quiet ? spdlog::level::err : params.verbose ? spdlog::level::debug : spdlog::level::info);
  finish_parse(app, params);
  return std::nullopt;
}

namespace {

// The whole of `text` (spaces around it allowed) as a number in strtod's
// syntax; nothing after it. A value too small for a double (1e-320) is the
// denormal or zero it rounds to, not an error; one too large is refused.
std::optional<double> read_number(const std::string& text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return std::nullopt;
  const std::string trimmed = text.substr(first, text.find_last_not_of(" \t") - first + 1);
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(trimmed.c_str(), &end);
  if (end != trimmed.c_str() + trimmed.size()) return std::nullopt;
  if (errno == ERANGE && std::abs(value) > 1) return std::nullopt;  // overflow: HUGE_VAL
  return value;
}

}  // namespace

std::vector<LayerWeight> parse_layer_list(const std::string& text, const std::string& flag) {
  std::vector<LayerWeight> layers;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    // Trim spaces so "relu1_1, relu2_1" works.
    const auto first = item.find_first_not_of(" \t");
    const auto last = item.find_last_not_of(" \t");
    if (first == std::string::npos) continue;
    item = item.substr(first, last - first + 1);
    LayerWeight layer;
    const auto colon = item.find(':');
    layer.layer = CLI::detail::to_lower(item.substr(0, colon));  // words in any case, as everywhere: RELU1_1
    if (colon != std::string::npos) {
      const std::string weight_text = item.substr(colon + 1);
      const std::optional<double> weight = read_number(weight_text);
      if (!weight) {
        throw OptionError(flag + ": cannot read the weight '" + weight_text + "' of layer '" + layer.layer +
                          "' as a number; write layer:weight, e.g. relu1_1:0.5");
      }
      layer.weight = *weight;
    }
    for (const auto& earlier : layers) {
      if (earlier.layer == layer.layer) {
        throw OptionError(flag + ": layer " + layer.layer + " is listed twice; list it once, with a weight if it " +
                          "should count more (" + layer.layer + ":2)");
      }
    }
    layers.push_back(layer);
  }
  validate_layers(layers, flag);
  return layers;
}

std::vector<double> parse_number_list(const std::string& text, const std::string& flag) {
  std::vector<double> values;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    const std::optional<double> value = read_number(item);
    if (!value) throw OptionError(flag + ": cannot read '" + item + "' as a number; write e.g. 0.7,0.3");
    values.push_back(*value);
  }
  return values;
}

int style_side(const CliParams& p) {
  if (p.style_size > 0) return p.style_size;
  // At least 1 pixel: 0 would mean "keep the file's size".
  return static_cast<int>(std::max(1L, std::lround(p.size * p.style_scale)));
}

void validate_params(const CliParams& p) {
  if (p.size < 16) throw OptionError("--size must be at least 16 pixels, got " + std::to_string(p.size));
  if (p.size > kMaxSide) {
    throw OptionError("--size " + std::to_string(p.size) + " is too large (at most " + std::to_string(kMaxSide) +
                      " pixels)");
  }
  if (p.style_size != 0 && (p.style_size < 16 || p.style_size > kMaxSide)) {
    throw OptionError("--style-size must be between 16 and " + std::to_string(kMaxSide) +
                      " pixels (or 0 for --size), got " + std::to_string(p.style_size));
  }
  if (!std::isfinite(p.style_scale) || p.style_scale <= 0 || p.style_scale > 16) {
    std::ostringstream message;
    message << "--style-scale must be a number in (0, 16], got " << p.style_scale;
    throw OptionError(message.str());
  }
  if (style_side(p) > kMaxSide) {
    std::ostringstream message;
    message << "--style-scale " << p.style_scale << " at --size " << p.size << " asks for a " << style_side(p)
            << "-pixel style image (at most " << kMaxSide << "); use a smaller --style-scale or give --style-size";
    throw OptionError(message.str());
  }
  if (p.options.min_size > p.size) {
    throw OptionError("--min-size must be between 0 (automatic) and --size, got " + std::to_string(p.options.min_size));
  }
  const size_t styles = p.style_paths.size() + (p.default_style_path.empty() ? 0 : 1);
  validate_blend(p.style_blend, styles);
  if (!p.content_mask_paths.empty() || !p.style_mask_paths.empty() || !p.default_style_path.empty()) {
    if (p.each_style) {
      throw OptionError(
          "regional styles (--content-mask) make one image of all the styles; they cannot go with --each-style or "
          "a style folder");
    }
    if (p.content_mask_paths.empty()) {
      throw OptionError(std::string(p.style_mask_paths.empty() ? "--default-style" : "--style-mask") +
                        " belongs to regional styles, which start with --content-mask: give one per --style, "
                        "white where that style applies");
    }
    if (p.content_mask_paths.size() != p.style_paths.size()) {
      throw OptionError("--content-mask: give one mask per --style, in the same order (" +
                        count_of(static_cast<int64_t>(p.style_paths.size()), "style") + ", " +
                        count_of(static_cast<int64_t>(p.content_mask_paths.size()), "content mask") + ")");
    }
    if (!p.style_mask_paths.empty() && p.style_mask_paths.size() != p.style_paths.size()) {
      throw OptionError("--style-mask: give one per --style, in the same order, 'all' for a whole image (" +
                        count_of(static_cast<int64_t>(p.style_paths.size()), "style") + ", " +
                        count_of(static_cast<int64_t>(p.style_mask_paths.size()), "style mask") + ")");
    }
  }
  if (p.threads < 0) throw OptionError("--threads must be >= 0 (0: all cores)");
  if (p.batch < 0) throw OptionError("--batch must be >= 0 (0: automatic)");
  if (p.print_every < 0) throw OptionError("--print-every must be >= 0 (0: never)");
  if (p.save_every < 0) throw OptionError("--save-every must be >= 0 (0: never)");
  validate(p.options);
}

}  // namespace stylize::cli
