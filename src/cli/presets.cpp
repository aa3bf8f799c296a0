// --preset: named settings that explicit flags override (README, "presets").
#include <fmt/format.h>

#include <algorithm>

#include "args.hpp"
#include "stylize/errors.hpp"
#include "terminal_bar.hpp"

namespace stylize::cli {

const std::vector<std::string>& preset_names() {
  static const std::vector<std::string> names = {"tutorial", "gatys", "fast"};
  return names;
}

void apply_preset(const std::string& preset, CliParams& params, const std::vector<std::string>& explicit_flags) {
  if (preset.empty()) return;
  const auto given = [&](const char* flag) {
    return std::find(explicit_flags.begin(), explicit_flags.end(), flag) != explicit_flags.end();
  };
  StylizeOptions& o = params.options;
  if (preset == "tutorial") {
    return;  // the defaults are the tutorial's
  }
  if (preset == "gatys") {
    // Gatys, Ecker and Bethge (2015): content relu4_2, style relu1_1..relu5_1
    // equally weighted, L-BFGS from white noise, no total variation, average
    // pooling, alpha/beta = 1e-3 in the paper's normalization (at 512x512 px
    // content 4194 : style 1 in stylize's tutorial units; gatys_content_weight).
    if (!given("--content-layers")) o.content_layers = {{"relu4_2", 1.0}};
    if (!given("--style-layers")) o.style_layers = StylizeOptions().style_layers;
    if (!given("--optimizer")) o.optimizer = OptimizerKind::Lbfgs;
    if (!given("--init")) params.init = "noise";
    if (!given("--style-weight")) o.style_weight = 1.0;
    if (!given("--content-weight")) {
      o.content_weight = 4e3;  // 512x512 px; balance_gatys_preset() sets it for the real size
      params.gatys_balance = !given("--content-layers");
    }
    if (!given("--tv-weight")) o.tv_weight = 0.0;
    if (!given("--pooling")) o.pooling = Pooling::Avg;
    return;
  }
  if (preset == "fast") {
    // Two scales (256 and 512 px at the default size), 60 iterations at the
    // first and 160 at the last (where the loss is decided), Nesterov's
    // momentum (NAdam) with less of it than the tutorial's beta1 = 0.99
    // (which keeps pushing the style's first steps for about 100
    // iterations), a second moment that forgets in about 10 iterations
    // instead of 1000 (beta2 0.9: the first iterations' large gradients no
    // longer shrink the steps of a short run), the iterates' moving average
    // as each scale's result, Adam also on 3 coarser pyramid levels (which do
    // what a third, coarser scale did, better); the precision stays the
    // default, auto, the fastest (docs/benchmarks.md: "Time to a finished image").
    if (!given("--scales")) o.scales = 2;
    if (!given("--iterations")) o.iterations = 160;
    if (!given("--initial-iterations")) o.initial_iterations = 60;
    if (!given("--beta1")) o.beta1 = 0.95;
    if (!given("--beta2")) o.beta2 = 0.9;
    if (!given("--average")) o.average = 0.9;
    if (!given("--pyramid")) o.pyramid = 3;
    if (!given("--nesterov")) o.nesterov = true;
    return;
  }
  std::string known;
  for (const auto& name : preset_names()) known += (known.empty() ? "" : ", ") + name;
  throw OptionError("unknown preset '" + preset + "'; choose one of " + known);
}

namespace {

constexpr double kLongRunSeconds = 180;

// No preset, and none of fast's levers chosen otherwise: --preset fast would change the run.
bool tutorial_schedule(const CliParams& params) {
  const StylizeOptions& o = params.options;
  return params.preset.empty() && params.resume.empty() && o.start_iteration == 0 &&
         o.optimizer == OptimizerKind::Adam && o.scales == 1 && o.average <= 0 && o.pyramid == 0 && !o.nesterov;
}

}  // namespace

std::string fast_preset_hint(const CliParams& params, double seconds_per_iteration) {
  const double seconds = seconds_per_iteration * params.options.iterations;
  if (!tutorial_schedule(params) || seconds < kLongRunSeconds) return "";
  return fmt::format(
      "at {:.3g} s an iteration, this run's {} iterations take about {} here; --preset fast gets to a similar loss in "
      "about a fifth of the time (docs/benchmarks.md, \"Time to a finished image\")",
      seconds_per_iteration, params.options.iterations, rough_duration(seconds));
}

std::string fast_video_hint(const VideoParams& video, int64_t later_frames, double seconds_left) {
  const CliParams& params = video.run;
  if (!tutorial_schedule(params) || seconds_left < kLongRunSeconds) return "";
  if (params.options.temporal_weight <= 0) {
    return fmt::format(
        "--preset fast makes each of the other {} frames coarse to fine: about a fifth of the time left, for a "
        "similar loss (docs/benchmarks.md, \"Time to a finished image\")",
        later_frames);
  }
  if (video.frame_iterations <= kFastFrameIterations) return "";
  return fmt::format(
      "--preset fast gives the other {} frames {} iterations each instead of {}: {:.0f}% of the time left, for a loss "
      "as low with as little flicker (README, \"Video\")",
      later_frames, kFastFrameIterations, video.frame_iterations,
      100.0 * kFastFrameIterations / video.frame_iterations);
}

double gatys_content_weight(int64_t height, int64_t width, int64_t channels, double style_weight) {
  // The paper: L = alpha * 1/2 sum (F - P)^2 + beta * sum_l w_l / (4 N_l^2 M_l^2)
  // sum (G_l - A_l)^2, with raw Gram matrices G_l = F_l F_l^T and w_l = 1/5.
  // stylize (tutorial units): content_weight * mean (F - P)^2 + style_weight *
  // sum_l 1/5 mean (G'_l - A'_l)^2, with G'_l = G_l / M_l. The content sum is N M
  // times the mean at relu4_2 (N channels, 512 in VGG19; M = its H/8 x W/8 positions);
  // each style sum over 4 N_l^2 M_l^2 is a quarter of stylize's mean. So
  // content_weight / style_weight = 2 (alpha / beta) N M.
  constexpr double kAlphaOverBeta = 1e-3;
  const int64_t positions = (height / 8) * (width / 8);  // three 2x2 poolings, each rounding down
  return 2.0 * kAlphaOverBeta * static_cast<double>(channels * positions) * style_weight;
}

CliParams balance_gatys_preset(const CliParams& params, int64_t height, int64_t width, int64_t channels,
                               LossUnits units) {
  if (!params.gatys_balance || units != LossUnits::Tutorial) return params;
  CliParams balanced = params;
  balanced.options.content_weight = gatys_content_weight(height, width, channels, params.options.style_weight);
  return balanced;
}

}  // namespace stylize::cli
