// Every option of a stylize run, with its default. The CLI fills this struct;
// the library validates it and reads it. Defaults reproduce the TensorFlow
// neural style transfer tutorial (Keras VGG19, Adam) that this tool descends from.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace stylize {

enum class DeviceKind { Auto, Cpu, Cuda };
enum class Precision { Auto, Fp32, Bf16, Fp16 };
enum class OptimizerKind { Adam, Lbfgs };
enum class Pooling { Max, Avg };
enum class TvNorm { L1, L2 };

// A network layer by name ("relu4_2") and the relative weight of its loss term.
struct LayerWeight {
  std::string layer;
  double weight = 1.0;
};

struct Options {
  // Inputs and output.
  std::string content_path;
  std::vector<std::string> style_paths;
  std::string output_path = "out.png";
  std::string weights_path;  // empty: $STYLIZE_WEIGHTS, then models/vgg19.safetensors

  // Image sizes, in pixels along the longest side.
  int size = 512;        // content and output
  int style_size = 0;    // 0: same as size

  // Loss terms. Layer weights are normalized to sum to one within each list,
  // so the default equal weights divide each term by its number of layers.
  std::vector<LayerWeight> content_layers = {{"relu5_2", 1.0}};
  std::vector<LayerWeight> style_layers = {
      {"relu1_1", 1.0}, {"relu2_1", 1.0}, {"relu3_1", 1.0}, {"relu4_1", 1.0}, {"relu5_1", 1.0}};
  double content_weight = 1e4;
  double style_weight = 1e-2;
  double tv_weight = 30.0;
  TvNorm tv_norm = TvNorm::L1;  // L1: sum of absolute differences, as tf.image.total_variation
  Pooling pooling = Pooling::Max;

  // Optimizer. For L-BFGS an iteration is one evaluation of the loss.
  OptimizerKind optimizer = OptimizerKind::Adam;
  int iterations = 1000;  // per scale
  double lr = 0.02;       // Adam's step size (L-BFGS uses a line search)
  double beta1 = 0.99;
  double beta2 = 0.999;
  double eps = 0.1;

  // Coarse to fine: optimize at `scales` sizes growing geometrically from
  // `min_size` (0: size / 2^(scales-1)) to `size`, each scale starting from the
  // previous result upsampled.
  int scales = 1;
  int min_size = 0;

  // Compute.
  DeviceKind device = DeviceKind::Auto;
  Precision precision = Precision::Auto;
  int threads = 0;  // 0: one per available core
  uint64_t seed = 0;

  // Progress and intermediate output (used by the front end).
  int print_every = 100;  // 0: never
  int save_every = 0;     // 0: never
};

// Throws OptionError naming the first option whose value is unusable.
void validate(const Options& options);

// Parses "relu1_1,relu2_1:0.5" into layers with weights (default 1).
// Throws OptionError for an unknown layer name or a bad weight.
std::vector<LayerWeight> parse_layer_list(const std::string& text, const std::string& option_name);

std::string to_string(DeviceKind kind);
std::string to_string(Precision precision);
std::string to_string(OptimizerKind kind);

}  // namespace stylize
