// The optimization loop. A Stylizer owns the objective (objective.hpp) and the
// truncated, frozen feature network it needs; run() prepares the objective's
// targets once per scale, then updates the image with Adam or L-BFGS,
// reporting through a callback. It never prints and never reads files.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "stylize/core/objective.hpp"
#include "stylize/core/options.hpp"
#include "stylize/core/pyramid_adam.hpp"
#include "stylize/core/vgg19.hpp"
#include "stylize/weights/weights.hpp"

namespace stylize {

// The losses of one image: the total and each term's weighted loss, named as
// the objective's terms are ("style", "content", "tv" for the default one).
struct LossValues {
  double total = 0;
  std::vector<std::pair<std::string, double>> terms;
  // The loss of the term called `name`; throws std::out_of_range if there is none.
  double operator[](const std::string& name) const;
};

// What a run needs beyond its image to go on exactly where another stopped
// (a checkpoint's): Adam's moments of every pyramid level, the last iterate
// (the image a checkpoint saves is rounded to 8 or 16 bits, and with
// StylizeOptions::average it is the average of the iterates) and, with an
// average, its weighted sum and weight (the average is their quotient; kept
// apart, a resumed run's average is exactly the uninterrupted run's) and,
// with StylizeOptions::tolerance, the scale's recent losses (a resumed run
// looks for the plateau as the uninterrupted one does, not afresh).
struct AdamState {
  std::vector<AdamMoments> moments;
  torch::Tensor iterate;      // (1, 3, H, W) float32 (undefined: the state of an older file)
  torch::Tensor average_sum;  // the same; undefined without an average
  double average_weight = 0;
  std::vector<double> recent_totals;  // the last 2 x kPlateauWindow totals of the scale; empty without a tolerance
};

struct Progress {
  int iteration = 0;   // 1-based
  int iterations = 0;  // iterations of this run
  // The losses of the image this iteration started from (before its update):
  // a (B, 1 + terms) float32 tensor, a row (total, then each term) per batch
  // member (B = 1 for run()), left on the device; values() copies a row to the host.
  torch::Tensor losses;
  std::vector<std::string> terms;  // the names of the columns after the total
  double seconds = 0;              // wall time of this iteration
  // The images after this iteration's update: (B, 3, H, W), float32, in [0, 1].
  torch::Tensor image;
  int scale = 1;  // 1-based scale of a coarse-to-fine run
  int scales = 1;
  // With StylizeOptions::tolerance: how much lower the mean total loss of the
  // last kPlateauWindow iterations is than that of the window before, relative
  // to it (the scale ends once it is below the tolerance); -1 until this scale
  // has run two windows, and without a tolerance.
  double drop = -1;
  // The last iteration of this scale: its iterations are done, or the
  // tolerance ends the scale here (L-BFGS's convergence is not known yet).
  bool last = false;
  // Adam: its state after this iteration's update, of one batch member, for
  // a checkpoint (valid during the callback; empty function with L-BFGS).
  std::function<AdamState(int member)> adam_state;

