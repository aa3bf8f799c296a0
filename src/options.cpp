#include "stylize/options.hpp"

#include <cmath>
#include <sstream>

#include "stylize/errors.hpp"
#include "stylize/vgg.hpp"

namespace stylize {
namespace {

std::string known_layers_hint() {
  return "use names such as relu1_1, relu4_2, conv5_1 or pool3 (see --help)";
}

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
        throw OptionError(option_name + ": cannot read the weight '" + weight_text + "' of layer '" +
                          layer.layer + "'; write layer:weight, e.g. relu1_1:0.5");
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
  if (o.scales < 1 || o.scales > 10) throw OptionError("--scales must be between 1 and 10, got " + std::to_string(o.scales));
  if (o.min_size < 0 || o.min_size > o.size) {
    throw OptionError("--min-size must be between 0 (automatic) and --size, got " + std::to_string(o.min_size));
  }
  if (o.threads < 0) throw OptionError("--threads must be >= 0 (0: all cores)");
  if (o.print_every < 0) throw OptionError("--print-every must be >= 0 (0: never)");
  if (o.save_every < 0) throw OptionError("--save-every must be >= 0 (0: never)");
  validate_layers(o.content_layers, "--content-layers");
  validate_layers(o.style_layers, "--style-layers");
}

std::string to_string(DeviceKind kind) {
  switch (kind) {
    case DeviceKind::Auto: return "auto";
    case DeviceKind::Cpu: return "cpu";
    case DeviceKind::Cuda: return "cuda";
  }
  return "?";
}

std::string to_string(Precision precision) {
  switch (precision) {
    case Precision::Auto: return "auto";
    case Precision::Fp32: return "fp32";
    case Precision::Bf16: return "bf16";
    case Precision::Fp16: return "fp16";
  }
  return "?";
}

std::string to_string(OptimizerKind kind) {
  return kind == OptimizerKind::Adam ? "adam" : "lbfgs";
}

}  // namespace stylize
