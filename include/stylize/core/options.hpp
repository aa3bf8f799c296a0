// What the engine reads: the settings of the objective, the optimizer, the
// scales and the device. Nothing about files, sizes of loading, outputs or
// cadence: those are the front end's (src/cli/params.hpp). Defaults reproduce
// the TensorFlow neural style transfer tutorial (Keras VGG19, Adam).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "stylize/types.hpp"

namespace stylize {

// A network layer by name ("relu4_2") and the relative weight of its loss term.
struct LayerWeight {
  std::string layer;
  double weight = 1.0;
};

// StylizeOptions::tile: tile only when needed.
constexpr int kAutoTile = -1;
// The smallest tile --tile accepts.
constexpr int kMinTile = 32;
// The longest side stylize makes an image (--size, --style-size) or a tile at.
constexpr int kMaxSide = 16384;
// StylizeOptions::tolerance compares the mean loss of the last this many
// iterations with that of as many before them.
constexpr int kPlateauWindow = 25;
// The most coarser levels StylizeOptions::pyramid may ask for: level 8 is a
// 256th of the side, a 2x2 grid at 512 px.
constexpr int kMaxPyramidLevels = 8;

struct StylizeOptions {
  // Colours and the start image (InitMode::Image: the image given to run()).
  PreserveColors preserve_colors = PreserveColors::None;
  InitMode init = InitMode::Content;

  // Loss terms. Layer weights are normalized to sum to one within each list,
  // so the default equal weights divide each term by its number of layers.
  std::vector<LayerWeight> content_layers = {{"relu5_2", 1.0}};
  std::vector<LayerWeight> style_layers = {
      {"relu1_1", 1.0}, {"relu2_1", 1.0}, {"relu3_1", 1.0}, {"relu4_1", 1.0}, {"relu5_1", 1.0}};
  // What content and style are measured in (core/loss_units.hpp); auto:
  // tutorial for Caffe-convention weights (the Keras file: exactly the
  // tutorial), normalized for any other.
  LossUnits loss_units = LossUnits::Auto;
  double content_weight = 1e4;
  double style_weight = 1e-2;
  double tv_weight = 30.0;
  // Temporal consistency of a video (`stylize video`): the squared difference
  // to the previous output frame(s) warped onto this one, where the optical
  // flow is reliable (TemporalTerm). 0: no temporal term (a single image).
  double temporal_weight = 0.0;
  TvNorm tv_norm = TvNorm::L1;  // L1: sum of absolute differences, as tf.image.total_variation
  Pooling pooling = Pooling::Max;

  // Optimizer. For L-BFGS an iteration is one evaluation of the loss.
  OptimizerKind optimizer = OptimizerKind::Adam;
  int iterations = 1000;  // per scale
  // Iterations of the first (coarsest) scale when there are several; 0: as
  // `iterations` (crowsonkb/style-transfer-pytorch's --initial-iterations).
  int initial_iterations = 0;
  double lr = 0.02;  // Adam's step size (L-BFGS uses a line search)
  double beta1 = 0.99;
  double beta2 = 0.999;
  double eps = 0.1;
  // TensorFlow: eps is added to sqrt(v) before the bias correction, exactly as
  // the tutorial's Keras Adam; PyTorch: as torch.optim.Adam (core/adam.hpp).
  AdamEpsilon adam_epsilon = AdamEpsilon::TensorFlow;
  // Nesterov's look-ahead momentum (NAdam, core/adam.hpp): the newest gradient
  // weighs about twice as much in its own step. false: Adam's, as the tutorial.
  bool nesterov = false;
  // Adam: end a scale on a plateau, once the mean total loss of the last
  // kPlateauWindow iterations lies less than `tolerance` (relative) below the
  // mean of the kPlateauWindow before them. 0: run every iteration. (L-BFGS
  // stops by itself once the loss no longer changes.)
  double tolerance = 0.0;
  // Adam: the result of each scale is the exponential moving average of its
  // iterates with this decay (bias-corrected, so it starts at the first
  // iterate; 0.9 weighs about the last 10), which averages away the last
  // steps' back-and-forth; progress images are that average too. 0: the last
  // iterate, as the tutorial. (L-BFGS ignores it.)
  double average = 0.0;
  // Adam: also step on this many coarser levels of a Laplacian pyramid of the
  // image's update (core/pyramid_adam.hpp), which moves the image's smooth
  // part faster. 0: the pixels only, as the tutorial. At most kMaxPyramidLevels.
  int pyramid = 0;

  // Coarse to fine: optimize at `scales` sizes growing geometrically from
  // `min_size` (0: the content's longest side / 2^(scales-1)) to the content's
  // size, each scale starting from the previous result upsampled.
  int scales = 1;
  int min_size = 0;

  // Compute.
  // Tiled evaluation (core/tiling.hpp), for images larger than memory: the
  // network sees tiles owning `tile` x `tile` pixels plus a halo, and the loss
  // and gradient are exactly the whole image's. 0: the whole image at once
  // (a run that does not fit is refused); kAutoTile: tiles only when the whole
  // image does not fit, the largest that do.
  int tile = 0;
  DeviceKind device = DeviceKind::Auto;
  Precision precision = Precision::Auto;
  uint64_t seed = 0;

  // Resuming an earlier run (the init image is then that run's result, at the
  // size of the scale it stopped at): the scales it had finished (0: it
  // stopped at the first), and the iterations it had done at the next one;
  // counting continues from there.
  int scales_done = 0;
  int start_iteration = 0;
};

// Throws OptionError naming the first option whose value is unusable (the
// messages name the command-line flags). The Stylizer calls it.
void validate(const StylizeOptions& options);

// The iterations scale `scale` (0-based) of a run over `scales` sizes runs:
// initial_iterations for the first of several when it is set, else iterations.
int scale_iterations(const StylizeOptions& options, size_t scale, size_t scales);

// Throws OptionError unless `layers` is a non-empty list of VGG19 layer names
// with finite, non-negative weights that do not all vanish; `flag` names the list.
void validate_layers(const std::vector<LayerWeight>& layers, const std::string& flag);

// Throws OptionError unless `blend` is empty or holds one finite, non-negative
// weight per style (`styles` of them), not all zero.
void validate_blend(const std::vector<double>& blend, size_t styles);

}  // namespace stylize
