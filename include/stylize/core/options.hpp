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
enum class PreserveColors { None, Luminance, Histogram };

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
  int size = 512;            // content and output
  int style_size = 0;        // 0: style_scale * size
  double style_scale = 1.0;  // style size relative to the output: bigger means bigger brush strokes

  // Styles and colours.
  std::vector<double> style_blend;  // one weight per style image (normalized); empty: equal
  PreserveColors preserve_colors = PreserveColors::None;
  // Start image: "content", "noise" (uniform, from `seed`), "style" (the first
  // style image stretched to the content's size) or the path of an image.
  std::string init = "content";

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

  // Iterations already done by an earlier run this one resumes (the init image
  // is then that run's checkpoint); counting continues from there.
  int start_iteration = 0;

  // Front end only: progress, intermediate output, batches and reports.
  int print_every = 100;                                  // 0: never
  int save_every = 0;                                     // 0: never
  bool each_style = false;                                // one output per style image instead of one blended output
  std::string output_template = "{content}_{style}.png";  // with each_style; also {n}
  // With each_style and Adam: how many styles run as one batch (the network
  // runs once per iteration for all of them). 0: automatic, as many as fit in
  // memory on CUDA (at most 16); on the CPU up to 4 for images of at most
  // 200x200 pixels (measured: 1.9x faster per image at 128x96 px, only 1.05x
  // at 256x192 px, where two cores are already busy), else 1.
  int batch = 0;
  std::string report_path;  // JSON report of the run
  std::string plot_path;    // loss curves as an image
  std::string sheet_path;   // contact sheet of inputs and results
  std::string preset;       // tutorial, gatys or fast; explicit flags override it
};

// Throws OptionError naming the first option whose value is unusable.
void validate(const Options& options);

// Parses "relu1_1,relu2_1:0.5" into layers with weights (default 1).
// Throws OptionError for an unknown layer name or a bad weight.
std::vector<LayerWeight> parse_layer_list(const std::string& text, const std::string& option_name);

// Applies a named preset to `options`, leaving alone every field whose flag
// name is in `explicit_flags` (e.g. "--iterations"). Throws OptionError for an
// unknown preset.
void apply_preset(const std::string& preset, Options& options, const std::vector<std::string>& explicit_flags);
const std::vector<std::string>& preset_names();

std::string to_string(DeviceKind kind);
std::string to_string(Precision precision);
std::string to_string(OptimizerKind kind);

}  // namespace stylize
