#include "stylize/options.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "stylize/errors.hpp"
#include "stylize/vgg.hpp"

namespace stylize {
namespace {

std::string known_layers_hint() { return "use names such as relu1_1, relu4_2, conv5_1 or pool3 (see --help)"; }

void require_finite_non_negative(double value, const std::string& flag) {
  if (!std::isfinite(value) || value < 0) {
    std::ostringstream message;
    message << flag << " must be a finite number >= 0, got " << value;
    throw OptionError(message.str());
  }
}

void validate_layers(const std::vector<LayerWeight>& layers, const std::string& flag) {
  if (layers.empty()) throw OptionError(flag + " needs at least one layer; " + known_layers_hint());
  double sum = 0;
  for (const auto& layer : layers) {
    if (vgg19_layer_index(layer.layer) < 0) {
      throw OptionError(flag + ": unknown layer '" + layer.layer + "'; " + known_layers_hint());
    }
    require_finite_non_negative(layer.weight, flag + " weight of " + layer.layer);
    sum += layer.weight;
  }
  if (sum <= 0) throw OptionError(flag + ": the layer weights add up to 0; give at least one a positive weight");
}

}  // namespace

std::vector<LayerWeight> parse_layer_list(const std::string& text, const std::string& option_name) {
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
    layer.layer = item.substr(0, colon);
    if (colon != std::string::npos) {
      const std::string weight_text = item.substr(colon + 1);
      size_t used = 0;
      try {
        layer.weight = std::stod(weight_text, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != weight_text.size()) {
        throw OptionError(option_name + ": cannot read the weight '" + weight_text + "' of layer '" + layer.layer +
                          "'; write layer:weight, e.g. relu1_1:0.5");
      }
    }
    layers.push_back(layer);
  }
  validate_layers(layers, option_name);
  return layers;
}

void validate(const Options& o) {
  if (o.size < 16) {
    throw OptionError("--size must be at least 16 pixels, got " + std::to_string(o.size));
  }
  if (o.size > 16384) {
    throw OptionError("--size " + std::to_string(o.size) + " is too large (at most 16384 pixels)");
  }
  if (o.style_size != 0 && (o.style_size < 16 || o.style_size > 16384)) {
    throw OptionError("--style-size must be between 16 and 16384 pixels (or 0 for --size), got " +
                      std::to_string(o.style_size));
  }
  if (o.iterations < 1) {
    throw OptionError("--iterations must be at least 1, got " + std::to_string(o.iterations));
  }
  require_finite_non_negative(o.content_weight, "--content-weight");
  require_finite_non_negative(o.style_weight, "--style-weight");
  require_finite_non_negative(o.tv_weight, "--tv-weight");
  if (!std::isfinite(o.lr) || o.lr <= 0) {
    throw OptionError("--lr must be a finite number > 0, got " + std::to_string(o.lr));
  }
  if (!(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1)) {
    throw OptionError("--beta1 and --beta2 must be in [0, 1)");
  }
  if (!std::isfinite(o.eps) || o.eps <= 0) {
    throw OptionError("--eps must be a finite number > 0, got " + std::to_string(o.eps));
  }
  if (!std::isfinite(o.style_scale) || o.style_scale <= 0 || o.style_scale > 16) {
    throw OptionError("--style-scale must be a number in (0, 16], got " + std::to_string(o.style_scale));
  }
  for (double w : o.style_blend) require_finite_non_negative(w, "--style-weights");
  if (!o.style_blend.empty()) {
    double sum = 0;
    for (double w : o.style_blend) sum += w;
    if (sum <= 0) throw OptionError("--style-weights add up to 0; give at least one style a positive weight");
    if (o.style_blend.size() != o.style_paths.size() && !o.style_paths.empty()) {
      throw OptionError("--style-weights gives " + std::to_string(o.style_blend.size()) + " weights for " +
                        std::to_string(o.style_paths.size()) + " style images");
    }
  }
  if (o.init.empty()) throw OptionError("--init must be content, noise, style or the path of an image");
  if (o.start_iteration < 0 || o.start_iteration >= o.iterations) {
    throw OptionError("cannot resume at iteration " + std::to_string(o.start_iteration) + " of " +
                      std::to_string(o.iterations) + "; raise --iterations to continue further");
  }
  if (o.scales < 1 || o.scales > 10)
    throw OptionError("--scales must be between 1 and 10, got " + std::to_string(o.scales));
  if (o.min_size < 0 || o.min_size > o.size) {
    throw OptionError("--min-size must be between 0 (automatic) and --size, got " + std::to_string(o.min_size));
  }
  if (o.threads < 0) throw OptionError("--threads must be >= 0 (0: all cores)");
  if (o.batch < 0) throw OptionError("--batch must be >= 0 (0: automatic)");
  if (o.print_every < 0) throw OptionError("--print-every must be >= 0 (0: never)");
  if (o.save_every < 0) throw OptionError("--save-every must be >= 0 (0: never)");
  validate_layers(o.content_layers, "--content-layers");
  validate_layers(o.style_layers, "--style-layers");
}

const std::vector<std::string>& preset_names() {
  static const std::vector<std::string> names = {"tutorial", "gatys", "fast"};
  return names;
}

void apply_preset(const std::string& preset, Options& o, const std::vector<std::string>& explicit_flags) {
  if (preset.empty()) return;
  const auto given = [&](const char* flag) {
    return std::find(explicit_flags.begin(), explicit_flags.end(), flag) != explicit_flags.end();
  };
  const Options defaults;
  if (preset == "tutorial") {
    return;  // the defaults are the tutorial's
  }
  if (preset == "gatys") {
    // Gatys, Ecker and Bethge (2015): content relu4_2, style relu1_1..relu5_1
    // equally weighted, L-BFGS from white noise, no total variation, average
    // pooling, alpha/beta = 1e-3 in the paper's normalization (which, at 512
    // px, is content 4e3 : style 1 in stylize's).
    if (!given("--content-layers")) o.content_layers = {{"relu4_2", 1.0}};
    if (!given("--style-layers")) o.style_layers = defaults.style_layers;
    if (!given("--optimizer")) o.optimizer = OptimizerKind::Lbfgs;
    if (!given("--init")) o.init = "noise";
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

std::string to_string(DeviceKind kind) {
  switch (kind) {
    case DeviceKind::Auto:
      return "auto";
    case DeviceKind::Cpu:
      return "cpu";
    case DeviceKind::Cuda:
      return "cuda";
  }
  return "?";
}

std::string to_string(Precision precision) {
  switch (precision) {
    case Precision::Auto:
      return "auto";
    case Precision::Fp32:
      return "fp32";
    case Precision::Bf16:
      return "bf16";
    case Precision::Fp16:
      return "fp16";
  }
  return "?";
}

std::string to_string(OptimizerKind kind) { return kind == OptimizerKind::Adam ? "adam" : "lbfgs"; }

}  // namespace stylize