  LossValues values(int member = 0) const;
};

// Called after every iteration; return false to stop the run early.
using ProgressCallback = std::function<bool(const Progress&)>;

struct Result {
  torch::Tensor image;  // (1, 3, H, W), float32, on the CPU, in [0, 1]
  // Where the run ended: the scales finished before the one it ended at, and
  // the iterations done at that one (StylizeOptions::scales_done and
  // start_iteration of a run that resumes it). The image has that scale's size.
  int scales_done = 0;
  int iterations_done = 0;
  StopReason stop_reason = StopReason::Finished;
  // Losses of `image` itself (with StylizeOptions::average, of the average),
  // at the last scale run; empty when no iteration ran, or when an Adam run
  // was interrupted or failed (its losses would take another evaluation).
  LossValues losses;
  // Adam: the optimizer's state at the end (of the last scale run), for a
  // checkpoint; empty with L-BFGS.
  AdamState adam_state;
  // Whether Stylizer::resume_adam's state was used.
  bool moments_restored = false;
};

// Longest side of each scale of a coarse-to-fine run: `scales` distinct sizes
// growing geometrically from `min_size` (0: final_size / 2^(scales-1)) to
// `final_size`, never below `smallest_allowed`; fewer (every size in that
// range) where the range has fewer. A schedule of as many scales as the result
// has is the same: scale_sizes(f, scale_sizes(f, n, m, a).size(), m, a) gives
// it again.
std::vector<int> scale_sizes(int final_size, int scales, int min_size, int smallest_allowed = 1);

// Rough peak memory, in bytes, of optimizing an image of height x width with
// `net` in `dtype`: saved activations and gradients of every layer up to the
// deepest one (for each of `batch` images), plus the runtime and weights.
// Calibrated on CPU peak RSS measurements at 128-1024 px (README, "Memory").
double estimate_memory_bytes(const Vgg19Features& net, int64_t height, int64_t width, torch::Dtype dtype,
                             int64_t batch = 1);

// Rough peak memory, in bytes, of computing a style image's targets at height
// x width, whole: one forward pass without gradients, which keeps every
// requested layer's output to its end. Per style pixel it costs about a
// quarter of what a content pixel costs to optimize, so a style much larger
// than the content (--style-size, --style-scale) can set a run's peak.
double estimate_style_pass_bytes(const Vgg19Features& net, int64_t height, int64_t width, torch::Dtype dtype);

// How a run evaluates an image of a given size (StylizeOptions::tile).
struct TilePlan {
  int64_t tile = 0;   // pixels a tile owns on each side (a multiple of the stride); 0: the whole image at once
  int64_t halo = 0;   // pixels a tile reaches beyond them on each side (tile_geometry)
  int64_t tiles = 1;  // how many tiles
  double bytes = 0;   // estimated peak memory of the run
  // Of computing the largest style image's targets (estimate_style_pass_bytes,
  // or in style tiles style_pass_bytes): `bytes` when it is the larger. 0 when
  // the style is cut into the image's tiles (the tiles' estimate covers it) or
  // when no style was given to plan with.
  double style_bytes = 0;
  // The pixels each tile of the style images owns, when they are cut into
  // tiles of their own (exact, as the image's tiles are), and how many tiles
  // the largest has: where the image is whole but that pass would not fit
  // whole in the memory there is, or where the image is tiled and a larger
  // cut than its tiles fits (one tile: the style whole; the pass runs once,
  // and the image's small tiles make it slow). 0: whole with a whole image,
  // the image's tiles with a tiled one (the memory there is is not known).
  int64_t style_tile = 0;
  int64_t style_tiles = 0;
};

// Runs of one style each, grouped into batches (Stylizer::plan_batches).
struct BatchPlan {
  std::vector<std::vector<size_t>> batches;  // indices into the styles, consecutive, in order
  int wanted = 1;                            // the batch size asked for (automatic: see plan_batches)
  int fits = 1;                              // how many of those fit in memory at once
};

class Stylizer {
 public:
  // Resolves device, precision and loss units, builds the objective of
  // `options` (make_objective) or the one given, and the network from `weights` up to the
  // deepest layer the objective reads, frozen. Throws OptionError,
  // WeightsError or DeviceError.
  Stylizer(const StylizeOptions& options, const VggWeights& weights);
  Stylizer(const StylizeOptions& options, const VggWeights& weights, Objective objective);
  ~Stylizer();
  Stylizer(const Stylizer&) = delete;
  Stylizer& operator=(const Stylizer&) = delete;

  // Stylizes `content` (1, 3, H, W, float32 in [0, 1], any size) with the
  // styles, blended by `style_blend` (normalized; empty means equal weights).
  // Style images are used at the size they are given (scaled along with the
  // content in a coarse-to-fine run). The image starts from `init` when it is
  // defined (resized to the content's size; required with InitMode::Image),
  // else as StylizeOptions::init says. Throws OptionError or ImageError for
  // unusable inputs, ResourceError when the estimated memory exceeds what the
  // device has available. `guides.regions` gives each style its region of
  // the content (masks; the blend weights then weight the regions);
  // `guides.temporal` holds a video frame to the previous output frames (read
  // by the temporal term: StylizeOptions::temporal_weight > 0). The style
  // targets are computed once for successive runs with the same style
  // tensors and masks (the frames of a video), unless colours are preserved.
  Result run(const torch::Tensor& content, const std::vector<torch::Tensor>& styles,
             const ProgressCallback& callback = {}, const std::vector<double>& style_blend = {},
             const torch::Tensor& init = {}, const Guides& guides = {});

  // Stylizes `content` with each style separately, as one batch: every member
  // gets exactly the updates a run() with that style alone would get (same
  // seed, same start), but the network runs once per iteration for all of
  // them. Adam only, and the styles must share one schedule() (else OptionError).
  // Progress reports (B, 1 + terms) losses and (B, 3, H, W) images; one Result per style.
  std::vector<Result> run_batch(const torch::Tensor& content, const std::vector<torch::Tensor>& styles,
                                const ProgressCallback& callback = {}, const torch::Tensor& init = {});

