// Progress output of the stylize CLI: the fixed-shape progress lines on
// standard output, and on a terminal a live bar with ETA on standard error.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "stylize/engine.hpp"

namespace stylize::cli {

class ProgressPrinter {
 public:
  // print_every: iterations between progress lines (0: none). quiet: no output at all.
  ProgressPrinter(int print_every, bool quiet);
  ~ProgressPrinter();

  // Called for every iteration of a run; `label` names the run in the bar.
  void update(const Progress& progress, const std::string& label);
  // The same for a batch: one progress line per member, ending with its label.
  void update(const Progress& progress, const std::vector<std::string>& labels);
  // Clears the bar (before other messages are printed, and at the end of a run).
  void clear_bar();

 private:
  void draw_bar(const Progress& progress, const std::string& label);

  int print_every_;
  bool quiet_;
  bool bar_;  // standard error is a terminal
  bool bar_visible_ = false;
  double interval_seconds_ = 0;
  int interval_iterations_ = 0;
  double smoothed_seconds_ = 0;  // exponential moving average of s/it, for the ETA
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace stylize::cli
