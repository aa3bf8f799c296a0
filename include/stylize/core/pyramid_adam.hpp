// Adam on a Laplacian pyramid of the image's update, as STROTSS (Kolkin et
// al. 2019) optimizes style transfer: the image changes by the sum of a step
// on its pixels and of steps on `levels` coarser grids, level k holding
// ceil(H / 2^k) x ceil(W / 2^k) values per channel, upsampled (bilinear,
// align_corners false) to the image's size. Each level has its own Adam
// moments (core/adam.hpp) and receives the gradient of the loss with respect
// to it: the adjoint of its upsampling applied to the pixels' gradient.
//
// Why: per-pixel Adam divides every step by the root mean square of its
// pixel's gradient, which the style terms' fine-grained gradients dominate,
// so the smooth changes the content and the deep style layers ask for come
// slowly. A coarse level's gradient sums a whole patch, where that fine
// back-and-forth cancels, so its steps move the smooth part of the image at
// Adam's full step size (README: `--pyramid`).
//
// With 0 levels it is exactly Adam on the pixels (the tutorial).
#pragma once

#include <cstdint>
#include <vector>

#include <torch/types.h>

#include "stylize/core/adam.hpp"

namespace stylize {

// One level's optimizer state: what a checkpoint saves for a resumed run to
// go on with (restarting the moments costs the image quality of many steps).
struct AdamMoments {
  torch::Tensor first, second;  // float32, shaped like the level's state
  int64_t steps = 0;
};

class PyramidAdam {
 public:
  // The moments start at zero: the pixels' shaped like `like`, level k's with
  // its last two dimensions divided by 2^k (rounded up). Every level uses `settings`.
  PyramidAdam(const AdamSettings& settings, const torch::Tensor& like, int levels);

  // One update of `param` (float32, shaped like the pixels' state) in place, from `grad`.
  void step(torch::Tensor& param, const torch::Tensor& grad);

  // For the next scale of a coarse-to-fine run: Adam::resize for the pixels'
  // moments; the coarser levels start again from zero moments and step count,
  // shaped to their share of (height, width).
  void resize(int64_t height, int64_t width, double gradient_scale = 1.0);

  // Epsilon of the following steps, for every level.
  void set_eps(double eps);
  double eps() const { return levels_.front().eps(); }

  // Every level's moments and step count, of batch member `member` (as a batch of one).
  std::vector<AdamMoments> moments(int64_t member = 0) const;
  // Sets every level's state from moments() of a run of the same size and
  // levels (a batch of one); false, changing nothing, when they differ.
  bool restore(const std::vector<AdamMoments>& moments);

  // Level 0 is the pixels; levels() counts the coarser ones.
  int levels() const { return static_cast<int>(levels_.size()) - 1; }
  const Adam& level(int k) const { return levels_.at(static_cast<size_t>(k)); }

 private:
  std::vector<Adam> levels_;
};

}  // namespace stylize
