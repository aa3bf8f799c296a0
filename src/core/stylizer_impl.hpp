// The state of a Stylizer, shared by engine.cpp (the runs) and plan.cpp (memory
// and batch planning). Internal to stylize_core.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include <torch/types.h>

#include "stylize/core/engine.hpp"
#include "stylize/core/pyramid_adam.hpp"

namespace stylize {

// Curvature pairs L-BFGS keeps (the original neural-style's and torch's default).
constexpr int kLbfgsHistory = 100;

// The size of the largest style image (by pixels) a run computes targets
// from; 0 x 0 when none is known.
struct StyleExtent {
  int64_t height = 0, width = 0;
};
StyleExtent largest_style(const std::vector<std::vector<torch::Tensor>>& members);

struct Stylizer::Impl {
  StylizeOptions options;
  torch::Device device = torch::kCPU;
  Precision precision = Precision::Fp32;
  LossUnits units = LossUnits::Tutorial;
  Objective objective;
  std::shared_ptr<Vgg19Features> net;

  // The network as the objective calls it.
  Features features(const torch::Tensor& image) const;
  // Throws ImageError when `image` is too small for the deepest layer.
  void check_size(const torch::Tensor& image, const std::string& what, const std::string& flags) const;
  // Colour preservation works on what the network sees: each member's styles
  // as luminance only, or recoloured to the content's palette.
  std::vector<std::vector<torch::Tensor>> colour_prepared(const std::vector<std::vector<torch::Tensor>>& members,
                                                          const torch::Tensor& content) const;
  // Each member's styles resized by `factor` (a scale's size over the final
  // one) and on the device; each is checked large enough and named as the
  // user gave them: by their place on the command line (counted across the
  // batch's members, which keep that order), `at_scale` appended.
  std::vector<std::vector<torch::Tensor>> scaled_styles(const std::vector<std::vector<torch::Tensor>>& members,
                                                        double factor, const std::string& at_scale) const;
  // The longest side of each scale: the first must be large enough for the
  // content and every style to reach the deepest layer.
  std::vector<int> schedule(const torch::Tensor& content, const std::vector<torch::Tensor>& styles) const;
  // Bytes a run of `batch` images of height x width needs: the network's
  // estimate (estimate_memory_bytes) and the optimizer's state beyond it.
  // With tile > 0: the network's for one tile, plus the whole image's buffers
  // and those of the largest style image.
  double memory_needed(int64_t height, int64_t width, int64_t batch, int64_t tile = 0,
                       const StyleExtent& style = {}) const;
  // plan_tiling's plan, once it is known to fit (else a ResourceError that says what would).
  TilePlan check_memory(int64_t height, int64_t width, int64_t batch, const StyleExtent& style) const;
  // What would fit instead of `plan`, which does not fit in `available` bytes:
  // "; the largest size that fits is about --size N", a --style-size, --tile, ...
  std::string memory_advice(const TilePlan& plan, int64_t height, int64_t width, int64_t batch,
                            const StyleExtent& style, double available) const;
  TilePlan tile_plan(int64_t height, int64_t width, int64_t batch, int64_t tile, const StyleExtent& style) const;
  TilePlan plan_tiling(int64_t height, int64_t width, int64_t batch, const StyleExtent& style) const;
  // Bytes of computing the targets of a style image of that extent in tiles of
  // `tile_size` (0: whole): the network's for one tile, and the style's buffers.
  double style_pass_bytes(const StyleExtent& style, int64_t tile_size) const;
  // The smallest tiles a style pass is cut into (a multiple of 32 px).
  int64_t smallest_style_tile() const;
  // A plan whose image is whole but whose style pass does not fit in
  // `available` bytes whole: that pass in the largest tiles that fit, if any.
  // `run_bytes`: what the iterations need (memory_needed).
  void tile_style_pass(TilePlan& plan, double run_bytes, const StyleExtent& style, double available) const;
  // A plan whose image is tiled: its style pass whole, or in the largest tiles
  // larger than the image's, where that fits in `available` bytes.
  void enlarge_style_tiles(TilePlan& plan, const StyleExtent& style, double available) const;
  // Tiles of this scale (0: none); set by use_tiles, read by the evaluations.
  int64_t tile = 0;
  // Asked between tiles (Stylizer::set_stop_check).
  std::function<bool()> stop_check;
  // For the next run's Adam (Stylizer::resume_adam).
  AdamState pending_adam;
  // Evaluates in the plan's tiles from here on (none: whole), and makes
  // `inputs` compute the targets in them too (the styles' in the plan's
  // style tiles where it has them).
  void use_tiles(const TilePlan& plan, TargetInputs& inputs);

