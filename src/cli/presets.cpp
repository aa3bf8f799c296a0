// --preset: named settings that explicit flags override (README, "presets").
#include <algorithm>

#include "args.hpp"
#include "stylize/errors.hpp"

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
    // pooling, alpha/beta = 1e-3 in the paper's normalization (which, at 512
    // px, is content 4e3 : style 1 in stylize's).
    if (!given("--content-layers")) o.content_layers = {{"relu4_2", 1.0}};
    if (!given("--style-layers")) o.style_layers = StylizeOptions().style_layers;
    if (!given("--optimizer")) o.optimizer = OptimizerKind::Lbfgs;
    if (!given("--init")) params.init = "noise";
    if (!given("--content-weight")) o.content_weight = 4e3;
    if (!given("--style-weight")) o.style_weight = 1.0;
    if (!given("--tv-weight")) o.tv_weight = 0.0;
    if (!given("--pooling")) o.pooling = Pooling::Avg;
    return;
  }
  if (preset == "fast") {
    // Most iterations where they are cheap: three scales (128, 256, 512 px at
    // the default size), fewer iterations each, the fastest precision.
    if (!given("--scales")) o.scales = 3;
    if (!given("--iterations")) o.iterations = 300;
    if (!given("--precision")) o.precision = Precision::Auto;
    return;
  }
  std::string known;
  for (const auto& name : preset_names()) known += (known.empty() ? "" : ", ") + name;
  throw OptionError("unknown preset '" + preset + "'; choose one of " + known);
}

}  // namespace stylize::cli