  // The longest side of each scale run() uses for `content` with `styles`
  // (one size unless StylizeOptions::scales > 1). Styles batched together must share it.
  std::vector<int> schedule(const torch::Tensor& content, const std::vector<torch::Tensor>& styles) const;
  // Throws ImageError when `style`, at the size given, is too small for the
  // network (run() says so too, but by its place among the styles it runs):
  // `what` names it ("style image 'a.png'").
  void check_style_size(const torch::Tensor& style, const std::string& what) const;

  // How many images of height x width fit in one batch by the memory
  // estimate, from 1 up to `limit`.
  int batch_capacity(int64_t height, int64_t width, int limit) const;

  // Groups runs of `content` with one style each into batches for run_batch():
  // `requested` styles per batch (0: automatic: on CUDA up to 16; on the CPU 4
  // for images of at most 200x200 pixels, where batching measured 1.9x faster
  // per image at 128x96 px against 1.05x at 256x192 px, else 1), never more than
  // the memory estimate allows, and only consecutive styles that share a
  // schedule. With L-BFGS, or a --tolerance (each run ends on its own loss's
  // plateau), every batch has one style.
  BatchPlan plan_batches(const torch::Tensor& content, const std::vector<torch::Tensor>& styles, int requested) const;

  // Losses of `image` against the targets of `content` and `styles` as given,
  // without optimizing: the objective alone, with none of run()'s preparation
  // of the inputs (colour preservation, blend weights, coarse to fine). Used by
  // the tests of exact equivalences between weights files.
  LossValues evaluate(const torch::Tensor& image, const torch::Tensor& content,
                      const std::vector<torch::Tensor>& styles, const Guides& guides = {});

  // The coarse-to-fine scales and the iterations (per scale; initial_iterations,
  // when set, stays the first scale's) of the runs from here on. A video's
  // later frames start from the previous output warped onto them, already at
  // full size: they need fewer iterations than its first, and one scale (a
  // coarse scale would blur the start's detail away and then rebuild it).
  // The runs start after `start_iteration` iterations of scale `scales_done`
  // + 1 (StylizeOptions' fields: a checkpoint's point, for a video frame
  // interrupted within its run). Throws OptionError as validate() does for the
  // options so changed.
  void set_schedule(int scales, int iterations, int scales_done = 0, int start_iteration = 0);

  // Throws ResourceError when `batch` images of height x width would not fit
  // in memory (tiled as StylizeOptions::tile says), with the targets of
  // `styles` (as run() takes them) computed first; the message says which
  // --size, --style-size or --tile would.
  void check_memory(int64_t height, int64_t width, int64_t batch = 1,
                    const std::vector<torch::Tensor>& styles = {}) const;
  // How an image of height x width is evaluated: whole, or in tiles (for
  // kAutoTile the largest that fit, when the whole image does not), and the
  // estimated peak memory, the pass over the largest of `styles` included.
  // Does not check that it fits.
  TilePlan plan_tiling(int64_t height, int64_t width, int64_t batch = 1,
                       const std::vector<torch::Tensor>& styles = {}) const;

  // A check asked between the tiles of a tiled evaluation (StylizeOptions::tile),
  // where one iteration of a large print takes minutes: once it returns true,
  // the iteration in progress is abandoned and the run ends as interrupted
  // (StopReason::Interrupted) with the last completed iterate, as when the
  // progress callback returns false. Untiled runs ask only the callback.
  void set_stop_check(std::function<bool()> check);

  // The next run() starts Adam from this state (a checkpoint's: from
  // Progress::adam_state or Result::adam_state) instead of zeros, when it
  // resumes (StylizeOptions::start_iteration or scales_done > 0) and its
  // moments fit the size and pyramid levels of the scale it resumes at
  // (Result::moments_restored says whether). Resumed within a scale, the run
  // goes on from the state's last iterate instead of the init image (rounded,
  // or the average), and with its average. Used once.
  void resume_adam(AdamState state);

  torch::Device device() const;
  Precision precision() const;
  // The units of the content and style losses (StylizeOptions::loss_units resolved for the weights).
  LossUnits loss_units() const;
  const Vgg19Features& network() const;
  const Objective& objective() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace stylize
