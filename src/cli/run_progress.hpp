// Progress of a run: the fixed-shape progress lines on standard output (README,
// "Progress"), and on a terminal the bar with an ETA (terminal_bar.hpp).
#pragma once

#include <string>
#include <vector>

#include "stylize/core/engine.hpp"
#include "terminal_bar.hpp"

namespace stylize::cli {

class ProgressPrinter {
 public:
  // print_every: iterations between progress lines (0: none). quiet: no output at all.
  ProgressPrinter(int print_every, bool quiet);

  // Called for every iteration of a batch: one progress line per member,
  // ending with its label when there are several.
  void update(const Progress& progress, const std::vector<std::string>& labels);
  // Clears the bar (before other messages are printed, and at the end of a run).
  void clear_bar() { bar_.clear(); }
  // The scales of the next run of `options`: each one's longest side
  // (Stylizer::schedule), so that the bar's ETA is the run's, not its
  // scale's. Without, or when they do not fit, the scale's.
  void set_schedule(std::vector<int> sizes, const StylizeOptions& options);

 private:
  int print_every_;
  bool quiet_;
  TerminalBar bar_;
  double interval_seconds_ = 0;
  int interval_iterations_ = 0;
  double smoothed_seconds_ = 0;  // exponential moving average of s/it, for the ETA
  std::vector<int> sizes_, iterations_;
};

// The iterations of each of `scales` scales of a run of `options` (scale_iterations).
std::vector<int> iterations_per_scale(const StylizeOptions& options, size_t scales);

// Seconds left of a run at iteration `iteration` of scale `scale` (1-based)
// of the schedule `sizes` and `iterations` (one per scale), taking
// `seconds_per_iteration` at this scale: a later scale's iteration costs more
// by its pixel count (the square of the ratio of the sizes).
double seconds_left(double seconds_per_iteration, int scale, int iteration, const std::vector<int>& sizes,
                    const std::vector<int>& iterations);

// "iter 100/1000  total 1.24e+06  style 5.80e+05  content 6.40e+05  tv 2.10e+04  0.42 s/it":
// the losses of `values` in the order of its terms; with --tolerance, once it
// is measured (Progress::drop >= 0), "  drop 0.42%" after it.
std::string progress_line(int iteration, int iterations, const LossValues& values, double seconds_per_iteration,
                          double drop = -1);

}  // namespace stylize::cli
