// The optimization loop. A Stylizer owns the truncated, frozen feature network;
// run() computes the style and content targets once, then updates the image
// with Adam or L-BFGS, reporting through a callback. It never prints.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

#include "stylize/options.hpp"
#include "stylize/vgg.hpp"
#include "stylize/weights.hpp"

namespace stylize {

// Weighted loss terms: total = style + content + tv.
struct LossValues {
  double total = 0, style = 0, content = 0, tv = 0;
};

struct Progress {
  int iteration = 0;   // 1-based
  int iterations = 0;  // iterations of this run
  // The losses of the image this iteration started from (before its update):
  // a (B, 4) float32 tensor, a row (total, style, content, tv) per batch member
  // (B = 1 for run()), left on the device; values() copies a row to the host.
  torch::Tensor losses;
  double seconds = 0;  // wall time of this iteration
  // The images after this iteration's update: (B, 3, H, W), float32, in [0, 1].
  torch::Tensor image;
  int scale = 1;  // 1-based scale of a coarse-to-fine run
  int scales = 1;

  LossValues values(int member = 0) const;
};

// Called after every iteration; return false to stop the run early.
using ProgressCallback = std::function<bool(const Progress&)>;

enum class StopReason {
  Finished,        // ran every iteration
  Interrupted,     // the callback asked to stop
  Converged,       // L-BFGS stopped early: the loss no longer changes
  NumericFailure,  // the loss or its gradient became NaN or infinite; image is the last good one
};

struct Result {
  torch::Tensor image;  // (1, 3, H, W), float32, on the CPU, in [0, 1]
  int iterations_done = 0;
  StopReason stop_reason = StopReason::Finished;
  LossValues last_losses;  // losses of the last iteration run
};

// Longest side of each scale of a coarse-to-fine run: `scales` sizes growing
// geometrically from `min_size` (0: final_size / 2^(scales-1)) to `final_size`,
// never below `smallest_allowed`; duplicates removed.
std::vector<int> scale_sizes(int final_size, int scales, int min_size, int smallest_allowed = 1);

// Rough peak memory, in bytes, of optimizing an image of height x width with
// `net` in `dtype`: saved activations and gradients of every layer up to the
// deepest one (for each of `batch` images), plus the runtime and weights.
// Calibrated on CPU peak RSS measurements at 128-1024 px (README, "Memory").
double estimate_memory_bytes(const Vgg19Features& net, int64_t height, int64_t width, torch::Dtype dtype,
                             int64_t batch = 1);

class Stylizer {
 public:
  // Resolves device and precision, builds the network from `weights` up to the
  // deepest layer the options need, and freezes it. Throws OptionError,
  // WeightsError or DeviceError.
  Stylizer(const Options& options, const VggWeights& weights);
  ~Stylizer();
  Stylizer(const Stylizer&) = delete;
  Stylizer& operator=(const Stylizer&) = delete;

  // Stylizes `content` (1, 3, H, W, float32 in [0, 1], any size) with the
  // styles, blended by `style_blend` (normalized; empty means equal weights).
  // Style images are used at the size they are given (scaled along with the
  // content in a coarse-to-fine run). The image starts from `init` (resized to
  // the content's size) or, when undefined, from the content. Throws
  // OptionError or ImageError for unusable inputs, ResourceError when the
  // estimated memory exceeds what the device has available.
  Result run(const torch::Tensor& content, const std::vector<torch::Tensor>& styles,
             const ProgressCallback& callback = {}, const std::vector<double>& style_blend = {},
             const torch::Tensor& init = {});

  // Stylizes `content` with each style separately, as one batch: every member
  // gets exactly the updates a run() with that style alone would get (same
  // seed, same start), but the network runs once per iteration for all of
  // them. Adam only, and the styles must share one schedule() (else OptionError).
  // Progress reports (B, 4) losses and (B, 3, H, W) images; one Result per style.
  std::vector<Result> run_batch(const torch::Tensor& content, const std::vector<torch::Tensor>& styles,
                                const ProgressCallback& callback = {}, const torch::Tensor& init = {});

  // The longest side of each scale run() uses for `content` with `styles`
  // (one size unless Options::scales > 1). Styles batched together must share it.
  std::vector<int> schedule(const torch::Tensor& content, const std::vector<torch::Tensor>& styles) const;

  // How many images of height x width fit in one batch by the memory
  // estimate, from 1 up to `limit`.
  int batch_capacity(int64_t height, int64_t width, int limit) const;

  // Losses of `image` against the targets of `content` and `styles`, without
  // optimizing (used by tests and tools).
  LossValues evaluate(const torch::Tensor& image, const torch::Tensor& content,
                      const std::vector<torch::Tensor>& styles);

  // Throws ResourceError when `batch` images of height x width would not fit in memory.
  void check_memory(int64_t height, int64_t width, int64_t batch = 1) const;

  torch::Device device() const;
  Precision precision() const;
  const Vgg19Features& network() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace stylize
