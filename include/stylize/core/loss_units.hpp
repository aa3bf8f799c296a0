// Loss units: what the content and style terms are measured in, so that the
// same flags keep the same balance whichever VGG19 file is loaded.
//
// tutorial    The TensorFlow tutorial's raw objective: content = mean (F - P)^2,
//             style = mean (G - A)^2 with G = F F^T / (H W). Its balance holds only
//             for the tutorial's network (Keras's Caffe-convention VGG19): another
//             network's features have other magnitudes, layer by layer.
// normalized  Each term relative to its target's magnitude, frozen when the target
//             is computed, times the magnitude that layer has in the Keras network
//             on typical images (reference_magnitudes):
//               content_l = ref_content(l) * |F - P|^2 / |P|^2
//               style_l   = ref_style(l)   * |G - A|^2 / |A|^2
//             With the Keras network and typical images this is the tutorial's
//             objective, so its defaults (weights, eps = 0.1) keep their meaning and
//             the tutorial's balance, also between the style layers; and it is
//             exactly invariant to (a) rescaling any layer's filters by a_l > 0
//             (biases by the running product), which scales F_l by c_l = a_1...a_l
//             and G_l by c_l^2, and (b) folding the input convention into conv1_1
//             (identical features but at the zero-padded border). See docs/loss-units.md.
//
// The terms are computed as in tutorial units and multiplied by a normalizer
// (content_normalizer, style_normalizer): 1 in tutorial units.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <torch/types.h>

#include "stylize/types.hpp"  // LossUnits

namespace stylize {

// tutorial for Caffe-convention files (the Keras default: the run stays exactly
// the tutorial), normalized for every other input convention.
LossUnits default_loss_units(const std::string& input_convention);

// The units a run uses: `requested`, or for LossUnits::Auto the default of the
// weights' input convention.
LossUnits resolve_loss_units(LossUnits requested, const std::string& input_convention);

// Typical magnitudes of a layer's features in the Keras (Caffe) VGG19 at 512 px:
// the mean square of the feature maps and of the Gram matrix's entries
// (G = F F^T / (H W)). Layers of a block share their block's values.
// Throws OptionError for an unknown layer name.
struct ReferenceMagnitudes {
  double feature_mean_square = 0;
  double gram_mean_square = 0;
};
ReferenceMagnitudes reference_magnitudes(const std::string& layer);

// Factors that turn each member's tutorial-unit term into `units`: (N,)
// float32 on the target's device, from content targets (N, C, H, W) (N = 1
// when shared by a batch) or style target Grams (N, C, C), e.g. a blend of
// styles. Ones unless `units` is normalized. Throws ImageError when a target is all zero
// (there is no magnitude to be relative to).
torch::Tensor content_normalizer(const torch::Tensor& target, const std::string& layer, LossUnits units);
torch::Tensor style_normalizer(const torch::Tensor& target_gram, const std::string& layer, LossUnits units);

// Size. Content and style are means over feature elements, so their gradient
// per pixel falls as 1/(pixel count); total variation is a sum, and Adam's
// epsilon a constant. Both are multiplied by the pixel count of the same image
// at longest side 512 relative to this one: (512 / max(height, width))^2, which
// is exactly 1 at --size 512 for any aspect ratio (the tutorial's size).
constexpr int kReferenceSide = 512;
double size_factor(int64_t height, int64_t width);

// Per-layer statistics of features, for printing a weights file's layers
// (`stylize weights stats`) and for checking the reference magnitudes on real
// files: averaged over the images added.
struct LayerStatistics {
  std::string layer;
  int64_t images = 0;
  double mean = 0;              // mean activation
  double mean_square = 0;       // mean of F^2
  double zero_fraction = 0;     // share of exact zeros (ReLU sparsity)
  double gram_mean_square = 0;  // mean of G^2, G = F F^T / (H W)
  // This network's magnitudes relative to the Keras reference (1: like Keras).
  double content_ratio() const;
  double style_ratio() const;
};

class LayerStatisticsAccumulator {
 public:
  // features: (N, C, H, W), each member one image.
  void add(const std::string& layer, const torch::Tensor& features);
  // One entry per layer, in the order they were first added.
  std::vector<LayerStatistics> results() const;

 private:
  std::vector<LayerStatistics> sums_;
};

}  // namespace stylize