  // The start image of each batch member (B, 3, H, W).
  torch::Tensor initial_image(const torch::Tensor& content, const std::vector<std::vector<torch::Tensor>>& members,
                              const torch::Tensor& init) const;
  // One run over the scales for a batch of members, each with its own styles
  // (blended by `blend` when a member has several). Members are independent:
  // each gets exactly the updates it would get alone.
  std::vector<Result> stylize(const torch::Tensor& content, const std::vector<std::vector<torch::Tensor>>& members,
                              const std::vector<double>& blend, const torch::Tensor& init,
                              const ProgressCallback& callback, const Guides& guides = {});

  // What the scales of one run are made from: the content and each member's
  // styles as given, and as the network sees them (colour_prepared).
  struct RunSources {
    torch::Tensor content, prepared_content;
    std::vector<std::vector<torch::Tensor>> members, prepared_members;
    std::vector<double> blend;
    Guides guides;
  };
  // The sizes of a batch's scales, the same for every member (else an
  // OptionError), with the scale a resumed run starts at among them.
  std::vector<int> batch_schedule(const torch::Tensor& content,
                                  const std::vector<std::vector<torch::Tensor>>& members) const;
  // The objective's inputs at scale `s` of `sizes`, each image checked large
  // enough; sets this scale's tiles (use_tiles).
  TargetInputs scale_inputs(const RunSources& sources, const std::vector<int>& sizes, size_t s);

  struct Outcome {
    torch::Tensor image;   // (B, 3, H, W)
    torch::Tensor losses;  // (B, 1 + terms) of the last iteration run, on the host
    int iterations_done = 0;
    StopReason stop_reason = StopReason::Finished;
    // Adam's last iterate; with StylizeOptions::average (`image` is the
    // average), the average's sum and weight too.
    torch::Tensor iterate, average_sum;
    double average_weight = 0;
    std::vector<double> recent_totals;  // with StylizeOptions::tolerance (AdamState's)
  };
  // Adam from `image` with `adam`'s state (carried over from the previous scale).
  // Each goes on from iteration `done` to `iterations` (this scale's); with
  // StylizeOptions::average, from `average`'s average when it has one (a
  // resumed run's: AdamState::average_sum and average_weight), and with
  // StylizeOptions::tolerance from its recent losses.
  Outcome optimize_adam(torch::Tensor image, PyramidAdam& adam, int done, int iterations,
                        const ProgressCallback& callback, const AdamState& average = {});
  Outcome optimize_lbfgs(const torch::Tensor& image, int done, int iterations, const ProgressCallback& callback);
  // Adam's state through the scales of one run: made at its first scale,
  // with the moments (and iterate) of the run it resumes when they fit.
  struct AdamRun {
    std::optional<PyramidAdam> adam;
    AdamState resumed;
    bool moments_restored = false;
  };
  // Scale `s` from `start` and iteration `done`: L-BFGS, or Adam going on with `run`'s state.
  Outcome optimize_scale(const torch::Tensor& start, size_t s, int done, int iterations, AdamRun& run,
                         const ProgressCallback& callback);
  // Each member's Result of a run that ended with `outcome` at scale `scale`:
  // its losses evaluated once more, its colours recombined (luminance), Adam's state.
  std::vector<Result> results(const Outcome& outcome, size_t scale, const AdamRun& run,
                              const torch::Tensor& content) const;
  // Losses of `image` under the prepared objective, (B, 1 + terms); with a graph unless tiled.
  torch::Tensor losses(const torch::Tensor& image) const;
  struct Evaluation {
    torch::Tensor losses;    // (B, 1 + terms), without a graph
    torch::Tensor gradient;  // loss_scale x d(sum of the totals) / d image
  };
  Evaluation loss_and_gradient(const torch::Tensor& image, double loss_scale) const;
  // A Progress of this run's terms.
  Progress progress(int iteration, int iterations, const torch::Tensor& losses, double seconds,
                    const torch::Tensor& image) const;
  // One member's row of `losses` (as losses() returns them) by term name.
  LossValues loss_values(const torch::Tensor& losses, int member = 0) const;
};

}  // namespace stylize
