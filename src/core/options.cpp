#include "stylize/core/options.hpp"

#include <cmath>
#include <limits>
#include <sstream>
#include <tuple>

#include "stylize/errors.hpp"
#include "stylize/vgg19_layers.hpp"

namespace stylize {
namespace {

std::string known_layers_hint() { return "use names such as relu1_1, relu4_2, conv5_1 or pool3 (see --help)"; }

// The largest --lr: Adam moves pixels in [0, 1] by about lr per step.
constexpr double kMaxLearningRate = 1000;

// A number as the user would write it: 1e-09, 0.02, 1e+38 (not -0.000000).
std::string number_text(double value) {
  std::ostringstream text;
  text << value;
  return text.str();
}

// Weights scale float32 losses: one beyond float's range is an error, not a NaN.
void require_finite_non_negative(double value, const std::string& flag) {
  if (!std::isfinite(value) || value < 0) {
    throw OptionError(flag + " must be a finite number >= 0, got " + number_text(value));
  }
  if (value > std::numeric_limits<float>::max()) {
    throw OptionError(flag + " must be at most " + number_text(std::numeric_limits<float>::max()) +
                      " (the float32 range the losses are computed in), got " + number_text(value));
  }
}

}  // namespace

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

void validate_blend(const std::vector<double>& blend, size_t styles) {
  if (blend.empty()) return;
  double sum = 0;
  for (double w : blend) {
    require_finite_non_negative(w, "--style-weights");
    sum += w;
  }
  if (sum <= 0) throw OptionError("--style-weights add up to 0; give at least one style a positive weight");
  if (blend.size() != styles) {
    throw OptionError("--style-weights gives " + std::to_string(blend.size()) +
                      (blend.size() == 1 ? " weight" : " weights") + " for " + std::to_string(styles) +
                      (styles == 1 ? " style image" : " style images") +
                      "; give one weight per style, in the order of --style (e.g. --style-weights 0.7,0.3 for two)");
  }
}

int scale_iterations(const StylizeOptions& o, size_t scale, size_t scales) {
  return scale == 0 && scales > 1 && o.initial_iterations > 0 ? o.initial_iterations : o.iterations;
}

void validate(const StylizeOptions& o) {
  if (o.iterations < 1) {
    throw OptionError("--iterations must be at least 1, got " + std::to_string(o.iterations));
  }
  if (o.initial_iterations < 0) {
    throw OptionError("--initial-iterations must be 0 (as --iterations) or more, got " +
                      std::to_string(o.initial_iterations));
  }
  require_finite_non_negative(o.content_weight, "--content-weight");
  require_finite_non_negative(o.style_weight, "--style-weight");
  require_finite_non_negative(o.tv_weight, "--tv-weight");
  require_finite_non_negative(o.temporal_weight, "--temporal-weight");
  // Pixels lie in [0, 1], so a step above 1 is already absurd; far larger ones
  // overflow float32 in Adam's update (lr / (1 - beta1^t)).
  if (!std::isfinite(o.lr) || o.lr <= 0 || o.lr > kMaxLearningRate) {
    throw OptionError("--lr must be a finite number > 0 and at most " + number_text(kMaxLearningRate) + ", got " +
                      number_text(o.lr) + "; the default is 0.02");
  }
  for (const auto& [beta, flag, fallback] :
       {std::tuple{o.beta1, "--beta1", "0.99"}, std::tuple{o.beta2, "--beta2", "0.999"}}) {
    if (!(beta >= 0 && beta < 1)) {
      throw OptionError(std::string(flag) + " must be at least 0 and below 1, got " + number_text(beta) +
                        "; the default is " + fallback);
    }
  }
  if (!std::isfinite(o.eps) || o.eps <= 0) {
    throw OptionError("--eps must be a finite number > 0, got " + number_text(o.eps));
  }
  if (!(o.tolerance >= 0 && o.tolerance < 1)) {
    throw OptionError("--tolerance must be at least 0 (0: never stop early) and below 1, got " +
                      number_text(o.tolerance) + "; 0.01 stops a scale once " + std::to_string(kPlateauWindow) +
                      " iterations lower the loss by less than 1%");
  }
  if (!(o.average >= 0 && o.average < 1)) {
    throw OptionError("--average must be at least 0 (0: the last iterate) and below 1, got " + number_text(o.average) +
                      "; 0.9 averages about the last 10 iterates");
  }
  if (o.pyramid < 0 || o.pyramid > kMaxPyramidLevels) {
    throw OptionError("--pyramid must be between 0 (the pixels only) and " + std::to_string(kMaxPyramidLevels) +
                      " levels, got " + std::to_string(o.pyramid) + "; --preset fast uses 3");
  }
  if (o.scales < 1 || o.scales > 10) {
    throw OptionError("--scales must be between 1 and 10, got " + std::to_string(o.scales));
  }
  if (o.scales_done < 0 || o.scales_done >= o.scales) {
    throw OptionError("cannot resume at scale " + std::to_string(o.scales_done + 1) + ": this run has " +
                      std::to_string(o.scales) + " (--scales); give the --scales of the run that was interrupted");
  }
  // A run stopped at the end of a scale goes on with the next one; so does
  // one stopped past it (its scale had more iterations: done as far as this
  // run goes). At the last scale that run is finished.
  const int at_scale = scale_iterations(o, static_cast<size_t>(o.scales_done), static_cast<size_t>(o.scales));
  const bool last_scale = o.scales_done + 1 == o.scales;
  if (o.start_iteration < 0 || (last_scale && o.start_iteration >= at_scale)) {
    throw OptionError(
        "cannot resume at iteration " + std::to_string(o.start_iteration) + " of " + std::to_string(at_scale) +
        (o.scales > 1 ? " (scale " + std::to_string(o.scales_done + 1) + " of " + std::to_string(o.scales) + ")"
                      : std::string()) +
        "; raise " + (at_scale == o.iterations ? "--iterations" : "--initial-iterations") + " to continue further");
  }
  if (o.min_size < 0) {
    throw OptionError("--min-size must be between 0 (automatic) and --size, got " + std::to_string(o.min_size));
  }
  if (o.tile != 0 && o.tile != kAutoTile && (o.tile < kMinTile || o.tile > kMaxSide)) {
    throw OptionError("--tile must be 'auto' or between " + std::to_string(kMinTile) + " and " +
                      std::to_string(kMaxSide) + " pixels (" +
                      (o.tile > kMaxSide ? "the largest --size, which one tile covers"
                                         : "tiles that small would spend most of their time on the halo") +
                      "), got " + std::to_string(o.tile));
  }
  validate_layers(o.content_layers, "--content-layers");
  validate_layers(o.style_layers, "--style-layers");
}

}  // namespace stylize
