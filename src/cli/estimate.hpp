// --estimate's timing: which iterations of the probe run it counts, when it
// has measured enough, and the seconds per iteration of every scale.
#pragma once

#include <vector>

namespace stylize::cli {

// Iteration times of a probe run, scale by scale. The first iteration of a
// scale is a warm-up and not counted, unless it took kLongIteration or more
// (then the warm-up is a small part of it); a scale is measured after
// kCounted counted iterations, or after one long one. A long iteration ends
// the measurement: a tiled print-size iteration takes minutes, and the later
// scales are then extrapolated by their pixel count.
class IterationTimes {
 public:
  static constexpr double kLongIteration = 10.0;  // seconds
  static constexpr int kCounted = 3;
  // The iterations a probe run needs per scale: a warm-up and kCounted.
  static constexpr int kProbeIterations = kCounted + 1;

  // sizes: the longest side of each scale, coarse to fine.
  explicit IterationTimes(std::vector<int> sizes);

  // Iteration `iteration` (from 1) of scale `scale` (from 1) took `seconds`.
  // Returns false once the measurement is complete (the probe may stop).
  bool record(int scale, int iteration, double seconds);

  // Seconds per iteration of each scale: the median of its counted
  // iterations; a scale with none, the last measured scale's times the ratio
  // of their pixel counts. Empty when no iteration was counted.
  std::vector<double> per_iteration() const;
  // The scales measured (from 1): the others are extrapolated.
  int measured_scales() const;

 private:
  std::vector<int> sizes_;
  std::vector<std::vector<double>> counted_;
  bool complete_ = false;
};

}  // namespace stylize::cli
